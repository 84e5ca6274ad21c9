//! The simulated devices: their state, how it drifts every tick, what their meta message
//! says, and how they answer commands. Pure: no MQTT, no I/O; randomness comes from a
//! seeded [`SplitMix64`], so a run with the same seed produces the same values.

use std::fmt;

use mqtt_rtc::mqtt::backoff::SplitMix64;

use crate::json::{self, Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Thermostat,
    Air,
    Lock,
    /// The native WebRTC camera (`crate::camera`): thermostat-like sensors, read and
    /// commanded over a data channel instead of MQTT topics.
    Camera,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Thermostat, Kind::Air, Kind::Lock, Kind::Camera];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Thermostat => "thermostat",
            Kind::Air => "air",
            Kind::Lock => "lock",
            Kind::Camera => "camera",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Thermostat => "Thermostat",
            Kind::Air => "Air quality",
            Kind::Lock => "Door lock",
            Kind::Camera => "Native camera",
        }
    }

    /// Telemetry metrics (each on `<prefix>/<id>/<metric>`) and their units, in order.
    pub fn metrics(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Thermostat | Kind::Camera => {
                &[("temperature", "°C"), ("humidity", "%"), ("setpoint", "°C")]
            }
            Kind::Air => &[("co2", "ppm"), ("pm25", "µg/m³"), ("voc", "ppb")],
            Kind::Lock => &[("locked", ""), ("battery", "%")],
        }
    }

    /// The command actions this kind accepts.
    pub fn commands(self) -> &'static [&'static str] {
        match self {
            Kind::Thermostat | Kind::Camera => &["setpoint", "ping", "calibrate"],
            Kind::Air => &["ping", "calibrate"],
            Kind::Lock => &["lock", "unlock", "ping"],
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown device kind {s:?} (thermostat, air, lock or camera)"))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const SETPOINT_MIN: f64 = 5.0;
pub const SETPOINT_MAX: f64 = 35.0;

#[derive(Debug, Clone)]
enum Model {
    Thermostat {
        temperature: f64,
        humidity: f64,
        setpoint: f64,
    },
    Air {
        co2: f64,
        pm25: f64,
        voc: f64,
    },
    Lock {
        locked: bool,
        battery: f64,
    },
}

/// One simulated device.
#[derive(Debug, Clone)]
pub struct Device {
    pub kind: Kind,
    /// 1-based number within its kind.
    pub number: u32,
    model: Model,
    rng: SplitMix64,
}

impl Device {
    pub fn new(kind: Kind, number: u32, seed: u64) -> Device {
        let mut rng = SplitMix64::new(seed);
        let model = match kind {
            Kind::Thermostat | Kind::Camera => {
                let setpoint = 20.0 + 0.5 * (rng.next_u64() % 6) as f64;
                Model::Thermostat {
                    temperature: setpoint + uniform(&mut rng, -1.5, 1.5),
                    humidity: uniform(&mut rng, 38.0, 52.0),
                    setpoint,
                }
            }
            Kind::Air => Model::Air {
                co2: uniform(&mut rng, 450.0, 800.0),
                pm25: uniform(&mut rng, 4.0, 15.0),
                voc: uniform(&mut rng, 80.0, 250.0),
            },
            Kind::Lock => Model::Lock {
                locked: true,
                battery: uniform(&mut rng, 60.0, 100.0),
            },
        };
        Device {
            kind,
            number,
            model,
            rng,
        }
    }

    /// Human name shown by dashboards, e.g. "Thermostat 1".
    pub fn name(&self) -> String {
        format!("{} {}", self.kind.title(), self.number)
    }

    /// Advances the simulation by one telemetry interval.
    pub fn tick(&mut self) {
        let rng = &mut self.rng;
        match &mut self.model {
            Model::Thermostat {
                temperature,
                humidity,
                setpoint,
            } => {
                // The heating pulls towards the setpoint; the room adds noise.
                *temperature += (*setpoint - *temperature) * 0.15 + uniform(rng, -0.25, 0.25);
                *humidity = (*humidity + uniform(rng, -0.6, 0.6)).clamp(25.0, 70.0);
            }
            Model::Air { co2, pm25, voc } => {
                *co2 =
                    (*co2 + (600.0 - *co2) * 0.05 + uniform(rng, -30.0, 30.0)).clamp(400.0, 2500.0);
                *pm25 = (*pm25 + (9.0 - *pm25) * 0.05 + uniform(rng, -1.5, 1.5)).clamp(0.5, 150.0);
                *voc =
                    (*voc + (150.0 - *voc) * 0.05 + uniform(rng, -15.0, 15.0)).clamp(10.0, 1000.0);
            }
            Model::Lock { locked, battery } => {
                // Someone uses the door now and then.
                if rng.next_f64() < 0.02 {
                    *locked = !*locked;
                }
                *battery -= uniform(rng, 0.02, 0.12);
                if *battery < 5.0 {
                    *battery = 100.0; // fresh batteries
                }
            }
        }
    }

    /// Current telemetry as `(metric, payload)`; payloads are plain text numbers (`true` /
    /// `false` for `locked`).
    pub fn telemetry(&self) -> Vec<(&'static str, String)> {
        match &self.model {
            Model::Thermostat {
                temperature,
                humidity,
                setpoint,
            } => vec![
                ("temperature", format!("{temperature:.1}")),
                ("humidity", format!("{humidity:.1}")),
                ("setpoint", format!("{setpoint:.1}")),
            ],
            Model::Air { co2, pm25, voc } => vec![
                ("co2", format!("{co2:.0}")),
                ("pm25", format!("{pm25:.1}")),
                ("voc", format!("{voc:.0}")),
            ],
            Model::Lock { locked, battery } => vec![
                ("locked", locked.to_string()),
                ("battery", format!("{battery:.1}")),
            ],
        }
    }

    /// The state object of command replies: the telemetry as JSON numbers / booleans.
    pub fn state_json(&self) -> String {
        let fields: Vec<String> = self
            .telemetry()
            .into_iter()
            .map(|(metric, value)| format!("{}:{value}", json::quote(metric)))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// The retained meta message.
    pub fn meta_json(&self, id: &str, interval_ms: u64) -> String {
        let metrics: Vec<String> = self
            .kind
            .metrics()
            .iter()
            .map(|(m, _)| json::quote(m))
            .collect();
        let units: Vec<String> = self
            .kind
            .metrics()
            .iter()
            .map(|(m, u)| format!("{}:{}", json::quote(m), json::quote(u)))
            .collect();
        let commands: Vec<String> = self
            .kind
            .commands()
            .iter()
            .map(|c| json::quote(c))
            .collect();
        let limits = match self.kind {
            Kind::Thermostat | Kind::Camera => {
                format!(
                    r#","limits":{{"setpoint":{{"min":{SETPOINT_MIN:.1},"max":{SETPOINT_MAX:.1}}}}}"#
                )
            }
            _ => String::new(),
        };
        format!(
            r#"{{"id":{},"kind":{},"name":{},"metrics":[{}],"unit":{{{}}},"commands":[{}]{limits},"interval_ms":{interval_ms}}}"#,
            json::quote(id),
            json::quote(self.kind.as_str()),
            json::quote(&self.name()),
            metrics.join(","),
            units.join(","),
            commands.join(","),
        )
    }

    /// Runs one command message and returns the JSON reply. Never panics, whatever the
    /// payload: bad input gets `{"ok":false,"error":...}`.
    pub fn command(&mut self, payload: &[u8]) -> String {
        match self.try_command(payload) {
            Ok(()) => format!(r#"{{"ok":true,"state":{}}}"#, self.state_json()),
            Err(e) => format!(r#"{{"ok":false,"error":{}}}"#, json::quote(&e)),
        }
    }

    fn try_command(&mut self, payload: &[u8]) -> Result<(), String> {
        let text =
            std::str::from_utf8(payload).map_err(|_| "malformed command: not UTF-8".to_string())?;
        let cmd = json::parse(text).map_err(|e| format!("malformed command: {e}"))?;
        if !matches!(cmd, Json::Object(_)) {
            return Err("malformed command: not a JSON object".into());
        }
        let action = cmd
            .get("action")
            .and_then(Json::as_str)
            .ok_or_else(|| "malformed command: no \"action\" string".to_string())?;
        let rng = &mut self.rng;
        match (action, &mut self.model) {
            ("ping", _) => Ok(()),
            ("setpoint", Model::Thermostat { setpoint, .. }) => {
                let value = cmd
                    .get("value")
                    .and_then(Json::as_f64)
                    .ok_or_else(|| "setpoint needs a numeric \"value\"".to_string())?;
                if !(SETPOINT_MIN..=SETPOINT_MAX).contains(&value) {
                    return Err(format!(
                        "setpoint out of range {SETPOINT_MIN}..{SETPOINT_MAX}"
                    ));
                }
                // Telemetry prints one decimal: keep the stored value in step with it.
                *setpoint = (value * 10.0).round() / 10.0;
                Ok(())
            }
            (
                "calibrate",
                Model::Thermostat {
                    temperature,
                    setpoint,
                    ..
                },
            ) => {
                *temperature = *setpoint + uniform(rng, -0.2, 0.2);
                Ok(())
            }
            ("calibrate", Model::Air { co2, pm25, voc }) => {
                // Back to a fresh-air baseline.
                *co2 = 420.0;
                *pm25 = 5.0;
                *voc = 100.0;
                Ok(())
            }
            ("lock", Model::Lock { locked, .. }) => {
                *locked = true;
                Ok(())
            }
            ("unlock", Model::Lock { locked, .. }) => {
                *locked = false;
                Ok(())
            }
            _ => Err("unknown action".into()),
        }
    }
}

fn uniform(rng: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.next_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_state(reply: &str) -> Json {
        let v = json::parse(reply).unwrap();
        assert_eq!(v.get("ok"), Some(&Json::Bool(true)), "{reply}");
        v.get("state").unwrap().clone()
    }

    fn error_of(reply: &str) -> String {
        let v = json::parse(reply).unwrap();
        assert_eq!(v.get("ok"), Some(&Json::Bool(false)), "{reply}");
        v.get("error").and_then(Json::as_str).unwrap().to_string()
    }

    #[test]
    fn telemetry_drifts_and_meta_is_json() {
        for kind in Kind::ALL {
            let mut d = Device::new(kind, 1, 7);
            let meta = json::parse(&d.meta_json("devsim-x-1", 1000)).unwrap();
            assert_eq!(meta.get("kind").and_then(Json::as_str), Some(kind.as_str()));
            let first = d.telemetry();
            assert_eq!(first.len(), kind.metrics().len());
            let mut changed = false;
            for _ in 0..50 {
                d.tick();
                changed |= d.telemetry() != first;
            }
            assert!(changed, "{kind} telemetry never changed");
            ok_state(&d.command(br#"{"action":"ping"}"#));
        }
    }

    #[test]
    fn thermostat_setpoint_command_changes_telemetry() {
        let mut d = Device::new(Kind::Thermostat, 1, 1);
        let state = ok_state(&d.command(br#"{"action":"setpoint","value":25.5}"#));
        assert_eq!(state.get("setpoint").and_then(Json::as_f64), Some(25.5));
        assert!(d.telemetry().contains(&("setpoint", "25.5".to_string())));
        for _ in 0..60 {
            d.tick();
        }
        let t: f64 = d.telemetry()[0].1.parse().unwrap();
        assert!(
            (t - 25.5).abs() < 2.0,
            "temperature {t} did not follow the setpoint"
        );
        assert!(error_of(&d.command(br#"{"action":"setpoint","value":99}"#)).contains("range"));
        assert!(error_of(&d.command(br#"{"action":"setpoint"}"#)).contains("value"));
        assert_eq!(
            error_of(&d.command(br#"{"action":"unlock"}"#)),
            "unknown action"
        );
    }

    #[test]
    fn lock_commands() {
        let mut d = Device::new(Kind::Lock, 2, 3);
        let s = ok_state(&d.command(br#"{"action":"unlock"}"#));
        assert_eq!(s.get("locked"), Some(&Json::Bool(false)));
        let s = ok_state(&d.command(br#"{"action":"lock"}"#));
        assert_eq!(s.get("locked"), Some(&Json::Bool(true)));
        assert_eq!(d.name(), "Door lock 2");
    }

    #[test]
    fn malformed_commands_get_errors() {
        let mut d = Device::new(Kind::Air, 1, 3);
        for bad in [
            &b""[..],
            b"\xff\xfe",
            b"not json",
            b"[1,2]",
            b"{\"action\":5}",
            b"{\"value\":1}",
        ] {
            assert!(error_of(&d.command(bad)).starts_with("malformed command"));
        }
        assert_eq!(
            error_of(&d.command(br#"{"action":"dance"}"#)),
            "unknown action"
        );
        let s = ok_state(&d.command(br#"{"action":"calibrate"}"#));
        assert_eq!(s.get("co2").and_then(Json::as_f64), Some(420.0));
    }
}
