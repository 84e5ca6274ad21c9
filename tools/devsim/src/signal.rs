//! The JSON of the library's signaling protocol (docs/signaling-protocol.md, version 1), as
//! the native camera speaks it: topic names, the retained presence message and the inbox
//! envelope `{"v","from","signal"}`, read into and written from the library's own
//! [`Signal`] (the browser reads the same JSON in JS-side code, so only the JSON is
//! here; the values, bounds and call routing are `mqtt_rtc::rtc_core`'s). Pure: no I/O,
//! no clock, no randomness; whatever arrives becomes a value or an error, never a panic.

use mqtt_rtc::rtc_core::room::check_signal_size;
use mqtt_rtc::rtc_core::signal::{
    self, CandidateInit, SdpKind, Signal, MAX_CANDIDATE_BYTES, MAX_SDP_BYTES, MAX_SESSION_CHARS,
};

use crate::json::{self, Json};

/// The first topic level of signaling, the library's default.
pub const DEFAULT_PREFIX: &str = "mqtt-rtc";
/// The room dashboards look for cameras in.
pub const ROOM: &str = "cameras";
/// The protocol version this side speaks (the library's), sent as `"v"` in presence and
/// envelopes.
pub use mqtt_rtc::rtc_core::signal::PROTOCOL_VERSION as VERSION;

/// `<prefix>/<room>/presence/<peer>`: retained presence, empty = left.
pub fn presence_topic(prefix: &str, room: &str, peer: &str) -> String {
    format!("{prefix}/{room}/presence/{peer}")
}

/// `<prefix>/<room>/inbox/<peer>`: QoS 1 envelopes for `peer`.
pub fn inbox_topic(prefix: &str, room: &str, peer: &str) -> String {
    format!("{prefix}/{room}/inbox/{peer}")
}

/// The presence body: `{"v","peerId","meta","since","ts"}`; `meta` values are strings
/// (the browser's `PeerInfo.meta` is a string record), times are milliseconds since the
/// epoch.
pub fn presence_json(peer_id: &str, meta: &[(&str, &str)], since_ms: u64, now_ms: u64) -> String {
    let meta: Vec<String> = meta
        .iter()
        .map(|(k, v)| format!("{}:{}", json::quote(k), json::quote(v)))
        .collect();
    format!(
        r#"{{"v":{VERSION},"peerId":{},"meta":{{{}}},"since":{since_ms},"ts":{now_ms}}}"#,
        json::quote(peer_id),
        meta.join(",")
    )
}

