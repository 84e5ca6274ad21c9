//! `Inner`, the state of one client, and the one loop every browser callback and API call
//! goes through ([`with_client`]): borrow the state under the re-entrancy rule of
//! `crate::web`, feed the [`Session`], then [`Inner::process`]: everything ready to send
//! goes out, session events become deferred promise settlements and listener calls, and
//! the session timer is re-armed from `poll_timeout`. API calls ([`Output::Batched`]) leave
//! their output in the session for one flush in a microtask, so the packets of one
//! JavaScript task share one `WebSocket.send` (Chromium's cost is per send, not per byte)
//! while a lone call waits for nothing but the end of its task. A received WebSocket message
//! is decoded a bounded batch per step, each step's listeners running before the next step
//! (a microtask) decodes more, so memory stays flat whatever one message packs; what
//! received packets call for may wait for a later task ([`Output::Later`]). `Inner` only
//! routes between its owners (transport, timers, requests, routing); it never calls
//! JavaScript that can run user code while borrowed, and never panics on network input.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

use super::first::{FirstConnect, Next};
use super::options::{self, DriverOptions};
use super::requests::Requests;
use super::routing::Routing;
use super::store::{self, Store};
use super::timers::Timers;
use super::transport::{SocketEvent, Transport};
use super::MqttClient;
use crate::error_code::ErrorCode;
use crate::mqtt::codec::{Properties, Publish, ReasonCode, SubscribeFilter};
use crate::mqtt::session::{Event, Millis, Session, SessionConfig, SessionError, State};
use crate::web::{self as js, js_error, Deferred, EventListener, Listeners, LogLevel};
use crate::web::{MqttError, Pending};

pub(super) struct Inner {
    pub(super) session: Session,
    log: LogLevel,
    /// `ConnectOptions.credentials`, asked before every attempt.
    credentials: Option<Function>,
    this: Weak<RefCell<Inner>>,
    transport: Transport,
    timers: Timers,
    requests: Requests,
    routing: Routing,
    pub(super) listeners: Listeners,
    /// Until the first CONNACK: how long `connect()` keeps trying, and why it failed.
    first: Option<FirstConnect>,
    /// `online` on the global object and `abort` on the connect signal.
    dom: Vec<EventListener>,
    /// The durable session store, once open (`ConnectOptions.store`).
    store: Option<Store>,
    /// The client keeps itself alive until it is closed, like an open WebSocket: browser
    /// callbacks only hold weak references, and JS may drop its handle at any time.
    keep_alive: Option<Rc<RefCell<Inner>>>,
}

#[wasm_bindgen]
extern "C" {
    /// The global `queueMicrotask` (browsers and Node).
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(f: &JsValue);
}

/// Packets one receive step decodes at most before their listeners run: the memory a
/// step holds (decoded packets, their events, their JS messages) is bounded by this.
const RECEIVE_BATCH_PACKETS: usize = 256;
/// Bytes of packets one receive step decodes at most (a step always takes one packet).
const RECEIVE_BATCH_BYTES: usize = 64 * 1024;

/// When the output of a call goes to the socket.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// At once: browser callbacks (socket open and close, timers, flushes), which end a
    /// task's worth of work.
    Now,
    /// In one flush at the end of the current task (a microtask): API calls, which may
    /// come by the thousand in one task.
    Batched,
    /// What received packets call for: acknowledgements (PUBREL, PUBACK, PUBREC, PUBCOMP)
    /// go in one flush in a later task while two or more of the client's publishes are in
    /// flight; anything else, or with fewer in flight, goes at once. Mosquitto sends each
    /// acknowledgement in a WebSocket message of its own and the browser runs the messages
    /// that have arrived before that task, so their answers leave together: a burst of
    /// QoS 2 publishes made one `send` per PUBREC. A lone publish is not delayed (after
    /// its PUBREC it is the only one in flight), nor are the publishes an acknowledgement
    /// lets out of a full window (holding those back cost QoS 1 bursts 18%).
    Later,
}

