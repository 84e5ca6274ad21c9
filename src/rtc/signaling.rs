//! `MqttSignaling`: presence and WebRTC signaling over an `MqttClient`, so a page needs no
//! server but the MQTT broker.
//!
//! Topics, under `<prefix>/<room>/` (prefix defaults to `mqtt-rtc`):
//! - `presence/<peerId>`: retained JSON `{"peerId","meta","since","ts"}`, republished as a
//!   heartbeat; an empty retained payload (sent by `stop()`, or by the broker as the Will
//!   from [`MqttSignaling::will`]) means the peer left. A peer whose heartbeat is older than
//!   [`PEER_TIMEOUT_MS`] is considered gone.
//! - `inbox/<peerId>`: QoS 1, never retained, JSON `{"from","signal"}` where `signal` is a
//!   `SignalMessage` (its `session` names the sender's peer connection).
//!
//! Own messages are never processed as remote ones; signals of sessions that were closed
//! are dropped; malformed or oversized signals become `error` events, never panics. JS
//! callbacks run with no borrow held, so a listener may call back into this object.

use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::RtcPeer;
use crate::client::{MqttClient, MqttError};
use crate::error_code::ErrorCode;
use crate::web::{self as js, Listeners};

/// How often presence is republished, milliseconds.
pub const HEARTBEAT_MS: f64 = 15_000.0;
/// A peer not heard of for this long has left.
pub const PEER_TIMEOUT_MS: f64 = 3.0 * HEARTBEAT_MS;
/// Largest signal accepted (an SDP with many candidates is well below).
const MAX_SIGNAL_BYTES: usize = 256 * 1024;
const DEFAULT_PREFIX: &str = "mqtt-rtc";

#[derive(Clone)]
struct PeerInfo {
    peer_id: String,
    meta: JsValue,
    since: f64,
    last_seen: f64,
}

impl PeerInfo {
    fn to_js(&self) -> JsValue {
        let o = Object::new();
        js::set(&o, "peerId", self.peer_id.as_str());
        js::set(&o, "meta", self.meta.clone());
        js::set(&o, "since", self.since);
        o.into()
    }
}

struct Call {
    peer: JsValue,
    /// The `signal` and `close` listeners given to the peer; dropped with the call.
    listeners: Vec<Box<dyn Any>>,
    /// The first session the remote side used in this call.
    remote_session: Option<String>,
    /// Our own peer's session id.
    local_session: String,
}

struct Inner {
    client: MqttClient,
    room: String,
    peer_id: String,
    prefix: String,
    meta: JsValue,
    since: f64,
    peers: BTreeMap<String, PeerInfo>,
    calls: HashMap<String, Call>,
    closed_sessions: HashSet<String>,
    listeners: Listeners,
    on_presence: Option<Closure<dyn FnMut(JsValue)>>,
    on_inbox: Option<Closure<dyn FnMut(JsValue)>>,
    heartbeat: Option<(JsValue, Closure<dyn FnMut()>)>,
    started: bool,
}

/// Presence and signaling over an `MqttClient`; see the type definitions.
#[wasm_bindgen(skip_typescript)]
pub struct MqttSignaling {
    inner: Rc<RefCell<Inner>>,
}

fn topic(prefix: &str, room: &str, kind: &str, peer: &str) -> String {
    format!("{prefix}/{room}/{kind}/{peer}")
}

fn call_method(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &JsValue::from_str(name))?.dyn_into()?;
    f.apply(target, &args.iter().collect::<Array>())
}

fn invalid_signal(message: impl Into<String>) -> JsValue {
    MqttError::from_code(ErrorCode::InvalidSignal, message).into_js()
}

fn emit(inner: &Rc<RefCell<Inner>>, event: &str, args: &[JsValue]) {
    // Collected first: a listener may call back into this object.
    let listeners = inner.borrow().listeners.of(event);
    js::call_all(&listeners, args);
}

fn validate_name(what: &str, v: &str) -> Result<(), JsValue> {
    if v.is_empty() || v.contains(['/', '+', '#', '\0']) {
        return Err(MqttError::from_code(
            ErrorCode::InvalidArgument,
            format!("{what} must be non-empty and contain no '/', '+' or '#'"),
        )
        .into_js());
    }
    Ok(())
}

