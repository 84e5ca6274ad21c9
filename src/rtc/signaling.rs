//! `MqttSignaling`: presence and WebRTC signaling over an `MqttClient`, so a page needs no
//! server but the MQTT broker.
//!
//! The wire format is docs/signaling-protocol.md (version
//! [`PROTOCOL_VERSION`]; every message carries it as `"v"`). Topics, under
//! `<prefix>/<room>/` (prefix defaults to `mqtt-rtc`):
//! - `presence/<peerId>`: retained JSON `{"v","peerId","meta","since","ts"}`, republished as a
//!   heartbeat; an empty retained payload (sent by `stop()`, or by the broker as the Will
//!   from [`MqttSignaling::will`]) means the peer left. A peer not heard of for
//!   `rtc_core::room::PEER_TIMEOUT_MS` (by this side's clock: `ts` is informative only)
//!   is gone.
//! - `inbox/<peerId>`: QoS 1, never retained, JSON `{"v","from","signal"}` where `signal` is a
//!   `SignalMessage` (its `session` names the sender's peer connection), or
//!   `{"v","from","reject":{"session"}}`: `from` refused the call of the receiver's peer
//!   `session` (its `onIncoming` hook said no, or its peer could not be made).
//!
//! Incoming calls: the offer that opens one is held by the room while the peer is made,
//! which may wait (the `onIncoming` hook and an `iceServers` function may be async);
//! signals arriving meanwhile are held too and delivered after the offer.
//!
//! The decisions (roster, expiry, heartbeat, which call a signal belongs to, stale and own
//! signals) are made by the pure [`Room`] of `rtc_core::room`; this driver only reads
//! messages into its inputs (each signal parsed once into a typed `Signal`), acts on its
//! outputs with no borrow held (so a listener may call back into this object), and calls
//! the `RtcPeer`s of its calls in Rust. Malformed or oversized signals become `error`
//! events, never panics.

use std::any::Any;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::{
    borrow, bury, check_peer_options, read, report, resolve_peer_options, sys, Deferred, RtcPeer,
    Signal,
};
use crate::client::{MqttClient, MqttError};
use crate::error_code::ErrorCode;
use crate::rtc_core::room::{
    check_signal_size, validate_name, Output, PeerInfo, Presence, Room, MAX_SIGNAL_BYTES,
};
use crate::rtc_core::signal::{check_version, PROTOCOL_VERSION};
use crate::web::{self as js, Listeners, Timer};

const DEFAULT_PREFIX: &str = "mqtt-rtc";

/// The peer of one call, with the listeners this object gave it.
struct CallPeer {
    peer: RtcPeer,
    /// The `signal` and `close` listeners; they go with the call.
    _listeners: Vec<Box<dyn Any>>,
}

/// The message callbacks given to the client while subscribed (presence, inbox).
struct Subscriptions {
    _presence: Closure<dyn FnMut(JsValue)>,
    _inbox: Closure<dyn FnMut(JsValue)>,
}

/// The handle the room keeps per call: released (buried) when the call ends.
type Handle = Rc<CallPeer>;

struct Inner {
    client: MqttClient,
    room_name: String,
    prefix: String,
    meta: JsValue,
    since: f64,
    room: Room<JsValue, Handle>,
    listeners: Listeners,
    /// The presence and inbox message callbacks, while subscribed.
    subscriptions: Option<Subscriptions>,
    /// Fires at the room's next deadline (heartbeat or expiry); cleared on drop.
    timer: Option<Timer>,
    /// `SignalingOptions.peer`: the options of peers made for incoming calls.
    peer_defaults: JsValue,
    /// `SignalingOptions.onIncoming`: decides per caller (accept, reject, options).
    on_incoming: Option<Function>,
}

/// Presence and signaling over an `MqttClient`; see the type definitions.
#[wasm_bindgen(skip_typescript)]
pub struct MqttSignaling {
    inner: Rc<RefCell<Inner>>,
}

fn topic(prefix: &str, room: &str, kind: &str, peer: &str) -> String {
    format!("{prefix}/{room}/{kind}/{peer}")
}

