//! The browser driver: `MqttClient` over `WebSocket`, exported to JavaScript.
//!
//! One `Rc<RefCell<Inner>>` per client. Every browser callback (socket open, message,
//! close, the single timer, `online`, an API call) feeds the [`Session`], then [`drive`]s:
//! everything ready to send goes out in one `WebSocket.send`, session events become Promise
//! resolutions and JS events, and the timer is re-armed from `poll_timeout`. JS callbacks
//! run only after the borrow is released, so a listener may call back into the client.
//! The client owns its `Closure`s; `end()` removes every listener, timer and socket.

mod options;
mod types;

pub use crate::web::MqttError;

use std::any::Any;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, EventTarget, MessageEvent, WebSocket};

use crate::error_code::ErrorCode;
use crate::mqtt::codec::{ProtocolVersion, Publish};
use crate::mqtt::session::{Event, Session, SessionError, Token};
use crate::mqtt::topic::TopicTrie;
use crate::web::{self as js, js_error, Listeners, LogLevel, Pending};
use options::DriverOptions;

/// Above this many bytes buffered in the WebSocket, publishes wait (in order) for it to drain.
const HIGH_WATER: u32 = 4 * 1024 * 1024;
/// Publishing resumes when the buffer is below this.
const LOW_WATER: u32 = 1024 * 1024;
/// How often a full socket buffer is checked (WebSocket has no drain event).
const DRAIN_POLL_MS: f64 = 10.0;
/// Subscription identifiers the client picks itself (for routing to listeners) count up
/// from here, well above the small numbers applications tend to choose.
const FIRST_AUTO_SUBSCRIPTION_ID: u32 = 0x0F00_0000;
/// The largest subscription identifier MQTT allows.
const MAX_SUBSCRIPTION_ID: u32 = 268_435_455;

/// A JS function call deferred until the client's borrow is released.
struct Call {
    f: Function,
    args: Array,
}

struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}

/// A global event listener that removes itself when dropped.
struct Listener {
    target: EventTarget,
    event: &'static str,
    callback: Closure<dyn FnMut()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(
            self.event,
            self.callback.as_ref().unchecked_ref(),
        );
    }
}

struct Inner {
    session: Session,
    opts: DriverOptions,
    this: Weak<RefCell<Inner>>,
    url_index: usize,
    socket: Option<Socket>,
    /// Bumped per socket, so callbacks of a replaced socket are ignored.
    socket_serial: u64,
    timer: Option<JsValue>,
    timer_at: Option<u64>,
    timer_cb: Option<Closure<dyn FnMut()>>,
    drain_timer: Option<JsValue>,
    drain_cb: Option<Closure<dyn FnMut()>>,
    global_listeners: Vec<Listener>,
    listeners: Listeners,
    routes: TopicTrie<Vec<Function>>,
    /// The subscription identifier each filter was last subscribed with (v5): a PUBLISH
    /// carrying identifiers goes only to the listeners of those subscriptions.
    filter_ids: HashMap<String, u32>,
    next_subscription_id: u32,
    publishes: HashMap<Token, Pending>,
    subscribes: HashMap<Token, (Pending, Vec<String>, Option<Function>)>,
    unsubscribes: HashMap<Token, Pending>,
    connect_waiter: Option<Pending>,
    end_waiters: Vec<Pending>,
    /// Publishes waiting for the socket buffer to drain, in order.
    backlog: VecDeque<(Publish, Pending)>,
    /// Whether the current attempt reached CONNACK (a failed one fails over to the next URL).
    attempt_connected: bool,
    /// The client keeps itself alive until it is closed, like an open WebSocket: browser
    /// callbacks only hold weak references, and JS may drop its handle at any time.
    keep_alive: Option<Rc<RefCell<Inner>>>,
}

/// An MQTT 5.0 / 3.1.1 client over WebSocket. Create it with `MqttClient.connect`.
#[wasm_bindgen(skip_typescript)]
pub struct MqttClient {
    inner: Rc<RefCell<Inner>>,
}