#[wasm_bindgen(js_class = MqttSignaling)]
impl MqttSignaling {
    #[wasm_bindgen(constructor)]
    pub fn new(client: &MqttClient, options: JsValue) -> Result<MqttSignaling, JsValue> {
        let room = js::get(&options, "room").as_string().ok_or_else(|| {
            MqttError::from_code(ErrorCode::InvalidArgument, "room is required").into_js()
        })?;
        validate_name("room", &room)?;
        let peer_id = js::get(&options, "peerId")
            .as_string()
            .unwrap_or_else(|| client.client_id());
        validate_name("peerId", &peer_id)?;
        let prefix = js::get(&options, "prefix")
            .as_string()
            .unwrap_or_else(|| DEFAULT_PREFIX.into());
        if prefix.is_empty() || prefix.contains(['+', '#', '\0']) {
            return Err(
                MqttError::from_code(ErrorCode::InvalidArgument, "invalid prefix").into_js(),
            );
        }
        let meta = js::get(&options, "meta");
        let meta = if meta.is_object() {
            meta
        } else {
            Object::new().into()
        };
        Ok(MqttSignaling {
            inner: Rc::new(RefCell::new(Inner {
                client: client.handle(),
                room,
                peer_id,
                prefix,
                meta,
                since: js_sys::Date::now(),
                peers: BTreeMap::new(),
                calls: HashMap::new(),
                closed_sessions: HashSet::new(),
                listeners: Listeners::default(),
                on_presence: None,
                on_inbox: None,
                heartbeat: None,
                started: false,
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
    pub fn peer_id(&self) -> String {
        self.inner.borrow().peer_id.clone()
    }

    /// Subscribes to presence and the own inbox, then announces presence.
    pub fn start(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let weak = Rc::downgrade(&inner);
            let on_presence = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
                if let Some(rc) = weak.upgrade() {
                    handle_presence(&rc, &m);
                }
            });
            let weak = Rc::downgrade(&inner);
            let on_inbox = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
                if let Some(rc) = weak.upgrade() {
                    handle_inbox(&rc, &m);
                }
            });
            let (client, presence_filter, inbox, presence_fn, inbox_fn) = {
                let mut i = inner.borrow_mut();
                let presence_fn: JsValue = on_presence.as_ref().clone();
                let inbox_fn: JsValue = on_inbox.as_ref().clone();
                i.on_presence = Some(on_presence);
                i.on_inbox = Some(on_inbox);
                i.started = true;
                (
                    i.client.handle(),
                    format!("{}/{}/presence/+", i.prefix, i.room),
                    topic(&i.prefix, &i.room, "inbox", &i.peer_id),
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
            start_heartbeat(&inner);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Who is present now (not counting this peer).
    pub fn peers(&self) -> Array {
        self.inner
            .borrow()
            .peers
            .values()
            .map(PeerInfo::to_js)
            .collect()
    }

    /// Opens a call to `peerId`: an `RtcPeer` whose signals travel through MQTT.
    pub fn call(&self, peer_id: String, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            if !inner.borrow().started {
                return Err(
                    MqttError::from_code(ErrorCode::NotStarted, "call start() first").into_js(),
                );
            }
            if peer_id == inner.borrow().peer_id {
                return Err(MqttError::from_code(
                    ErrorCode::InvalidArgument,
                    "cannot call yourself",
                )
                .into_js());
            }
            validate_name("peerId", &peer_id)?;
            let old = inner.borrow_mut().calls.remove(&peer_id);
            if let Some(old) = old {
                close_call(&inner, old);
            }
            let peer = create_peer(&inner, &peer_id, &options)?;
            Ok(peer)
        })
    }

    pub fn on(&self, event: String, listener: Function) -> MqttSignaling {
        self.inner.borrow_mut().listeners.add(event, listener);
        MqttSignaling {
            inner: self.inner.clone(),
        }
    }

    pub fn off(&self, event: String, listener: Function) -> MqttSignaling {
        self.inner.borrow_mut().listeners.remove(&event, &listener);
        MqttSignaling {
            inner: self.inner.clone(),
        }
    }

    /// Clears presence, unsubscribes, and closes every peer of this object.
    pub fn stop(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let (client, presence, inbox, presence_filter, calls, heartbeat, closures) = {
                let mut i = inner.borrow_mut();
                if !i.started {
                    return Ok(JsValue::UNDEFINED);
                }
                i.started = false;
                let calls: Vec<Call> = i.calls.drain().map(|(_, c)| c).collect();
                i.peers.clear();
                (
                    i.client.handle(),
                    topic(&i.prefix, &i.room, "presence", &i.peer_id),
                    topic(&i.prefix, &i.room, "inbox", &i.peer_id),
                    format!("{}/{}/presence/+", i.prefix, i.room),
                    calls,
                    i.heartbeat.take(),
                    (i.on_presence.take(), i.on_inbox.take()),
                )
            };
            if let Some((handle, _cb)) = &heartbeat {
                js::clear_timeout(handle);
            }
            for c in calls {
                close_call(&inner, c);
            }
            let retained = Object::new();
            js::set(&retained, "qos", 1);
            js::set(&retained, "retain", true);
            let cleared =
                JsFuture::from(client.publish(presence.into(), "".into(), retained.into())).await;
            let filters = Array::of2(&inbox.into(), &presence_filter.into());
            let unsubscribed = JsFuture::from(client.unsubscribe(filters.into())).await;
            // The message closures may only go once the client no longer routes to them.
            drop(closures);
            drop(heartbeat);
            cleared?;
            unsubscribed?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

async fn announce(inner: &Rc<RefCell<Inner>>) -> Result<JsValue, JsValue> {
    let (client, presence, body) = {
        let i = inner.borrow();
        let body = Object::new();
        js::set(&body, "peerId", i.peer_id.as_str());
        js::set(&body, "meta", i.meta.clone());
        js::set(&body, "since", i.since);
        js::set(&body, "ts", js_sys::Date::now());
        (
            i.client.handle(),
            topic(&i.prefix, &i.room, "presence", &i.peer_id),
            JSON::stringify(&body)?,
        )
    };
    let opts = Object::new();
    js::set(&opts, "qos", 1);
    js::set(&opts, "retain", true);
    JsFuture::from(client.publish(presence.into(), body.into(), opts.into())).await
}

fn start_heartbeat(inner: &Rc<RefCell<Inner>>) {
    let weak = Rc::downgrade(inner);
    let cb = Closure::<dyn FnMut()>::new(move || {
        let Some(rc) = weak.upgrade() else { return };
        if !rc.borrow().started {
            return;
        }
        expire_peers(&rc);
        let r = rc.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = announce(&r).await;
        });
        start_heartbeat(&rc);
    });
    let handle = js::set_timeout(cb.as_ref().unchecked_ref(), HEARTBEAT_MS);
    // Replacing the previous closure from inside its own call: keep it alive until the
    // next tick replaces this one (the old one is the one running now).
    let old = inner.borrow_mut().heartbeat.replace((handle, cb));
    if let Some(old) = old {
        js::bury(Box::new(old));
    }
}

fn expire_peers(inner: &Rc<RefCell<Inner>>) {
    let now = js_sys::Date::now();
    let gone: Vec<PeerInfo> = {
        let mut i = inner.borrow_mut();
        let ids: Vec<String> = i
            .peers
            .values()
            .filter(|p| now - p.last_seen > PEER_TIMEOUT_MS)
            .map(|p| p.peer_id.clone())
            .collect();
        ids.iter().filter_map(|id| i.peers.remove(id)).collect()
    };
    for p in gone {
        emit(inner, "peer-left", &[p.to_js()]);
    }
}

fn handle_presence(inner: &Rc<RefCell<Inner>>, m: &JsValue) {
    let topic = js::get(m, "topic").as_string().unwrap_or_default();
    let Some(peer_id) = topic.rsplit('/').next().map(str::to_string) else {
        return;
    };
    if peer_id == inner.borrow().peer_id {
        return;
    }
    let text = call_method(m, "text", &[])
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    if text.is_empty() {
        let left = inner.borrow_mut().peers.remove(&peer_id);
        if let Some(p) = left {
            emit(inner, "peer-left", &[p.to_js()]);
        }
        return;
    }
    let parsed = if text.len() > MAX_SIGNAL_BYTES {
        Err(JsValue::NULL)
    } else {
        JSON::parse(&text)
    };
    let Ok(body) = parsed else {
        emit(
            inner,
            "error",
            &[invalid_signal(format!("malformed presence of {peer_id}"))],
        );
        return;
    };
    let now = js_sys::Date::now();
    let ts = js::get(&body, "ts").as_f64().unwrap_or(now);
    if now - ts > PEER_TIMEOUT_MS {
        // A retained announcement of a peer that stopped sending heartbeats long ago.
        let left = inner.borrow_mut().peers.remove(&peer_id);
        if let Some(p) = left {
            emit(inner, "peer-left", &[p.to_js()]);
        }
        return;
    }
    let meta = js::get(&body, "meta");
    let info = PeerInfo {
        peer_id: peer_id.clone(),
        meta: if meta.is_object() {
            meta
        } else {
            Object::new().into()
        },
        since: js::get(&body, "since").as_f64().unwrap_or(now),
        last_seen: now.min(ts.max(now - PEER_TIMEOUT_MS)).max(ts),
    };
    let joined = inner
        .borrow_mut()
        .peers
        .insert(peer_id, info.clone())
        .is_none();
    if joined {
        emit(inner, "peer-joined", &[info.to_js()]);
    }
}

/// Parses and checks an inbox message: `(from, signal, session, type)`.
fn parse_envelope(text: &str) -> Result<(String, JsValue, String, String), String> {
    if text.len() > MAX_SIGNAL_BYTES {
        return Err(format!(
            "signal of {} bytes exceeds {MAX_SIGNAL_BYTES}",
            text.len()
        ));
    }
    let v = JSON::parse(text).map_err(|_| "signal is not json".to_string())?;
    let from = js::get(&v, "from")
        .as_string()
        .ok_or("signal without from")?;
    let signal = js::get(&v, "signal");
    let session = js::get(&signal, "session")
        .as_string()
        .ok_or("signal without session")?;
    let kind = js::get(&signal, "type")
        .as_string()
        .ok_or("signal without type")?;
    match kind.as_str() {
        "offer" | "answer" if js::get(&signal, "sdp").as_string().is_some() => {}
        "candidate" if js::get(&signal, "candidate").is_object() => {}
        _ => return Err(format!("malformed {kind} signal")),
    }
    Ok((from, signal, session, kind))
}

fn handle_inbox(inner: &Rc<RefCell<Inner>>, m: &JsValue) {
    let text = call_method(m, "text", &[])
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    let (from, signal, session, kind) = match parse_envelope(&text) {
        Ok(v) => v,
        Err(e) => {
            emit(inner, "error", &[invalid_signal(e)]);
            return;
        }
    };
    let (own, stale) = {
        let i = inner.borrow();
        (from == i.peer_id, i.closed_sessions.contains(&session))
    };
    if own || stale {
        return;
    }
    let target = {
        let mut i = inner.borrow_mut();
        let closed = i.calls.get(&from).is_some_and(|c| {
            js::get(&c.peer, "connectionState").as_string().as_deref() == Some("closed")
        });
        if closed {
            // Closed locally but its close event not seen yet: the call is over.
            if let Some(c) = i.calls.remove(&from) {
                let same = c.remote_session.as_deref() == Some(session.as_str());
                i.closed_sessions.extend(c.remote_session);
                js::bury(Box::new(c.listeners));
                if same {
                    return;
                }
            }
        }
        match i.calls.get_mut(&from) {
            Some(c) if c.remote_session.as_deref() == Some(session.as_str()) => {
                Some(c.peer.clone())
            }
            Some(c) if c.remote_session.is_none() => {
                c.remote_session = Some(session.clone());
                Some(c.peer.clone())
            }
            // A new offer under another session: the remote side started over.
            Some(_) if kind == "offer" => None,
            // A late signal of a session this call does not use.
            Some(_) => return,
            None if kind == "offer" => None,
            None => return,
        }
    };
    let peer = match target {
        Some(p) => p,
        None => {
            let old = inner.borrow_mut().calls.remove(&from);
            if let Some(old) = old {
                close_call(inner, old);
            }
            let peer = match create_peer(inner, &from, &JsValue::UNDEFINED) {
                Ok(p) => p,
                Err(e) => {
                    emit(inner, "error", &[e]);
                    return;
                }
            };
            if let Some(c) = inner.borrow_mut().calls.get_mut(&from) {
                c.remote_session = Some(session.clone());
            }
            let info = inner
                .borrow()
                .peers
                .get(&from)
                .map(PeerInfo::to_js)
                .unwrap_or_else(|| {
                    PeerInfo {
                        peer_id: from.clone(),
                        meta: Object::new().into(),
                        since: js_sys::Date::now(),
                        last_seen: 0.0,
                    }
                    .to_js()
                });
            emit(inner, "incoming", &[peer.clone(), info]);
            peer
        }
    };
    match call_method(&peer, "signal", &[signal]) {
        Ok(p) => {
            if let Ok(p) = p.dyn_into::<Promise>() {
                let weak = Rc::downgrade(inner);
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(e) = JsFuture::from(p).await {
                        // A signal racing with a close is expected, not worth an error.
                        let closing = js::get(&e, "code").as_string().as_deref()
                            == Some(ErrorCode::Closed.as_str());
                        if let Some(rc) = weak.upgrade().filter(|_| !closing) {
                            emit(&rc, "error", &[e]);
                        }
                    }
                });
            }
        }
        Err(e) => emit(inner, "error", &[e]),
    }
}

/// Creates an `RtcPeer` for a call with `remote`, wired to publish its signals to the
/// remote inbox. Roles for perfect negotiation come from the ids, so both sides agree.
fn create_peer(
    inner: &Rc<RefCell<Inner>>,
    remote: &str,
    options: &JsValue,
) -> Result<JsValue, JsValue> {
    let (own_id, inbox) = {
        let i = inner.borrow();
        (
            i.peer_id.clone(),
            topic(&i.prefix, &i.room, "inbox", remote),
        )
    };
    let opts = Object::new();
    if options.is_object() {
        Object::assign(&opts, options.unchecked_ref());
    }
    js::set(&opts, "polite", own_id.as_str() < remote);
    let peer: JsValue = RtcPeer::new(opts.into())?.into();
    let local_session = js::get(&peer, "session").as_string().unwrap_or_default();

    let weak = Rc::downgrade(inner);
    let from = own_id.clone();
    let on_signal = Closure::<dyn FnMut(JsValue)>::new(move |signal: JsValue| {
        let Some(rc) = weak.upgrade() else { return };
        let client = rc.borrow().client.handle();
        let envelope = Object::new();
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
    });
    let weak = Rc::downgrade(inner);
    let remote_id = remote.to_string();
    let closed_session = local_session.clone();
    let on_close = Closure::<dyn FnMut()>::new(move || {
        let Some(rc) = weak.upgrade() else { return };
        let mut i = rc.borrow_mut();
        let ours = i
            .calls
            .get(&remote_id)
            .is_some_and(|c| c.local_session == closed_session);
        if ours {
            if let Some(c) = i.calls.remove(&remote_id) {
                i.closed_sessions.extend(c.remote_session);
                // This listener is running now: drop it (and its sibling) on a later tick.
                js::bury(Box::new(c.listeners));
            }
        }
    });
    call_method(&peer, "on", &["signal".into(), on_signal.as_ref().clone()])?;
    call_method(&peer, "on", &["close".into(), on_close.as_ref().clone()])?;
    inner.borrow_mut().calls.insert(
        remote.to_string(),
        Call {
            peer: peer.clone(),
            listeners: vec![Box::new(on_signal), Box::new(on_close)],
            remote_session: None,
            local_session,
        },
    );
    Ok(peer)
}

fn close_call(inner: &Rc<RefCell<Inner>>, call: Call) {
    if let Some(s) = call.remote_session {
        inner.borrow_mut().closed_sessions.insert(s);
    }
    let _ = call_method(&call.peer, "close", &[]);
    js::bury(Box::new(call.listeners));
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
}

export interface SignalingEvents {
  /** A peer announced its presence. */
  "peer-joined": (p: PeerInfo) => void;
  /** A peer cleared its presence, its Will fired, or its heartbeats stopped. */
  "peer-left": (p: PeerInfo) => void;
  /** A peer called this one: `peer` is connecting already; listen on it at once. */
  incoming: (peer: RtcPeer, from: PeerInfo) => void;
  /** A malformed presence or signal ("INVALID_SIGNAL"), or a signal that failed. */
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
   *  so a `polite` given here is ignored. Rejects with "NOT_STARTED" before start(). */
  call(peerId: string, options?: RtcPeerOptions): Promise<RtcPeer>;
  on<K extends keyof SignalingEvents>(event: K, listener: SignalingEvents[K]): this;
  off<K extends keyof SignalingEvents>(event: K, listener: SignalingEvents[K]): this;
  /** Clears presence, closes peers. */
  stop(): Promise<void>;
}
"#;
