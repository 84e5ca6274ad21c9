//! `SignalMessage`: what one peer sends the other (offer, answer, ICE candidate), read from
//! and written to plain JS objects as the typed [`Signal`] of `rtc_core::signal`. Reading
//! validates everything, because signals come from the network: a malformed one is an
//! `INVALID_SIGNAL` error, never a panic.

use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::{error, get, is_absent, set};
use crate::error_code::ErrorCode;
pub use crate::rtc_core::signal::{
    CandidateInit, SdpKind, Signal, MAX_CANDIDATE_BYTES, MAX_SDP_BYTES, MAX_SESSION_CHARS,
};
use crate::web::MqttError;

impl CandidateInit {
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

fn invalid(message: impl Into<String>) -> MqttError {
    error(ErrorCode::InvalidSignal, message)
}

fn optional_string(v: &JsValue, key: &'static str) -> Result<Option<String>, MqttError> {
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

fn parse_description(v: &JsValue, kind: SdpKind, session: String) -> Result<Signal, MqttError> {
    let name = kind.as_str();
    let sdp = get(v, "sdp")
        .as_string()
        .ok_or_else(|| invalid(format!("an {name} needs an sdp string")))?;
    if sdp.is_empty() {
        return Err(invalid(format!("the {name} sdp is empty")));
    }
    if sdp.len() > MAX_SDP_BYTES {
        return Err(invalid(format!(
            "the {name} sdp is {} bytes, above the {MAX_SDP_BYTES} byte limit",
            sdp.len()
        )));
    }
    Ok(Signal::Description { kind, sdp, session })
}

fn parse_m_line_index(c: &JsValue) -> Result<Option<u16>, MqttError> {
    let index = get(c, "sdpMLineIndex");
    if is_absent(&index) {
        return Ok(None);
    }
    match index.as_f64() {
        Some(i) if i.fract() == 0.0 && (0.0..=65535.0).contains(&i) => Ok(Some(i as u16)),
        _ => Err(invalid("candidate.sdpMLineIndex must be 0..65535")),
    }
}

fn parse_candidate(c: &JsValue) -> Result<CandidateInit, MqttError> {
    // null (or a missing field) is end-of-candidates, like an empty candidate line.
    if is_absent(c) {
        return Ok(CandidateInit::default());
    }
    if !c.is_object() {
        return Err(invalid("candidate must be an RTCIceCandidateInit object"));
    }
    let line = match get(c, "candidate") {
        s if is_absent(&s) => String::new(),
        s => s
            .as_string()
            .ok_or_else(|| invalid("candidate.candidate must be a string"))?,
    };
    if line.len() > MAX_CANDIDATE_BYTES {
        return Err(invalid("candidate.candidate is too long"));
    }
    let candidate = CandidateInit {
        candidate: line,
        sdp_mid: optional_string(c, "sdpMid")?,
        sdp_m_line_index: parse_m_line_index(c)?,
        username_fragment: optional_string(c, "usernameFragment")?,
    };
    if !candidate.is_end_of_candidates()
        && candidate.sdp_mid.is_none()
        && candidate.sdp_m_line_index.is_none()
    {
        return Err(invalid("a candidate needs sdpMid or sdpMLineIndex"));
    }
    Ok(candidate)
}

impl Signal {
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
            "offer" => parse_description(v, SdpKind::Offer, session),
            "answer" => parse_description(v, SdpKind::Answer, session),
            "candidate" => Ok(Signal::Candidate {
                candidate: parse_candidate(&get(v, "candidate"))?,
                session,
            }),
            other => Err(invalid(format!(
                "unknown signal type '{}' (expected offer, answer or candidate)",
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