fn drive(rc: &Rc<RefCell<Inner>>) {
    let calls = {
        let Ok(mut inner) = rc.try_borrow_mut() else {
            return;
        };
        let mut calls = Vec::new();
        inner.process(&mut calls);
        calls
    };
    for call in calls {
        if let Err(e) = call.f.apply(&JsValue::NULL, &call.args) {
            web_sys::console::error_2(&"[mqtt-rtc] a listener threw:".into(), &e);
        }
    }
}

fn with_inner(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner)) {
    if let Some(rc) = weak.upgrade() {
        if let Ok(mut inner) = rc.try_borrow_mut() {
            f(&mut inner);
        }
        drive(&rc);
    }
}

impl Inner {
    fn log(&self, level: LogLevel, message: &str) {
        self.opts.log.log(level, message);
    }

    fn emit(&self, calls: &mut Vec<Call>, event: &str, args: &[JsValue]) {
        for f in self.listeners.of(event) {
            calls.push(Call {
                f,
                args: args.iter().collect(),
            });
        }
    }

    /// Feeds session output to the socket, JS and the timer until nothing is left.
    fn process(&mut self, calls: &mut Vec<Call>) {
        loop {
            while let Some(buf) = self.session.poll_transmit() {
                match &self.socket {
                    Some(s) if s.ws.ready_state() == WebSocket::OPEN => {
                        if let Err(e) = s.ws.send_with_u8_array(&buf) {
                            self.log(LogLevel::Warn, &format!("send failed: {e:?}"));
                        }
                    }
                    _ => self.log(LogLevel::Debug, "dropping output for a socket that is gone"),
                }
            }
            let Some(event) = self.session.poll_event() else {
                break;
            };
            self.handle_event(event, calls);
        }
        self.arm_timer();
    }

    fn handle_event(&mut self, event: Event, calls: &mut Vec<Call>) {
        match event {
            Event::OpenTransport => {
                self.attempt_connected = false;
                self.open_transport();
            }
            Event::CloseTransport => {
                if let Some(s) = self.socket.take() {
                    self.bury(Box::new(s));
                }
            }
            Event::StateChanged(s) => {
                self.log(LogLevel::Debug, &format!("state {}", s.as_str()));
                self.emit(calls, "state", &[s.as_str().into()]);
            }
            Event::Connected {
                session_present,
                reason_code,
                properties,
            } => {
                self.log(
                    LogLevel::Info,
                    &format!("connected (session present: {session_present})"),
                );
                let info = Object::new();
                js::set(&info, "sessionPresent", session_present);
                js::set(&info, "reasonCode", reason_code);
                let props = options::connack_properties(&properties);
                if !props.is_undefined() {
                    js::set(&info, "properties", props);
                }
                self.attempt_connected = true;
                self.emit(calls, "connect", &[info.into()]);
                if let (Some(w), Some(rc)) = (self.connect_waiter.take(), self.this.upgrade()) {
                    calls.push(Call {
                        f: w.resolve,
                        args: Array::of1(&MqttClient { inner: rc }.into()),
                    });
                }
            }
            Event::Message(p) => self.deliver(p, calls),
            Event::PublishDone { token, result } => {
                if let Some(p) = self.publishes.remove(&token) {
                    calls.push(match result {
                        Ok(outcome) => {
                            let r = Object::new();
                            if let Some(id) = outcome.packet_id {
                                js::set(&r, "packetId", id);
                            }
                            js::set(&r, "reasonCode", outcome.reason_code);
                            Call {
                                f: p.resolve,
                                args: Array::of1(&r),
                            }
                        }
                        Err(e) => Call {
                            f: p.reject,
                            args: Array::of1(&js_error(e)),
                        },
                    });
                }
            }
            Event::SubscribeDone { token, result } => {
                if let Some((p, filters, listener)) = self.subscribes.remove(&token) {
                    match result {
                        Ok(ack) => {
                            let granted = Array::new();
                            for (i, filter) in filters.iter().enumerate() {
                                let code = ack.reason_codes.get(i).copied().unwrap_or(0x80);
                                let g = Object::new();
                                js::set(&g, "filter", filter.as_str());
                                if code < 0x80 {
                                    js::set(&g, "qos", code);
                                } else if let Some(l) = &listener {
                                    self.remove_route(filter, l);
                                }
                                js::set(&g, "reasonCode", code);
                                granted.push(&g);
                            }
                            calls.push(Call {
                                f: p.resolve,
                                args: Array::of1(&granted),
                            });
                        }
                        Err(e) => {
                            if let Some(l) = &listener {
                                for f in &filters {
                                    self.remove_route(f, l);
                                }
                            }
                            calls.push(Call {
                                f: p.reject,
                                args: Array::of1(&js_error(e)),
                            });
                        }
                    }
                }
            }
            Event::UnsubscribeDone { token, result } => {
                if let Some(p) = self.unsubscribes.remove(&token) {
                    calls.push(match result {
                        Ok(_) => Call {
                            f: p.resolve,
                            args: Array::new(),
                        },
                        Err(e) => Call {
                            f: p.reject,
                            args: Array::of1(&js_error(e)),
                        },
                    });
                }
            }
            Event::Offline { error } => {
                self.log(LogLevel::Warn, &format!("offline: {error}"));
                // Fail over: the next attempt tries the next URL in the list.
                if !self.attempt_connected {
                    self.url_index = self.url_index.wrapping_add(1);
                }
                self.emit(calls, "error", &[js_error(&error)]);
                self.emit(calls, "offline", &[]);
            }
            Event::Reconnecting { attempt, delay } => {
                self.log(
                    LogLevel::Info,
                    &format!("reconnecting: attempt {attempt} in {delay} ms"),
                );
                let info = Object::new();
                js::set(&info, "attempt", attempt);
                js::set(&info, "delay", delay as f64);
                self.emit(calls, "reconnecting", &[info.into()]);
            }
            Event::Error(e) => {
                self.log(LogLevel::Warn, &e.to_string());
                self.emit(calls, "error", &[js_error(e)]);
            }
            Event::Closed { error } => self.closed(error, calls),
        }
    }

