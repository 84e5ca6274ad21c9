//! JavaScript interop shared by the browser layers (client and rtc): timers and clock,
//! promises settled from Rust, event listener lists, the re-entrancy helpers (`Deferred`,
//! `borrow`, `with_state`), deferred drops, reading option objects, building message
//! objects, logging. Holds no protocol logic.

use std::any::Any;
use std::cell::{Ref, RefCell, RefMut};

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};

use super::error::MqttError;
use crate::error_code::ErrorCode;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

// The snippet's comments are here (the package ships it minified).
//
// `mqttRtcPromise` makes the promise of a `Pending` and keeps its resolve and reject
// functions here under the `Pending`'s id, which `mqttRtcSettle` uses (how: 1 fulfil,
// 2 reject, 0 forget unsettled) and frees; the id is then free for the next promise. Made
// in Rust with `Promise::new`, a promise took a closure called back from JS and two
// functions held in wasm-bindgen's table, for every publish.
//
// `mqttRtcBytes` copies the bytes of a binary `message` event into wasm memory.
//
// `mqttRtcPublishFlags` reads the usual options of a publish (none, or `qos` and `retain`
// alone) in one call: `qos | retain << 2`, or -1 for anything else (another key, an
// inherited enumerable one, properties, a value out of range), which the Rust reader then
// checks and reports key by key. Reading them from Rust took about five calls into JS
// (Object.keys, a Reflect.get per option): 8% of a burst of QoS 0 publishes.
//
// `mqttRtcNow` reads `performance.now()` (`Date.now()` where there is none) through an
// object looked up once: the lookups of `globalThis.performance` on each call cost more
// than the clock (about a microsecond a received message in Chromium).
//
// A received message is an instance of one class, its `text()` on the prototype: no function
// is made per message, and `structuredClone` or `postMessage` copies a message (its data
// fields), which a function of its own would make throw. `mqttRtcMessage` copies the payload
// out of wasm memory itself (one call, not two), and takes no topic when it is the one of
// the message it made last, which it keeps (see `message`).
//
// `mqttRtcSetTimer` runs timers in one dedicated worker for the page, made from an inline
// script (a Blob URL) when a timer is first needed and ended when none is left: hidden tabs
// throttle the page's own timers (Chrome: chained ones to once a minute after 5 minutes
// hidden), a worker's are not. The page's timers stand in when no worker can be made: no
// `Worker` (looked up before the Blob is made, so Node.js makes none), a constructor that
// throws, or an error event (a CSP without blob: workers gives one), which moves the timers
// armed meanwhile to the page. The page-side map is the truth: a message for a timer no
// longer in it is ignored, so a clear that crosses a firing is harmless.
//
// `mqttRtcTask` runs callbacks in a later task, all those queued meanwhile in one, through
// one `MessageChannel` for the page (its port unreferenced in Node.js, so it keeps no
// process alive); `setTimeout` where there is none.
#[wasm_bindgen(inline_js = r#"
const utf8 = new TextDecoder();
class Message {
  constructor(topic, payload, qos, retain, dup) {
    this.topic = topic; this.payload = payload; this.qos = qos; this.retain = retain; this.dup = dup;
  }
  text() { return utf8.decode(this.payload); }
}
let lastTopic = "";
export function mqttRtcMessage(topic, payload, qos, retain, dup, properties) {
  if (topic === undefined) topic = lastTopic; else lastTopic = topic;
  const m = new Message(topic, payload.slice(), qos, retain, dup);
  if (properties !== undefined) m.properties = properties;
  return m;
}
export function mqttRtcBytes(e) {
  const d = e.data;
  return d instanceof ArrayBuffer ? new Uint8Array(d) : undefined;
}
export function mqttRtcPublishFlags(o) {
  if (o === undefined || o === null) return 0;
  if (typeof o !== "object") return -1;
  for (const k in o) if (k !== "qos" && k !== "retain") return -1;
  const { qos, retain, properties } = o;
  if (properties !== undefined && properties !== null) return -1;
  let f = qos === undefined || qos === null ? 0 : qos === 0 || qos === 1 || qos === 2 ? qos : -1;
  if (retain === true) f |= 4; else if (retain !== false && retain !== undefined && retain !== null) return -1;
  return f;
}
const fulfil = [], reject = [];
export function mqttRtcPromise(id) {
  return new Promise((ok, fail) => { fulfil[id] = ok; reject[id] = fail; });
}
export function mqttRtcSettle(id, how, value) {
  const f = how === 1 ? fulfil[id] : how === 2 ? reject[id] : undefined;
  fulfil[id] = reject[id] = undefined;
  if (f) f(value);
}
export function mqttRtcSettlePublished(id, packetId, reasonCode) {
  mqttRtcSettle(id, 1, packetId === undefined ? { reasonCode } : { packetId, reasonCode });
}
export function mqttRtcExtendError(instance) {
  const proto = Object.getPrototypeOf(instance);
  if (proto && Object.getPrototypeOf(proto) !== Error.prototype) Object.setPrototypeOf(proto, Error.prototype);
}
export function mqttRtcStack() { return new Error().stack || ""; }
export function mqttRtcText(v) { try { return String(v); } catch { return Object.prototype.toString.call(v); } }
const clock = globalThis.performance && performance.now ? performance : Date;
export function mqttRtcNow() { return clock.now(); }
const timers = new Map();
let worker, url, seq = 0;
function fire(id) {
  const t = timers.get(id);
  if (t) { timers.delete(id); t.f(); }
  idle();
}
function idle() {
  if (!timers.size && worker) { worker.terminate(); worker = undefined; }
}
function onPage() {
  worker.terminate();
  worker = null;
  for (const [id, t] of timers) t.h = setTimeout(fire, t.at - mqttRtcNow(), id);
}
export function mqttRtcSetTimer(f, ms) {
  const id = ++seq, t = { f, at: mqttRtcNow() + ms };
  timers.set(id, t);
  if (worker === undefined) {
    try {
      worker = new Worker(url ||= URL.createObjectURL(new Blob(["const h={};onmessage=({data:[i,m]})=>{clearTimeout(h[i]);delete h[i];if(m>=0)h[i]=setTimeout(()=>{delete h[i];postMessage(i)},m)}"], { type: "text/javascript" })));
      worker.onmessage = (e) => fire(e.data);
      worker.onerror = onPage;
    } catch { worker = null; }
  }
  if (worker) worker.postMessage([id, ms]); else t.h = setTimeout(fire, ms, id);
  return id;
}
const tasks = [];
let channel;
function runTasks() {
  for (const f of tasks.splice(0)) f();
}
export function mqttRtcTask(f) {
  if (channel === undefined) {
    channel = typeof MessageChannel === "function" ? new MessageChannel() : null;
    if (channel) {
      channel.port1.onmessage = runTasks;
      channel.port1.unref?.();
    }
  }
  if (tasks.push(f) > 1) return;
  if (channel) channel.port2.postMessage(0); else setTimeout(runTasks, 0);
}
export function mqttRtcClearTimer(id) {
  const t = timers.get(id);
  if (!t) return;
  if (worker) worker.postMessage([id, -1]); else clearTimeout(t.h);
  timers.delete(id);
  idle();
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = mqttRtcMessage)]
    fn make_message(
        topic: Option<&str>,
        payload: &[u8],
        qos: u8,
        retain: bool,
        dup: bool,
        properties: JsValue,
    ) -> JsValue;
    /// The bytes of a `message` event's `ArrayBuffer`, copied into wasm memory; `None` when
    /// its data is anything else. One call: `data`, the type check, a view and the copy
    /// took five (about 3% of a flood of small messages in a CPU profile).
    #[wasm_bindgen(js_name = mqttRtcBytes)]
    pub fn message_bytes(event: &web_sys::MessageEvent) -> Option<Vec<u8>>;
    /// The options of a publish when they are only `qos` and `retain` (or none):
    /// `qos | retain << 2`; -1 for any other options object.
    #[wasm_bindgen(js_name = mqttRtcPublishFlags)]
    pub fn publish_flags(options: &JsValue) -> i32;
    #[wasm_bindgen(js_name = mqttRtcPromise)]
    fn promise_for(id: u32) -> Promise;
    #[wasm_bindgen(js_name = mqttRtcSettle)]
    fn settle_promise(id: u32, how: u8, value: &JsValue);
    /// Fulfils promise `id` with a `PublishResult`, made in JS.
    #[wasm_bindgen(js_name = mqttRtcSettlePublished)]
    fn settle_published(id: u32, packet_id: Option<u16>, reason_code: u8);
    #[wasm_bindgen(js_name = mqttRtcExtendError)]
    pub fn extend_error(instance: &JsValue);
    #[wasm_bindgen(js_name = mqttRtcStack)]
    pub fn stack() -> String;
    #[wasm_bindgen(js_name = mqttRtcNow)]
    fn now_f64() -> f64;
    /// Any JS value as text, as `String(v)` gives it (a Symbol or an object whose
    /// `toString` throws still gives something). Rust's `{:?}` of a `JsValue` would do as
    /// much but pulls string escaping and Unicode tables into the `.wasm`.
    #[wasm_bindgen(js_name = mqttRtcText)]
    pub fn text(v: &JsValue) -> String;
    /// Calls `f` once in `ms` milliseconds, on a timer hidden tabs do not throttle where
    /// the browser allows it; the id is for [`clear_timer`].
    #[wasm_bindgen(js_name = mqttRtcSetTimer)]
    pub fn set_timer(f: &Function, ms: f64) -> f64;
    /// Calls `f` in a later task: after the events the browser already has queued (a
    /// `MessageChannel` message, which hidden tabs do not throttle as they do timers).
    #[wasm_bindgen(js_name = mqttRtcTask)]
    pub fn task(f: &JsValue);
    /// Disarms a [`set_timer`] timer; an unknown or fired id is ignored.
    #[wasm_bindgen(js_name = mqttRtcClearTimer)]
    pub fn clear_timer(id: f64);
}

