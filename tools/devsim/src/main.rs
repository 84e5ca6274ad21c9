//! devsim — a fleet of simulated IoT devices for the mqtt-rtc sample dashboard and tests.
//!
//! Each device (thermostat, air-quality sensor, door lock) is one MQTT 5 client over TCP,
//! driven by the library's own sans-IO protocol core (`mqtt_rtc::mqtt::session::Session`)
//! from a thread of its own. A device announces itself with retained `status` (`online`,
//! with a retained `offline` Will) and `meta` (JSON) messages, publishes telemetry as plain
//! text numbers every interval, and answers JSON commands MQTT 5 request/response style
//! (reply on the request's Response Topic with its Correlation Data). The broker going away
//! is handled by the session's reconnect policy. SIGINT/SIGTERM publish `offline` and
//! disconnect cleanly; SIGKILL leaves it to the broker's Will.
//!
//! A `camera` is a native WebRTC peer instead (module `camera`, str0m): it announces itself
//! through the library's MQTT signaling, answers the dashboard's calls, and serves its
//! telemetry and commands over a data channel.
//!
//! Usage: devsim [--host 127.0.0.1] [--port N] [--devices thermostat:3,air:2,lock:1,camera:1]
//!               [--interval-ms 1000] [--prefix sensors] [--id-prefix devsim] [--seed N]
//! `--port` defaults to `$MQTT_RTC_TCP_PORT`.

#[cfg(target_arch = "wasm32")]
compile_error!("devsim is a host program (TCP sockets, threads); build it for the host");

/// `println!` / `eprintln!` that never panic: a closed pipe must not kill a device.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// What every device (sensor or camera) reports of its session on stderr: going offline,
/// reconnecting, failed requests and errors. Requests still open when a device stops end
/// with CLOSED, which is not a failure.
pub(crate) fn note_event(id: &str, event: &Event) {
    let failed = |e: &&SessionError| e.code != ErrorCode::Closed;
    match event {
        Event::Offline { error } => note!("{id}: offline: {error}"),
        Event::Reconnecting { attempt, delay } => {
            note!("{id}: reconnect attempt {attempt} in {delay} ms")
        }
        Event::SubscribeDone { result, .. } => {
            if let Some(e) = result.as_ref().err().filter(failed) {
                note!("{id}: subscribe failed: {e}")
            }
        }
        Event::PublishDone { result, .. } => {
            if let Some(e) = result.as_ref().err().filter(failed) {
                note!("{id}: publish failed: {e}")
            }
        }
        Event::Error(e) => note!("{id}: {e}"),
        Event::Closed { error: Some(e) } => note!("{id}: closed: {e}"),
        _ => {}
    }
}

mod camera;
mod device;
mod h264;
mod json;
mod link;
mod signal;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mqtt_rtc::mqtt::backoff::SplitMix64;
use mqtt_rtc::mqtt::codec::{Properties, ProtocolVersion, Publish, QoS, SubscribeFilter, Will};
use mqtt_rtc::mqtt::session::{
    ErrorCode, Event, Millis, QueueConfig, Session, SessionConfig, SessionError, State, Token,
};

use device::{Device, Kind};
use link::Link;

const USAGE: &str = "\
usage: devsim [--host HOST] [--port PORT] [--devices KIND:COUNT,...] [--interval-ms MS]
              [--prefix TOPIC_PREFIX] [--id-prefix CLIENT_ID_PREFIX] [--seed N]

  --host         broker host (default 127.0.0.1)
  --port         broker MQTT/TCP port (default: $MQTT_RTC_TCP_PORT)
  --devices      kinds thermostat, air, lock, camera with counts
                 (default thermostat:3,air:2,lock:1,camera:1)
  --interval-ms  telemetry period (default 1000)
  --prefix       topic prefix (default sensors): topics are PREFIX/ID/...
  --id-prefix    client id prefix (default devsim): ids are ID_PREFIX-KIND-N
  --seed         seed of the simulated values (default: from the clock)

