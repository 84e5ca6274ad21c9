//! The typed signaling message one peer sends the other (offer, answer, ICE candidate),
//! and the bounds a received one must respect. Reading and writing the JS objects lives
//! in `src/rtc/message.rs`; this module holds no JS so the state machine in
//! [`super::room`] can route signals on the host.

/// The signaling protocol version this library speaks (docs/signaling-protocol.md), sent
/// as `"v"` in presence and inbox envelopes.
pub const PROTOCOL_VERSION: u32 = 1;

/// Checks the `"v"` of a received envelope: absent means 1 (peers that predate the field);
/// another version is refused, since a change within a version is only additive and a
/// message of another one is one this side could misread.
pub fn check_version(v: Option<f64>) -> Result<(), String> {
    match v {
        None => Ok(()),
        Some(n) if n == f64::from(PROTOCOL_VERSION) => Ok(()),
        // Printed as an integer: float formatting would cost the `.wasm` about 20 KB.
        Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => Err(format!(
            "protocol version {} (this side speaks {PROTOCOL_VERSION})",
            n as i64
        )),
        Some(_) => Err(format!(
            "a protocol version that is not a whole number (this side speaks {PROTOCOL_VERSION})"
        )),
    }
}

/// The largest SDP accepted (a real one is a few KiB; this bounds what a peer can make us hold).
pub const MAX_SDP_BYTES: usize = 256 * 1024;
/// The largest ICE candidate line accepted.
pub const MAX_CANDIDATE_BYTES: usize = 4096;
/// The longest session id accepted.
pub const MAX_SESSION_CHARS: usize = 128;

/// Which half of an offer/answer exchange a description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpKind {
    /// The description that starts a (re)negotiation.
    Offer,
    /// The reply to an offer.
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
}

/// One signaling message, tagged with the session of the peer that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An offer or an answer.
    Description {
        kind: SdpKind,
        sdp: String,
        session: String,
    },
    /// A trickled ICE candidate (or end-of-candidates).
    Candidate {
        candidate: CandidateInit,
        session: String,
    },
}

impl Signal {
    /// The session of the peer connection that sent this signal.
    pub fn session(&self) -> &str {
        match self {
            Signal::Description { session, .. } | Signal::Candidate { session, .. } => session,
        }
    }

    /// Whether this signal is an offer (the only signal that may open a call).
    pub fn is_offer(&self) -> bool {
        matches!(
            self,
            Signal::Description {
                kind: SdpKind::Offer,
                ..
            }
        )
    }
}