// Globals: in a separate block, as everything in the `inline_js` block above is imported
// from that snippet module (which exports neither the timers nor `console`).
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(callback: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);

    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(s: &str);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error2(s: &str, v: &JsValue);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(s: &str);
    #[wasm_bindgen(js_namespace = console, js_name = info)]
    fn console_info(s: &str);
    #[wasm_bindgen(js_namespace = console, js_name = debug)]
    fn console_debug(s: &str);
}

/// Milliseconds on a monotonic clock.
pub fn now() -> u64 {
    now_f64().max(0.0) as u64
}

/// Log verbosity; messages never contain passwords or tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "off" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            _ => return None,
        })
    }

    pub fn log(self, level: LogLevel, message: &str) {
        if level == LogLevel::Off || level > self {
            return;
        }
        let line = format!("[mqtt-rtc] {message}");
        match level {
            LogLevel::Error => console_error(&line),
            LogLevel::Warn => console_warn(&line),
            LogLevel::Info => console_info(&line),
            _ => console_debug(&line),
        }
    }
}

/// The JS string of a property name of the library's own (an option, a result field),
/// made once: handing a Rust string to JS decodes it, a cost paid per `publish()` for each
/// option it reads before this cache. Keyed by the name's address and length, which is
/// sound for `'static` strings only (a freed `String` could reuse an address).
fn name(key: &'static str) -> JsValue {
    thread_local! {
        static NAMES: RefCell<Vec<(usize, usize, JsValue)>> = const { RefCell::new(Vec::new()) };
    }
    let (ptr, len) = (key.as_ptr() as usize, key.len());
    NAMES.with(|names| {
        // No JS runs while it is borrowed: `from_str` only makes a string.
        let mut names = names.borrow_mut();
        if let Some((_, _, v)) = names.iter().find(|(p, l, _)| *p == ptr && *l == len) {
            return v.clone();
        }
        let v = JsValue::from_str(key);
        names.push((ptr, len, v.clone()));
        v
    })
}

