//! End-to-end tests of the `devsim` binary against the test broker.
//!
//! They need the Mosquitto that `tools/test.sh` starts before the host tests (its TCP port
//! comes in `MQTT_RTC_TCP_PORT`; by hand: `tools/broker/run.sh -- cargo test -p
//! mqtt-rtc-devsim`), and fail when it is missing. The other side of the wire is the
//! broker's own command-line clients (`mosquitto_sub` / `mosquitto_pub`, MQTT 5), so what
//! is checked is what any dashboard sees: retained status and meta, changing telemetry,
//! request/response commands with correlation data, `offline` on SIGTERM, the Will on
//! SIGKILL, and reconnecting after the connection drops; for the native camera, a str0m
//! peer standing in for a dashboard calls it through the broker. Every test uses its own
//! topic prefix and client ids, so they run in parallel on one broker.

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn broker_port() -> u16 {
    let port = std::env::var("MQTT_RTC_TCP_PORT").unwrap_or_else(|_| {
        panic!(
            "MQTT_RTC_TCP_PORT is not set: the devsim tests need the test broker. Run them \
             through tools/test.sh, or `tools/broker/run.sh -- cargo test -p mqtt-rtc-devsim`"
        )
    });
    port.parse()
        .unwrap_or_else(|_| panic!("MQTT_RTC_TCP_PORT={port:?} is not a port"))
}

/// A topic prefix and client id prefix no other test (or earlier run) uses.
fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "devsim-test-{}-{nanos}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Lines of a child's stdout, on a channel.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// Waits for the first line `pred` accepts; panics with what was seen instead.
fn expect_line<T>(
    rx: &Receiver<T>,
    timeout: Duration,
    what: &str,
    mut pred: impl FnMut(&T) -> bool,
) -> T
where
    T: std::fmt::Debug,
{
    let until = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(item) if pred(&item) => return item,
            Ok(item) => seen.push(item),
            Err(RecvTimeoutError::Timeout) => {
                panic!("timed out after {timeout:?} waiting for {what}; seen: {seen:#?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("stream ended while waiting for {what}; seen: {seen:#?}")
            }
        }
    }
}

// ----- the simulator -----

struct Devsim {
    child: Child,
    out: Receiver<String>,
    prefix: String,
    ids: Vec<String>,
}

