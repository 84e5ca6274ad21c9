//! The promises the client owes JavaScript: the connect waiter, publishes, subscribes and
//! unsubscribes by session token, `end()` waiters, and publishes waiting for the socket
//! buffer (the backlog). Every settlement goes through the caller's [`Deferred`], never
//! straight to JavaScript, and failing everything at close happens in [`Requests::closed`]
//! alone. It never talks to the session or the socket.

use std::collections::VecDeque;

use js_sys::{Array, Function, Object};
use wasm_bindgen::JsValue;

use crate::error_code::ErrorCode;
use crate::map::SeqMap;
use crate::mqtt::codec::{Properties, Publish, QoS, ReasonCode, SubAck};
use crate::mqtt::session::{PublishOutcome, SessionError, Token};
use crate::web::{self as js, Deferred, MqttError, Pending};

/// A SUBSCRIBE waiting for its SUBACK.
struct Subscribing {
    pending: Pending,
    filters: Vec<String>,
    listener: Option<Function>,
}

/// A publish in the backlog, in a fifth of the memory of a [`Publish`]: its properties,
/// which most publishes have none of, boxed when it has some. 200,000 QoS 0 publishes of
/// 100 bytes made at once grew wasm memory (which never shrinks) by 116 MiB, now by 32 MiB
/// (22 of it their topics and payloads); regrowing the queue took 5% of the burst.
struct Waiting {
    topic: String,
    payload: Vec<u8>,
    properties: Option<Box<Properties>>,
    packet_id: Option<u16>,
    qos: QoS,
    retain: bool,
    dup: bool,
    pending: Pending,
}

impl Waiting {
    fn new(p: Publish, pending: Pending) -> Self {
        let properties = (!p.properties.is_empty()).then(|| Box::new(p.properties));
        Waiting {
            topic: p.topic,
            payload: p.payload,
            properties,
            packet_id: p.packet_id,
            qos: p.qos,
            retain: p.retain,
            dup: p.dup,
            pending,
        }
    }

    fn publish(self) -> (Publish, Pending) {
        let mut publish = Publish {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: self.topic,
            packet_id: self.packet_id,
            payload: self.payload,
            ..Publish::default()
        };
        if let Some(p) = self.properties {
            publish.properties = *p;
        }
        (publish, self.pending)
    }
}

/// Routes to drop after a SUBACK: the filters the broker refused, and their listener.
pub(super) struct Refused {
    pub filters: Vec<String>,
    pub listener: Function,
}

pub(super) struct Requests {
    connect: Option<Pending>,
    publishes: SeqMap<Token, Pending>,
    subscribes: SeqMap<Token, Subscribing>,
    unsubscribes: SeqMap<Token, Pending>,
    end_waiters: Vec<Pending>,
    /// Publishes waiting for the socket buffer to drain, in order.
    backlog: VecDeque<Waiting>,
}

impl Requests {
    pub fn new(connect: Pending) -> Self {
        Requests {
            connect: Some(connect),
            publishes: SeqMap::new(),
            subscribes: SeqMap::new(),
            unsubscribes: SeqMap::new(),
            end_waiters: Vec::new(),
            backlog: VecDeque::new(),
        }
    }

    /// The first CONNACK: `connect()` resolves with the client.
    pub fn connected(&mut self, client: JsValue, calls: &mut Deferred) {
        if let Some(w) = self.connect.take() {
            calls.resolve(w, &client);
        }
    }

    /// `connect()` rejects with `e` if it is still waiting.
    pub fn reject_connect(&mut self, e: MqttError, calls: &mut Deferred) {
        if let Some(w) = self.connect.take() {
            calls.reject(w, e);
        }
    }

    pub fn publishing(&mut self, token: Token, pending: Pending) {
        self.publishes.insert(token, pending);
    }