    fn closed(&mut self, error: Option<SessionError>, calls: &mut Vec<Call>) {
        self.log(LogLevel::Info, "closed");
        if let Some(w) = self.connect_waiter.take() {
            let e = error.clone().unwrap_or_else(|| {
                SessionError::new(
                    crate::mqtt::session::ErrorCode::Closed,
                    "client ended before it connected",
                )
            });
            calls.push(Call {
                f: w.reject,
                args: Array::of1(&js_error(e)),
            });
        }
        for (_, p) in self.backlog.drain(..) {
            let e = SessionError::new(crate::mqtt::session::ErrorCode::Closed, "client ended");
            calls.push(Call {
                f: p.reject,
                args: Array::of1(&js_error(e)),
            });
        }
        self.emit(calls, "close", &[]);
        for w in self.end_waiters.drain(..) {
            calls.push(Call {
                f: w.resolve,
                args: Array::new(),
            });
        }
        self.teardown();
    }

    /// Removes every timer and listener the client holds.
    fn teardown(&mut self) {
        if let Some(h) = self.timer.take() {
            js::clear_timeout(&h);
        }
        if let Some(h) = self.drain_timer.take() {
            js::clear_timeout(&h);
        }
        self.timer_at = None;
        if let Some(s) = self.socket.take() {
            self.bury(Box::new(s));
        }
        let listeners: Vec<Listener> = self.global_listeners.drain(..).collect();
        self.bury(Box::new(listeners));
        if let Some(cb) = self.timer_cb.take() {
            self.bury(Box::new(cb));
        }
        if let Some(cb) = self.drain_cb.take() {
            self.bury(Box::new(cb));
        }
        if let Some(me) = self.keep_alive.take() {
            self.bury(Box::new(me));
        }
    }

    /// Drops `item` on a later turn of the event loop: it may be the closure running now.
    fn bury(&mut self, item: Box<dyn Any>) {
        js::bury(item);
    }

    fn arm_timer(&mut self) {
        let at = self.session.poll_timeout();
        if at == self.timer_at {
            return;
        }
        if let Some(h) = self.timer.take() {
            js::clear_timeout(&h);
        }
        self.timer_at = at;
        if let (Some(at), Some(cb)) = (at, self.timer_cb.as_ref()) {
            let delay = at.saturating_sub(js::now()) as f64;
            self.timer = Some(js::set_timeout(cb.as_ref().unchecked_ref(), delay));
        }
    }

