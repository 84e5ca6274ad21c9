//! `EventListener`: a DOM event listener (on a WebSocket, `globalThis`, an `AbortSignal`,
//! an RTCPeerConnection, ...) owned by a Rust value and removed when that value is
//! dropped. It must never outlive its owner's state: dropping it is the only way to stop
//! its callback, so no `Closure::forget` and no removal by hand.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

/// A listener of `event` on `target`, removed from `target` when dropped.
#[must_use = "the listener is removed when this value is dropped"]
pub(crate) struct EventListener {
    target: EventTarget,
    event: &'static str,
    callback: Closure<dyn FnMut(Event)>,
}

impl EventListener {
    /// Adds `callback` as a listener of `event` on `target`; `Err` when `target` refuses it.
    pub fn new(
        target: &EventTarget,
        event: &'static str,
        callback: impl FnMut(Event) + 'static,
    ) -> Result<EventListener, JsValue> {
        let callback = Closure::<dyn FnMut(Event)>::new(callback);
        target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref())?;
        Ok(EventListener {
            target: target.clone(),
            event,
            callback,
        })
    }
}

impl Drop for EventListener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(
            self.event,
            self.callback.as_ref().unchecked_ref(),
        );
    }
}
