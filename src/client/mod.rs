//! The browser driver: `MqttClient` over `WebSocket`, exported to JavaScript.
//!
//! This file is the facade: it reads the JavaScript arguments ([`options`], whose keys
//! [`names`] checks) and routes each call to the client's state ([`driver`]), whose owners
//! each keep one concern: [`transport`] (the WebSocket), [`timers`] (the session timer and
//! the drain poll), [`requests`] (the promises owed to JavaScript), [`routing`]
//! (per-subscription listeners) and [`first`] (how long the first connect tries). Every call follows the re-entrancy rule of `crate::web`: the state is
//! borrowed through `web::borrow` (a busy client is a `BUSY` error, never a panic) and
//! listener calls run only after the borrow is released. The client owns its closures and
//! listeners; closing it removes every listener, timer and socket.

mod driver;
mod first;
mod names;
mod options;
mod requests;
mod routing;
mod store;
mod timers;
mod transport;
mod types;

pub use crate::web::MqttError;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::error_code::ErrorCode;
use crate::mqtt::codec::ProtocolVersion;
use crate::web::{self as js, Deferred, Pending};
use driver::{with_client, Inner, Output};

/// An MQTT 5.0 / 3.1.1 client over WebSocket. Create it with `MqttClient.connect`.
#[wasm_bindgen(skip_typescript)]
pub struct MqttClient {
    inner: Rc<RefCell<Inner>>,
}

fn rejected(e: MqttError) -> Promise {
    Promise::reject(&e.into_js())
}

impl MqttClient {
    /// Another handle to the same client (for Rust code built on it, like signaling).
    #[cfg_attr(not(feature = "rtc"), allow(dead_code))]
    pub(crate) fn handle(&self) -> MqttClient {
        MqttClient {
            inner: self.inner.clone(),
        }
    }

    /// Runs one API request with a fresh promise: `f` settles it (through the `Deferred`)
    /// or hands it to the owner that will; a busy client rejects it with `BUSY`.
    fn request(&self, f: impl FnOnce(&mut Inner, Pending, &mut Deferred)) -> Promise {
        let (promise, pending) = Pending::new();
        match with_client(&self.inner, Output::Batched, |inner, calls| {
            f(inner, pending, calls)
        }) {
            Ok(()) => promise,
            Err(e) => rejected(e),
        }
    }

    /// The client id, for Rust callers (signaling); see [`MqttClient::try_client_id`].
    /// A busy client (a library bug) is reported on the console and gives an empty id.
    pub fn client_id(&self) -> String {
        self.try_client_id().unwrap_or_else(|e| {
            js::report(&e);
            String::new()
        })
    }

    /// The client id (the broker-assigned one once a v5 broker assigned it).
    pub fn try_client_id(&self) -> Result<String, MqttError> {
        Ok(js::borrow_shared(&self.inner)?.session.client_id().into())
    }

    fn listeners(&self, f: impl FnOnce(&mut js::Listeners)) -> Result<(), JsValue> {
        f(&mut js::borrow(&self.inner)
            .map_err(MqttError::into_js)?
            .listeners);
        Ok(())
    }
}

#[wasm_bindgen(js_class = MqttClient)]
impl MqttClient {
    /// Opens the session; see `ConnectOptions` in the type definitions.
    pub fn connect(url: JsValue, options: JsValue) -> Promise {
        console_error_panic_hook::set_once();
        let (config, opts) = match options::connect_options(&url, &options) {
            Ok(v) => v,
            Err(e) => return rejected(e),
        };
        if js::get(&opts.signal, "aborted").as_bool() == Some(true) {
            return rejected(MqttError::from_code(
                ErrorCode::Aborted,
                "connect was aborted",
            ));
        }
        let (promise, pending) = Pending::new();
        match driver::start(config, opts, pending) {
            Ok(()) => promise,
            Err(e) => rejected(e),
        }
    }

    /// Publishes; resolves when written (QoS 0), on PUBACK (QoS 1) or PUBCOMP (QoS 2).
    pub fn publish(&self, topic: JsValue, payload: JsValue, options: JsValue) -> Promise {
        match options::publish(&topic, &payload, &options) {
            Ok(p) => self.request(|inner, pending, calls| inner.publish(p, pending, calls)),
            Err(e) => rejected(e),
        }
    }

    /// Subscribes; resolves with the granted QoS / reason code per filter.
    pub fn subscribe(&self, filter: JsValue, options: JsValue, on_message: JsValue) -> Promise {
        let read = options::subscribe_filters(&filter, &options)
            .and_then(|(filters, props)| Ok((filters, props, options::listener(on_message)?)));
        match read {
            Ok((filters, props, listener)) => self.request(|inner, pending, calls| {
                inner.subscribe(filters, props, listener, pending, calls)
            }),
            Err(e) => rejected(e),
        }
    }

    pub fn unsubscribe(&self, filter: JsValue) -> Promise {
        match options::filter_list(&filter) {
            Ok(filters) => {
                self.request(|inner, pending, calls| inner.unsubscribe(filters, pending, calls))
            }
            Err(e) => rejected(e),
        }
    }

    /// Graceful: waits (up to `timeout` ms, default 10 s) until queued publishes are sent and
    /// QoS 1/2 exchanges complete, then sends DISCONNECT and closes. `force: true` drops at
    /// once (the broker then publishes the Will).
    pub fn end(&self, options: JsValue) -> Promise {
        let opts = options::end_options(&options);
        self.request(|inner, pending, calls| inner.end(opts, pending, calls))
    }

    /// Drops the connection now and reconnects, keeping the session.
    pub fn reconnect(&self) -> Result<(), JsValue> {
        with_client(&self.inner, Output::Now, |inner, _| {
            inner.session.reconnect_now(js::now())
        })
        .map_err(MqttError::into_js)
    }

    /// Adds an event listener. The package's glue returns `this` for chaining
    /// (pkg-template/glue.js): a handle made here would be another JS object.
    pub fn on(&self, event: String, listener: Function) -> Result<(), JsValue> {
        self.listeners(|l| l.add(event, listener))
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: String, listener: Function) -> Result<(), JsValue> {
        self.listeners(|l| l.remove(&event, &listener))
    }

    #[wasm_bindgen(getter)]
    pub fn state(&self) -> Result<String, JsValue> {
        let inner = js::borrow_shared(&self.inner).map_err(MqttError::into_js)?;
        Ok(inner.session.state().as_str().into())
    }

    #[wasm_bindgen(getter = clientId)]
    pub fn client_id_getter(&self) -> Result<String, JsValue> {
        self.try_client_id().map_err(MqttError::into_js)
    }

    #[wasm_bindgen(getter, js_name = protocolVersion)]
    pub fn protocol_version(&self) -> Result<u8, JsValue> {
        let inner = js::borrow_shared(&self.inner).map_err(MqttError::into_js)?;
        Ok(match inner.session.protocol_version() {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        })
    }

    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let inner = js::borrow_shared(&self.inner).map_err(MqttError::into_js)?;
        Ok(inner.stats())
    }
}