/// Borrows the client (a busy one is `BUSY`), runs `f`, processes what the session has to
/// say, releases the borrow, then runs the deferred JS calls.
pub(super) fn with_client<R>(
    rc: &Rc<RefCell<Inner>>,
    output: Output,
    f: impl FnOnce(&mut Inner, &mut Deferred) -> R,
) -> Result<R, MqttError> {
    js::with_state(rc, |inner, calls| {
        let r = f(inner, calls);
        inner.process(calls, output);
        r
    })
}

/// [`with_client`] for browser callbacks: they hold a weak reference, and have no caller
/// to hand a `BUSY` error to, so it is reported on the console.
fn with_weak(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner, &mut Deferred)) {
    with_weak_output(weak, Output::Now, f);
}

fn with_weak_output(
    weak: &Weak<RefCell<Inner>>,
    output: Output,
    f: impl FnOnce(&mut Inner, &mut Deferred),
) {
    if let Some(rc) = weak.upgrade() {
        if let Err(e) = with_client(&rc, output, f) {
            js::report(&e);
        }
    }
}

/// Creates a client and starts its first attempt; `connect` settles `connect()`.
pub(super) fn start(
    config: SessionConfig,
    opts: DriverOptions,
    connect: Pending,
) -> Result<(), MqttError> {
    // One store per broker (the URLs it is given) and client id.
    let mut key = String::new();
    for url in &opts.urls {
        key.push_str(url);
        key.push(' ');
    }
    key.push_str(&config.client_id);
    let backend = opts.store.clone();
    let rc = Rc::new_cyclic(|this| {
        RefCell::new(Inner {
            session: Session::new(config),
            log: opts.log,
            credentials: opts.credentials,
            this: this.clone(),
            first: Some(FirstConnect::new(
                opts.patience,
                opts.on_attempt,
                opts.urls.len(),
            )),
            transport: Transport::new(opts.urls, opts.websocket, opts.log),
            timers: Timers::default(),
            requests: Requests::new(connect),
            routing: Routing::new(),
            listeners: Listeners::default(),
            dom: Vec::new(),
            store: None,
            keep_alive: None,
        })
    });
    let me = rc.clone();
    with_client(&rc, Output::Now, |inner, _| {
        inner.keep_alive = Some(me);
        inner.listen_dom(&opts.signal);
        match backend {
            None => inner.session.connect(js::now()),
            Some(backend) => inner.open_store(backend, key),
        }
    })
}

impl Inner {
    fn log(&self, level: LogLevel, message: &str) {
        self.log.log(level, message);
    }

    /// Reconnects at once when the browser regains the network, and gives up the attempt
    /// when the connect signal aborts.
    fn listen_dom(&mut self, signal: &JsValue) {
        let global: EventTarget = js_sys::global().unchecked_into();
        let w = self.this.clone();
        let online = EventListener::new(&global, "online", move |_| {
            with_weak(&w, |inner, _| inner.session.network_online(js::now()))
        });
        self.dom.extend(online.ok());
        if let Some(target) = signal.dyn_ref::<EventTarget>() {
            let w = self.this.clone();
            let abort = EventListener::new(target, "abort", move |_| {
                with_weak(&w, |inner, calls| {
                    let e = MqttError::from_code(ErrorCode::Aborted, "connect was aborted");
                    inner.requests.reject_connect(e, calls);
                    inner.session.close(js::now());
                })
            });
            self.dom.extend(abort.ok());
        }
    }

