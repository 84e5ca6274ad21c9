//! [`Timer`]: one timeout on the page's shared timer worker (`mqttRtcSetTimer` in
//! `web::js`), which hidden tabs do not throttle: a background tab keeps its keepalives,
//! reconnect delays and signaling heartbeats on time. Dropping a timer cancels it.

use std::any::Any;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::js;

/// One armed timeout: dropping it disarms it and frees its callback.
pub(crate) struct Timer {
    id: f64,
    // `Some` until dropped; kept alive for as long as the timeout may fire.
    callback: Option<Closure<dyn FnMut()>>,
}

impl Timer {
    /// Calls `f` once in `ms` milliseconds (timers take a signed 32-bit delay: a longer one
    /// is cut to about 24.8 days rather than firing at once).
    pub fn new<F: FnOnce() + 'static>(ms: u64, f: F) -> Timer {
        let callback = Closure::once(f);
        let ms = ms.min(i32::MAX as u64) as f64;
        let id = js::set_timer(callback.as_ref().unchecked_ref::<Function>(), ms);
        Timer {
            id,
            callback: Some(callback),
        }
    }
}

impl Drop for Timer {
    /// Disarms now and frees the callback on a later turn: it may be the one running now.
    fn drop(&mut self) {
        js::clear_timer(self.id);
        if let Some(callback) = self.callback.take() {
            js::bury(Box::new(callback) as Box<dyn Any>);
        }
    }
}