    fn open_transport(&mut self) {
        if let Some(f) = self.opts.credentials.clone() {
            // Ask for fresh credentials (and maybe a presigned URL) before every attempt.
            let weak = self.this.clone();
            let serial = self.socket_serial;
            wasm_bindgen_futures::spawn_local(async move {
                let result = match f.call0(&JsValue::NULL) {
                    Ok(v) => match v.dyn_into::<Promise>() {
                        Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await,
                        Err(v) => Ok(v),
                    },
                    Err(e) => Err(e),
                };
                with_inner(&weak, |inner| {
                    if inner.socket_serial != serial || inner.socket.is_some() {
                        return;
                    }
                    match result {
                        Ok(c) => {
                            let url = options::string(&c, "url").ok().flatten();
                            let user = options::string(&c, "username").ok().flatten();
                            let pass = options::string(&c, "password").ok().flatten();
                            if user.is_some() || pass.is_some() {
                                inner
                                    .session
                                    .set_credentials(user, pass.map(String::into_bytes));
                            }
                            inner.open_socket(url);
                        }
                        Err(_) => {
                            inner.log(LogLevel::Error, "the credentials callback failed");
                            inner.session.handle_connection_lost(js::now());
                        }
                    }
                });
            });
        } else {
            self.open_socket(None);
        }
    }

    fn open_socket(&mut self, url_override: Option<String>) {
        self.socket_serial += 1;
        let serial = self.socket_serial;
        let url = url_override.unwrap_or_else(|| {
            let i = self.url_index % self.opts.urls.len().max(1);
            self.opts.urls.get(i).cloned().unwrap_or_default()
        });
        self.log(LogLevel::Info, &format!("opening {url}"));
        let ws = match WebSocket::new_with_str(&url, "mqtt") {
            Ok(ws) => ws,
            Err(_) => {
                self.log(
                    LogLevel::Error,
                    &format!("cannot open a websocket to {url}"),
                );
                self.session.handle_connection_lost(js::now());
                return;
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let weak = self.this.clone();
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            with_inner(&weak, |inner| {
                if inner.socket_serial == serial {
                    inner.session.handle_transport_open(js::now());
                }
            });
        });
        let weak = self.this.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let bytes = if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                Uint8Array::new(buf).to_vec()
            } else if let Some(s) = data.as_string() {
                // MQTT over WebSocket is binary only [MQTT-6.0.0-1]; treat text as bytes
                // so the codec reports the violation.
                s.into_bytes()
            } else {
                return;
            };
            with_inner(&weak, |inner| {
                if inner.socket_serial == serial {
                    inner.session.handle_bytes(js::now(), &bytes);
                }
            });
        });
        let weak = self.this.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            with_inner(&weak, |inner| {
                if inner.socket_serial == serial {
                    inner.log(
                        LogLevel::Info,
                        &format!("socket closed (code {})", e.code()),
                    );
                    if let Some(s) = inner.socket.take() {
                        inner.bury(Box::new(s));
                    }
                    inner.session.handle_connection_lost(js::now());
                }
            });
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        if let Some(old) = self.socket.replace(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        }) {
            self.bury(Box::new(old));
        }
    }

    fn deliver(&mut self, p: Publish, calls: &mut Vec<Call>) {
        let props = options::message_properties(&p.properties);
        let payload = js::uint8(&p.payload);
        let message = js::make_message(&p.topic, payload, p.qos as u8, p.retain, p.dup, props);
        self.emit(calls, "message", std::slice::from_ref(&message));
        // Each subscription's listener once, even when several filters match. When the
        // PUBLISH names the subscriptions it is for (v5 subscription identifiers; a broker
        // may send one copy per matching subscription), only their listeners get it.
        let ids = &p.properties.subscription_identifiers;
        let filter_ids = &self.filter_ids;
        let mut seen: Vec<&Function> = Vec::new();
        self.routes.for_each_match(&p.topic, |filter, fs| {
            if !ids.is_empty() && !filter_ids.get(filter).is_some_and(|id| ids.contains(id)) {
                return;
            }
            for f in fs {
                if !seen.iter().any(|s| Object::is(s, f)) {
                    seen.push(f);
                }
            }
        });
        for f in seen {
            calls.push(Call {
                f: f.clone(),
                args: Array::of1(&message),
            });
        }
    }

    fn remove_route(&mut self, filter: &str, listener: &Function) {
        let empty = match self.routes.get_mut(filter) {
            Some(list) => {
                if let Some(i) = list.iter().position(|f| Object::is(f, listener)) {
                    list.remove(i);
                }
                list.is_empty()
            }
            None => false,
        };
        if empty {
            self.routes.remove(filter);
        }
    }

    fn buffered(&self) -> u32 {
        self.socket.as_ref().map_or(0, |s| s.ws.buffered_amount())
    }

    /// Hands waiting publishes to the session while the socket buffer has room.
    fn drain_backlog(&mut self, calls: &mut Vec<Call>) {
        while !self.backlog.is_empty() && self.buffered() < LOW_WATER.max(1) {
            let Some((publish, pending)) = self.backlog.pop_front() else {
                break;
            };
            self.start_publish(publish, pending, calls);
            self.process(calls);
        }
        if !self.backlog.is_empty() && self.drain_timer.is_none() {
            if let Some(cb) = self.drain_cb.as_ref() {
                self.drain_timer =
                    Some(js::set_timeout(cb.as_ref().unchecked_ref(), DRAIN_POLL_MS));
            }
        }
    }

    fn start_publish(&mut self, publish: Publish, pending: Pending, calls: &mut Vec<Call>) {
        match self.session.publish(js::now(), publish) {
            Ok(token) => {
                self.publishes.insert(token, pending);
            }
            Err(e) => calls.push(Call {
                f: pending.reject,
                args: Array::of1(&js_error(e)),
            }),
        }
    }
}

