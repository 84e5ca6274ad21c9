//! `SignalMessage`: what one peer sends the other (offer, answer, ICE candidate), read from
//! and written to plain JS objects. Reading validates everything, because signals come
//! from the network: a malformed one is an `INVALID_SIGNAL` error, never a panic.

use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::{error, get, is_absent, set};
use crate::error_code::ErrorCode;
use crate::web::MqttError;

/// The largest SDP accepted (a real one is a few KiB; this bounds what a peer can make us hold).
pub const MAX_SDP_BYTES: usize = 256 * 1024;
/// The largest ICE candidate line accepted.
pub const MAX_CANDIDATE_BYTES: usize = 4096;
/// The longest session id accepted.
pub const MAX_SESSION_CHARS: usize = 128;

/// Which half of an offer/answer exchange a description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpKind {
    Offer,
    Answer,
}

impl SdpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SdpKind::Offer => "offer",
            SdpKind::Answer => "answer",
        }
    }
}

/// An `RTCIceCandidateInit`; an empty `candidate` means end-of-candidates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CandidateInit {
    pub candidate: String,
    pub sdp_mid: Option<String>,
    pub sdp_m_line_index: Option<u16>,
    pub username_fragment: Option<String>,
}

impl CandidateInit {
    pub fn is_end_of_candidates(&self) -> bool {
        self.candidate.is_empty()
    }

    pub fn to_js(&self) -> JsValue {
        let o = Object::new();
        set(&o, "candidate", self.candidate.as_str());
        if let Some(mid) = &self.sdp_mid {
            set(&o, "sdpMid", mid.as_str());
        }
        if let Some(i) = self.sdp_m_line_index {
            set(&o, "sdpMLineIndex", i);
        }
        if let Some(u) = &self.username_fragment {
            set(&o, "usernameFragment", u.as_str());
        }
        o.into()
    }
}

/// One signaling message, tagged with the session of the peer that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    Description {
        kind: SdpKind,
        sdp: String,
        session: String,
    },
    Candidate {
        candidate: CandidateInit,
        session: String,
    },
}

fn invalid(message: impl Into<String>) -> MqttError {
    error(ErrorCode::InvalidSignal, message)
}

fn optional_string(v: &JsValue, key: &str) -> Result<Option<String>, MqttError> {
    let field = get(v, key);
    if is_absent(&field) {
        return Ok(None);
    }
    match field.as_string() {
        Some(s) if s.len() <= MAX_CANDIDATE_BYTES => Ok(Some(s)),
        Some(_) => Err(invalid(format!("candidate.{key} is too long"))),
        None => Err(invalid(format!("candidate.{key} must be a string"))),
    }
}

impl Signal {
    pub fn session(&self) -> &str {
        match self {
            Signal::Description { session, .. } | Signal::Candidate { session, .. } => session,
        }
    }

    /// Reads and validates a `SignalMessage`.
    pub fn parse(v: &JsValue) -> Result<Signal, MqttError> {
        if !v.is_object() {
            return Err(invalid("a signal must be an object"));
        }
        let session = match get(v, "session").as_string() {
            Some(s) if !s.is_empty() && s.chars().count() <= MAX_SESSION_CHARS => s,
            Some(_) => return Err(invalid("session must be 1 to 128 characters")),
            None => return Err(invalid("session must be a string")),
        };
        let kind = get(v, "type")
            .as_string()
            .ok_or_else(|| invalid("type must be a string"))?;
        match kind.as_str() {
            "offer" | "answer" => {
                let sdp = get(v, "sdp")
                    .as_string()
                    .ok_or_else(|| invalid(format!("an {kind} needs an sdp string")))?;
                if sdp.is_empty() {
                    return Err(invalid(format!("the {kind} sdp is empty")));
                }
                if sdp.len() > MAX_SDP_BYTES {
                    return Err(invalid(format!(
                        "the {kind} sdp is {} bytes, above the {MAX_SDP_BYTES} byte limit",
                        sdp.len()
                    )));
                }
                let kind = if kind == "offer" {
                    SdpKind::Offer
                } else {
                    SdpKind::Answer
                };
                Ok(Signal::Description { kind, sdp, session })
            }
            "candidate" => {
                let c = get(v, "candidate");
                // null (or a missing field) is end-of-candidates, like an empty candidate line.
                if is_absent(&c) {
                    return Ok(Signal::Candidate {
                        candidate: CandidateInit::default(),
                        session,
                    });
                }
                if !c.is_object() {
                    return Err(invalid("candidate must be an RTCIceCandidateInit object"));
                }
                let line = match get(&c, "candidate") {
                    s if is_absent(&s) => String::new(),
                    s => s
                        .as_string()
                        .ok_or_else(|| invalid("candidate.candidate must be a string"))?,
                };
                if line.len() > MAX_CANDIDATE_BYTES {
                    return Err(invalid("candidate.candidate is too long"));
                }
                let index = get(&c, "sdpMLineIndex");
                let sdp_m_line_index = if is_absent(&index) {
                    None
                } else {
                    match index.as_f64() {
                        Some(i) if i.fract() == 0.0 && (0.0..=65535.0).contains(&i) => {
                            Some(i as u16)
                        }
                        _ => return Err(invalid("candidate.sdpMLineIndex must be 0..65535")),
                    }
                };
                let candidate = CandidateInit {
                    candidate: line,
                    sdp_mid: optional_string(&c, "sdpMid")?,
                    sdp_m_line_index,
                    username_fragment: optional_string(&c, "usernameFragment")?,
                };
                if !candidate.is_end_of_candidates()
                    && candidate.sdp_mid.is_none()
                    && candidate.sdp_m_line_index.is_none()
                {
                    return Err(invalid("a candidate needs sdpMid or sdpMLineIndex"));
                }
                Ok(Signal::Candidate { candidate, session })
            }
            other => Err(invalid(format!(
                "unknown signal type {:?} (expected offer, answer or candidate)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }

    /// The `SignalMessage` object to hand to the remote side.
    pub fn to_js(&self) -> JsValue {
        let o = Object::new();
        match self {
            Signal::Description { kind, sdp, session } => {
                set(&o, "type", kind.as_str());
                set(&o, "sdp", sdp.as_str());
                set(&o, "session", session.as_str());
            }
            Signal::Candidate { candidate, session } => {
                set(&o, "type", "candidate");
                set(&o, "candidate", candidate.to_js());
                set(&o, "session", session.as_str());
            }
        }
        o.into()
    }
}