SIGINT/SIGTERM: every device publishes `offline` (retained) and disconnects.";

/// Longest a device thread waits before looking at the stop flag again.
const POLL_MS: Millis = 200;
/// How long a stopping device waits for the broker to acknowledge its `offline`.
const STOP_ACK_MS: Millis = 2_000;

#[derive(Debug, Clone)]
struct Options {
    host: String,
    port: u16,
    devices: Vec<(Kind, u32)>,
    interval_ms: u64,
    prefix: String,
    id_prefix: String,
    seed: u64,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = None;
    let mut devices = "thermostat:3,air:2,lock:1,camera:1".to_string();
    let mut interval_ms = 1000;
    let mut prefix = "sensors".to_string();
    let mut id_prefix = "devsim".to_string();
    let mut seed = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--host" => host = value()?,
            "--port" => port = Some(value()?),
            "--devices" => devices = value()?,
            "--interval-ms" => {
                let v = value()?;
                interval_ms = v
                    .parse()
                    .ok()
                    .filter(|&ms| ms > 0)
                    .ok_or_else(|| format!("bad --interval-ms {v:?}"))?;
            }
            "--prefix" => prefix = value()?,
            "--id-prefix" => id_prefix = value()?,
            "--seed" => {
                let v = value()?;
                seed = Some(v.parse().map_err(|_| format!("bad --seed {v:?}"))?);
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let port = match port.or_else(|| std::env::var("MQTT_RTC_TCP_PORT").ok()) {
        Some(p) => p
            .parse()
            .ok()
            .filter(|&p: &u16| p != 0)
            .ok_or_else(|| format!("bad port {p:?}"))?,
        None => return Err("no --port given and MQTT_RTC_TCP_PORT is not set".into()),
    };
    let devices = parse_devices(&devices)?;
    if prefix.is_empty() || prefix.contains(['+', '#']) || prefix.ends_with('/') {
        return Err(format!("bad --prefix {prefix:?}"));
    }
    if id_prefix.is_empty() || id_prefix.contains(['/', '+', '#']) {
        return Err(format!("bad --id-prefix {id_prefix:?}"));
    }
    let seed = seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    Ok(Options {
        host,
        port,
        devices,
        interval_ms,
        prefix,
        id_prefix,
        seed,
    })
}

fn parse_devices(spec: &str) -> Result<Vec<(Kind, u32)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, count) = part.split_once(':').unwrap_or((part, "1"));
        let kind: Kind = kind.trim().parse()?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("bad device count in {part:?}"))?;
        for _ in 0..count {
            let n = out.iter().filter(|(k, _)| *k == kind).count() as u32 + 1;
            out.push((kind, n));
        }
    }
    if out.is_empty() {
        return Err("no devices".into());
    }
    Ok(out)
}

// ----- signals (std has no API for them; libc is linked anyway) -----