fn rejected(e: MqttError) -> Promise {
    Promise::reject(&e.into_js())
}

impl MqttClient {
    /// Another handle to the same client (for Rust code built on it, like signaling).
    pub(crate) fn handle(&self) -> MqttClient {
        MqttClient {
            inner: self.inner.clone(),
        }
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
        let signal = opts.signal.clone();
        if js::get(&signal, "aborted").as_bool() == Some(true) {
            return rejected(MqttError::from_code(
                ErrorCode::Aborted,
                "connect was aborted",
            ));
        }
        let rc = Rc::new(RefCell::new(Inner {
            session: Session::new(config),
            opts,
            this: Weak::new(),
            url_index: 0,
            socket: None,
            socket_serial: 0,
            timer: None,
            timer_at: None,
            timer_cb: None,
            drain_timer: None,
            drain_cb: None,
            global_listeners: Vec::new(),
            listeners: Listeners::default(),
            routes: TopicTrie::new(),
            filter_ids: HashMap::new(),
            next_subscription_id: FIRST_AUTO_SUBSCRIPTION_ID,
            publishes: HashMap::new(),
            subscribes: HashMap::new(),
            unsubscribes: HashMap::new(),
            connect_waiter: None,
            end_waiters: Vec::new(),
            backlog: VecDeque::new(),
            attempt_connected: false,
            keep_alive: None,
        }));
        let (promise, pending) = Pending::new();
        {
            let mut inner = rc.borrow_mut();
            let weak = Rc::downgrade(&rc);
            inner.this = weak.clone();
            inner.keep_alive = Some(rc.clone());
            inner.connect_waiter = Some(pending);
            let w = weak.clone();
            inner.timer_cb = Some(Closure::new(move || {
                with_inner(&w, |inner| {
                    inner.timer = None;
                    inner.timer_at = None;
                    inner.session.handle_timeout(js::now());
                })
            }));
            let w = weak.clone();
            inner.drain_cb = Some(Closure::new(move || {
                if let Some(rc) = w.upgrade() {
                    let calls = {
                        let Ok(mut inner) = rc.try_borrow_mut() else {
                            return;
                        };
                        inner.drain_timer = None;
                        let mut calls = Vec::new();
                        inner.drain_backlog(&mut calls);
                        calls
                    };
                    for c in calls {
                        let _ = c.f.apply(&JsValue::NULL, &c.args);
                    }
                }
            }));
            // Reconnect at once when the browser regains the network.
            let global: EventTarget = js_sys::global().unchecked_into();
            let w = weak.clone();
            let online = Closure::<dyn FnMut()>::new(move || {
                with_inner(&w, |inner| inner.session.network_online(js::now()))
            });
            if global
                .add_event_listener_with_callback("online", online.as_ref().unchecked_ref())
                .is_ok()
            {
                inner.global_listeners.push(Listener {
                    target: global,
                    event: "online",
                    callback: online,
                });
            }
            if let Some(target) = signal.dyn_ref::<EventTarget>() {
                let w = weak.clone();
                let abort = Closure::<dyn FnMut()>::new(move || {
                    with_inner(&w, |inner| {
                        if let Some(waiter) = inner.connect_waiter.take() {
                            let e = MqttError::from_code(ErrorCode::Aborted, "connect was aborted");
                            let _ = waiter.reject.call1(&JsValue::NULL, &e.into_js());
                        }
                        inner.session.close(js::now());
                    })
                });
                if target
                    .add_event_listener_with_callback("abort", abort.as_ref().unchecked_ref())
                    .is_ok()
                {
                    inner.global_listeners.push(Listener {
                        target: target.clone(),
                        event: "abort",
                        callback: abort,
                    });
                }
            }
            inner.session.connect(js::now());
        }
        drive(&rc);
        promise
    }

