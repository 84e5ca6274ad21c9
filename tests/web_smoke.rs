//! Browser smoke test of the test chain itself: headless Chromium, the test broker's
//! WebSocket listeners and the control endpoint.
//!
//! It speaks MQTT 3.1.1 with hand-encoded bytes, independently of the crate's own codec,
//! so a failure here points at the environment (broker, browser, flags), not the library.
//! The URLs are baked in at build time from the variables `tools/test.sh` exports
//! (`MQTT_RTC_WS_URL`, `MQTT_RTC_WS_AUTH_URL`, `MQTT_RTC_CONTROL_URL`).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, RequestInit, Response, WebSocket};

wasm_bindgen_test_configure!(run_in_browser);

/// How long one exchange may take before the test fails.
const TIMEOUT_MS: i32 = 5_000;

fn env_url(value: Option<&'static str>, name: &str) -> &'static str {
    value.unwrap_or_else(|| {
        panic!("{name} was not set at build time: run the browser tests through ./tools/test.sh")
    })
}

/// MQTT 3.1.1 CONNECT: clean session, keep-alive 30 s, client id "mqtt-rtc-smoke".
#[rustfmt::skip]
const CONNECT_ANONYMOUS: &[u8] = &[
    0x10,                               // fixed header: type 1 (CONNECT), flags 0
    26,                                 // remaining length: 10 + 16
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04,                               // protocol level 4 = MQTT 3.1.1
    0x02,                               // connect flags: clean session
    0x00, 0x1e,                         // keep-alive: 30 s
    0x00, 0x0e,                         // client id, 14 bytes:
    b'm', b'q', b't', b't', b'-', b'r', b't', b'c', b'-', b's', b'm', b'o', b'k', b'e',
];

/// The same CONNECT with username "mqttrtc" and password "secret-pass" (the test
/// broker's password file).
#[rustfmt::skip]
const CONNECT_WITH_PASSWORD: &[u8] = &[
    0x10,                               // fixed header: type 1 (CONNECT), flags 0
    48,                                 // remaining length: 10 + 16 + 9 + 13
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04,                               // protocol level 4 = MQTT 3.1.1
    0xc2,                               // connect flags: username, password, clean session
    0x00, 0x1e,                         // keep-alive: 30 s
    0x00, 0x0e,                         // client id, 14 bytes:
    b'm', b'q', b't', b't', b'-', b'r', b't', b'c', b'-', b's', b'm', b'o', b'k', b'e',
    0x00, 0x07,                         // username, 7 bytes:
    b'm', b'q', b't', b't', b'r', b't', b'c',
    0x00, 0x0b,                         // password, 11 bytes:
    b's', b'e', b'c', b'r', b'e', b't', b'-', b'p', b'a', b's', b's',
];

/// DISCONNECT: type 14, remaining length 0.
const DISCONNECT: &[u8] = &[0xe0, 0x00];

/// CONNACK: type 2, remaining length 2, session-present 0, return code.
fn connack(return_code: u8) -> Vec<u8> {
    vec![0x20, 0x02, 0x00, return_code]
}

/// A promise plus its resolve/reject functions: a one-shot channel from browser
/// callbacks to the awaiting test.
struct Oneshot {
    promise: Promise,
    resolve: Function,
    reject: Function,
}

impl Oneshot {
    fn new() -> Self {
        let mut parts = None;
        let promise = Promise::new(&mut |resolve, reject| parts = Some((resolve, reject)));
        let (resolve, reject) = parts.expect("the Promise executor runs synchronously");
        // Fail instead of hanging when nothing happens in time.
        let timeout: Function = reject
            .bind1(&JsValue::NULL, &JsValue::from_str("timed out"))
            .unchecked_into();
        web_sys::window()
            .expect("a window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&timeout, TIMEOUT_MS)
            .expect("setTimeout");
        Oneshot {
            promise,
            resolve,
            reject,
        }
    }
}

/// Open a WebSocket (subprotocol "mqtt"), send `connect`, and return the first four
/// bytes the broker sends back.
async fn connect_and_read_connack(url: &str, connect: &'static [u8]) -> Vec<u8> {
    let ws = WebSocket::new_with_str(url, "mqtt").expect("WebSocket constructor");
    ws.set_binary_type(BinaryType::Arraybuffer);
    let done = Oneshot::new();
    let received = Rc::new(RefCell::new(Vec::<u8>::new()));

    let on_open = {
        let ws = ws.clone();
        let reject = done.reject.clone();
        Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Err(e) = ws.send_with_u8_array(connect) {
                let _ = reject.call1(&JsValue::NULL, &e);
            }
        })
    };
    let on_message = {
        let received = received.clone();
        let resolve = done.resolve.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let bytes = Uint8Array::new(&event.data()).to_vec();
            let mut received = received.borrow_mut();
            received.extend_from_slice(&bytes);
            if received.len() >= 4 {
                let _ = resolve.call0(&JsValue::NULL);
            }
        })
    };
    let on_error = {
        let reject = done.reject.clone();
        Closure::<dyn FnMut(Event)>::new(move |_| {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("WebSocket error"));
        })
    };
    let on_close = {
        let reject = done.reject.clone();
        Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let msg = format!("WebSocket closed early, code {}", event.code());
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&msg));
        })
    };
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    let outcome = JsFuture::from(done.promise).await;

    // Detach the handlers before their closures are dropped, then leave politely.
    ws.set_onopen(None);
    ws.set_onmessage(None);
    ws.set_onerror(None);
    ws.set_onclose(None);
    if ws.ready_state() == WebSocket::OPEN {
        let _ = ws.send_with_u8_array(DISCONNECT);
    }
    let _ = ws.close();

    if let Err(e) = outcome {
        panic!("no CONNACK from {url}: {e:?}");
    }
    let received = received.borrow();
    received[..4].to_vec()
}