static STOP: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
fn install_signal_handlers() {
    extern "C" fn on_signal(_signum: i32) {
        STOP.store(true, Ordering::SeqCst);
    }
    extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    // SAFETY: `signal` is the C library's; the handler only stores to an atomic, which is
    // async-signal-safe.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

#[cfg(not(unix))]
fn install_signal_handlers() {}

// ----- one device -----

struct Sim {
    device: Device,
    id: String,
    base: String,
    interval_ms: u64,
    /// The `offline` publish of a stopping device, until the broker acknowledges it.
    offline: Option<Token>,
}

impl Sim {
    fn topic(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.base)
    }

    fn publish(&self, session: &mut Session, now: Millis, publish: Publish) -> Option<Token> {
        let qos = publish.qos;
        match session.publish(now, publish) {
            Ok(token) => Some(token),
            Err(e) => {
                // QoS 0 telemetry while offline is dropped on purpose (stale values).
                if qos != QoS::AtMostOnce {
                    note!("{}: publish failed: {e}", self.id);
                }
                None
            }
        }
    }

    fn publish_telemetry(&self, session: &mut Session, now: Millis) {
        for (metric, value) in self.device.telemetry() {
            let topic = self.topic(metric);
            self.publish(
                session,
                now,
                message(topic, value, QoS::AtMostOnce, false, Properties::default()),
            );
        }
    }

    fn on_event(&mut self, session: &mut Session, now: Millis, event: Event) {
        note_event(&self.id, &event);
        match event {
            Event::Connected { .. } => {
                let json = json_properties();
                let meta = self.device.meta_json(&self.id, self.interval_ms);
                self.publish(
                    session,
                    now,
                    message(self.topic("meta"), meta, QoS::AtLeastOnce, true, json),
                );
                self.publish(
                    session,
                    now,
                    message(
                        self.topic("status"),
                        "online".into(),
                        QoS::AtLeastOnce,
                        true,
                        Properties::default(),
                    ),
                );
                self.publish_telemetry(session, now);
                out!("online {} {} {}", self.id, self.base, self.device.name());
            }
            Event::Message(msg) => self.on_command(session, now, msg),
            Event::PublishDone { token, .. } if self.offline == Some(token) => {
                self.offline = None;
            }
            _ => {}
        }
    }

    fn on_command(&mut self, session: &mut Session, now: Millis, msg: Publish) {
        let reply = self.device.command(&msg.payload);
        let Some(response_topic) = msg.properties.response_topic.clone() else {
            note!("{}: command without a response topic: {reply}", self.id);
            // The effect (if any) still shows in telemetry.
            self.publish_telemetry(session, now);
            return;
        };
        let mut properties = json_properties();
        properties.correlation_data = msg.properties.correlation_data.clone();
        self.publish(
            session,
            now,
            message(response_topic, reply, QoS::AtLeastOnce, false, properties),
        );
        // Show the effect at once rather than at the next tick.
        self.publish_telemetry(session, now);
    }
}

fn message(
    topic: String,
    payload: String,
    qos: QoS,
    retain: bool,
    properties: Properties,
) -> Publish {
    Publish {
        qos,
        retain,
        topic,
        payload: payload.into_bytes(),
        properties,
        ..Publish::default()
    }
}

fn json_properties() -> Properties {
    Properties {
        payload_format_indicator: Some(1),
        content_type: Some("application/json".into()),
        ..Properties::default()
    }
}

fn run_device(opts: Arc<Options>, kind: Kind, number: u32, seed: u64) {
    let id = format!("{}-{kind}-{number}", opts.id_prefix);
    let base = format!("{}/{id}", opts.prefix);
    let config = SessionConfig {
        client_id: id.clone(),
        protocol: ProtocolVersion::V5,
        fallback_to_v311: false,
        keep_alive: 30,
        clean_start: true,
        connect_timeout: 10_000,
        will: Some(Will {
            topic: format!("{base}/status"),
            payload: b"offline".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
        }),
        queue: QueueConfig {
            qos0: false,
            ..QueueConfig::default()
        },
        seed,
        ..SessionConfig::default()
    };
    let mut link = Link::new(Session::new(config), &opts.host, opts.port);
    let mut sim = Sim {
        device: Device::new(kind, number, seed ^ 0x5EED),
        id,
        base,
        interval_ms: opts.interval_ms,
        offline: None,
    };

    let now = link.now();
    link.session.connect(now);
    // Queued until connected; the session restores it after a reconnect.
    let cmd = SubscribeFilter {
        filter: sim.topic("cmd"),
        qos: QoS::AtLeastOnce,
        ..SubscribeFilter::default()
    };
    if let Err(e) = link
        .session
        .subscribe(now, vec![cmd], Properties::default())
    {
        note!("{}: cannot subscribe: {e}", sim.id);
    }
    pump(&mut link, &mut sim);

    let mut next_tick = now + opts.interval_ms;
    while !STOP.load(Ordering::SeqCst) {
        let now = link.now();
        if now >= next_tick {
            sim.device.tick();
            if link.session.state() == State::Connected {
                sim.publish_telemetry(&mut link.session, now);
            }
            next_tick = (next_tick + opts.interval_ms).max(now + 1);
        } else if link.session.poll_timeout().is_some_and(|t| now >= t) {
            link.session.handle_timeout(now);
        } else {
            let mut deadline = next_tick.min(now + POLL_MS);
            if let Some(t) = link.session.poll_timeout() {
                deadline = deadline.min(t);
            }
            link.wait(deadline);
        }
        pump(&mut link, &mut sim);
    }
    stop_device(&mut link, &mut sim);
}