    /// Publishes; resolves when written (QoS 0), on PUBACK (QoS 1) or PUBCOMP (QoS 2).
    pub fn publish(&self, topic: JsValue, payload: JsValue, options: JsValue) -> Promise {
        let publish = (|| -> options::Res<Publish> {
            let topic = topic.as_string().ok_or_else(|| {
                MqttError::from_code(ErrorCode::InvalidTopic, "topic must be a string")
            })?;
            Ok(Publish {
                topic,
                payload: options::payload(&payload)?,
                qos: options::qos(&options, "qos")?,
                retain: options::boolean(&options, "retain")?.unwrap_or(false),
                properties: options::publish_properties(&js::get(&options, "properties"))?,
                ..Publish::default()
            })
        })();
        let publish = match publish {
            Ok(p) => p,
            Err(e) => return rejected(e),
        };
        let (promise, pending) = Pending::new();
        let mut calls = Vec::new();
        {
            let mut inner = self.inner.borrow_mut();
            if !inner.backlog.is_empty() || inner.buffered() > HIGH_WATER {
                // Validate now, so a bad publish fails at once rather than after the wait.
                if let Err(e) = crate::mqtt::topic::validate_topic_name(&publish.topic) {
                    return rejected(MqttError::from(SessionError::from(e)));
                }
                inner.backlog.push_back((publish, pending));
                inner.drain_backlog(&mut calls);
            } else {
                inner.start_publish(publish, pending, &mut calls);
            }
        }
        for c in calls {
            let _ = c.f.apply(&JsValue::NULL, &c.args);
        }
        drive(&self.inner);
        promise
    }

    /// Subscribes; resolves with the granted QoS / reason code per filter.
    pub fn subscribe(&self, filter: JsValue, options: JsValue, on_message: JsValue) -> Promise {
        let (filters, mut properties) = match options::subscribe_filters(&filter, &options) {
            Ok(v) => v,
            Err(e) => return rejected(e),
        };
        let listener = match on_message.dyn_into::<Function>() {
            Ok(f) => Some(f),
            Err(v) if js::is_absent(&v) => None,
            Err(_) => {
                return rejected(MqttError::from_code(
                    ErrorCode::InvalidArgument,
                    "onMessage must be a function",
                ))
            }
        };
        let names: Vec<String> = filters.iter().map(|f| f.filter.clone()).collect();
        let (promise, pending) = Pending::new();
        {
            let mut inner = self.inner.borrow_mut();
            // A listener's subscription gets an identifier, so the copies a broker sends
            // for overlapping subscriptions reach only the listener they are for.
            if listener.is_some() && properties.subscription_identifiers.is_empty() {
                let id = inner.next_subscription_id;
                inner.next_subscription_id = if id >= MAX_SUBSCRIPTION_ID {
                    FIRST_AUTO_SUBSCRIPTION_ID
                } else {
                    id + 1
                };
                properties.subscription_identifiers.push(id);
            }
            let id = properties.subscription_identifiers.first().copied();
            match inner.session.subscribe(js::now(), filters, properties) {
                Ok(token) => {
                    for name in &names {
                        match id {
                            Some(id) => inner.filter_ids.insert(name.clone(), id),
                            None => inner.filter_ids.remove(name),
                        };
                    }
                    if let Some(l) = &listener {
                        for name in &names {
                            match inner.routes.get_mut(name) {
                                Some(list) => list.push(l.clone()),
                                None => {
                                    inner.routes.insert(name, vec![l.clone()]);
                                }
                            }
                        }
                    }
                    inner.subscribes.insert(token, (pending, names, listener));
                }
                Err(e) => return rejected(e.into()),
            }
        }
        drive(&self.inner);
        promise
    }