impl Inner {
    fn topic(&self, kind: &str, peer: &str) -> String {
        topic(&self.prefix, &self.room_name, kind, peer)
    }

    fn presence_filter(&self) -> String {
        format!("{}/{}/presence/+", self.prefix, self.room_name)
    }
}

fn peer_info_js(p: &PeerInfo<JsValue>) -> JsValue {
    let o = Object::new();
    js::set(&o, "peerId", p.peer_id.as_str());
    js::set(&o, "meta", p.meta.clone());
    js::set(&o, "since", p.since);
    o.into()
}

fn invalid_argument(message: impl Into<String>) -> JsValue {
    MqttError::from_code(ErrorCode::InvalidArgument, message).into_js()
}

fn invalid_signal(message: impl Into<String>) -> JsValue {
    MqttError::from_code(ErrorCode::InvalidSignal, message).into_js()
}

/// Calls the listeners of `event` with no borrow held.
fn emit(inner: &Rc<RefCell<Inner>>, event: &str, args: &[JsValue]) {
    let mut deferred = Deferred::new();
    match borrow(inner) {
        Ok(i) => deferred.emit(&i.listeners, event, args),
        Err(e) => return report(&e),
    }
    deferred.run();
}

/// An object's plain-object field, or an empty object.
fn object_or_empty(v: JsValue) -> JsValue {
    if v.is_object() {
        v
    } else {
        Object::new().into()
    }
}

