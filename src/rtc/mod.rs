//! WebRTC: `RtcPeer` wraps one `RTCPeerConnection` (perfect negotiation, trickle ICE with
//! queueing, media tracks, ICE restart, stats), `RtcChannel` one `RTCDataChannel` (chunking
//! above the SCTP max message size, `bufferedamountlow` backpressure). Signals are plain
//! `SignalMessage` objects the application (or `MqttSignaling`) carries to the remote side.
//! The ICE options (STUN/TURN servers, transport and bundle policies) are read in `ice`.
//!
//! Same rules as the MQTT driver: one `Rc<RefCell<_>>` per object, browser callbacks hold
//! weak references, and the one re-entrancy rule of `crate::web` (state borrowed through
//! `web::borrow`, listener calls collected in a `web::Deferred` and run once the borrow
//! is released); closures are owned as fields and buried (never dropped inside their own
//! call, never forgotten), timers are RAII `web::Timer`s on the timer worker (hidden tabs
//! do not throttle it), and nothing that arrives from the network or from JS may panic.
//! What can be decided without JS (the presence/call state machine, chunk framing, signal
//! values) lives in `crate::rtc_core`.

mod channel;
mod ice;
mod message;
mod peer;
mod signaling;
mod sys;
mod types;

pub use channel::RtcChannel;
pub use message::{CandidateInit, SdpKind, Signal};
pub use peer::RtcPeer;
pub use signaling::MqttSignaling;

use std::cell::RefCell;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::error_code::ErrorCode;
use crate::web::MqttError;

pub(crate) use crate::web::{borrow, bury, get, is_absent, set, Deferred, Listeners, Pending};
pub(crate) use ice::resolve as resolve_peer_options;
pub(crate) use peer::check_options as check_peer_options;

pub(crate) fn error(code: ErrorCode, message: impl Into<String>) -> MqttError {
    MqttError::from_code(code, message)
}

/// A browser exception as text, for error messages.
pub(crate) fn describe(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let name = get(e, "name").as_string().unwrap_or_default();
    let message = get(e, "message").as_string().unwrap_or_default();
    match (name.is_empty(), message.is_empty()) {
        (true, true) => crate::web::text(e),
        (false, true) => name,
        (true, false) => message,
        (false, false) => format!("{name}: {message}"),
    }
}

/// Reports an error met in a browser callback, which has no caller to hand it to (a busy
/// state: the re-entrancy rule was broken somewhere).
pub(crate) fn report(e: &MqttError) {
    sys::console_error(&format!("[mqtt-rtc] {}: {}", e.code_str(), e.text()));
}

/// Reads state for a getter under the re-entrancy rule: a busy state is a thrown `BUSY`
/// error, never a panic.
pub(crate) fn read<T, R>(rc: &RefCell<T>, f: impl FnOnce(&T) -> R) -> Result<R, JsValue> {
    borrow(rc).map(|i| f(&i)).map_err(MqttError::into_js)
}

fn rejected(e: MqttError) -> Promise {
    Promise::reject(&e.into_js())
}

/// A random id (base 36, about 100 bits) for a peer's session.
pub(crate) fn random_id() -> String {
    let mut s = String::with_capacity(20);
    while s.len() < 20 {
        let n = (js_sys::Math::random() * 36f64.powi(8)) as u64;
        let mut part = String::new();
        let mut n = n;
        for _ in 0..8 {
            let d = (n % 36) as u32;
            n /= 36;
            // invariant: d < 36, so it is a base-36 digit.
            part.push(char::from_digit(d, 36).unwrap_or('0'));
        }
        s.push_str(&part);
    }
    s.truncate(20);
    s
}
