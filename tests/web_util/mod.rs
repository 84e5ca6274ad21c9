//! Shared helpers of the browser tests of the library's own API (`web_client.rs`,
//! `web_rtc.rs`): the broker's addresses baked in at build time, option objects built from
//! Rust, promises awaited with a deadline, conditions waited for with a deadline (never a
//! fixed sleep followed by "it arrived"), recorders for listener calls, and the broker's
//! control endpoint. Each test file includes it with `mod web_util;`, so not every helper
//! is used by every file.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use mqtt_rtc::client::MqttClient;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

/// How long one network exchange (connect, publish, delivery) may take before a test fails.
pub const TIMEOUT_MS: u32 = 10_000;
/// How long a WebRTC connection may take to come up in one page.
pub const RTC_TIMEOUT_MS: u32 = 20_000;

fn env_url(value: Option<&'static str>, name: &str) -> &'static str {
    value.unwrap_or_else(|| {
        panic!(
            "{name} was not set at build time: run the browser tests through ./tools/test.sh \
             or tools/broker/run.sh"
        )
    })
}

/// The anonymous WebSocket listener.
pub fn ws_url() -> &'static str {
    env_url(option_env!("MQTT_RTC_WS_URL"), "MQTT_RTC_WS_URL")
}

/// The WebSocket listener that requires user `mqttrtc`, password `secret-pass`.
pub fn ws_auth_url() -> &'static str {
    env_url(option_env!("MQTT_RTC_WS_AUTH_URL"), "MQTT_RTC_WS_AUTH_URL")
}

/// The broker's control endpoint (`POST /broker/{stop,start,restart,freeze,thaw,kill}`).
pub fn control_url() -> &'static str {
    env_url(option_env!("MQTT_RTC_CONTROL_URL"), "MQTT_RTC_CONTROL_URL")
}

pub fn now() -> f64 {
    js_sys::Date::now()
}

/// A name no other test (nor an earlier run against the same broker) uses.
pub fn uid(tag: &str) -> String {
    thread_local!(static N: Cell<u32> = const { Cell::new(0) });
    let n = N.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    let rand = (js_sys::Math::random() * 1e9) as u64;
    format!("{tag}-{}-{n}-{rand}", now() as u64)
}

/// A topic under a fresh prefix: `mqtt-rtc-test/<uid>`.
pub fn topic(tag: &str) -> String {
    format!("mqtt-rtc-test/{}", uid(tag))
}

/// A plain JavaScript object from key/value pairs.
pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).expect("set a property on a plain object");
    }
    o.into()
}

pub fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Calls `target[name](...args)`, for values the library hands out as JS objects.
pub fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(target, name)
        .dyn_into()
        .unwrap_or_else(|_| panic!("{name} is not a method of {target:?}"));
    f.apply(target, &args.iter().collect::<Array>())
}

/// `error.code` of a rejection or a thrown `MqttError` (empty when it has none).
pub fn code_of(error: &JsValue) -> String {
    get(error, "code").as_string().unwrap_or_default()
}

/// The bytes of a `Uint8Array` (or `ArrayBuffer`).
pub fn bytes_of(v: &JsValue) -> Vec<u8> {
    Uint8Array::new(v).to_vec()
}

pub fn uint8(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

/// Lets the browser run for `ms` (between polls of a condition, never as the proof that
/// something happened).
pub async fn sleep(ms: u32) {
    let p = Promise::new(&mut |resolve, _| {
        gloo_timers::callback::Timeout::new(ms, move || {
            let _ = resolve.call0(&JsValue::NULL);
        })
        .forget();
    });
    let _ = JsFuture::from(p).await;
}

/// Waits until `done` holds, checking every 10 ms; fails the test after `timeout_ms`.
pub async fn wait_for(what: &str, timeout_ms: u32, mut done: impl FnMut() -> bool) {
    let deadline = now() + f64::from(timeout_ms);
    while !done() {
        assert!(
            now() < deadline,
            "timed out after {timeout_ms} ms waiting for {what}"
        );
        sleep(10).await;
    }
}

/// A promise that rejects with "timed out: <what>" after `ms`.
fn timeout(ms: u32, what: &str) -> Promise {
    let what = format!("timed out after {ms} ms: {what}");
    Promise::new(&mut |_, reject| {
        let reason = JsValue::from_str(&what);
        gloo_timers::callback::Timeout::new(ms, move || {
            let _ = reject.call1(&JsValue::NULL, &reason);
        })
        .forget();
    })
}

/// Awaits `p`, or gives up after `ms` (an `Err` holding a "timed out" string).
pub async fn settle_within(p: Promise, ms: u32, what: &str) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::race(&Array::of2(&p, &timeout(ms, what)))).await
}

/// Awaits `p`; fails the test if it rejects or takes longer than [`TIMEOUT_MS`].
pub async fn ok(p: Promise, what: &str) -> JsValue {
    match settle_within(p, TIMEOUT_MS, what).await {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {} {e:?}", code_of(&e)),
    }
}