/// The text of a received message (its payload as UTF-8, invalid bytes replaced).
fn text_of(m: &JsValue) -> String {
    js::bytes_of(&js::get(m, "payload"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[wasm_bindgen(js_class = MqttSignaling)]
impl MqttSignaling {
    #[wasm_bindgen(constructor)]
    pub fn new(client: &MqttClient, options: JsValue) -> Result<MqttSignaling, JsValue> {
        let room = js::get(&options, "room")
            .as_string()
            .ok_or_else(|| invalid_argument("room is required"))?;
        validate_name("room", &room).map_err(invalid_argument)?;
        let peer_id = js::get(&options, "peerId")
            .as_string()
            .unwrap_or_else(|| client.client_id());
        validate_name("peerId", &peer_id).map_err(invalid_argument)?;
        let prefix = js::get(&options, "prefix")
            .as_string()
            .unwrap_or_else(|| DEFAULT_PREFIX.into());
        if prefix.is_empty() || prefix.contains(['+', '#', '\0']) {
            return Err(invalid_argument("invalid prefix"));
        }
        let peer_defaults = js::get(&options, "peer");
        check_peer_options(&peer_defaults).map_err(MqttError::into_js)?;
        let on_incoming = match js::get(&options, "onIncoming") {
            v if js::is_absent(&v) => None,
            v => Some(
                v.dyn_into::<Function>()
                    .map_err(|_| invalid_argument("onIncoming must be a function"))?,
            ),
        };
        Ok(MqttSignaling {
            inner: Rc::new(RefCell::new(Inner {
                client: client.handle(),
                room_name: room,
                prefix,
                meta: object_or_empty(js::get(&options, "meta")),
                since: js_sys::Date::now(),
                room: Room::new(peer_id),
                listeners: Listeners::default(),
                subscriptions: None,
                timer: None,
                peer_defaults,
                on_incoming,
            })),
        })
    }

    /// The Will to put in `ConnectOptions.will`: the broker clears this peer's presence at
    /// once when its connection dies.
    pub fn will(room: String, peer_id: String, prefix: Option<String>) -> JsValue {
        let prefix = prefix.unwrap_or_else(|| DEFAULT_PREFIX.into());
        let o = Object::new();
        js::set(&o, "topic", topic(&prefix, &room, "presence", &peer_id));
        js::set(&o, "payload", "");
        js::set(&o, "qos", 1);
        js::set(&o, "retain", true);
        o.into()
    }

    #[wasm_bindgen(getter, js_name = peerId)]
    pub fn peer_id(&self) -> Result<String, JsValue> {
        read(&self.inner, |i| i.room.peer_id().to_string())
    }

    /// Subscribes to presence and the own inbox, then announces presence.
    pub fn start(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let (client, presence_filter, inbox, presence_fn, inbox_fn) = {
                let mut i = borrow(&inner).map_err(MqttError::into_js)?;
                let (presence_fn, inbox_fn, callbacks) = message_callbacks(&inner);
                // Replacing the callbacks of an earlier start: the client no longer
                // routes to them once re-subscribed, but may be calling one now.
                if let Some(old) = i.subscriptions.replace(callbacks) {
                    bury(Box::new(old));
                }
                i.room.start(js::now());
                let inbox = i.topic("inbox", i.room.peer_id());
                (
                    i.client.handle(),
                    i.presence_filter(),
                    inbox,
                    presence_fn,
                    inbox_fn,
                )
            };
            let qos1 = Object::new();
            js::set(&qos1, "qos", 1);
            JsFuture::from(client.subscribe(inbox.into(), qos1.clone().into(), inbox_fn)).await?;
            JsFuture::from(client.subscribe(presence_filter.into(), qos1.into(), presence_fn))
                .await?;
            announce(&inner).await?;
            schedule(&inner);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Who is present now (not counting this peer).
    pub fn peers(&self) -> Result<Array, JsValue> {
        read(&self.inner, |i| i.room.peers().map(peer_info_js).collect())
    }

    /// Opens a call to `peerId`: an `RtcPeer` whose signals travel through MQTT.
    pub fn call(&self, peer_id: String, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            if !borrow(&inner)
                .map_err(MqttError::into_js)?
                .room
                .is_started()
            {
                let e = crate::rtc_core::room::CallError::NotStarted;
                return Err(MqttError::from_code(e.code(), e.message()).into_js());
            }
            // Fresh TURN credentials for this call, before the room opens it.
            let options = resolve_peer_options(&options)
                .await
                .map_err(MqttError::into_js)?;
            let polite = borrow(&inner)
                .map_err(MqttError::into_js)?
                .room
                .open_call(&peer_id)
                .map_err(|e| MqttError::from_code(e.code(), e.message()).into_js())?;
            // Closes the previous call with this peer, if any.
            run_outputs(&inner);
            let peer = open_peer(&inner, &peer_id, polite, &options, None)?;
            // Nothing, unless a call was created between `open_call` and here (then
            // that one is closed).
            run_outputs(&inner);
            // An outgoing call (no remote session) is always recorded: `None` cannot
            // happen, but is an error rather than a panic.
            peer.map(JsValue::from).ok_or_else(|| {
                MqttError::from_code(ErrorCode::Closed, "the call was replaced").into_js()
            })
        })
    }

    pub fn on(&self, event: String, listener: Function) -> Result<MqttSignaling, JsValue> {
        borrow(&self.inner)
            .map_err(MqttError::into_js)?
            .listeners
            .add(event, listener);
        Ok(MqttSignaling {
            inner: self.inner.clone(),
        })
    }

    pub fn off(&self, event: String, listener: Function) -> Result<MqttSignaling, JsValue> {
        borrow(&self.inner)
            .map_err(MqttError::into_js)?
            .listeners
            .remove(&event, &listener);
        Ok(MqttSignaling {
            inner: self.inner.clone(),
        })
    }

    /// Clears presence, unsubscribes, and closes every peer of this object.
    pub fn stop(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let (client, presence, filters, subscriptions) = {
                let mut i = borrow(&inner).map_err(MqttError::into_js)?;
                if !i.room.stop() {
                    return Ok(JsValue::UNDEFINED);
                }
                i.timer = None;
                let own = i.room.peer_id().to_string();
                let filters =
                    Array::of2(&i.topic("inbox", &own).into(), &i.presence_filter().into());
                (
                    i.client.handle(),
                    i.topic("presence", &own),
                    filters,
                    i.subscriptions.take(),
                )
            };
            // Closes every call.
            run_outputs(&inner);
            let retained = Object::new();
            js::set(&retained, "qos", 1);
            js::set(&retained, "retain", true);
            let cleared =
                JsFuture::from(client.publish(presence.into(), "".into(), retained.into())).await;
            let unsubscribed = JsFuture::from(client.unsubscribe(filters.into())).await;
            // The message closures may only go once the client no longer routes to them.
            drop(subscriptions);
            cleared?;
            unsubscribed?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// The presence and inbox message callbacks (holding weak references), as the functions
/// to subscribe with and the closures to keep.
fn message_callbacks(inner: &Rc<RefCell<Inner>>) -> (JsValue, JsValue, Subscriptions) {
    let weak = Rc::downgrade(inner);
    let on_presence = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
        if let Some(rc) = weak.upgrade() {
            handle_presence(&rc, &m);
        }
    });
    let weak = Rc::downgrade(inner);
    let on_inbox = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
        if let Some(rc) = weak.upgrade() {
            handle_inbox(&rc, &m);
        }
    });
    (
        on_presence.as_ref().clone(),
        on_inbox.as_ref().clone(),
        Subscriptions {
            _presence: on_presence,
            _inbox: on_inbox,
        },
    )
}