#[wasm_bindgen_test]
async fn anonymous_connect_gets_connack_accepted() {
    let url = env_url(option_env!("MQTT_RTC_WS_URL"), "MQTT_RTC_WS_URL");
    assert_eq!(
        connect_and_read_connack(url, CONNECT_ANONYMOUS).await,
        connack(0x00)
    );
}

#[wasm_bindgen_test]
async fn auth_listener_refuses_anonymous_connect() {
    let url = env_url(option_env!("MQTT_RTC_WS_AUTH_URL"), "MQTT_RTC_WS_AUTH_URL");
    // Return code 5: not authorized.
    assert_eq!(
        connect_and_read_connack(url, CONNECT_ANONYMOUS).await,
        connack(0x05)
    );
}

#[wasm_bindgen_test]
async fn auth_listener_accepts_password() {
    let url = env_url(option_env!("MQTT_RTC_WS_AUTH_URL"), "MQTT_RTC_WS_AUTH_URL");
    assert_eq!(
        connect_and_read_connack(url, CONNECT_WITH_PASSWORD).await,
        connack(0x00)
    );
}

#[wasm_bindgen_test]
async fn control_endpoint_is_reachable_from_the_page() {
    let base = env_url(option_env!("MQTT_RTC_CONTROL_URL"), "MQTT_RTC_CONTROL_URL");
    let init = RequestInit::new();
    init.set_method("GET");
    let window = web_sys::window().expect("a window");
    let response = JsFuture::from(window.fetch_with_str_and_init(&format!("{base}/health"), &init))
        .await
        .expect("fetch /health (CORS)");
    let response: Response = response.dyn_into().expect("a Response");
    assert_eq!(response.status(), 200);
    let body = JsFuture::from(response.json().expect("json()"))
        .await
        .expect("a JSON body");
    let state = js_sys::Reflect::get(&body, &JsValue::from_str("state")).expect("state");
    assert_eq!(state.as_string().as_deref(), Some("running"));
}
