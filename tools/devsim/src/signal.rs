//! The signaling wire protocol of the library's `MqttSignaling`, as the native camera
//! speaks it: topic names, the retained presence message, the inbox envelope
//! `{"from","signal"}` read and written as JSON, and the book of calls that decides which
//! call a received signal belongs to (the same rules as the browser's room: one call per
//! remote peer, locked to the first remote session it saw; a new offer under another
//! session replaces the call; late signals of a closed session are dropped). Pure: no I/O,
//! no clock, no randomness; whatever arrives becomes a value or an error, never a panic.

use std::collections::{BTreeMap, BTreeSet};

use crate::json::{self, Json};

/// The first topic level of signaling, the library's default.
pub const DEFAULT_PREFIX: &str = "mqtt-rtc";
/// The room dashboards look for cameras in.
pub const ROOM: &str = "cameras";
/// How often presence is republished, milliseconds (peers drop a peer silent for 3×).
pub const HEARTBEAT_MS: u64 = 15_000;
/// Largest inbox message read (an SDP with many candidates is well below).
pub const MAX_SIGNAL_BYTES: usize = 256 * 1024;
/// Longest session id the browser accepts.
pub const MAX_SESSION_CHARS: usize = 128;

/// `<prefix>/<room>/presence/<peer>`: retained presence, empty = left.
pub fn presence_topic(prefix: &str, room: &str, peer: &str) -> String {
    format!("{prefix}/{room}/presence/{peer}")
}

/// `<prefix>/<room>/inbox/<peer>`: QoS 1 envelopes for `peer`.
pub fn inbox_topic(prefix: &str, room: &str, peer: &str) -> String {
    format!("{prefix}/{room}/inbox/{peer}")
}

/// The presence body: `{"peerId","meta","since","ts"}`; `meta` values are strings (the
/// browser's `PeerInfo.meta` is a string record), times are milliseconds since the epoch.
pub fn presence_json(peer_id: &str, meta: &[(&str, &str)], since_ms: u64, now_ms: u64) -> String {
    let meta: Vec<String> = meta
        .iter()
        .map(|(k, v)| format!("{}:{}", json::quote(k), json::quote(v)))
        .collect();
    format!(
        r#"{{"peerId":{},"meta":{{{}}},"since":{since_ms},"ts":{now_ms}}}"#,
        json::quote(peer_id),
        meta.join(",")
    )
}

/// The perfect-negotiation role on a call between `own` and `remote`: both sides compute
/// it from the two ids, so exactly one of them is polite. When two offers cross, the
/// impolite side ignores the other's and the polite side gives up its own.
pub fn polite(own: &str, remote: &str) -> bool {
    own < remote
}

/// One signaling message, tagged with the session of the peer connection that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Starts a (re)negotiation.
    Offer { sdp: String, session: String },
    /// The reply to an offer.
    Answer { sdp: String, session: String },
    /// A trickled ICE candidate line; empty = end of candidates.
    Candidate { candidate: String, session: String },
}

impl Signal {
    pub fn session(&self) -> &str {
        match self {
            Signal::Offer { session, .. }
            | Signal::Answer { session, .. }
            | Signal::Candidate { session, .. } => session,
        }
    }

    fn to_json(&self) -> String {
        match self {
            Signal::Offer { sdp, session } | Signal::Answer { sdp, session } => {
                let kind = if matches!(self, Signal::Offer { .. }) {
                    "offer"
                } else {
                    "answer"
                };
                format!(
                    r#"{{"type":"{kind}","sdp":{},"session":{}}}"#,
                    json::quote(sdp),
                    json::quote(session)
                )
            }
            Signal::Candidate { candidate, session } if candidate.is_empty() => format!(
                r#"{{"type":"candidate","candidate":null,"session":{}}}"#,
                json::quote(session)
            ),
            // sdpMLineIndex 0: every m-line of a bundled call shares the first transport.
            Signal::Candidate { candidate, session } => format!(
                r#"{{"type":"candidate","candidate":{{"candidate":{},"sdpMLineIndex":0}},"session":{}}}"#,
                json::quote(candidate),
                json::quote(session)
            ),
        }
    }
}

/// The inbox envelope `{"from","signal"}` this peer publishes to `remote`'s inbox.
pub fn envelope_json(from: &str, signal: &Signal) -> String {
    format!(
        r#"{{"from":{},"signal":{}}}"#,
        json::quote(from),
        signal.to_json()
    )
}