/// Publishes this peer's presence (retained).
async fn announce(inner: &Rc<RefCell<Inner>>) -> Result<JsValue, JsValue> {
    let (client, presence, body) = {
        let i = borrow(inner).map_err(MqttError::into_js)?;
        let body = Object::new();
        js::set(&body, "v", PROTOCOL_VERSION);
        js::set(&body, "peerId", i.room.peer_id());
        js::set(&body, "meta", i.meta.clone());
        js::set(&body, "since", i.since);
        // Informative only: receivers judge liveness by their own clock.
        js::set(&body, "ts", js_sys::Date::now());
        (
            i.client.handle(),
            i.topic("presence", i.room.peer_id()),
            JSON::stringify(&body)?,
        )
    };
    let opts = Object::new();
    js::set(&opts, "qos", 1);
    js::set(&opts, "retain", true);
    JsFuture::from(client.publish(presence.into(), body.into(), opts.into())).await
}

/// Arms the timer for the room's next deadline (or none).
fn schedule(inner: &Rc<RefCell<Inner>>) {
    let mut i = match borrow(inner) {
        Ok(i) => i,
        Err(e) => return report(&e),
    };
    let Some(at) = i.room.poll_timeout() else {
        i.timer = None;
        return;
    };
    let weak = Rc::downgrade(inner);
    i.timer = Some(Timer::new(at.saturating_sub(js::now()), move || {
        on_timer(&weak)
    }));
}

fn on_timer(weak: &Weak<RefCell<Inner>>) {
    let Some(rc) = weak.upgrade() else { return };
    match borrow(&rc) {
        Ok(mut i) => {
            // Fired: dropping it frees its callback (the one running now) on a later turn.
            i.timer = None;
            i.room.handle_timeout(js::now());
        }
        Err(e) => return report(&e),
    }
    run_outputs(&rc);
    schedule(&rc);
}

/// Reads a presence message into the room's input.
fn read_presence(m: &JsValue) -> (String, Presence<JsValue>) {
    let topic = js::get(m, "topic").as_string().unwrap_or_default();
    let peer_id = topic.rsplit('/').next().unwrap_or_default().to_string();
    let text = text_of(m);
    if text.is_empty() {
        return (peer_id, Presence::Left);
    }
    if text.len() > MAX_SIGNAL_BYTES {
        return (peer_id, Presence::Malformed);
    }
    let Ok(body) = JSON::parse(&text) else {
        return (peer_id, Presence::Malformed);
    };
    let since = js::get(&body, "since")
        .as_f64()
        .unwrap_or_else(js_sys::Date::now);
    let meta = object_or_empty(js::get(&body, "meta"));
    (peer_id, Presence::Announce { meta, since })
}

fn handle_presence(inner: &Rc<RefCell<Inner>>, m: &JsValue) {
    let (peer_id, presence) = read_presence(m);
    match borrow(inner) {
        Ok(mut i) => i.room.handle_presence(js::now(), &peer_id, presence),
        Err(e) => return report(&e),
    }
    run_outputs(inner);
    // A new peer may bring the first expiry forward; re-arming is cheap.
    schedule(inner);
}

/// A refusal of a call: `{"from", "reject": {"session"}}`.
struct Refusal {
    from: String,
    /// The session of the refused (receiving) side's peer.
    session: String,
}