    /// PUBLISH done: resolves `{ packetId?, reasonCode }` or rejects.
    pub fn publish_done(
        &mut self,
        token: Token,
        result: Result<PublishOutcome, SessionError>,
        calls: &mut Deferred,
    ) {
        if let Some(p) = self.publishes.remove(&token) {
            match result {
                Ok(o) => calls.published(p, o.packet_id, o.reason_code),
                Err(e) => calls.reject(p, e.into()),
            }
        }
    }

    pub fn subscribing(
        &mut self,
        token: Token,
        pending: Pending,
        filters: Vec<String>,
        listener: Option<Function>,
    ) {
        let s = Subscribing {
            pending,
            filters,
            listener,
        };
        self.subscribes.insert(token, s);
    }

    /// SUBACK (or failure): settles the promise with the granted list; returns the routes
    /// of the filters that were not granted, which must not get messages.
    pub fn subscribe_done(
        &mut self,
        token: Token,
        result: Result<SubAck, SessionError>,
        calls: &mut Deferred,
    ) -> Option<Refused> {
        let s = self.subscribes.remove(&token)?;
        let (settled, refused) = match result {
            Ok(ack) => {
                let (granted, refused) = granted(&s.filters, &ack);
                (Ok(granted.into()), refused)
            }
            Err(e) => (Err(e.into()), s.filters),
        };
        calls.settle(s.pending, settled);
        let listener = s.listener?;
        Some(Refused {
            filters: refused,
            listener,
        })
    }

    pub fn unsubscribing(&mut self, token: Token, pending: Pending) {
        self.unsubscribes.insert(token, pending);
    }

    pub fn unsubscribe_done(
        &mut self,
        token: Token,
        result: Result<(), SessionError>,
        calls: &mut Deferred,
    ) {
        if let Some(p) = self.unsubscribes.remove(&token) {
            let result = result.map(|()| JsValue::UNDEFINED);
            calls.settle(p, result.map_err(MqttError::from));
        }
    }

    /// `end()` resolves when the client is closed.
    pub fn wait_end(&mut self, pending: Pending) {
        self.end_waiters.push(pending);
    }

    pub fn push_backlog(&mut self, publish: Publish, pending: Pending) {
        self.backlog.push_back(Waiting::new(publish, pending));
    }

    pub fn pop_backlog(&mut self) -> Option<(Publish, Pending)> {
        self.backlog.pop_front().map(Waiting::publish)
    }

    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// The client closed: a waiting `connect()` rejects (with `error`, or CLOSED), and so
    /// does every publish still in the backlog. (Publishes the session holds fail through
    /// its own events before it reports `Closed`.) [`Requests::ended`] follows the `close` event.
    pub fn closed(&mut self, error: Option<SessionError>, calls: &mut Deferred) {
        if let Some(w) = self.connect.take() {
            let e = error.map_or_else(
                || MqttError::from_code(ErrorCode::Closed, "client ended before it connected"),
                MqttError::from,
            );
            calls.reject(w, e);
        }
        for w in self.backlog.drain(..) {
            calls.reject(
                w.pending,
                MqttError::from_code(ErrorCode::Closed, "client ended"),
            );
        }
    }

    /// After the `close` event: every `end()` resolves.
    /// The `end()` promises, for a caller that settles them later.
    pub fn take_end_waiters(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.end_waiters)
    }

    pub fn ended(&mut self, calls: &mut Deferred) {
        for w in self.end_waiters.drain(..) {
            calls.resolve(w, &JsValue::UNDEFINED);
        }
    }
}

/// `Granted[]` for a SUBACK, one per filter, and the filters it refused (reason code
/// 0x80 or above; a missing code counts as a refusal).
fn granted(filters: &[String], ack: &SubAck) -> (Array, Vec<String>) {
    let list = Array::new();
    let mut refused = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let code: u8 = ack.reason_codes.get(i).copied().unwrap_or(0x80);
        let g = Object::new();
        js::set(&g, "filter", filter.as_str());
        if !ReasonCode::is_failure_code(code) {
            js::set(&g, "qos", code);
        } else {
            refused.push(filter.clone());
        }
        js::set(&g, "reasonCode", code);
        list.push(&g);
    }
    (list, refused)
}