/// Awaits `p`, which must reject (within [`TIMEOUT_MS`]) with an error of code `code`;
/// returns the error.
pub async fn rejects(p: Promise, code: &str, what: &str) -> JsValue {
    match settle_within(p, TIMEOUT_MS, what).await {
        Ok(v) => panic!("{what} resolved with {v:?}; expected a rejection with {code}"),
        Err(e) => {
            assert_eq!(code_of(&e), code, "{what}: rejected with {e:?}");
            e
        }
    }
}

/// Whether `p` has settled yet, without waiting for it.
pub struct Watched {
    pub settled: Rc<RefCell<Option<Result<JsValue, JsValue>>>>,
}

impl Watched {
    pub fn new(p: Promise) -> Self {
        let settled = Rc::new(RefCell::new(None));
        let s = settled.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let r = JsFuture::from(p).await;
            *s.borrow_mut() = Some(r);
        });
        Watched { settled }
    }

    pub fn is_settled(&self) -> bool {
        self.settled.borrow().is_some()
    }

    pub fn result(&self) -> Option<Result<JsValue, JsValue>> {
        self.settled.borrow().clone()
    }
}

/// Records every call of a JS function it hands out (up to two arguments each), for
/// listeners. The function is owned by the JS garbage collector, so a listener that
/// outlives its test is harmless.
#[derive(Clone)]
pub struct Recorder {
    calls: Rc<RefCell<Vec<(JsValue, JsValue)>>>,
    f: Function,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let f = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |a, b| {
            c.borrow_mut().push((a, b));
        })
        .into_js_value()
        .unchecked_into();
        Recorder { calls, f }
    }

    /// The JS function to register as a listener.
    pub fn f(&self) -> Function {
        self.f.clone()
    }

    pub fn js(&self) -> JsValue {
        self.f.clone().into()
    }

    pub fn len(&self) -> usize {
        self.calls.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first argument of call `i`.
    pub fn arg(&self, i: usize) -> JsValue {
        self.calls.borrow()[i].0.clone()
    }

    /// Both arguments of call `i`.
    pub fn args(&self, i: usize) -> (JsValue, JsValue) {
        self.calls.borrow()[i].clone()
    }

    /// The first arguments of every call so far.
    pub fn all(&self) -> Vec<JsValue> {
        self.calls.borrow().iter().map(|c| c.0.clone()).collect()
    }

    /// The first arguments as strings (for `state` events and text messages).
    pub fn strings(&self) -> Vec<String> {
        self.all()
            .iter()
            .map(|v| v.as_string().unwrap_or_else(|| format!("{v:?}")))
            .collect()
    }

    /// Waits until at least `n` calls were recorded.
    pub async fn wait_len(&self, n: usize, timeout_ms: u32, what: &str) {
        let me = self.clone();
        wait_for(&format!("{what} ({n} calls)"), timeout_ms, move || {
            me.len() >= n
        })
        .await;
    }

    /// Waits until a call's first argument satisfies `pred`; returns it.
    pub async fn wait_match(
        &self,
        what: &str,
        timeout_ms: u32,
        pred: impl Fn(&JsValue) -> bool,
    ) -> JsValue {
        let me = self.clone();
        let mut found = None;
        wait_for(what, timeout_ms, || {
            found = me.all().into_iter().find(|v| pred(v));
            found.is_some()
        })
        .await;
        found.expect("wait_for returned, so a match was found")
    }
}

/// The fields of a received `Message` the tests look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub text: String,
}

impl Msg {
    pub fn from_js(m: &JsValue) -> Msg {
        Msg {
            topic: get(m, "topic").as_string().unwrap_or_default(),
            payload: bytes_of(&get(m, "payload")),
            qos: get(m, "qos").as_f64().map_or(255, |q| q as u8),
            retain: get(m, "retain").as_bool().unwrap_or(false),
            text: call(m, "text", &[])
                .ok()
                .and_then(|t| t.as_string())
                .unwrap_or_default(),
        }
    }
}

impl Recorder {
    /// The recorded first arguments as `Message`s.
    pub fn messages(&self) -> Vec<Msg> {
        self.all().iter().map(Msg::from_js).collect()
    }

    /// Topics of the recorded messages.
    pub fn topics(&self) -> Vec<String> {
        self.messages().into_iter().map(|m| m.topic).collect()
    }

    /// Waits for a message on `topic`; returns it.
    pub async fn wait_topic(&self, topic: &str) -> Msg {
        let m = self
            .wait_match(&format!("a message on {topic}"), TIMEOUT_MS, |m| {
                get(m, "topic").as_string().as_deref() == Some(topic)
            })
            .await;
        Msg::from_js(&m)
    }
}

