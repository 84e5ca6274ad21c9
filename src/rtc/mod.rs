//! WebRTC: `RtcPeer` wraps one `RTCPeerConnection` (perfect negotiation, trickle ICE with
//! queueing, media tracks, ICE restart, stats), `RtcChannel` one `RTCDataChannel` (chunking
//! above the SCTP max message size, `bufferedamountlow` backpressure). Signals are plain
//! `SignalMessage` objects the application (or `MqttSignaling`) carries to the remote side.
//!
//! Same rules as the MQTT driver: one `Rc<RefCell<_>>` per object, browser callbacks hold
//! weak references, JS listeners run only after the borrow is released, closures are
//! owned as fields and buried (never dropped inside their own call, never forgotten), and
//! nothing that arrives from the network or from JS may panic.

mod channel;
mod message;
mod peer;
mod signaling;
mod sys;
mod types;

pub use channel::RtcChannel;
pub use message::{CandidateInit, SdpKind, Signal};
pub use peer::RtcPeer;
pub use signaling::MqttSignaling;

use std::any::Any;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::client::MqttError;

/// A Promise and the functions that settle it.
pub(crate) struct Pending {
    pub resolve: Function,
    pub reject: Function,
}

impl Pending {
    pub fn new() -> (Promise, Pending) {
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some(Pending { resolve, reject }));
        // invariant: `Promise::new` runs the executor synchronously, so the slot is filled.
        let pending = slot.expect("promise executor ran");
        (promise, pending)
    }

    pub fn resolve(self, value: &JsValue) {
        let _ = self.resolve.call1(&JsValue::NULL, value);
    }

    pub fn reject(self, e: MqttError) {
        let _ = self.reject.call1(&JsValue::NULL, &e.into_js());
    }
}

/// Event listeners by event name, in the order they were added.
#[derive(Default)]
pub(crate) struct Listeners(Vec<(String, Function)>);

impl Listeners {
    pub fn add(&mut self, event: String, f: Function) {
        self.0.push((event, f));
    }

    pub fn remove(&mut self, event: &str, f: &Function) {
        if let Some(i) = self
            .0
            .iter()
            .position(|(e, g)| e == event && Object::is(g, f))
        {
            self.0.remove(i);
        }
    }

    /// The listeners of `event`, to call once the borrow that holds `self` is released.
    pub fn of(&self, event: &str) -> Vec<Function> {
        self.0
            .iter()
            .filter(|(e, _)| e == event)
            .map(|(_, f)| f.clone())
            .collect()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Calls each listener with `args`; a listener that throws is reported, not propagated.
pub(crate) fn call_all(listeners: &[Function], args: &[JsValue]) {
    if listeners.is_empty() {
        return;
    }
    let args: Array = args.iter().collect();
    for f in listeners {
        if let Err(e) = f.apply(&JsValue::NULL, &args) {
            sys::console_error2("[mqtt-rtc] a listener threw:", &e);
        }
    }
}

/// Drops `item` on a later turn of the event loop: it may hold the closure running now.
pub(crate) fn bury(item: Box<dyn Any>) {
    let cb = Closure::once_into_js(move || drop(item));
    sys::set_timeout(cb.unchecked_ref(), 0.0);
}

pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a data property on a fresh plain object cannot throw.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

pub(crate) fn is_absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

pub(crate) fn error(code: &str, message: impl Into<String>) -> MqttError {
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
        (true, true) => format!("{e:?}"),
        (false, true) => name,
        (true, false) => message,
        (false, false) => format!("{name}: {message}"),
    }
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