/// Reads an inbox message: the sender and its signal, parsed once, or a refusal.
fn read_envelope(text: &str) -> Result<Result<(String, Signal), Refusal>, String> {
    check_signal_size(text.len())?;
    let v = JSON::parse(text).map_err(|_| "signal is not json".to_string())?;
    let version = js::get(&v, "v");
    if !js::is_absent(&version) {
        check_version(Some(version.as_f64().ok_or("v must be a number")?))?;
    }
    let from = js::get(&v, "from")
        .as_string()
        .ok_or("signal without from")?;
    let reject = js::get(&v, "reject");
    if !js::is_absent(&reject) {
        let session = js::get(&reject, "session")
            .as_string()
            .ok_or("reject without session")?;
        return Ok(Err(Refusal { from, session }));
    }
    let signal = Signal::parse(&js::get(&v, "signal")).map_err(|e| e.text().to_string())?;
    Ok(Ok((from, signal)))
}

fn handle_inbox(inner: &Rc<RefCell<Inner>>, m: &JsValue) {
    let envelope = match read_envelope(&text_of(m)) {
        Ok(Err(refusal)) => {
            let refused = match borrow(inner) {
                Ok(mut i) => i.room.handle_refusal(&refusal.from, &refusal.session),
                Err(e) => return report(&e),
            };
            if let Some(call) = refused {
                let e = MqttError::from_code(
                    ErrorCode::CallRejected,
                    format!("{} rejected the call", refusal.from),
                );
                if let Err(e) = call.peer.fail(e) {
                    emit(inner, "error", &[e]);
                }
                bury(Box::new(call));
            }
            return run_outputs(inner);
        }
        Ok(Ok(signal)) => Ok(signal),
        Err(e) => Err(e),
    };
    let ended = {
        let mut i = match borrow(inner) {
            Ok(i) => i,
            Err(e) => return report(&e),
        };
        // A call whose peer was closed locally, its close event not seen yet: over.
        let ended = match &envelope {
            Ok((from, _)) if i.room.call_peer(from).is_some_and(|c| c.peer.is_closed()) => {
                i.room.end_call(from)
            }
            _ => None,
        };
        i.room.handle_inbox(envelope);
        ended
    };
    if let Some(call) = ended {
        bury(Box::new(call));
    }
    run_outputs(inner);
}

/// Acts on the room's outputs, one at a time, with no borrow held.
fn run_outputs(inner: &Rc<RefCell<Inner>>) {
    loop {
        let output = match borrow(inner) {
            Ok(mut i) => i.room.poll(),
            Err(e) => return report(&e),
        };
        let Some(output) = output else { return };
        match output {
            Output::Announce => {
                let rc = inner.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    // A missed heartbeat is retried at the next one.
                    let _ = announce(&rc).await;
                });
            }
            Output::PeerJoined(p) => emit(inner, "peer-joined", &[peer_info_js(&p)]),
            Output::PeerLeft(p) => emit(inner, "peer-left", &[peer_info_js(&p)]),
            Output::CreatePeer {
                remote,
                polite,
                signal,
            } => {
                let rc = inner.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    incoming_call(&rc, &remote, polite, signal).await;
                });
            }
            Output::Deliver { peer, signal } => deliver(inner, &peer.peer, signal),
            Output::ClosePeer(call) => {
                // Its close event finds the call gone from the room already.
                if let Err(e) = call.peer.close() {
                    emit(inner, "error", &[e]);
                }
                bury(Box::new(call));
            }
            Output::Dropped { from, reason } => {
                sys::console_debug(&format!("[mqtt-rtc] signal of {from} dropped: {reason:?}"))
            }
            Output::Invalid(message) => emit(inner, "error", &[invalid_signal(message)]),
        }
    }
}

/// The `PeerInfo` of `remote` for `incoming` and `onIncoming`.
fn caller_info(inner: &Rc<RefCell<Inner>>, remote: &str) -> Result<JsValue, MqttError> {
    let info = borrow(inner)?.room.peer(remote).map(peer_info_js);
    Ok(info.unwrap_or_else(|| {
        peer_info_js(&PeerInfo {
            peer_id: remote.to_string(),
            meta: Object::new().into(),
            since: js_sys::Date::now(),
            last_seen: 0,
        })
    }))
}