/// `MqttClient.connect(url, options)` as a Rust value, or the rejection.
pub async fn try_connect(url: &str, options: JsValue) -> Result<MqttClient, JsValue> {
    let v = settle_within(
        MqttClient::connect(url.into(), options),
        TIMEOUT_MS,
        "connect",
    )
    .await?;
    Ok(MqttClient::try_from_js_value(v).expect("connect resolves with an MqttClient"))
}

/// Connects to the anonymous listener; fails the test if it does not connect. (Never
/// used while a test has the broker stopped or frozen: it puts the broker back first.)
pub async fn connect(options: JsValue) -> MqttClient {
    heal_broker().await;
    match try_connect(ws_url(), options).await {
        Ok(c) => c,
        Err(e) => panic!("connect failed: {} {e:?}", code_of(&e)),
    }
}

/// Connects with default options (reconnect off: a test that wants it says so).
pub async fn connect_default() -> MqttClient {
    connect(obj(&[("reconnect", false.into())])).await
}

pub fn state(c: &MqttClient) -> String {
    c.state().expect("state")
}

/// Subscribes `filter` at `qos` (no per-subscription listener); fails on refusal.
pub async fn subscribe(c: &MqttClient, filter: &str, qos: u8) -> JsValue {
    let p = c.subscribe(
        filter.into(),
        obj(&[("qos", qos.into())]),
        JsValue::UNDEFINED,
    );
    ok(p, &format!("subscribe {filter}")).await
}

/// Publishes `payload` on `topic` at `qos`; fails on error.
pub async fn publish(c: &MqttClient, topic: &str, payload: &str, qos: u8) -> JsValue {
    let p = c.publish(topic.into(), payload.into(), obj(&[("qos", qos.into())]));
    ok(p, &format!("publish {topic}")).await
}

/// A `message` listener on `c`.
pub fn messages(c: &MqttClient) -> Recorder {
    let r = Recorder::new();
    c.on("message".into(), r.f()).expect("on(message)");
    r
}

/// `{ qos }`, the publish and subscribe options most tests need.
pub fn qos_opts(qos: u8) -> JsValue {
    obj(&[("qos", qos.into())])
}

/// Fast reconnects, so a broker restart costs well under a second of waiting.
pub fn fast_reconnect() -> JsValue {
    obj(&[("initialDelay", 100.into()), ("maxDelay", 500.into())])
}

/// A number from `c.stats()`.
pub fn stats_field(c: &MqttClient, key: &str) -> f64 {
    get(&c.stats().expect("stats"), key)
        .as_f64()
        .unwrap_or_else(|| panic!("stats().{key} is not a number"))
}

/// A listener for `event` on `c`.
pub fn on(c: &MqttClient, event: &str) -> Recorder {
    let r = Recorder::new();
    c.on(event.into(), r.f()).expect("on");
    r
}

/// Ends `c` gracefully (a test's cleanup).
pub async fn end(c: &MqttClient) {
    ok(c.end(JsValue::UNDEFINED), "end").await;
}

/// `POST /broker/<action>` on the control endpoint; whether it answered 200.
pub async fn try_control(action: &str) -> bool {
    let init = RequestInit::new();
    init.set_method("POST");
    let window = web_sys::window().expect("a window");
    let url = format!("{}/broker/{action}", control_url());
    match JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await {
        Ok(r) => r.dyn_into::<Response>().is_ok_and(|r| r.status() == 200),
        Err(_) => false,
    }
}

/// `POST /broker/<action>`; fails the test unless it answers 200.
pub async fn control(action: &str) {
    assert!(try_control(action).await, "POST /broker/{action} failed");
}

thread_local! {
    /// Whether the broker is known to be running as the tests expect: false until the
    /// first check of this test binary, and while a test has it stopped or frozen. A failed
    /// test does not unwind (wasm32 aborts on panic), so the next test that connects puts
    /// the broker back instead ([`heal_broker`]); the first check also repairs what a
    /// failed test of an earlier binary left behind.
    static BROKER_OK: Cell<bool> = const { Cell::new(false) };
}

/// Starts or thaws the broker unless it is known to be running (both are no-ops on a
/// running broker).
pub async fn heal_broker() {
    if !BROKER_OK.with(Cell::get) {
        // Either may be the one needed (a frozen broker may have been killed since).
        try_control("thaw").await;
        try_control("start").await;
        BROKER_OK.with(|ok| ok.set(true));
    }
}

/// Stops or freezes the broker for a test; [`BrokerGuard::undo`] puts it back.
pub struct BrokerGuard {
    undo: &'static str,
}

impl BrokerGuard {
    /// Runs `action` now ("stop" or "freeze"); `undo` ("start" or "thaw") puts it back.
    pub async fn new(action: &str, undo: &'static str) -> Self {
        heal_broker().await;
        BROKER_OK.with(|ok| ok.set(false));
        control(action).await;
        BrokerGuard { undo }
    }

    /// Puts the broker back now.
    pub async fn undo(self) {
        control(self.undo).await;
        BROKER_OK.with(|ok| ok.set(true));
    }
}