/// An `RTCIceCandidateInit` object.
fn candidate_json(c: &CandidateInit) -> String {
    let mut fields = vec![format!(r#""candidate":{}"#, json::quote(&c.candidate))];
    if let Some(mid) = &c.sdp_mid {
        fields.push(format!(r#""sdpMid":{}"#, json::quote(mid)));
    }
    if let Some(index) = c.sdp_m_line_index {
        fields.push(format!(r#""sdpMLineIndex":{index}"#));
    }
    if let Some(ufrag) = &c.username_fragment {
        fields.push(format!(r#""usernameFragment":{}"#, json::quote(ufrag)));
    }
    format!("{{{}}}", fields.join(","))
}

fn signal_json(signal: &Signal) -> String {
    match signal {
        Signal::Description { kind, sdp, session } => format!(
            r#"{{"type":"{}","sdp":{},"session":{}}}"#,
            kind.as_str(),
            json::quote(sdp),
            json::quote(session)
        ),
        Signal::Candidate { candidate, session } => format!(
            r#"{{"type":"candidate","candidate":{},"session":{}}}"#,
            candidate_json(candidate),
            json::quote(session)
        ),
    }
}

/// The inbox envelope `{"v","from","signal"}` this peer publishes to a remote inbox.
pub fn envelope_json(from: &str, signal: &Signal) -> String {
    format!(
        r#"{{"v":{VERSION},"from":{},"signal":{}}}"#,
        json::quote(from),
        signal_json(signal)
    )
}

/// The protocol version of a received message, checked by the library's rule.
fn check_version(v: &Json) -> Result<(), String> {
    match v.get("v") {
        None => signal::check_version(None),
        Some(Json::Number(n)) => signal::check_version(Some(*n)),
        Some(_) => Err("v must be a number".into()),
    }
}

/// The envelope refusing a call `{"v","from","reject":{"session"}}`: `session` is the
/// caller's peer session, whose call this peer will not answer.
pub fn reject_json(from: &str, session: &str) -> String {
    format!(
        r#"{{"v":{VERSION},"from":{},"reject":{{"session":{}}}}}"#,
        json::quote(from),
        json::quote(session)
    )
}

/// An optional string field of a candidate, bounded like the line.
fn optional_string(c: &Json, key: &str) -> Result<Option<String>, String> {
    match c.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.len() <= MAX_CANDIDATE_BYTES => Ok(Some(s.clone())),
        Some(Json::String(_)) => Err(format!("candidate.{key} is too long")),
        Some(_) => Err(format!("candidate.{key} must be a string")),
    }
}

fn m_line_index(c: &Json) -> Result<Option<u16>, String> {
    match c.get("sdpMLineIndex") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(i)) if i.fract() == 0.0 && (0.0..=65535.0).contains(i) => {
            Ok(Some(*i as u16))
        }
        Some(_) => Err("candidate.sdpMLineIndex must be 0..65535".into()),
    }
}

/// Reads an `RTCIceCandidateInit`; null, a missing field or an empty line is
/// end-of-candidates.
fn parse_candidate(c: Option<&Json>) -> Result<CandidateInit, String> {
    let c = match c {
        None | Some(Json::Null) => return Ok(CandidateInit::default()),
        Some(c @ Json::Object(_)) => c,
        Some(_) => return Err("candidate must be an RTCIceCandidateInit object".into()),
    };
    let line = match c.get("candidate") {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(line)) if line.len() <= MAX_CANDIDATE_BYTES => line.clone(),
        Some(Json::String(_)) => return Err("candidate.candidate is too long".into()),
        Some(_) => return Err("candidate.candidate must be a string".into()),
    };
    check_candidate(CandidateInit {
        candidate: line,
        sdp_mid: optional_string(c, "sdpMid")?,
        sdp_m_line_index: m_line_index(c)?,
        username_fragment: optional_string(c, "usernameFragment")?,
    })
}

/// The rule of protocol section 3 the fields alone do not hold: a candidate (not
/// end-of-candidates) names its m-line. `src/rtc/message.rs` checks the same; rtc_core
/// has no shared check of a `CandidateInit` to call instead.
fn check_candidate(c: CandidateInit) -> Result<CandidateInit, String> {
    let names_m_line = c.sdp_mid.is_some() || c.sdp_m_line_index.is_some();
    if c.is_end_of_candidates() || names_m_line {
        return Ok(c);
    }
    Err("a candidate needs sdpMid or sdpMLineIndex".into())
}

fn parse_signal(signal: &Json) -> Result<Signal, String> {
    let session = signal
        .get("session")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty() && s.chars().count() <= MAX_SESSION_CHARS)
        .ok_or_else(|| format!("session must be a string of 1 to {MAX_SESSION_CHARS} characters"))?
        .to_string();
    let description = |kind: SdpKind| {
        let sdp = signal
            .get("sdp")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("an {} needs an sdp string", kind.as_str()))?;
        if sdp.len() > MAX_SDP_BYTES {
            return Err(format!("the sdp exceeds {MAX_SDP_BYTES} bytes"));
        }
        let sdp = sdp.to_string();
        let session = session.clone();
        Ok(Signal::Description { kind, sdp, session })
    };
    match signal.get("type").and_then(Json::as_str) {
        Some("offer") => description(SdpKind::Offer),
        Some("answer") => description(SdpKind::Answer),
        Some("candidate") => Ok(Signal::Candidate {
            candidate: parse_candidate(signal.get("candidate"))?,
            session,
        }),
        _ => Err("type must be offer, answer or candidate".into()),
    }
}

/// Reads an inbox message: its sender and signal. Fields this side does not know are
/// ignored (protocol section 6).
pub fn parse_envelope(payload: &[u8]) -> Result<(String, Signal), String> {
    check_signal_size(payload.len())?;
    let text = std::str::from_utf8(payload).map_err(|_| "signal is not UTF-8".to_string())?;
    let v = json::parse(text).map_err(|e| format!("signal is not JSON: {e}"))?;
    check_version(&v)?;
    let from = v
        .get("from")
        .and_then(Json::as_str)
        .filter(|f| !f.is_empty())
        .ok_or("signal without from")?
        .to_string();
    let signal = parse_signal(v.get("signal").ok_or("envelope without signal")?)?;
    Ok((from, signal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_rtc::rtc_core::room::MAX_SIGNAL_BYTES;

    fn description(kind: SdpKind, sdp: &str, session: &str) -> Signal {
        Signal::Description {
            kind,
            sdp: sdp.into(),
            session: session.into(),
        }
    }

    fn candidate(line: &str, index: Option<u16>, session: &str) -> Signal {
        Signal::Candidate {
            candidate: CandidateInit {
                candidate: line.into(),
                sdp_m_line_index: index,
                ..CandidateInit::default()
            },
            session: session.into(),
        }
    }

    #[test]
    fn topics_and_presence_match_the_browser_library() {
        assert_eq!(
            presence_topic(DEFAULT_PREFIX, ROOM, "cam-1"),
            "mqtt-rtc/cameras/presence/cam-1"
        );
        assert_eq!(
            inbox_topic(DEFAULT_PREFIX, ROOM, "cam-1"),
            "mqtt-rtc/cameras/inbox/cam-1"
        );
        let p = json::parse(&presence_json(
            "cam-1",
            &[("kind", "camera"), ("native", "true")],
            5,
            7,
        ))
        .unwrap();
        assert_eq!(p.get("v").and_then(Json::as_f64), Some(1.0));
        assert_eq!(p.get("peerId").and_then(Json::as_str), Some("cam-1"));
        let meta = p.get("meta").unwrap();
        assert_eq!(meta.get("kind").and_then(Json::as_str), Some("camera"));
        assert_eq!(meta.get("native").and_then(Json::as_str), Some("true"));
        assert_eq!(p.get("since").and_then(Json::as_f64), Some(5.0));
        assert_eq!(p.get("ts").and_then(Json::as_f64), Some(7.0));
    }

    #[test]
    fn reads_what_a_browser_sends_and_writes_what_it_reads() {
        // No `v` (a peer that predates it) reads as version 1.
        let browser = br#"{"from":"viewer-1","signal":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","session":"s1"}}"#;
        let (from, signal) = parse_envelope(browser).unwrap();
        assert_eq!(from, "viewer-1");
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n";
        assert_eq!(signal, description(SdpKind::Offer, sdp, "s1"));
        // Fields this side does not know are ignored.
        let c = br#"{"v":1,"x":[1],"from":"v","signal":{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2 127.0.0.1 5 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"u","y":2},"session":"s1","z":null}}"#;
        let full = Signal::Candidate {
            candidate: CandidateInit {
                candidate: "candidate:1 1 udp 2 127.0.0.1 5 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: Some("u".into()),
            },
            session: "s1".into(),
        };
        assert_eq!(parse_envelope(c).unwrap().1, full);
        for end in [
            &br#"{"from":"v","signal":{"type":"candidate","candidate":null,"session":"s"}}"#[..],
            br#"{"from":"v","signal":{"type":"candidate","candidate":{"candidate":""},"session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"candidate","session":"s"}}"#,
        ] {
            assert_eq!(parse_envelope(end).unwrap().1, candidate("", None, "s"));
        }
        // What this side writes carries `v` and reads back the same.
        for s in [
            description(SdpKind::Answer, "v=0\r\na=\"x\"\r\n", "cam-s"),
            description(SdpKind::Offer, "v=0\r\n", "cam-s"),
            candidate("candidate:1 1 udp 2 127.0.0.1 5 typ host", Some(0), "cam-s"),
            candidate("", None, "cam-s"),
            full,
        ] {
            let text = envelope_json("cam-1", &s);
            let v = json::parse(&text).unwrap();
            assert_eq!(v.get("v").and_then(Json::as_f64), Some(1.0));
            let (from, back) = parse_envelope(text.as_bytes()).unwrap();
            assert_eq!((from.as_str(), back), ("cam-1", s));
        }
    }

    #[test]
    fn refuses_malformed_envelopes_without_panicking() {
        let long_session = format!(
            r#"{{"from":"v","signal":{{"type":"offer","sdp":"x","session":"{}"}}}}"#,
            "s".repeat(129)
        );
        let huge = vec![b' '; MAX_SIGNAL_BYTES + 1];
        for bad in [
            &b""[..],
            b"\xff",
            b"[]",
            b"{}",
            br#"{"v":2,"from":"v","signal":{"type":"offer","sdp":"x","session":"s"}}"#,
            br#"{"v":"1","from":"v","signal":{"type":"offer","sdp":"x","session":"s"}}"#,
            br#"{"from":"","signal":{"type":"offer","sdp":"x","session":"s"}}"#,
            br#"{"from":"v"}"#,
            br#"{"from":"v","signal":{"type":"offer","sdp":"x"}}"#,
            br#"{"from":"v","signal":{"type":"offer","sdp":"","session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"offer","session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"bye","session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"candidate","candidate":{"candidate":5},"session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"candidate","candidate":{"candidate":"c"},"session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"candidate","candidate":{"candidate":"c","sdpMLineIndex":-1},"session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"candidate","candidate":"c","session":"s"}}"#,
            long_session.as_bytes(),
            &huge,
        ] {
            assert!(parse_envelope(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