/// Reads an inbox message: its sender and signal.
pub fn parse_envelope(payload: &[u8]) -> Result<(String, Signal), String> {
    if payload.len() > MAX_SIGNAL_BYTES {
        return Err(format!(
            "signal of {} bytes exceeds {MAX_SIGNAL_BYTES}",
            payload.len()
        ));
    }
    let text = std::str::from_utf8(payload).map_err(|_| "signal is not UTF-8".to_string())?;
    let v = json::parse(text).map_err(|e| format!("signal is not JSON: {e}"))?;
    let from = v
        .get("from")
        .and_then(Json::as_str)
        .filter(|f| !f.is_empty())
        .ok_or("signal without from")?
        .to_string();
    let signal = v.get("signal").ok_or("envelope without signal")?;
    let session = signal
        .get("session")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty() && s.chars().count() <= MAX_SESSION_CHARS)
        .ok_or("session must be a string of 1 to 128 characters")?
        .to_string();
    let sdp = || {
        signal
            .get("sdp")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| "a description needs an sdp string".to_string())
    };
    let signal = match signal.get("type").and_then(Json::as_str) {
        Some("offer") => Signal::Offer {
            sdp: sdp()?,
            session,
        },
        Some("answer") => Signal::Answer {
            sdp: sdp()?,
            session,
        },
        Some("candidate") => {
            // null, a missing field or an empty line: end of candidates.
            let candidate = match signal.get("candidate") {
                None | Some(Json::Null) => String::new(),
                Some(c) => match c.get("candidate") {
                    None | Some(Json::Null) => String::new(),
                    Some(Json::String(line)) => line.clone(),
                    Some(_) => return Err("candidate.candidate must be a string".into()),
                },
            };
            Signal::Candidate { candidate, session }
        }
        _ => return Err("type must be offer, answer or candidate".into()),
    };
    Ok((from, signal))
}

/// Why a signal reaches no call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// It claims to come from this peer.
    Own,
    /// Its session belongs to a call that is over.
    Stale,
    /// The call with its sender uses another session, and it is no offer.
    OtherSession,
    /// There is no call with its sender, and it is no offer.
    NoCall,
    /// An offer for a new call while the camera has as many calls as it takes.
    Busy,
}

/// What to do with a received signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// An offer opens a call with its sender (closing the call it had, if any).
    NewCall,
    /// The signal belongs to the existing call with its sender.
    Deliver,
    /// Nothing: it is logged only.
    Drop(Dropped),
}

struct Call<C> {
    remote_session: String,
    state: C,
}

/// The calls of one peer, keyed by remote peer id; `C` is the driver's state of a call.
pub struct Calls<C> {
    own_id: String,
    max: usize,
    calls: BTreeMap<String, Call<C>>,
    /// Remote sessions of calls that are over: their late signals are dropped.
    closed_sessions: BTreeSet<String>,
}

impl<C> Calls<C> {
    /// The calls of `own_id`, at most `max` at a time.
    pub fn new(own_id: &str, max: usize) -> Calls<C> {
        Calls {
            own_id: own_id.to_string(),
            max,
            calls: BTreeMap::new(),
            closed_sessions: BTreeSet::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Decides where a signal from `from` goes; changes nothing.
    pub fn route(&self, from: &str, signal: &Signal) -> Route {
        let offer = matches!(signal, Signal::Offer { .. });
        if from == self.own_id {
            return Route::Drop(Dropped::Own);
        }
        if self.closed_sessions.contains(signal.session()) {
            return Route::Drop(Dropped::Stale);
        }
        match self.calls.get(from) {
            Some(c) if c.remote_session == signal.session() => Route::Deliver,
            // A new offer under another session: the remote side started over.
            Some(_) if offer => Route::NewCall,
            Some(_) => Route::Drop(Dropped::OtherSession),
            None if offer && self.calls.len() >= self.max => Route::Drop(Dropped::Busy),
            None if offer => Route::NewCall,
            None => Route::Drop(Dropped::NoCall),
        }
    }

    /// Records the call with `remote` opened by an offer of `remote_session`; returns the
    /// state of the call it replaces (for the driver to close).
    pub fn insert(&mut self, remote: &str, remote_session: &str, state: C) -> Option<C> {
        let call = Call {
            remote_session: remote_session.to_string(),
            state,
        };
        let old = self.calls.insert(remote.to_string(), call)?;
        self.closed_sessions.insert(old.remote_session);
        Some(old.state)
    }

    /// Ends the call with `remote`; its late signals are dropped from now on.
    pub fn remove(&mut self, remote: &str) -> Option<C> {
        let call = self.calls.remove(remote)?;
        self.closed_sessions.insert(call.remote_session);
        Some(call.state)
    }

    pub fn get_mut(&mut self, remote: &str) -> Option<&mut C> {
        self.calls.get_mut(remote).map(|c| &mut c.state)
    }

    /// The calls, ordered by remote peer id.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut C)> {
        self.calls
            .iter_mut()
            .map(|(k, c)| (k.as_str(), &mut c.state))
    }

    /// Ends every call whose state `ended` says is over; returns them.
    pub fn remove_where(&mut self, mut ended: impl FnMut(&C) -> bool) -> Vec<(String, C)> {
        let gone: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| ended(&c.state))
            .map(|(k, _)| k.clone())
            .collect();
        gone.into_iter()
            .filter_map(|k| self.remove(&k).map(|c| (k, c)))
            .collect()
    }

