//! Proof that the whole chain works in a real browser: the pure protocol core
//! (`mqtt::session::Session`) driven over a `web_sys::WebSocket` (subprotocol `mqtt`) in
//! headless Chromium against the Mosquitto that `tools/test.sh` starts. CONNECT/CONNACK,
//! then a QoS 1 and a QoS 2 publish to a topic the session subscribed to itself.
//! The broker URL is baked in at build time from `MQTT_RTC_WS_URL`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use mqtt_rtc::mqtt::codec::{Properties, ProtocolVersion, Publish, QoS, SubscribeFilter};
use mqtt_rtc::mqtt::session::{Event, Session, SessionConfig, State};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{BinaryType, MessageEvent, WebSocket};

wasm_bindgen_test_configure!(run_in_browser);

enum Input {
    Open,
    Bytes(Vec<u8>),
    Closed,
}

/// The session plus one WebSocket, driven by a polling loop (the test is short; a real
/// driver reacts to callbacks directly, see `src/client`).
struct Harness {
    session: Session,
    ws: Option<WebSocket>,
    inbox: Rc<RefCell<VecDeque<Input>>>,
    events: Vec<Event>,
    _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .expect("a window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("setTimeout");
    });
    let _ = JsFuture::from(p).await;
}

impl Harness {
    fn new(protocol: ProtocolVersion, client_id: &str) -> Self {
        let config = SessionConfig {
            client_id: client_id.into(),
            protocol,
            keep_alive: 30,
            reconnect: None,
            ..SessionConfig::default()
        };
        Harness {
            session: Session::new(config),
            ws: None,
            inbox: Rc::new(RefCell::new(VecDeque::new())),
            events: Vec::new(),
            _callbacks: Vec::new(),
        }
    }

    fn open(&mut self) {
        let Some(url) = option_env!("MQTT_RTC_WS_URL") else {
            panic!(
                "MQTT_RTC_WS_URL was not set at build time: run the tests through ./tools/test.sh"
            )
        };
        let ws = WebSocket::new_with_str(url, "mqtt").expect("WebSocket constructor");
        ws.set_binary_type(BinaryType::Arraybuffer);
        let inbox = self.inbox.clone();
        let on_open =
            Closure::<dyn FnMut(JsValue)>::new(move |_| inbox.borrow_mut().push_back(Input::Open));
        let inbox = self.inbox.clone();
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let e: MessageEvent = e.unchecked_into();
            let bytes = Uint8Array::new(&e.data()).to_vec();
            inbox.borrow_mut().push_back(Input::Bytes(bytes));
        });
        let inbox = self.inbox.clone();
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            inbox.borrow_mut().push_back(Input::Closed)
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self._callbacks = vec![on_open, on_message, on_close];
        self.ws = Some(ws);
    }

    /// Feeds queued inputs, flushes output, collects events.
    fn step(&mut self) {
        let inputs: Vec<Input> = self.inbox.borrow_mut().drain(..).collect();
        for input in inputs {
            match input {
                Input::Open => self.session.handle_transport_open(now()),
                Input::Bytes(b) => self.session.handle_bytes(now(), &b),
                Input::Closed => self.session.handle_connection_lost(now()),
            }
        }
        if self.session.poll_timeout().is_some_and(|t| t <= now()) {
            self.session.handle_timeout(now());
        }
        loop {
            while let Some(buf) = self.session.poll_transmit() {
                if let Some(ws) = &self.ws {
                    ws.send_with_u8_array(&buf).expect("send");
                }
            }
            let Some(event) = self.session.poll_event() else {
                break;
            };
            match event {
                Event::OpenTransport => self.open(),
                Event::CloseTransport => {
                    if let Some(ws) = self.ws.take() {
                        let _ = ws.close();
                    }
                }
                other => self.events.push(other),
            }
        }
    }

    /// Steps until `done` holds for some recorded event, or fails after 5 s.
    async fn until(&mut self, what: &str, done: impl Fn(&Event) -> bool) -> Event {
        let deadline = now() + 5_000;
        loop {
            self.step();
            if let Some(i) = self.events.iter().position(&done) {
                return self.events.remove(i);
            }
            assert!(
                now() < deadline,
                "timed out waiting for {what}; events: {:?}",
                self.events
            );
            sleep(5).await;
        }
    }
}

async fn round_trip(protocol: ProtocolVersion, tag: &str) {
    let topic = format!("mqtt-rtc/core-test/{tag}/{}", now());
    let mut h = Harness::new(protocol, &format!("core-{tag}-{}", now() % 100_000));
    h.session.connect(now());
    let connected = h
        .until("connack", |e| matches!(e, Event::Connected { .. }))
        .await;
    assert!(matches!(connected, Event::Connected { reason_code: 0, .. }));
    assert_eq!(h.session.state(), State::Connected);
    assert_eq!(h.session.protocol_version(), protocol);

    let filter = SubscribeFilter {
        filter: format!("{topic}/#"),
        qos: QoS::ExactlyOnce,
        ..Default::default()
    };
    let token = h
        .session
        .subscribe(now(), vec![filter], Properties::default())
        .expect("subscribe");
    let suback = h
        .until(
            "suback",
            |e| matches!(e, Event::SubscribeDone { token: t, .. } if *t == token),
        )
        .await;
    let Event::SubscribeDone {
        result: Ok(ack), ..
    } = suback
    else {
        panic!("subscribe failed: {suback:?}")
    };
    assert_eq!(ack.reason_codes, vec![2], "granted qos 2");

    for (qos, payload) in [
        (QoS::AtLeastOnce, b"one".to_vec()),
        (QoS::ExactlyOnce, vec![0, 1, 2, 255]),
    ] {
        let p = Publish {
            topic: format!("{topic}/q{}", qos as u8),
            qos,
            payload: payload.clone(),
            ..Default::default()
        };
        let token = h.session.publish(now(), p).expect("publish");
        let done = h
            .until(
                "publish done",
                |e| matches!(e, Event::PublishDone { token: t, .. } if *t == token),
            )
            .await;
        let Event::PublishDone {
            result: Ok(outcome),
            ..
        } = done
        else {
            panic!("publish failed: {done:?}")
        };
        assert!(
            outcome.packet_id.is_some(),
            "qos > 0 publishes carry a packet id"
        );
        let msg = h
            .until(
                "own message",
                |e| matches!(e, Event::Message(m) if m.payload == payload),
            )
            .await;
        let Event::Message(m) = msg else {
            unreachable!()
        };
        assert_eq!(m.qos, qos);
        assert_eq!(m.topic, format!("{topic}/q{}", qos as u8));
    }
    // QoS 2 is exactly once: give the broker time to (wrongly) send a duplicate.
    sleep(200).await;
    h.step();
    assert!(
        !h.events.iter().any(|e| matches!(e, Event::Message(_))),
        "no duplicate delivery: {:?}",
        h.events
    );
    assert_eq!(h.session.stats().inflight, 0);

    h.session.disconnect(now(), 0);
    h.step();
    assert_eq!(h.session.state(), State::Closed);
}

#[wasm_bindgen_test]
async fn core_session_round_trips_qos1_and_qos2_over_mqtt5() {
    round_trip(ProtocolVersion::V5, "v5").await;
}

#[wasm_bindgen_test]
async fn core_session_round_trips_qos1_and_qos2_over_mqtt311() {
    round_trip(ProtocolVersion::V311, "v311").await;
}