/// Asks `onIncoming` about a caller: `Ok(None)` to refuse, else the peer options (the
/// hook's object merged over `SignalingOptions.peer`). The hook runs with no borrow held.
async fn decide(inner: &Rc<RefCell<Inner>>, info: &JsValue) -> Result<Option<JsValue>, JsValue> {
    let (hook, defaults) = {
        let i = borrow(inner).map_err(MqttError::into_js)?;
        (i.on_incoming.clone(), i.peer_defaults.clone())
    };
    let Some(hook) = hook else {
        return Ok(Some(defaults));
    };
    let mut answer = hook.call1(&JsValue::UNDEFINED, info)?;
    if answer.has_type::<Promise>() || js::get(&answer, "then").is_function() {
        answer = JsFuture::from(Promise::resolve(&answer)).await?;
    }
    if answer.as_bool() == Some(false) {
        return Ok(None);
    }
    if js::is_absent(&answer) || answer.as_bool() == Some(true) {
        return Ok(Some(defaults));
    }
    if !answer.is_object() {
        return Err(invalid_argument(
            "onIncoming must return true, false, undefined or RtcPeerOptions",
        ));
    }
    let merged = Object::new();
    if defaults.is_object() {
        Object::assign(&merged, defaults.unchecked_ref());
    }
    Object::assign(&merged, answer.unchecked_ref());
    Ok(Some(merged.into()))
}

/// An offer opened a call: asks `onIncoming`, resolves the peer options, makes the peer,
/// emits `incoming`, then hands it the offer and the signals held meanwhile. A refusal
/// (or a hook or option failure, also an `error` event) tells the caller.
async fn incoming_call(inner: &Rc<RefCell<Inner>>, remote: &str, polite: bool, signal: Signal) {
    let session = signal.session().to_string();
    let info = match caller_info(inner, remote) {
        Ok(info) => info,
        Err(e) => return report(&e),
    };
    let options = match decide(inner, &info).await {
        Ok(Some(options)) => resolve_peer_options(&options)
            .await
            .map(Some)
            .map_err(MqttError::into_js),
        other => other,
    };
    let peer = options.and_then(|o| match o {
        Some(o) => open_peer(inner, remote, polite, &o, Some(session.clone())).map(Some),
        None => Ok(None),
    });
    match peer {
        Ok(Some(Some(peer))) => {
            emit(inner, "incoming", &[peer.clone().into(), info]);
            deliver(inner, &peer, signal);
        }
        // Replaced or stopped while the peer was made: it is closed already.
        Ok(Some(None)) => {}
        Ok(None) => refuse(inner, remote, &session),
        Err(e) => {
            emit(inner, "error", &[e]);
            refuse(inner, remote, &session);
        }
    }
    // The signals held while the peer was made, or the close of a replaced call.
    run_outputs(inner);
}

/// Refuses the incoming call of `session`: tells the caller (`reject`), unless the call
/// is over already.
fn refuse(inner: &Rc<RefCell<Inner>>, remote: &str, session: &str) {
    let (client, inbox, body) = {
        let mut i = match borrow(inner) {
            Ok(i) => i,
            Err(e) => return report(&e),
        };
        if !i.room.call_refused(remote, session) {
            return;
        }
        let reject = Object::new();
        js::set(&reject, "session", session);
        let envelope = Object::new();
        js::set(&envelope, "v", PROTOCOL_VERSION);
        js::set(&envelope, "from", i.room.peer_id());
        js::set(&envelope, "reject", reject);
        let Ok(body) = JSON::stringify(&envelope) else {
            return;
        };
        (i.client.handle(), i.topic("inbox", remote), body)
    };
    let opts = Object::new();
    js::set(&opts, "qos", 1);
    let p = client.publish(inbox.into(), body.into(), opts.into());
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = JsFuture::from(p).await {
            if let Some(rc) = weak.upgrade() {
                emit(&rc, "error", &[e]);
            }
        }
    });
}