fn pump(link: &mut Link, sim: &mut Sim) {
    link.pump(&mut |s: &mut Session, now: Millis, e: Event| sim.on_event(s, now, e));
}

/// SIGINT/SIGTERM: publish `offline` (retained, QoS 1), wait briefly for its PUBACK, then
/// DISCONNECT so the broker drops the Will; dashboards see `offline` at once either way.
fn stop_device(link: &mut Link, sim: &mut Sim) {
    let now = link.now();
    if link.session.state() == State::Connected {
        sim.offline = sim.publish(
            &mut link.session,
            now,
            message(
                sim.topic("status"),
                "offline".into(),
                QoS::AtLeastOnce,
                true,
                Properties::default(),
            ),
        );
        pump(link, sim);
        let until = now + STOP_ACK_MS;
        while sim.offline.is_some() && link.is_open() && link.now() < until {
            link.wait(until.min(link.now() + POLL_MS));
            pump(link, sim);
        }
    }
    let now = link.now();
    link.session.disconnect(now, 0);
    pump(link, sim);
    out!("stopped {}", sim.id);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            out!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            note!("devsim: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    install_signal_handlers();
    note!(
        "devsim: {} devices -> {}:{}, topics {}/<id>/..., every {} ms (seed {})",
        opts.devices.len(),
        opts.host,
        opts.port,
        opts.prefix,
        opts.interval_ms,
        opts.seed
    );
    let opts = Arc::new(opts);
    let mut seeds = SplitMix64::new(opts.seed);
    let mut threads = Vec::new();
    for &(kind, number) in &opts.devices {
        let opts = Arc::clone(&opts);
        let seed = seeds.next_u64();
        let spawned = std::thread::Builder::new()
            .name(format!("{kind}-{number}"))
            // str0m keeps large buffers on the stack of the thread driving it.
            .stack_size(if kind == Kind::Camera {
                8 << 20
            } else {
                256 * 1024
            })
            .spawn(move || match kind {
                Kind::Camera => camera::run(opts, number, seed),
                _ => run_device(opts, kind, number, seed),
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                note!("devsim: cannot start a device thread: {e}");
                STOP.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    let mut status = ExitCode::SUCCESS;
    for t in threads {
        if t.join().is_err() {
            status = ExitCode::FAILURE;
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_command_line() {
        let o = parse_args(&args(
            "--host localhost --port 1883 --devices thermostat:2,lock:1,air --interval-ms=250 --prefix a/b",
        ))
        .unwrap();
        assert_eq!(o.host, "localhost");
        assert_eq!(o.port, 1883);
        assert_eq!(
            o.devices,
            vec![
                (Kind::Thermostat, 1),
                (Kind::Thermostat, 2),
                (Kind::Lock, 1),
                (Kind::Air, 1)
            ]
        );
        assert_eq!(o.interval_ms, 250);
        assert_eq!(o.prefix, "a/b");
        assert_eq!(o.id_prefix, "devsim");
        assert!(parse_args(&args("--port 1 --devices fridge:1")).is_err());
        assert!(parse_args(&args("--port x")).is_err());
        assert!(parse_args(&args("--port 0")).is_err());
        assert!(parse_args(&args("--port 1 --interval-ms 0")).is_err());
        assert!(parse_args(&args("--port 1 --prefix s/#")).is_err());
        assert!(parse_args(&args("--port 1 --bogus")).is_err());
        assert_eq!(parse_args(&args("--help")).unwrap_err(), "");
    }
}