impl Devsim {
    /// Starts the simulator and waits until `count` devices said they are online.
    fn start(port: u16, name: &str, devices: &str, count: usize) -> Devsim {
        let prefix = unique(name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_devsim"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--devices", devices, "--interval-ms", "200"])
            .args(["--prefix", &prefix, "--id-prefix", &prefix, "--seed", "42"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start devsim");
        let out = lines_of(&mut child);
        let mut sim = Devsim {
            child,
            out,
            prefix,
            ids: Vec::new(),
        };
        for _ in 0..count {
            let line = expect_line(&sim.out, Duration::from_secs(15), "a device online", |l| {
                l.starts_with("online ")
            });
            let id = line.split_whitespace().nth(1).unwrap().to_string();
            sim.ids.push(id);
        }
        sim.ids.sort();
        sim
    }

    fn id(&self, kind: &str) -> String {
        format!("{}-{kind}-1", self.prefix)
    }

    fn topic(&self, id: &str, leaf: &str) -> String {
        format!("{}/{id}/{leaf}", self.prefix)
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill {sig} failed");
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < until,
                "devsim did not exit within {timeout:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Devsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- the broker's command-line clients -----

#[derive(Debug, Clone)]
struct Msg {
    retained: bool,
    topic: String,
    correlation: String,
    payload: String,
}

struct Sub {
    child: Child,
    rx: Receiver<Msg>,
    /// Messages received but not yet expected, in arrival order.
    backlog: std::cell::RefCell<Vec<Msg>>,
}

impl Sub {
    /// Subscribes to `filters` and returns once the subscription is live (a probe message
    /// published after it came back).
    fn start(port: u16, prefix: &str, filters: &[&str]) -> Sub {
        let probe = format!("{prefix}/probe/{}", unique("probe"));
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args([
            "-V",
            "mqttv5",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
        ])
        .args(["-F", "%r|%t|%D|%p", "-t", &probe]);
        for f in filters {
            cmd.args(["-t", f]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mosquitto_sub (Debian package mosquitto-clients)");
        let lines = lines_of(&mut child);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in lines {
                let mut parts = line.splitn(4, '|');
                let (Some(r), Some(t), Some(c), Some(p)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let msg = Msg {
                    retained: r == "1",
                    topic: t.to_string(),
                    correlation: c.to_string(),
                    payload: p.to_string(),
                };
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        let sub = Sub {
            child,
            rx,
            backlog: Default::default(),
        };
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < until, "mosquitto_sub never got its probe");
            publish(port, &probe, "probe", None);
            let wait = Instant::now() + Duration::from_millis(300);
            while let Ok(m) = sub
                .rx
                .recv_timeout(wait.saturating_duration_since(Instant::now()))
            {
                if m.topic == probe {
                    return sub;
                }
                sub.backlog.borrow_mut().push(m);
            }
        }
    }

    /// The first message `pred` accepts, in arrival order; the others stay for later calls.
    fn expect(&self, what: &str, mut pred: impl FnMut(&Msg) -> bool) -> Msg {
        let mut backlog = self.backlog.borrow_mut();
        if let Some(i) = backlog.iter().position(&mut pred) {
            return backlog.remove(i);
        }
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match self
                .rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(m) if pred(&m) => return m,
                Ok(m) => backlog.push(m),
                Err(_) => panic!("timed out waiting for {what}; seen: {:#?}", *backlog),
            }
        }
    }

    /// Forgets everything received so far.
    fn clear(&self) {
        let mut backlog = self.backlog.borrow_mut();
        backlog.clear();
        while let Ok(m) = self.rx.try_recv() {
            drop(m);
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes with QoS 1; `request` = (response topic, correlation data).
fn publish(port: u16, topic: &str, payload: &str, request: Option<(&str, &str)>) {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args([
        "-V",
        "mqttv5",
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-q",
        "1",
    ])
    .args(["-t", topic, "-m", payload]);
    if let Some((response_topic, correlation)) = request {
        cmd.args(["-D", "publish", "response-topic", response_topic])
            .args(["-D", "publish", "correlation-data", correlation]);
    }
    let status = cmd.status().expect("run mosquitto_pub");
    assert!(status.success(), "mosquitto_pub to {topic} failed");
}

/// Sends a command and returns the reply's payload, checking the correlation data.
fn request(
    port: u16,
    sub: &Sub,
    reply_topic: &str,
    cmd_topic: &str,
    body: &str,
    corr: &str,
) -> String {
    publish(port, cmd_topic, body, Some((reply_topic, corr)));
    let reply = sub.expect(&format!("the reply to {body}"), |m| {
        m.topic == reply_topic && m.correlation == corr
    });
    assert!(!reply.retained, "replies are not retained");
    reply.payload
}

// ----- tests -----

#[test]
fn devices_announce_themselves_stream_telemetry_answer_commands_and_stop_cleanly() {
    let port = broker_port();
    let mut sim = Devsim::start(port, "fleet", "thermostat:1,air:1,lock:1", 3);
    let (thermostat, air, lock) = (sim.id("thermostat"), sim.id("air"), sim.id("lock"));
    assert_eq!(sim.ids, vec![air.clone(), lock.clone(), thermostat.clone()]);

    // Subscribing after the devices came online: status and meta arrive retained.
    let all = format!("{}/#", sim.prefix);
    let sub = Sub::start(port, &sim.prefix, &[&all]);
    for (id, kind, name, metrics) in [
        (
            &thermostat,
            "thermostat",
            "Thermostat 1",
            &["temperature", "humidity", "setpoint"][..],
        ),
        (&air, "air", "Air quality 1", &["co2", "pm25", "voc"][..]),
        (&lock, "lock", "Door lock 1", &["locked", "battery"][..]),
    ] {
        let status = sim.topic(id, "status");
        sub.expect(&format!("retained online on {status}"), |m| {
            m.topic == status && m.retained && m.payload == "online"
        });
        let meta_topic = sim.topic(id, "meta");
        let meta = sub.expect(&format!("retained meta on {meta_topic}"), |m| {
            m.topic == meta_topic && m.retained
        });
        for part in [
            format!(r#""id":"{id}""#),
            format!(r#""kind":"{kind}""#),
            format!(r#""name":"{name}""#),
            r#""unit":{"#.to_string(),
            r#""commands":["#.to_string(),
        ] {
            assert!(
                meta.payload.contains(&part),
                "{part} not in {}",
                meta.payload
            );
        }
        for metric in metrics {
            let topic = sim.topic(id, metric);
            let m = sub.expect(&format!("telemetry on {topic}"), |m| m.topic == topic);
            assert!(!m.retained);
            if *metric == "locked" {
                assert!(m.payload == "true" || m.payload == "false", "{m:?}");
            } else {
                let v: f64 = m.payload.parse().unwrap_or_else(|_| panic!("{m:?}"));
                assert!(v.is_finite());
            }
        }
    }

    // Values change over time.
    let temperature = sim.topic(&thermostat, "temperature");
    let first = sub
        .expect("a temperature", |m| m.topic == temperature)
        .payload;
    sub.expect("a different temperature", |m| {
        m.topic == temperature && m.payload != first
    });

    // Commands, MQTT 5 request/response.
    let replies = format!("{}/replies/dashboard", sim.prefix);
    let rsub = Sub::start(port, &sim.prefix, &[&replies]);
    let reply = request(
        port,
        &rsub,
        &replies,
        &sim.topic(&thermostat, "cmd"),
        r#"{"action":"setpoint","value":25.5}"#,
        "corr-setpoint-1",
    );
    assert!(reply.starts_with(r#"{"ok":true,"state":{"#), "{reply}");
    assert!(reply.contains(r#""setpoint":25.5"#), "{reply}");
    let setpoint = sim.topic(&thermostat, "setpoint");
    sub.expect("setpoint 25.5 in telemetry", |m| {
        m.topic == setpoint && m.payload == "25.5"
    });

    sub.clear(); // the lock toggles by itself now and then: only what follows counts
    let reply = request(
        port,
        &rsub,
        &replies,
        &sim.topic(&lock, "cmd"),
        r#"{"action":"unlock"}"#,
        "corr-unlock-2",
    );
    assert!(
        reply.contains(r#""ok":true"#) && reply.contains(r#""locked":false"#),
        "{reply}"
    );
    let locked = sim.topic(&lock, "locked");
    sub.expect("locked false in telemetry", |m| {
        m.topic == locked && m.payload == "false"
    });

    for (i, (device, body, error)) in [
        (&air, "{not json", r#""error":"malformed command: "#),
        (&air, "[1,2,3]", r#""error":"malformed command: "#),
        (&air, "\u{1}\u{ff}", r#""error":"malformed command: "#),
        (&air, r#"{"action":"fly"}"#, r#""error":"unknown action""#),
        (
            &lock,
            r#"{"action":"setpoint","value":20}"#,
            r#""error":"unknown action""#,
        ),
        (
            &thermostat,
            r#"{"action":"setpoint","value":"hot"}"#,
            r#""error":"setpoint needs"#,
        ),
        (
            &thermostat,
            r#"{"action":"setpoint","value":90}"#,
            r#""error":"setpoint out of range"#,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let cmd = sim.topic(device, "cmd");
        let reply = request(port, &rsub, &replies, &cmd, body, &format!("corr-bad-{i}"));
        assert!(reply.starts_with(r#"{"ok":false,"#), "{body} -> {reply}");
        assert!(reply.contains(error), "{body} -> {reply}");
    }
    // Still alive and answering.
    let reply = request(
        port,
        &rsub,
        &replies,
        &sim.topic(&air, "cmd"),
        r#"{"action":"ping"}"#,
        "corr-ping-3",
    );
    assert!(
        reply.contains(r#""ok":true"#) && reply.contains(r#""co2":"#),
        "{reply}"
    );
    assert!(sim.child.try_wait().unwrap().is_none(), "devsim died");

    // SIGTERM: every device publishes offline before it goes.
    sim.signal("-TERM");
    for id in [&thermostat, &air, &lock] {
        let status = sim.topic(id, "status");
        sub.expect(&format!("offline on {status}"), |m| {
            m.topic == status && m.payload == "offline"
        });
    }
    let status = sim.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "devsim exited with {status}");
    let stopped: Vec<String> = sim
        .out
        .try_iter()
        .filter(|l| l.starts_with("stopped "))
        .collect();
    assert_eq!(stopped.len(), 3, "{stopped:?}");

    // ... and it stays retained for dashboards that come later.
    let late = Sub::start(port, &sim.prefix, &[&format!("{}/+/status", sim.prefix)]);
    for id in [&thermostat, &air, &lock] {
        let status = sim.topic(id, "status");
        late.expect(&format!("retained offline on {status}"), |m| {
            m.topic == status && m.retained && m.payload == "offline"
        });
    }
}

#[test]
fn sigkill_leaves_offline_to_the_will() {
    let port = broker_port();
    let mut sim = Devsim::start(port, "will", "thermostat:1", 1);
    let status = sim.topic(&sim.id("thermostat"), "status");
    let sub = Sub::start(port, &sim.prefix, &[&status]);
    sub.expect("retained online", |m| m.retained && m.payload == "online");
    sim.child.kill().expect("SIGKILL devsim");
    sim.child.wait().unwrap();
    let will = sub.expect("the Will", |m| m.topic == status && m.payload == "offline");
    assert!(
        !will.retained,
        "a live Will delivery is not flagged retained"
    );
    let late = Sub::start(port, &sim.prefix, &[&status]);
    late.expect("retained offline from the Will", |m| {
        m.retained && m.payload == "offline"
    });
}

/// A TCP relay to the broker that can drop every connection and refuse new ones.
struct Proxy {
    port: u16,
    refuse: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(broker: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let refuse = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (r, c) = (Arc::clone(&refuse), Arc::clone(&conns));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if r.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", broker)) else {
                    continue;
                };
                let mut list = c.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(upstream.try_clone().unwrap());
                drop(list);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream, client),
                ] {
                    thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy {
            port,
            refuse,
            conns,
        }
    }

    /// Drops every connection (no DISCONNECT: the broker publishes the Will).
    fn cut(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

#[test]
fn reconnects_after_the_connection_drops() {
    let port = broker_port();
    let proxy = Proxy::start(port);
    let sim = Devsim::start(proxy.port, "reconnect", "air:1", 1);
    let air = sim.id("air");
    let status = sim.topic(&air, "status");
    let sub = Sub::start(port, &sim.prefix, &[&status]);
    sub.expect("retained online", |m| m.retained && m.payload == "online");

    proxy.cut(true);
    sub.expect("the Will after the cut", |m| m.payload == "offline");
    thread::sleep(Duration::from_millis(1_000));
    proxy.refuse.store(false, Ordering::SeqCst);
    sub.expect("online again", |m| m.payload == "online");
    expect_line(
        &sim.out,
        Duration::from_secs(5),
        "a second online line",
        |l| l.starts_with(&format!("online {air} ")),
    );

    // Commands work on the new connection (the subscription came back).
    let replies = format!("{}/replies/r", sim.prefix);
    let rsub = Sub::start(port, &sim.prefix, &[&replies]);
    let reply = request(
        port,
        &rsub,
        &replies,
        &sim.topic(&air, "cmd"),
        r#"{"action":"calibrate"}"#,
        "corr-cal",
    );
    assert!(reply.contains(r#""co2":420"#), "{reply}");
}

// ----- the native camera: called by a str0m peer standing in for a dashboard -----

/// `s` as a JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of string field `key` in a flat JSON text (enough for the camera's answer).
fn string_field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut out = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
    None
}

/// A str0m peer driven on its own UDP socket, as the camera's caller.
struct Caller {
    rtc: str0m::Rtc,
    socket: std::net::UdpSocket,
    buf: Vec<u8>,
}

impl Caller {
    /// Polls, sends and receives until `until`; `events` sees each event and may write
    /// to the peer; it returns true to stop early.
    fn run(
        &mut self,
        timeout: Duration,
        mut events: impl FnMut(&mut str0m::Rtc, str0m::Event) -> bool,
    ) -> bool {
        use str0m::net::{Protocol, Receive};
        use str0m::{Input, Output};
        let until = Instant::now() + timeout;
        loop {
            let next = loop {
                match self.rtc.poll_output().expect("caller poll") {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = self.socket.send_to(&t.contents, t.destination);
                    }
                    Output::Event(e) => {
                        if events(&mut self.rtc, e) {
                            return true;
                        }
                    }
                }
            };
            let now = Instant::now();
            if now >= until {
                return false;
            }
            let wait = next.min(until).saturating_duration_since(now);
            self.socket
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .unwrap();
            self.buf.resize(2048, 0);
            let input = match self.socket.recv_from(&mut self.buf) {
                Ok((n, source)) => Input::Receive(
                    Instant::now(),
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: self.socket.local_addr().unwrap(),
                        contents: self.buf[..n].try_into().expect("a WebRTC datagram"),
                    },
                ),
                Err(_) => Input::Timeout(Instant::now()),
            };
            self.rtc.handle_input(input).expect("caller input");
        }
    }
}

/// One text message in the RtcChannel framing (header 0x01: text, last chunk).
fn frame(text: &str) -> Vec<u8> {
    let mut f = vec![0x01];
    f.extend_from_slice(text.as_bytes());
    f
}

#[test]
fn the_native_camera_answers_a_call_streams_telemetry_and_takes_commands() {
    use str0m::change::SdpAnswer;
    use str0m::{Candidate, Event, Rtc};

    let port = broker_port();
    let mut sim = Devsim::start(port, "camera", "camera:1", 1);
    let camera = sim.id("camera");
    let caller_id = format!("{}-caller", sim.prefix);
    let presence = format!("mqtt-rtc/cameras/presence/{camera}");
    let caller_inbox = format!("mqtt-rtc/cameras/inbox/{caller_id}");
    let sub = Sub::start(port, &sim.prefix, &[&presence, &caller_inbox]);
    let announced = sub.expect("retained presence", |m| m.topic == presence && m.retained);
    for field in [
        r#""v":1"#.into(),
        format!(r#""peerId":"{camera}""#),
        r#""kind":"camera""#.into(),
        r#""native":"true""#.into(),
    ] {
        assert!(announced.payload.contains(&field), "{}", announced.payload);
    }

    // Garbage in the inbox is logged and dropped (so is an envelope of another protocol
    // version); the camera keeps answering. The caller's own envelopes have no `v`: a
    // peer that predates it speaks version 1.
    let camera_inbox = format!("mqtt-rtc/cameras/inbox/{camera}");
    publish(port, &camera_inbox, "not json", None);
    publish(
        port,
        &camera_inbox,
        r#"{"from":"x","signal":{"type":"candidate","candidate":null,"session":"nope"}}"#,
        None,
    );
    publish(
        port,
        &camera_inbox,
        r#"{"v":2,"from":"x","signal":{"type":"offer","sdp":"v=0","session":"v2"}}"#,
        None,
    );

    str0m::crypto::from_feature_flags().install_process_default();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rtc = Rtc::new(Instant::now());
    rtc.add_local_candidate(Candidate::host(socket.local_addr().unwrap(), "udp").unwrap());
    let mut change = rtc.sdp_api();
    let cid = change.add_channel("control".into());
    let (offer, pending) = change.apply().expect("an offer");
    let envelope = format!(
        r#"{{"from":{},"signal":{{"type":"offer","sdp":{},"session":"caller-s1"}}}}"#,
        quote(&caller_id),
        quote(&offer.to_sdp_string())
    );
    publish(port, &camera_inbox, &envelope, None);
    let reply = sub.expect("the answer", |m| m.topic == caller_inbox);
    assert!(reply.payload.starts_with(r#"{"v":1,"#), "{}", reply.payload);
    assert_eq!(
        string_field(&reply.payload, "from").as_deref(),
        Some(camera.as_str())
    );
    assert_eq!(
        string_field(&reply.payload, "type").as_deref(),
        Some("answer")
    );
    let session = string_field(&reply.payload, "session").expect("a session");
    assert!(session.starts_with(&camera), "{session}");
    let sdp = string_field(&reply.payload, "sdp").expect("an answer sdp");
    let answer = SdpAnswer::from_sdp_string(&sdp).expect("a valid answer");
    rtc.sdp_api().accept_answer(pending, answer).unwrap();

    let mut caller = Caller {
        rtc,
        socket,
        buf: Vec::new(),
    };
    // Connect, then collect telemetry and the replies to two commands.
    let mut telemetry = Vec::new();
    let mut replies = Vec::new();
    let mut sent = false;
    let done = caller.run(Duration::from_secs(15), |rtc, event| {
        match event {
            Event::ChannelOpen(id, _) if id == cid && !sent => {
                let mut ch = rtc.channel(cid).unwrap();
                ch.write(
                    true,
                    &frame(r#"{"action":"setpoint","value":24,"id":"c1"}"#),
                )
                .unwrap();
                // Also a plain text message (no framing): it is read as is.
                ch.write(false, br#"{"action":"ping","id":"c2"}"#).unwrap();
                sent = true;
            }
            Event::ChannelData(d) => {
                assert!(d.binary, "the camera frames every message");
                assert_eq!(d.data[0], 0x01, "one text chunk");
                let text = String::from_utf8(d.data[1..].to_vec()).unwrap();
                if text.contains(r#""type":"telemetry""#) {
                    telemetry.push(text);
                } else {
                    replies.push(text);
                }
            }
            _ => {}
        }
        telemetry.len() >= 3 && replies.len() >= 2
    });
    assert!(
        done,
        "telemetry {telemetry:#?}, replies {replies:#?} after 15 s"
    );
    assert!(
        replies[0].starts_with(r#"{"type":"reply","id":"c1","ok":true"#),
        "{}",
        replies[0]
    );
    assert!(replies[0].contains(r#""setpoint":24.0"#), "{}", replies[0]);
    assert!(
        replies[1].starts_with(r#"{"type":"reply","id":"c2","ok":true"#),
        "{}",
        replies[1]
    );
    assert!(
        telemetry.last().unwrap().contains(r#""viewers":1"#),
        "{telemetry:#?}"
    );

    // Once connected, the camera offers its video track in the same session.
    let offer = sub.expect("the camera's video offer", |m| {
        m.topic == caller_inbox && m.payload.contains(r#""type":"offer""#)
    });
    assert_eq!(string_field(&offer.payload, "session"), Some(session));
    let sdp = string_field(&offer.payload, "sdp").unwrap();
    assert!(
        sdp.contains("m=video") && sdp.contains("H264/90000"),
        "{sdp}"
    );
    assert!(sdp.contains("a=sendonly"), "{sdp}");

    // SIGTERM: the calls close, the presence is cleared (empty, retained).
    sim.signal("-TERM");
    assert!(sim.wait_exit(Duration::from_secs(5)).success());
    sub.expect("presence cleared", |m| {
        m.topic == presence && m.payload.is_empty()
    });
}

#[test]
fn a_killed_camera_leaves_through_its_will() {
    let port = broker_port();
    let sim = Devsim::start(port, "camwill", "camera:1", 1);
    let presence = format!("mqtt-rtc/cameras/presence/{}", sim.id("camera"));
    let sub = Sub::start(port, &sim.prefix, &[&presence]);
    sub.expect("retained presence", |m| m.retained && !m.payload.is_empty());
    sim.signal("-KILL");
    sub.expect("the empty Will", |m| m.payload.is_empty());
}