    /// Ends every call; returns them.
    pub fn drain(&mut self) -> Vec<(String, C)> {
        self.remove_where(|_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(session: &str) -> Signal {
        Signal::Offer {
            sdp: "v=0\r\n".into(),
            session: session.into(),
        }
    }

    fn candidate(session: &str) -> Signal {
        Signal::Candidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
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
        assert_eq!(p.get("peerId").and_then(Json::as_str), Some("cam-1"));
        let meta = p.get("meta").unwrap();
        assert_eq!(meta.get("kind").and_then(Json::as_str), Some("camera"));
        assert_eq!(meta.get("native").and_then(Json::as_str), Some("true"));
        assert_eq!(p.get("since").and_then(Json::as_f64), Some(5.0));
        assert_eq!(p.get("ts").and_then(Json::as_f64), Some(7.0));
        assert!(polite("a", "b") && !polite("b", "a"));
    }

    #[test]
    fn reads_what_a_browser_sends_and_writes_what_it_reads() {
        let browser = br#"{"from":"viewer-1","signal":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","session":"s1"}}"#;
        let (from, signal) = parse_envelope(browser).unwrap();
        assert_eq!(from, "viewer-1");
        assert_eq!(
            signal,
            Signal::Offer {
                sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into(),
                session: "s1".into()
            }
        );
        let c = br#"{"from":"v","signal":{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2 127.0.0.1 5 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"u"},"session":"s1"}}"#;
        assert_eq!(parse_envelope(c).unwrap().1, candidate_line("s1"));
        for end in [
            &br#"{"from":"v","signal":{"type":"candidate","candidate":null,"session":"s"}}"#[..],
            br#"{"from":"v","signal":{"type":"candidate","candidate":{"candidate":""},"session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"candidate","session":"s"}}"#,
        ] {
            assert_eq!(
                parse_envelope(end).unwrap().1,
                Signal::Candidate {
                    candidate: String::new(),
                    session: "s".into()
                }
            );
        }
        // What this side writes reads back the same.
        for s in [
            Signal::Answer {
                sdp: "v=0\r\na=\"x\"\r\n".into(),
                session: "cam-s".into(),
            },
            candidate_line("cam-s"),
            Signal::Candidate {
                candidate: String::new(),
                session: "cam-s".into(),
            },
        ] {
            let (from, back) = parse_envelope(envelope_json("cam-1", &s).as_bytes()).unwrap();
            assert_eq!((from.as_str(), back), ("cam-1", s));
        }
    }

    fn candidate_line(session: &str) -> Signal {
        Signal::Candidate {
            candidate: "candidate:1 1 udp 2 127.0.0.1 5 typ host".into(),
            session: session.into(),
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
            br#"{"from":"","signal":{"type":"offer","sdp":"x","session":"s"}}"#,
            br#"{"from":"v"}"#,
            br#"{"from":"v","signal":{"type":"offer","sdp":"x"}}"#,
            br#"{"from":"v","signal":{"type":"offer","sdp":"","session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"offer","session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"bye","session":"s"}}"#,
            br#"{"from":"v","signal":{"type":"candidate","candidate":{"candidate":5},"session":"s"}}"#,
            long_session.as_bytes(),
            &huge,
        ] {
            assert!(parse_envelope(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn routes_signals_like_the_browser_room() {
        let mut calls: Calls<u32> = Calls::new("cam", 2);
        assert_eq!(calls.route("cam", &offer("x")), Route::Drop(Dropped::Own));
        assert_eq!(
            calls.route("v1", &candidate("a")),
            Route::Drop(Dropped::NoCall)
        );
        assert_eq!(calls.route("v1", &offer("a")), Route::NewCall);
        assert_eq!(calls.insert("v1", "a", 1), None);
        // Candidates and a renegotiating offer of the same session go to the call.
        assert_eq!(calls.route("v1", &candidate("a")), Route::Deliver);
        assert_eq!(calls.route("v1", &offer("a")), Route::Deliver);
        // Another session: an offer replaces the call, anything else is dropped.
        assert_eq!(
            calls.route("v1", &candidate("b")),
            Route::Drop(Dropped::OtherSession)
        );
        assert_eq!(calls.route("v1", &offer("b")), Route::NewCall);
        assert_eq!(calls.insert("v1", "b", 2), Some(1));
        // The replaced session is stale, even as an offer.
        assert_eq!(calls.route("v1", &offer("a")), Route::Drop(Dropped::Stale));
        // At most two calls.
        calls.insert("v2", "c", 3);
        assert_eq!(calls.route("v3", &offer("d")), Route::Drop(Dropped::Busy));
        assert_eq!(calls.route("v2", &offer("e")), Route::NewCall);
        // Ended calls: their sessions go stale.
        assert_eq!(calls.remove_where(|s| *s == 3), vec![("v2".to_string(), 3)]);
        assert_eq!(
            calls.route("v2", &candidate("c")),
            Route::Drop(Dropped::Stale)
        );
        assert_eq!(calls.len(), 1);
        assert_eq!(calls.drain(), vec![("v1".to_string(), 2)]);
        assert_eq!(
            calls.route("v1", &candidate("b")),
            Route::Drop(Dropped::Stale)
        );
    }
}