/// Hands a signal to a peer; its failure is an `error` event (unless the peer closed).
fn deliver(inner: &Rc<RefCell<Inner>>, peer: &RtcPeer, signal: Signal) {
    let applied = peer.accept(signal);
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = JsFuture::from(applied).await {
            // A signal racing with a close is expected, not worth an error.
            let closing =
                js::get(&e, "code").as_string().as_deref() == Some(ErrorCode::Closed.as_str());
            if let Some(rc) = weak.upgrade().filter(|_| !closing) {
                emit(&rc, "error", &[e]);
            }
        }
    });
}

/// Creates the `RtcPeer` of a call with `remote`, wired to publish its signals to the
/// remote inbox, and records it in the room. `polite` comes from the two ids (the room
/// decides), so a `polite` in `options` is overridden. `None`: the incoming call of
/// `remote_session` is no longer awaited, and the new peer was closed.
fn open_peer(
    inner: &Rc<RefCell<Inner>>,
    remote: &str,
    polite: bool,
    options: &JsValue,
    remote_session: Option<String>,
) -> Result<Option<RtcPeer>, JsValue> {
    let opts = Object::new();
    if options.is_object() {
        Object::assign(&opts, options.unchecked_ref());
    }
    js::set(&opts, "polite", polite);
    let peer = RtcPeer::create(&opts.into()).map_err(MqttError::into_js)?;
    let local_session = peer.session_id()?;
    let on_signal = signal_forwarder(inner, remote)?;
    let on_close = close_watcher(inner, remote, &local_session);
    peer.on(
        "signal".into(),
        on_signal.as_ref().unchecked_ref::<Function>().clone(),
    )?;
    peer.on(
        "close".into(),
        on_close.as_ref().unchecked_ref::<Function>().clone(),
    )?;
    let call = Rc::new(CallPeer {
        peer: peer.clone(),
        _listeners: vec![Box::new(on_signal), Box::new(on_close)],
    });
    let recorded = borrow(inner)
        .map_err(MqttError::into_js)?
        .room
        .call_created(remote, call.clone(), local_session, remote_session);
    if !recorded {
        peer.close()?;
        bury(Box::new(call));
        return Ok(None);
    }
    Ok(Some(peer))
}

/// The `signal` listener of a call's peer: publishes each signal to the remote inbox.
fn signal_forwarder(
    inner: &Rc<RefCell<Inner>>,
    remote: &str,
) -> Result<Closure<dyn FnMut(JsValue)>, JsValue> {
    let (from, inbox) = {
        let i = borrow(inner).map_err(MqttError::into_js)?;
        (i.room.peer_id().to_string(), i.topic("inbox", remote))
    };
    let weak = Rc::downgrade(inner);
    Ok(Closure::<dyn FnMut(JsValue)>::new(
        move |signal: JsValue| {
            let Some(rc) = weak.upgrade() else { return };
            let client = match borrow(&rc) {
                Ok(i) => i.client.handle(),
                Err(e) => return report(&e),
            };
            let envelope = Object::new();
            js::set(&envelope, "v", PROTOCOL_VERSION);
            js::set(&envelope, "from", from.as_str());
            js::set(&envelope, "signal", signal);
            let Ok(body) = JSON::stringify(&envelope) else {
                return;
            };
            let opts = Object::new();
            js::set(&opts, "qos", 1);
            let p = client.publish(inbox.clone().into(), body.into(), opts.into());
            let weak = Rc::downgrade(&rc);
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = JsFuture::from(p).await {
                    if let Some(rc) = weak.upgrade() {
                        emit(&rc, "error", &[e]);
                    }
                }
            });
        },
    ))
}

/// The `close` listener of a call's peer: the call ends with it.
fn close_watcher(
    inner: &Rc<RefCell<Inner>>,
    remote: &str,
    local_session: &str,
) -> Closure<dyn FnMut()> {
    let weak = Rc::downgrade(inner);
    let remote = remote.to_string();
    let local_session = local_session.to_string();
    Closure::<dyn FnMut()>::new(move || {
        let Some(rc) = weak.upgrade() else { return };
        let ended = match borrow(&rc) {
            Ok(mut i) => i.room.peer_closed(&remote, &local_session),
            Err(e) => return report(&e),
        };
        // This listener is running now: its call (which owns it) goes on a later tick.
        if let Some(call) = ended {
            bury(Box::new(call));
        }
    })
}