/// `obj[key]` for one of the library's own property names (`undefined` when `obj` is not
/// an object or the getter throws).
pub fn get(obj: &JsValue, key: &'static str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &name(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key]` for any key (a user property name, say).
pub fn get_str(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Sets `obj[key]` for one of the library's own property names.
pub fn set(obj: &Object, key: &'static str, value: impl Into<JsValue>) {
    // Setting a plain data property on a fresh plain object cannot throw.
    let _ = Reflect::set(obj, &name(key), &value.into());
}

/// Sets `obj[key]` for any key.
pub fn set_str(obj: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

pub fn is_absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// A string or a Uint8Array/ArrayBuffer as bytes.
pub fn bytes_of(v: &JsValue) -> Option<Vec<u8>> {
    if let Some(s) = v.as_string() {
        return Some(s.into_bytes());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Some(a.to_vec());
    }
    if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Some(Uint8Array::new(b).to_vec());
    }
    if ArrayBufferView::is_view(v) {
        let view: &ArrayBufferView = v.unchecked_ref();
        return Some(
            Uint8Array::new_with_byte_offset_and_length(
                &view.buffer(),
                view.byte_offset(),
                view.byte_length(),
            )
            .to_vec(),
        );
    }
    None
}

#[wasm_bindgen]
extern "C" {
    type ArrayBufferView;
    #[wasm_bindgen(js_namespace = ArrayBuffer, js_name = isView)]
    fn is_view_raw(v: &JsValue) -> bool;
    #[wasm_bindgen(method, getter)]
    fn buffer(this: &ArrayBufferView) -> js_sys::ArrayBuffer;
    #[wasm_bindgen(method, getter, js_name = byteOffset)]
    fn byte_offset(this: &ArrayBufferView) -> u32;
    #[wasm_bindgen(method, getter, js_name = byteLength)]
    fn byte_length(this: &ArrayBufferView) -> u32;
}

impl ArrayBufferView {
    fn is_view(v: &JsValue) -> bool {
        is_view_raw(v)
    }
}

thread_local! {
    /// The topic of the message `mqttRtcMessage` made last, in any client of the page (the
    /// snippet keeps that one string). Turning a topic into a JS string cost about a
    /// microsecond per received message, and a stream of messages mostly repeats topics.
    static LAST_TOPIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A received message as the listeners get it (an instance of the snippet's `Message`);
/// `properties` is `undefined` or its properties object.
pub fn message(
    topic: &str,
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    properties: JsValue,
) -> JsValue {
    let repeat = LAST_TOPIC.with_borrow_mut(|last| {
        let same = *last == topic;
        if !same {
            last.clear();
            last.push_str(topic);
        }
        same
    });
    let topic = if repeat { None } else { Some(topic) };
    make_message(topic, payload, qos, retain, dup, properties)
}

pub fn uint8(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

/// A promise made for Rust to settle (its resolve and reject functions stay in JS, under
/// this id): settled once with [`Pending::resolve`] or [`Pending::reject`], or in order
/// with other calls through a [`Deferred`]. Dropped unsettled, the promise never settles.
#[must_use = "a promise no one settles never settles"]
pub(crate) struct Pending {
    id: u32,
}

/// A `Pending`'s id once it is settled (no promise gets it: ids count up from 0 and are
/// reused, so they stay below the number of promises waiting at once).
const SETTLED: u32 = u32::MAX;

/// The ids of the promises waiting to be settled are taken; `free` holds the ones settled.
struct PromiseIds {
    next: u32,
    free: Vec<u32>,
}

thread_local! {
    static PROMISE_IDS: RefCell<PromiseIds> =
        const { RefCell::new(PromiseIds { next: 0, free: Vec::new() }) };
}

impl Pending {
    pub fn new() -> (Promise, Pending) {
        let id = PROMISE_IDS.with_borrow_mut(|ids| {
            ids.free.pop().unwrap_or_else(|| {
                ids.next += 1;
                ids.next - 1
            })
        });
        (promise_for(id), Pending { id })
    }

    /// Gives up the id (the JS side forgets it in the same call that settles it); `Drop`
    /// then has nothing left to do.
    fn release(&mut self) -> u32 {
        let id = std::mem::replace(&mut self.id, SETTLED);
        PROMISE_IDS.with_borrow_mut(|ids| ids.free.push(id));
        id
    }

    /// Fulfils (`how` 1) or rejects (2) the promise with `value`.
    fn settle(mut self, how: u8, value: &JsValue) {
        settle_promise(self.release(), how, value);
    }

    pub fn resolve(self, value: &JsValue) {
        self.settle(1, value);
    }

    #[cfg_attr(not(feature = "rtc"), allow(dead_code))]
    pub fn reject(self, e: MqttError) {
        self.settle(2, &e.into_js());
    }

    /// Resolves with a `PublishResult`.
    fn published(mut self, packet_id: Option<u16>, reason_code: u8) {
        settle_published(self.release(), packet_id, reason_code);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.id != SETTLED {
            settle_promise(self.release(), 0, &JsValue::UNDEFINED);
        }
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

    // Used by the WebRTC layer only; the MQTT-only build (no `rtc` feature) leaves it unused.
    #[cfg_attr(not(feature = "rtc"), allow(dead_code))]
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Drops `item` on a later turn of the event loop: it may hold the closure running now.
pub(crate) fn bury(item: Box<dyn Any>) {
    let cb = Closure::once_into_js(move || drop(item));
    set_timeout(cb.unchecked_ref(), 0.0);
}

/// JS calls (listeners, user callbacks, promise settlements) collected while a state
/// borrow is held, run by [`Deferred::run`] once it is released: see the re-entrancy rule
/// in the module docs.
#[derive(Default)]
#[must_use = "deferred calls do nothing until run"]
pub(crate) struct Deferred(Vec<Call>);

/// One deferred call: a function with its arguments, or a promise's settlement.
enum Call {
    Function(Function, Args),
    /// `Pending` fulfilled (how 1) or rejected (2) with the value.
    Settle(Pending, u8, JsValue),
    /// `Pending` resolved with a `PublishResult` of these fields.
    Published(Pending, Option<u16>, u8),
}

/// The arguments of a deferred call: most calls (every message to a listener) have one,
/// and it is kept as it is rather than in an array made for `apply` (`Array.of` was 2.6%
/// of a burst of QoS 0 publishes, and garbage after).
enum Args {
    One(JsValue),
    List(Array),
}

impl Args {
    fn of(args: &[JsValue]) -> Args {
        match args {
            [one] => Args::One(one.clone()),
            _ => Args::List(args.iter().collect()),
        }
    }
}

impl Deferred {
    pub fn new() -> Self {
        Deferred(Vec::new())
    }

    /// Queues one call of `f` with `args`.
    pub fn call(&mut self, f: &Function, args: &[JsValue]) {
        self.0.push(Call::Function(f.clone(), Args::of(args)));
    }

    /// Queues a call of every listener of `event` in `listeners` with `args`.
    pub fn emit(&mut self, listeners: &Listeners, event: &str, args: &[JsValue]) {
        for (e, f) in &listeners.0 {
            if e == event {
                self.call(f, args);
            }
        }
    }

    /// Queues the fulfilment of `pending` with `value`.
    pub fn resolve(&mut self, pending: Pending, value: &JsValue) {
        self.0.push(Call::Settle(pending, 1, value.clone()));
    }

    /// Queues the rejection of `pending` with `error`.
    pub fn reject(&mut self, pending: Pending, error: MqttError) {
        self.0.push(Call::Settle(pending, 2, error.into_js()));
    }

    /// Queues the settlement of `pending` with `result`.
    pub fn settle(&mut self, pending: Pending, result: Result<JsValue, MqttError>) {
        match result {
            Ok(v) => self.0.push(Call::Settle(pending, 1, v)),
            Err(e) => self.reject(pending, e),
        }
    }

    /// Queues the fulfilment of `pending` with `{ packetId?, reasonCode }` (the object is
    /// made when it runs, in JS).
    pub fn published(&mut self, pending: Pending, packet_id: Option<u16>, reason_code: u8) {
        self.0
            .push(Call::Published(pending, packet_id, reason_code));
    }

    /// Runs the calls in order; a call that throws is reported on the console and does
    /// not stop the others (one listener's bug must not starve the rest).
    pub fn run(self) {
        for call in self.0 {
            let called = match call {
                Call::Function(f, Args::One(v)) => f.call1(&JsValue::NULL, &v),
                Call::Function(f, Args::List(a)) => f.apply(&JsValue::NULL, &a),
                Call::Settle(p, how, v) => {
                    p.settle(how, &v);
                    Ok(JsValue::UNDEFINED)
                }
                Call::Published(p, id, code) => {
                    p.published(id, code);
                    Ok(JsValue::UNDEFINED)
                }
            };
            if let Err(e) = called {
                console_error2("[mqtt-rtc] a listener threw:", &e);
            }
        }
    }
}

/// Borrows browser-object state mutably under the re-entrancy rule (module docs): a busy
/// state is an `MqttError` with code `BUSY`, never a panic.
pub(crate) fn borrow<T>(rc: &RefCell<T>) -> Result<RefMut<'_, T>, MqttError> {
    rc.try_borrow_mut().map_err(|_| busy())
}

/// Borrows browser-object state for reading (getters) under the same rule as [`borrow`].
pub(crate) fn borrow_shared<T>(rc: &RefCell<T>) -> Result<Ref<'_, T>, MqttError> {
    rc.try_borrow().map_err(|_| busy())
}

fn busy() -> MqttError {
    MqttError::from_code(
        ErrorCode::Busy,
        "re-entered while busy (a library bug: please report it)",
    )
}

/// The whole re-entrancy rule in one call: borrows `rc` (a busy state is `BUSY`), runs `f`
/// with the state and a [`Deferred`], releases the borrow, then runs what `f` deferred.
pub(crate) fn with_state<T, R>(
    rc: &RefCell<T>,
    f: impl FnOnce(&mut T, &mut Deferred) -> R,
) -> Result<R, MqttError> {
    let mut calls = Deferred::new();
    let result = {
        let mut state = borrow(rc)?;
        f(&mut state, &mut calls)
    };
    calls.run();
    Ok(result)
}

/// Reports an error a browser callback cannot hand to anyone (a `BUSY` state, mostly).
pub(crate) fn report(e: &MqttError) {
    console_error(&format!("[mqtt-rtc] {}", e.to_js_string()));
}