    pub fn unsubscribe(&self, filter: JsValue) -> Promise {
        let filters = match options::filter_list(&filter) {
            Ok(v) => v,
            Err(e) => return rejected(e),
        };
        let (promise, pending) = Pending::new();
        {
            let mut inner = self.inner.borrow_mut();
            match inner
                .session
                .unsubscribe(js::now(), filters.clone(), Default::default())
            {
                Ok(token) => {
                    for f in &filters {
                        inner.routes.remove(f);
                        inner.filter_ids.remove(f);
                    }
                    inner.unsubscribes.insert(token, pending);
                }
                Err(e) => return rejected(e.into()),
            }
        }
        drive(&self.inner);
        promise
    }

    /// Graceful: waits (up to `timeout` ms, default 10 s) until queued publishes are sent and
    /// QoS 1/2 exchanges complete, then sends DISCONNECT and closes. `force: true` drops at
    /// once (the broker then publishes the Will).
    pub fn end(&self, options: JsValue) -> Promise {
        let force = options::boolean(&options, "force")
            .ok()
            .flatten()
            .unwrap_or(false);
        let reason = options::int(&options, "reasonCode", 0.0, 255.0)
            .ok()
            .flatten()
            .unwrap_or(0.0) as u8;
        let timeout = options::int(&options, "timeout", 0.0, 3_600_000.0)
            .ok()
            .flatten()
            .unwrap_or(10_000.0) as u64;
        let (promise, pending) = Pending::new();
        {
            let mut inner = self.inner.borrow_mut();
            if inner.session.state() == crate::mqtt::session::State::Closed {
                return Promise::resolve(&JsValue::UNDEFINED);
            }
            inner.end_waiters.push(pending);
            if force {
                inner.session.close(js::now());
            } else {
                inner.session.end(js::now(), reason, timeout);
            }
        }
        drive(&self.inner);
        promise
    }

    /// Drops the connection now and reconnects, keeping the session.
    pub fn reconnect(&self) {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.session.reconnect_now(js::now());
        }
        drive(&self.inner);
    }

    /// Adds an event listener; returns the client for chaining.
    pub fn on(&self, event: String, listener: Function) -> MqttClient {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.listeners.add(event, listener);
        }
        MqttClient {
            inner: self.inner.clone(),
        }
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: String, listener: Function) -> MqttClient {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.listeners.remove(&event, &listener);
        }
        MqttClient {
            inner: self.inner.clone(),
        }
    }

    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.inner.borrow().session.state().as_str().into()
    }

    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.borrow().session.client_id().into()
    }

    #[wasm_bindgen(getter, js_name = protocolVersion)]
    pub fn protocol_version(&self) -> u8 {
        match self.inner.borrow().session.protocol_version() {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    pub fn stats(&self) -> JsValue {
        let inner = self.inner.borrow();
        let s = inner.session.stats();
        let o = Object::new();
        js::set(&o, "messagesSent", s.messages_sent as f64);
        js::set(&o, "messagesReceived", s.messages_received as f64);
        js::set(&o, "bytesSent", s.bytes_sent as f64);
        js::set(&o, "bytesReceived", s.bytes_received as f64);
        js::set(&o, "inflight", s.inflight as f64);
        js::set(&o, "queued", (s.queued + inner.backlog.len()) as f64);
        js::set(&o, "reconnects", s.reconnects as f64);
        if let Some(rtt) = s.last_ping_rtt {
            js::set(&o, "lastPingRtt", rtt as f64);
        }
        o.into()
    }
}