#[wasm_bindgen(typescript_custom_section)]
const TS_SIGNALING: &'static str = r#"
/** A peer present in the room. */
export interface PeerInfo {
  peerId: string;
  /** The `meta` the peer announced (an empty object when it gave none). */
  meta: Record<string, string>;
  /** When the peer started, in milliseconds since the epoch (its `Date.now()`). */
  since: number;
}

export interface SignalingOptions {
  /** The room: presence and calls are under `<prefix>/<room>/`. No '/', '+' or '#'. */
  room: string;
  /** This peer's id in the room; default: the client's clientId. No '/', '+' or '#'. */
  peerId?: string;
  /** Topic prefix; default "mqtt-rtc". */
  prefix?: string;
  /** Announced with this peer's presence, seen by the others as `PeerInfo.meta`. */
  meta?: Record<string, string>;
  /** Options of the peers made for incoming calls: the ICE settings a callee needs behind
   *  a NAT (`iceServers`, possibly a function called per call, `iceTransportPolicy`, ...),
   *  and `stream`/`channels` to offer every caller. Checked here ("INVALID_ARGUMENT"). */
  peer?: RtcPeerOptions;
  /** Decides per caller, before its peer exists: `false` refuses the call (the caller's
   *  peer gets an "error" with code "CALL_REJECTED", then closes; no `incoming` here),
   *  `true` or `undefined` accepts with `peer`, an object accepts with it merged over
   *  `peer`. May be async. A hook that throws or rejects refuses the call and is
   *  reported as an "error" event here. */
  onIncoming?: (from: PeerInfo) => RtcPeerOptions | boolean | void | Promise<RtcPeerOptions | boolean | void>;
}

export interface SignalingEvents {
  /** A peer announced its presence. */
  "peer-joined": (p: PeerInfo) => void;
  /** A peer cleared its presence, its Will fired, or its heartbeats stopped. */
  "peer-left": (p: PeerInfo) => void;
  /** A peer called this one (and `onIncoming`, if any, accepted): `peer` is connecting
   *  already; listen on it at once. */
  incoming: (peer: RtcPeer, from: PeerInfo) => void;
  /** A malformed presence or signal ("INVALID_SIGNAL"), a signal that failed, or an
   *  incoming call refused because `onIncoming` threw or gave invalid options. */
  error: (e: MqttError) => void;
}

/** Signaling and presence over an MqttClient. Topics under `<prefix>/<room>/`. */
export class MqttSignaling {
  /** Throws MqttError "INVALID_ARGUMENT" for a missing or invalid room, peerId or prefix. */
  constructor(client: MqttClient, options: SignalingOptions);
  free(): void;
  /** The Will to put in ConnectOptions.will so the broker announces an abrupt departure at once. */
  static will(room: string, peerId: string, prefix?: string): WillOptions;
  readonly peerId: string;
  /** Announces presence (retained status) and starts listening for calls. */
  start(): Promise<void>;
  /** Who is present now (not counting this peer). */
  peers(): PeerInfo[];
  /** Calls peer `peerId`: an RtcPeer whose signals travel through MQTT. `polite` is chosen from the two peer ids (both sides agree),
   *  so a `polite` given here is ignored. An `iceServers` function is called (and awaited)
   *  first. Rejects with "NOT_STARTED" before start(), "INVALID_ARGUMENT" for bad options.
   *  A callee that refuses makes the peer emit "error" ("CALL_REJECTED") and close. */
  call(peerId: string, options?: RtcPeerOptions): Promise<RtcPeer>;
  on<K extends keyof SignalingEvents>(event: K, listener: SignalingEvents[K]): this;
  off<K extends keyof SignalingEvents>(event: K, listener: SignalingEvents[K]): this;
  /** Clears presence, closes peers. */
  stop(): Promise<void>;
}
"#;