    /// Locks and reads the store, then connects with what an earlier page left in it.
    fn open_store(&mut self, backend: JsValue, key: String) {
        let weak = self.this.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let opened = Store::open(backend, key).await;
            with_weak(&weak, |inner, calls| match opened {
                Ok((store, records)) => {
                    inner.store = Some(store);
                    let n = inner.session.load_store(records);
                    if n > 0 {
                        let m = format!("resuming {n} unacknowledged publishes from the store");
                        inner.log(LogLevel::Info, &m);
                    }
                    inner.session.connect(js::now());
                }
                Err(e) => {
                    inner.requests.reject_connect(e.into(), calls);
                    inner.session.close(js::now());
                }
            });
        });
    }

    /// Hands what the session recorded to the store (a no-op without one).
    fn record_store(&mut self) {
        if let Some(store) = &mut self.store {
            store.record(self.session.take_store_ops());
        }
    }

    /// Writes the next batch of store operations, unless one is being written.
    fn write_store(&mut self) {
        let Some(store) = &mut self.store else {
            return;
        };
        let Some((backend, puts, deletes, upto)) = store.start_write() else {
            return;
        };
        let key = store.key();
        let weak = self.this.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = store::write(backend, key, puts, deletes).await;
            with_weak(&weak, |inner, calls| {
                inner.store_written(upto, result, calls)
            });
        });
    }

    /// A batch is durable: what waited for it goes out, in order. A failed one ends the
    /// client: nothing that waited for it is sent or delivered.
    fn store_written(&mut self, upto: u64, result: Result<(), SessionError>, calls: &mut Deferred) {
        let Some(store) = &mut self.store else {
            return;
        };
        if let Err(e) = result {
            let told = store.abandon();
            store.unlock();
            self.store = None;
            // Nothing the session wrote after the failed write may go out.
            while self.session.poll_transmit().is_some() {}
            self.log(LogLevel::Error, &e.to_string());
            for event in told {
                self.handle_event(event, calls);
            }
            calls.emit(&self.listeners, "error", &[js_error(e.clone())]);
            self.session.fail(e);
            return;
        }
        store.written(upto);
        while let Some(next) = self.store.as_mut().and_then(Store::next_ready) {
            match next {
                Ok(bytes) => self.transport.send(&bytes),
                Err(event) => self.handle_event(event, calls),
            }
        }
        self.transport.flushed();
    }

    /// Feeds session output to the socket (now, or in the task's flush), JS and the timer
    /// until nothing is left; with a store, what depends on records not yet durable waits
    /// for them ([`Inner::store_written`]).
    fn process(&mut self, calls: &mut Deferred, output: Output) {
        let output = match output {
            Output::Later
                if self.session.inflight_len() < 2 || self.session.transmit_has_publish() =>
            {
                Output::Now
            }
            output => output,
        };
        loop {
            if output == Output::Now {
                self.transmit();
            }
            self.record_store();
            let Some(mut event) = self.session.poll_event() else {
                break;
            };
            if let Some(store) = &mut self.store {
                match store.hold_event(event) {
                    Some(e) => event = e,
                    None => continue,
                }
            }
            self.handle_event(event, calls);
        }
        self.record_store();
        self.write_store();
        match output {
            Output::Now => {}
            Output::Batched => self.schedule_flush(),
            Output::Later => self.schedule_later_flush(),
        }
        let w = self.this.clone();
        let at = self.session.poll_timeout();
        self.timers.arm_session(at, || {
            move || {
                with_weak(&w, |inner, _| {
                    inner.timers.session_fired();
                    inner.session.handle_timeout(js::now());
                })
            }
        });
    }

    /// Sends everything the session holds: the packets of a batch in one message (held
    /// by the store while records they depend on are not durable).
    fn transmit(&mut self) {
        self.record_store();
        while let Some(mut buf) = self.session.poll_transmit() {
            if let Some(store) = &mut self.store {
                match store.hold_bytes(buf) {
                    Some(b) => buf = b,
                    None => continue,
                }
            }
            self.transport.send(&buf);
        }
        self.transport.flushed();
    }

    /// Flushes in a microtask, once for all the calls of this task: it runs before the
    /// browser does any I/O, so a lone call is not delayed.
    fn schedule_flush(&mut self) {
        if !self.transport.schedule_flush() {
            return;
        }
        let w = self.this.clone();
        let flush = Closure::once_into_js(move || {
            // `with_weak` processes with `Output::Now`, which is the flush.
            with_weak(&w, |inner, _| inner.transport.flush_ran());
        });
        queue_microtask(&flush);
    }

    /// Flushes in a later task (see [`Output::Later`]), unless nothing waits to be sent.
    fn schedule_later_flush(&mut self) {
        if !self.session.has_transmit() || !self.transport.schedule_later_flush() {
            return;
        }
        let w = self.this.clone();
        let flush = Closure::once_into_js(move || {
            with_weak(&w, |inner, _| inner.transport.later_flush_ran());
        });
        js::task(&flush);
    }

    fn handle_event(&mut self, event: Event, calls: &mut Deferred) {
        match event {
            // What the session wrote before these belongs to the socket being replaced
            // or closed: it goes first.
            Event::OpenTransport => {
                self.transmit();
                self.open_transport();
            }
            Event::CloseTransport => {
                self.transmit();
                self.transport.close();
            }
            Event::StateChanged(s) => {
                self.log(LogLevel::Debug, &format!("state {}", s.as_str()));
                calls.emit(&self.listeners, "state", &[s.as_str().into()]);
            }
            Event::Connected {
                session_present,
                reason_code,
                properties,
            } => self.connected(session_present, reason_code, &properties, calls),
            Event::Message(p) => self.deliver(p, calls),
            Event::PublishDone { token, result } => {
                self.requests.publish_done(token, result, calls);
            }
            Event::SubscribeDone { token, result } => {
                if let Some(refused) = self.requests.subscribe_done(token, result, calls) {
                    for filter in &refused.filters {
                        self.routing.remove(filter, &refused.listener);
                    }
                }
            }
            Event::UnsubscribeDone { token, result } => {
                let result = result.map(|_| ());
                self.requests.unsubscribe_done(token, result, calls);
            }
            Event::Offline { error } => {
                let e = self.transport.describe(&error);
                self.log(LogLevel::Warn, &format!("offline: {}", e.text()));
                if let Some(first) = &mut self.first {
                    first.failed(self.transport.attempt_url(), e.clone());
                }
                self.transport.went_offline();
                calls.emit(&self.listeners, "error", &[e.into_js()]);
                calls.emit(&self.listeners, "offline", &[]);
            }
            Event::Reconnecting { attempt, delay } => {
                self.reconnecting(attempt, delay, calls);
                self.first_retry(delay, calls);
            }
            Event::Error(e) => {
                self.log(LogLevel::Warn, &e.to_string());
                calls.emit(&self.listeners, "error", &[js_error(e)]);
            }
            Event::Closed { error } => self.closed(error, calls),
        }
    }

    fn connected(
        &mut self,
        session_present: bool,
        reason_code: u8,
        properties: &Properties,
        calls: &mut Deferred,
    ) {
        self.log(
            LogLevel::Info,
            &format!("connected (session present: {session_present})"),
        );
        let info = Object::new();
        js::set(&info, "sessionPresent", session_present);
        js::set(&info, "reasonCode", reason_code);
        let props = options::connack_properties(properties);
        if !props.is_undefined() {
            js::set(&info, "properties", props);
        }
        self.transport.connected();
        self.first = None;
        calls.emit(&self.listeners, "connect", &[info.into()]);
        if let Some(rc) = self.this.upgrade() {
            let client = MqttClient { inner: rc };
            self.requests.connected(client.into(), calls);
        }
    }

    fn reconnecting(&mut self, attempt: u32, delay: u64, calls: &mut Deferred) {
        self.log(
            LogLevel::Info,
            &format!("reconnecting: attempt {attempt} in {delay} ms"),
        );
        let info = Object::new();
        js::set(&info, "attempt", attempt);
        js::set(&info, "delay", delay as f64);
        calls.emit(&self.listeners, "reconnecting", &[info.into()]);
    }

    /// Before the first CONNACK, a retry is the first connect's to allow: the default
    /// moves straight on to the next URL, or gives up once each was tried.
    fn first_retry(&mut self, delay: u64, calls: &mut Deferred) {
        let Some(first) = &mut self.first else {
            return;
        };
        match first.retrying(delay, calls) {
            Next::Retry { now: false } => {}
            Next::Retry { now: true } => self.session.network_online(js::now()),
            Next::GiveUp(e) => {
                self.first = None;
                self.requests.reject_connect(e, calls);
                self.session.close(js::now());
            }
        }
    }

    fn closed(&mut self, error: Option<SessionError>, calls: &mut Deferred) {
        self.log(LogLevel::Info, "closed");
        // Closed before the first CONNACK (reconnect: false, maxAttempts): the rejection
        // names the URL and the cause, like the default's.
        if let Some(e) = self.first.take().and_then(|f| f.error()) {
            self.requests.reject_connect(e, calls);
        }
        self.requests.closed(error, calls);
        calls.emit(&self.listeners, "close", &[]);
        match self.store.take() {
            // `end()` resolves once the store has what is left and is free for the next
            // client (a new one with the same client id right after `await end()`).
            Some(mut store) => {
                store.record(self.session.take_store_ops());
                let waiters = self.requests.take_end_waiters();
                wasm_bindgen_futures::spawn_local(async move {
                    store.close().await;
                    for w in waiters {
                        w.resolve(&JsValue::UNDEFINED);
                    }
                });
            }
            None => self.requests.ended(calls),
        }
        self.teardown();
    }

    /// Removes every timer, socket and DOM listener the client holds, and lets it go.
    fn teardown(&mut self) {
        self.timers.stop();
        self.transport.close();
        // Any of these may hold the closure running now: drop them on a later turn.
        js::bury(Box::new(std::mem::take(&mut self.dom)));
        if let Some(me) = self.keep_alive.take() {
            js::bury(Box::new(me));
        }
    }

    fn open_transport(&mut self) {
        self.transport.new_attempt();
        match self.credentials.clone() {
            Some(f) => self.fetch_credentials(f),
            None => self.open_socket(None),
        }
    }

    /// Asks for fresh credentials (and maybe a presigned URL) before the attempt; the
    /// answer is dropped if another attempt started meanwhile.
    fn fetch_credentials(&self, f: Function) {
        let weak = self.this.clone();
        let serial = self.transport.serial();
        wasm_bindgen_futures::spawn_local(async move {
            let result = match f.call0(&JsValue::NULL) {
                Ok(v) => match v.dyn_into::<Promise>() {
                    Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await,
                    Err(v) => Ok(v),
                },
                Err(e) => Err(e),
            };
            with_weak(&weak, |inner, _| inner.credentials_ready(serial, result));
        });
    }

    fn credentials_ready(&mut self, serial: u64, result: Result<JsValue, JsValue>) {
        if !self.transport.is_current(serial) || self.transport.has_socket() {
            return;
        }
        let c = match result {
            Ok(c) => c,
            Err(e) => {
                let why = js::get(&e, "message").as_string().unwrap_or_default();
                let why = format!("the credentials callback failed: {why}");
                self.log(LogLevel::Error, &why);
                self.transport.failed(why);
                self.session.handle_connection_lost(js::now());
                return;
            }
        };
        let url = options::string(&c, "url").ok().flatten();
        let user = options::string(&c, "username").ok().flatten();
        let pass = options::string(&c, "password").ok().flatten();
        if user.is_some() || pass.is_some() {
            self.session
                .set_credentials(user, pass.map(String::into_bytes));
        }
        self.open_socket(url);
    }

    fn open_socket(&mut self, url: Option<String>) {
        let weak = self.this.clone();
        let sink = move |serial, event: SocketEvent| {
            // Opening and closing act at once; what received bytes call for waits for
            // the messages that arrived with them (`Output::Later`).
            let output = match event {
                SocketEvent::Bytes(_) => Output::Later,
                _ => Output::Now,
            };
            with_weak_output(&weak, output, |inner, _| inner.socket_event(serial, event));
        };
        if let Err(url) = self.transport.open(url, sink) {
            self.log(
                LogLevel::Error,
                &format!("cannot open a websocket to {url}"),
            );
            self.session.handle_connection_lost(js::now());
        }
    }

    fn socket_event(&mut self, serial: u64, event: SocketEvent) {
        if !self.transport.is_current(serial) {
            return;
        }
        match event {
            SocketEvent::Open => {
                self.transport.opened();
                self.session.handle_transport_open(js::now());
            }
            SocketEvent::Bytes(bytes) => {
                let now = js::now();
                self.session.handle_message(now, bytes);
                self.receive(now);
            }
            SocketEvent::Text => {
                let e = SessionError::protocol(
                    ReasonCode::ProtocolError,
                    "a websocket text message: mqtt over websocket is binary only",
                );
                self.session.handle_transport_error(e);
                self.receive(js::now());
            }
            SocketEvent::Closed(code, reason) => {
                self.log(
                    LogLevel::Info,
                    &format!("socket closed (code {code} {reason})"),
                );
                self.transport.closed(code, reason);
                self.transport.close();
                self.session.handle_connection_lost(js::now());
            }
        }
    }

    /// Decodes one batch of what was received; the caller's `process` hands its events to
    /// the listeners, and a microtask decodes the next batch. A microtask rather than a
    /// macrotask (a `MessageChannel` task): memory was as flat either way (3 MiB for
    /// 100,000 packets in one message), delivery a little faster (259 against 276 ms), and
    /// no timer fires in the middle of a message, as before batching. While a step is
    /// scheduled, new bytes wait for it (in order).
    fn receive(&mut self, now: Millis) {
        if self.transport.receive_scheduled() {
            return;
        }
        let more = self
            .session
            .decode_batch(now, RECEIVE_BATCH_PACKETS, RECEIVE_BATCH_BYTES);
        if more && self.transport.schedule_receive() {
            let w = self.this.clone();
            let step = Closure::once_into_js(move || {
                with_weak_output(&w, Output::Later, |inner, _| {
                    inner.transport.receive_ran();
                    inner.receive(js::now());
                });
            });
            queue_microtask(&step);
        }
    }

    /// A message goes to the `message` listeners, then to each subscription listener whose
    /// filter it matches.
    fn deliver(&mut self, mut p: Publish, calls: &mut Deferred) {
        // Routed before the message is made: routing takes the subscription identifiers
        // the client picked itself out of `p`, and the message must not show them.
        let routed = self.routing.listeners_for(&mut p);
        let props = options::message_properties(&p.properties);
        let message = js::message(&p.topic, &p.payload, p.qos as u8, p.retain, p.dup, props);
        let args = std::slice::from_ref(&message);
        calls.emit(&self.listeners, "message", args);
        for f in routed {
            calls.call(&f, args);
        }
    }

    // ----- API calls (from `MqttClient`) -----

    /// Publishes at once, or behind the backlog while the socket buffer is full.
    pub(super) fn publish(&mut self, publish: Publish, pending: Pending, calls: &mut Deferred) {
        if self.requests.backlog_len() == 0 && !self.transport.above_high_water() {
            let now = self.transport.batch_time();
            self.start_publish(now, publish, pending, calls);
            return;
        }
        // Validate now, so a bad publish fails at once rather than after the wait.
        if let Err(e) = crate::mqtt::topic::validate_topic_name(&publish.topic) {
            calls.reject(pending, SessionError::from(e).into());
            return;
        }
        self.requests.push_backlog(publish, pending);
        self.drain_backlog(calls);
    }

    /// Once the socket buffer is below the low-water mark, hands waiting publishes to the
    /// session until it is back at the high-water mark; polls again later while some still
    /// wait. Filling only to the low-water mark left the socket idle between polls: the
    /// buffer emptied within the 10 ms between them, and a burst of 200,000 QoS 0
    /// publishes had the page 20% idle (CPU profile). The clock is read once per pass.
    fn drain_backlog(&mut self, calls: &mut Deferred) {
        if self.transport.below_low_water() {
            let now = js::now();
            while !self.transport.above_high_water() {
                let Some((publish, pending)) = self.requests.pop_backlog() else {
                    break;
                };
                // The transport counts it as buffered until it is flushed.
                self.start_publish(now, publish, pending, calls);
            }
        }
        if self.requests.backlog_len() > 0 {
            let w = self.this.clone();
            self.timers.poll_drain(|| {
                move || {
                    with_weak(&w, |inner, calls| {
                        inner.timers.drain_fired();
                        inner.drain_backlog(calls);
                    })
                }
            });
        }
    }

    /// Hands a publish to the session; a full batch goes out now. Its size is estimated
    /// (fixed header, packet id and property length at most 8 bytes; properties not
    /// counted), not encoded twice: it only bounds a batch and feeds the watermarks.
    fn start_publish(
        &mut self,
        now: Millis,
        publish: Publish,
        pending: Pending,
        calls: &mut Deferred,
    ) {
        let size = publish.topic.len() + publish.payload.len() + 8;
        match self.session.publish(now, publish) {
            Ok(token) => {
                self.requests.publishing(token, pending);
                if self.transport.held(size) {
                    self.transmit();
                }
            }
            Err(e) => calls.reject(pending, e.into()),
        }
    }

    pub(super) fn subscribe(
        &mut self,
        filters: Vec<SubscribeFilter>,
        mut properties: Properties,
        listener: Option<Function>,
        pending: Pending,
        calls: &mut Deferred,
    ) {
        let names: Vec<String> = filters.iter().map(|f| f.filter.clone()).collect();
        let id = self.routing.identify(&mut properties, listener.is_some());
        match self.session.subscribe(js::now(), filters, properties) {
            Ok(token) => {
                self.routing.subscribed(&names, id, listener.as_ref());
                self.requests.subscribing(token, pending, names, listener);
            }
            Err(e) => calls.reject(pending, e.into()),
        }
    }

    pub(super) fn unsubscribe(
        &mut self,
        filters: Vec<String>,
        pending: Pending,
        calls: &mut Deferred,
    ) {
        match self
            .session
            .unsubscribe(js::now(), filters.clone(), Default::default())
        {
            Ok(token) => {
                self.routing.unsubscribed(&filters);
                self.requests.unsubscribing(token, pending);
            }
            Err(e) => calls.reject(pending, e.into()),
        }
    }

    /// `end()`: resolves at once if already closed, else when the session closes.
    pub(super) fn end(
        &mut self,
        opts: options::EndOptions,
        pending: Pending,
        calls: &mut Deferred,
    ) {
        if self.session.state() == State::Closed {
            calls.resolve(pending, &JsValue::UNDEFINED);
            return;
        }
        self.requests.wait_end(pending);
        if opts.force {
            self.session.close(js::now());
        } else {
            self.session.end(js::now(), opts.reason_code, opts.timeout);
        }
    }

    /// `stats()`: the session's counters, with the backlog counted as queued.
    pub(super) fn stats(&self) -> JsValue {
        let s = self.session.stats();
        let o = Object::new();
        js::set(&o, "messagesSent", s.messages_sent as f64);
        js::set(&o, "messagesReceived", s.messages_received as f64);
        js::set(&o, "bytesSent", s.bytes_sent as f64);
        js::set(&o, "bytesReceived", s.bytes_received as f64);
        js::set(&o, "inflight", s.inflight as f64);
        let queued = s.queued + self.requests.backlog_len();
        js::set(&o, "queued", queued as f64);
        js::set(&o, "reconnects", s.reconnects as f64);
        if let Some(rtt) = s.last_ping_rtt {
            js::set(&o, "lastPingRtt", rtt as f64);
        }
        o.into()
    }
}
