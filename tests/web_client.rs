//! Browser tests of the library's `MqttClient`, called from Rust the way a Rust user of the
//! crate calls it (its methods return `js_sys::Promise`s, options are JS objects), in
//! headless Chromium against the test broker (`tools/test.sh`, or `tools/broker/run.sh --
//! wasm-pack test --headless --chrome`): connect and authentication, every QoS both ways,
//! routing, retained messages, persistent sessions, MQTT 5 properties, input errors with
//! their codes, and `end()`. What happens when the broker goes away is in
//! `web_reconnect.rs` (each test binary stays well inside the runner's 20 s budget).
//! Conditions are waited for with deadlines; "nothing else arrived" is proved with a marker
//! message sent after it on the same path, never with a sleep.
#![cfg(target_arch = "wasm32")]

mod web_util;

use js_sys::{Array, Function};
use mqtt_rtc::client::{MqttClient, MqttError};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_util::*;

wasm_bindgen_test_configure!(run_in_browser);

// ----- connect -----

#[wasm_bindgen_test]
async fn connects_anonymously_over_mqtt5_by_default() {
    let id = uid("anon");
    let c = connect(obj(&[
        ("clientId", id.as_str().into()),
        ("reconnect", false.into()),
    ]))
    .await;
    assert_eq!(state(&c), "connected");
    assert_eq!(c.protocol_version().expect("protocolVersion"), 5);
    assert_eq!(c.client_id(), id);
    assert_eq!(c.client_id_getter().expect("clientId"), id);
    end(&c).await;
    assert_eq!(state(&c), "closed");
}

#[wasm_bindgen_test]
async fn a_generated_client_id_is_used_when_none_is_given() {
    let c = connect_default().await;
    let id = c.client_id();
    assert!(
        id.starts_with("mqttrtc_") && id.len() > 8,
        "generated id {id:?}"
    );
    let other = connect_default().await;
    assert_ne!(other.client_id(), id, "two clients get different ids");
    end(&c).await;
    end(&other).await;
}

#[wasm_bindgen_test]
async fn connects_over_mqtt311_and_round_trips_qos2() {
    let c = connect(obj(&[
        ("protocolVersion", 4.into()),
        ("reconnect", false.into()),
    ]))
    .await;
    assert_eq!(c.protocol_version().expect("protocolVersion"), 4);
    let t = topic("v311");
    let msgs = messages(&c);
    let granted = subscribe(&c, &t, 2).await;
    assert_eq!(
        get(&Array::from(&granted).get(0), "qos").as_f64(),
        Some(2.0)
    );
    let r = publish(&c, &t, "over 3.1.1", 2).await;
    assert!(
        get(&r, "packetId").as_f64().is_some(),
        "qos 2 has a packet id: {r:?}"
    );
    let m = msgs.wait_topic(&t).await;
    assert_eq!((m.text.as_str(), m.qos), ("over 3.1.1", 2));
    end(&c).await;
}

#[wasm_bindgen_test]
async fn the_auth_listener_accepts_the_right_password() {
    let c = try_connect(
        ws_auth_url(),
        obj(&[
            ("username", "mqttrtc".into()),
            ("password", "secret-pass".into()),
            ("reconnect", false.into()),
        ]),
    )
    .await
    .unwrap_or_else(|e| panic!("connect with the password failed: {e:?}"));
    assert_eq!(state(&c), "connected");
    let t = topic("auth");
    let msgs = messages(&c);
    subscribe(&c, &t, 1).await;
    publish(&c, &t, "authenticated", 1).await;
    assert_eq!(msgs.wait_topic(&t).await.text, "authenticated");
    end(&c).await;
}

#[wasm_bindgen_test]
async fn a_wrong_password_is_refused_with_not_authorized() {
    for protocol in [5, 4] {
        let e = try_connect(
            ws_auth_url(),
            obj(&[
                ("username", "mqttrtc".into()),
                ("password", "wrong".into()),
                ("protocolVersion", protocol.into()),
                ("reconnect", false.into()),
            ]),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("v{protocol}: a wrong password connected"));
        assert_eq!(code_of(&e), "NOT_AUTHORIZED", "v{protocol}: {e:?}");
        // 0x86 bad user name or password, 0x87 not authorized (3.1.1's 4 and 5 map to them).
        let reason = get(&e, "reasonCode").as_f64();
        assert!(
            matches!(reason, Some(r) if r == 134.0 || r == 135.0),
            "v{protocol}: reasonCode {reason:?}"
        );
    }
}

#[wasm_bindgen_test]
async fn the_auth_listener_refuses_an_anonymous_client() {
    let e = try_connect(ws_auth_url(), obj(&[("reconnect", false.into())]))
        .await
        .err()
        .expect("an anonymous client connected to the auth listener");
    assert_eq!(code_of(&e), "NOT_AUTHORIZED", "{e:?}");
}

// ----- publish / subscribe -----

/// Client `a` and `b` each subscribe at `qos` and publish to the other at `qos`: each gets
/// exactly the message sent to it, with the QoS, payload and topic it was sent with.
async fn both_ways(qos: u8) {
    let a = connect_default().await;
    let b = connect_default().await;
    let t = topic(&format!("qos{qos}"));
    let (to_a, to_b) = (format!("{t}/to-a"), format!("{t}/to-b"));
    let (ra, rb) = (messages(&a), messages(&b));
    subscribe(&a, &format!("{to_a}/#"), qos).await;
    subscribe(&b, &format!("{to_b}/#"), qos).await;

    let text = format!("qos {qos} from b");
    let r = publish(&b, &format!("{to_a}/m"), &text, qos).await;
    assert_eq!(
        get(&r, "packetId").as_f64().is_some(),
        qos > 0,
        "packetId: {r:?}"
    );
    if qos > 0 {
        assert_eq!(get(&r, "reasonCode").as_f64(), Some(0.0), "{r:?}");
    }
    let binary: Vec<u8> = vec![0, 1, 2, 127, 128, 254, 255];
    ok(
        a.publish(format!("{to_b}/m").into(), uint8(&binary), qos_opts(qos)),
        "binary publish",
    )
    .await;

    let got_a = ra.wait_topic(&format!("{to_a}/m")).await;
    assert_eq!(
        (got_a.text.as_str(), got_a.qos, got_a.retain),
        (text.as_str(), qos, false)
    );
    let got_b = rb.wait_topic(&format!("{to_b}/m")).await;
    assert_eq!((got_b.payload.clone(), got_b.qos), (binary, qos));

    // A marker behind each message on the same path: once it is in, a duplicate would be.
    publish(&b, &format!("{to_a}/end"), "end", qos).await;
    publish(&a, &format!("{to_b}/end"), "end", qos).await;
    ra.wait_topic(&format!("{to_a}/end")).await;
    rb.wait_topic(&format!("{to_b}/end")).await;
    assert_eq!(
        ra.len(),
        2,
        "a got exactly its two messages: {:?}",
        ra.topics()
    );
    assert_eq!(
        rb.len(),
        2,
        "b got exactly its two messages: {:?}",
        rb.topics()
    );
    assert!(stats_field(&a, "messagesReceived") >= 2.0);
    assert!(stats_field(&a, "messagesSent") >= 2.0);
    assert_eq!(stats_field(&a, "inflight"), 0.0);
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn qos0_messages_flow_both_ways() {
    both_ways(0).await;
}

#[wasm_bindgen_test]
async fn qos1_messages_flow_both_ways() {
    both_ways(1).await;
}

#[wasm_bindgen_test]
async fn qos2_messages_flow_both_ways_exactly_once() {
    both_ways(2).await;
}

#[wasm_bindgen_test]
async fn the_delivered_qos_is_the_lower_of_publish_and_subscription() {
    let a = connect_default().await;
    let t = topic("downgrade");
    let msgs = messages(&a);
    subscribe(&a, &format!("{t}/low"), 0).await;
    subscribe(&a, &format!("{t}/high"), 2).await;
    publish(&a, &format!("{t}/low"), "x", 2).await;
    publish(&a, &format!("{t}/high"), "y", 1).await;
    assert_eq!(msgs.wait_topic(&format!("{t}/low")).await.qos, 0);
    assert_eq!(msgs.wait_topic(&format!("{t}/high")).await.qos, 1);
    end(&a).await;
}

#[wasm_bindgen_test]
async fn each_subscription_listener_gets_only_its_own_messages() {
    let a = connect_default().await;
    let b = connect_default().await;
    let t = topic("route");
    let all = messages(&a);
    let (lx, ly) = (Recorder::new(), Recorder::new());
    ok(
        a.subscribe(format!("{t}/x").into(), qos_opts(1), lx.js()),
        "subscribe x",
    )
    .await;
    ok(
        a.subscribe(format!("{t}/y/+").into(), qos_opts(1), ly.js()),
        "subscribe y",
    )
    .await;
    for (sub, text) in [("x", "1"), ("y/1", "2"), ("x", "3")] {
        publish(&b, &format!("{t}/{sub}"), text, 1).await;
    }
    all.wait_len(3, TIMEOUT_MS, "the message listener").await;
    let texts = |r: &Recorder| r.messages().into_iter().map(|m| m.text).collect::<Vec<_>>();
    assert_eq!(texts(&lx), ["1", "3"]);
    assert_eq!(texts(&ly), ["2"]);
    assert_eq!(ly.topics(), [format!("{t}/y/1")]);
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn subscribing_to_several_filters_grants_each() {
    let a = connect_default().await;
    let t = topic("many");
    let filters = Array::of2(&format!("{t}/a").into(), &format!("{t}/b/#").into());
    let granted = ok(
        a.subscribe(filters.into(), qos_opts(2), JsValue::UNDEFINED),
        "subscribe",
    )
    .await;
    let granted = Array::from(&granted);
    assert_eq!(granted.length(), 2);
    for (i, f) in [format!("{t}/a"), format!("{t}/b/#")].iter().enumerate() {
        let g = granted.get(i as u32);
        assert_eq!(get(&g, "filter").as_string().as_deref(), Some(f.as_str()));
        assert_eq!(get(&g, "qos").as_f64(), Some(2.0));
        assert_eq!(get(&g, "reasonCode").as_f64(), Some(2.0));
    }
    end(&a).await;
}

#[wasm_bindgen_test]
async fn unsubscribe_stops_delivery_on_that_filter_only() {
    let a = connect_default().await;
    let b = connect_default().await;
    let t = topic("unsub");
    let msgs = messages(&a);
    let listener = Recorder::new();
    ok(
        a.subscribe(format!("{t}/gone").into(), qos_opts(1), listener.js()),
        "subscribe",
    )
    .await;
    subscribe(&a, &format!("{t}/kept"), 1).await;
    publish(&b, &format!("{t}/gone"), "before", 1).await;
    msgs.wait_topic(&format!("{t}/gone")).await;
    let r = ok(a.unsubscribe(format!("{t}/gone").into()), "unsubscribe").await;
    assert!(r.is_undefined(), "unsubscribe resolves with nothing: {r:?}");
    publish(&b, &format!("{t}/gone"), "after", 1).await;
    publish(&b, &format!("{t}/kept"), "marker", 1).await;
    msgs.wait_topic(&format!("{t}/kept")).await;
    let gone: Vec<String> = msgs
        .messages()
        .into_iter()
        .filter(|m| m.topic.ends_with("/gone"))
        .map(|m| m.text)
        .collect();
    assert_eq!(gone, ["before"], "nothing after unsubscribe");
    assert_eq!(listener.len(), 1, "the subscription listener is gone too");
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn a_retained_message_reaches_later_subscribers_unless_retain_handling_2() {
    let b = connect_default().await;
    let t = topic("retained");
    let kept = format!("{t}/state");
    ok(
        b.publish(
            kept.as_str().into(),
            "kept".into(),
            obj(&[("qos", 1.into()), ("retain", true.into())]),
        ),
        "retained publish",
    )
    .await;

    let late = connect_default().await;
    let msgs = messages(&late);
    subscribe(&late, &kept, 1).await;
    let m = msgs.wait_topic(&kept).await;
    assert_eq!((m.text.as_str(), m.retain), ("kept", true));

    let none = connect_default().await;
    let none_msgs = messages(&none);
    let opts = obj(&[("qos", 1.into()), ("retainHandling", 2.into())]);
    ok(
        none.subscribe(kept.as_str().into(), opts, JsValue::UNDEFINED),
        "subscribe rh 2",
    )
    .await;
    subscribe(&none, &format!("{t}/marker"), 1).await;
    publish(&b, &format!("{t}/marker"), "marker", 1).await;
    none_msgs.wait_topic(&format!("{t}/marker")).await;
    assert_eq!(
        none_msgs.topics(),
        [format!("{t}/marker")],
        "no retained message"
    );

    // An empty retained payload clears it (and keeps the broker tidy).
    ok(
        b.publish(
            kept.as_str().into(),
            "".into(),
            obj(&[("qos", 1.into()), ("retain", true.into())]),
        ),
        "clear",
    )
    .await;
    for c in [&b, &late, &none] {
        end(c).await;
    }
}

#[wasm_bindgen_test]
async fn retain_as_published_keeps_the_retain_flag_on_live_messages() {
    let a = connect_default().await;
    let t = topic("rap");
    let (keep, plain) = (Recorder::new(), Recorder::new());
    let rap = obj(&[("qos", 1.into()), ("retainAsPublished", true.into())]);
    ok(a.subscribe(format!("{t}/+").into(), rap, keep.js()), "rap").await;
    let b = connect_default().await;
    ok(
        b.subscribe(format!("{t}/+").into(), qos_opts(1), plain.js()),
        "plain",
    )
    .await;
    let c = connect_default().await;
    let retained = obj(&[("qos", 1.into()), ("retain", true.into())]);
    ok(
        c.publish(format!("{t}/r").into(), "live".into(), retained.clone()),
        "publish",
    )
    .await;
    keep.wait_len(1, TIMEOUT_MS, "rap subscriber").await;
    plain.wait_len(1, TIMEOUT_MS, "plain subscriber").await;
    assert!(
        keep.messages()[0].retain,
        "retainAsPublished: the flag as published"
    );
    assert!(
        !plain.messages()[0].retain,
        "default: live messages have retain 0"
    );
    ok(
        c.publish(format!("{t}/r").into(), "".into(), retained),
        "clear",
    )
    .await;
    for x in [&a, &b, &c] {
        end(x).await;
    }
}

#[wasm_bindgen_test]
async fn mqtt5_publish_properties_round_trip() {
    let a = connect_default().await;
    let b = connect_default().await;
    let t = topic("props");
    let msgs = messages(&a);
    let sub = obj(&[("qos", 1.into()), ("subscriptionIdentifier", 4242.into())]);
    ok(
        a.subscribe(t.as_str().into(), sub, JsValue::UNDEFINED),
        "subscribe",
    )
    .await;
    let user = obj(&[
        ("device", "lock-1".into()),
        ("tag", Array::of2(&"a".into(), &"b".into()).into()),
    ]);
    let props = obj(&[
        ("payloadFormatIndicator", true.into()),
        ("messageExpiryInterval", 120.into()),
        ("contentType", "application/json".into()),
        ("responseTopic", format!("{t}/reply").into()),
        ("correlationData", uint8(&[9, 8, 7])),
        ("userProperties", user),
    ]);
    ok(
        b.publish(
            t.as_str().into(),
            "{\"open\":true}".into(),
            obj(&[("qos", 1.into()), ("properties", props)]),
        ),
        "publish",
    )
    .await;
    msgs.wait_topic(&t).await;
    let p = get(&msgs.arg(0), "properties");
    assert_eq!(get(&p, "payloadFormatIndicator").as_bool(), Some(true));
    let expiry = get(&p, "messageExpiryInterval").as_f64().expect("expiry");
    assert!(expiry > 100.0 && expiry <= 120.0, "expiry {expiry}");
    assert_eq!(
        get(&p, "contentType").as_string().as_deref(),
        Some("application/json")
    );
    assert_eq!(
        get(&p, "responseTopic").as_string(),
        Some(format!("{t}/reply"))
    );
    assert_eq!(bytes_of(&get(&p, "correlationData")), [9, 8, 7]);
    let user = get(&p, "userProperties");
    assert_eq!(get(&user, "device").as_string().as_deref(), Some("lock-1"));
    let tags: Vec<String> = Array::from(&get(&user, "tag"))
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    assert_eq!(tags, ["a", "b"], "repeated user property keys in order");
    let ids: Vec<f64> = Array::from(&get(&p, "subscriptionIdentifiers"))
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(ids, [4242.0]);
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn no_local_subscriptions_skip_own_messages() {
    let a = connect_default().await;
    let b = connect_default().await;
    let t = topic("nolocal");
    let msgs = messages(&a);
    let opts = obj(&[("qos", 1.into()), ("noLocal", true.into())]);
    ok(
        a.subscribe(format!("{t}/chat").into(), opts, JsValue::UNDEFINED),
        "noLocal",
    )
    .await;
    subscribe(&a, &format!("{t}/marker"), 1).await;
    publish(&a, &format!("{t}/chat"), "own", 1).await;
    // Same publisher, same subscriber: the marker comes after "own" would have.
    publish(&a, &format!("{t}/marker"), "marker", 1).await;
    msgs.wait_topic(&format!("{t}/marker")).await;
    publish(&b, &format!("{t}/chat"), "other", 1).await;
    let m = msgs.wait_topic(&format!("{t}/chat")).await;
    assert_eq!(
        m.text, "other",
        "the first chat message is b's, not a's own"
    );
    end(&a).await;
    end(&b).await;
}

// ----- input errors -----

#[wasm_bindgen_test]
async fn invalid_topics_and_qos_are_rejected_with_codes_and_nothing_is_sent() {
    let c = connect_default().await;
    let sent_before = stats_field(&c, "bytesSent");
    let q = |n: f64| obj(&[("qos", n.into())]);
    let cases: Vec<(&str, js_sys::Promise, &str)> = vec![
        (
            "empty topic",
            c.publish("".into(), "x".into(), JsValue::UNDEFINED),
            "INVALID_TOPIC",
        ),
        (
            "wildcard #",
            c.publish("a/#".into(), "x".into(), JsValue::UNDEFINED),
            "INVALID_TOPIC",
        ),
        (
            "wildcard +",
            c.publish("a/+/b".into(), "x".into(), q(1.0)),
            "INVALID_TOPIC",
        ),
        (
            "nul",
            c.publish("a\0b".into(), "x".into(), JsValue::UNDEFINED),
            "INVALID_TOPIC",
        ),
        (
            "number topic",
            c.publish(5.into(), "x".into(), JsValue::UNDEFINED),
            "INVALID_TOPIC",
        ),
        (
            "bad filter",
            c.subscribe("a/#/b".into(), JsValue::UNDEFINED, JsValue::UNDEFINED),
            "INVALID_TOPIC",
        ),
        (
            "qos 3",
            c.publish("a/b".into(), "x".into(), q(3.0)),
            "INVALID_QOS",
        ),
        (
            "qos -1",
            c.publish("a/b".into(), "x".into(), q(-1.0)),
            "INVALID_QOS",
        ),
        (
            "qos 1.5",
            c.publish("a/b".into(), "x".into(), q(1.5)),
            "INVALID_QOS",
        ),
        (
            "subscribe qos 3",
            c.subscribe("a/b".into(), q(3.0), JsValue::UNDEFINED),
            "INVALID_QOS",
        ),
        (
            "unsubscribe bad filter",
            c.unsubscribe("a/#/b".into()),
            "INVALID_TOPIC",
        ),
    ];
    for (what, p, code) in cases {
        let e = rejects(p, code, what).await;
        assert!(
            e.is_instance_of::<js_sys::Error>(),
            "{what}: instanceof Error"
        );
        // The rejection is the library's own `MqttError`, readable from Rust.
        let e = MqttError::try_from_js_value(e).expect("an MqttError");
        assert_eq!(
            (e.code_str(), e.name()),
            (code, "MqttError".to_string()),
            "{what}"
        );
        assert!(!e.text().is_empty(), "{what}: a message");
    }
    assert_eq!(
        stats_field(&c, "bytesSent"),
        sent_before,
        "nothing was sent"
    );
    assert_eq!(state(&c), "connected", "bad input leaves the connection up");
    end(&c).await;
}

#[wasm_bindgen_test]
async fn invalid_subscribe_and_publish_arguments_are_invalid_argument() {
    let c = connect_default().await;
    let cases: Vec<(&str, js_sys::Promise)> = vec![
        (
            "filter is a number",
            c.subscribe(5.into(), JsValue::UNDEFINED, JsValue::UNDEFINED),
        ),
        (
            "filters not strings",
            c.subscribe(
                Array::of1(&7.into()).into(),
                JsValue::UNDEFINED,
                JsValue::UNDEFINED,
            ),
        ),
        (
            "listener not a function",
            c.subscribe("a/b".into(), JsValue::UNDEFINED, "f".into()),
        ),
        (
            "retainHandling 3",
            c.subscribe(
                "a/b".into(),
                obj(&[("retainHandling", 3.into())]),
                JsValue::UNDEFINED,
            ),
        ),
        (
            "subscriptionIdentifier 0",
            c.subscribe(
                "a/b".into(),
                obj(&[("subscriptionIdentifier", 0.into())]),
                JsValue::UNDEFINED,
            ),
        ),
        (
            "noLocal on a shared subscription",
            c.subscribe(
                "$share/g/a/b".into(),
                obj(&[("noLocal", true.into())]),
                JsValue::UNDEFINED,
            ),
        ),
        (
            "payload is a number",
            c.publish("a/b".into(), 5.into(), JsValue::UNDEFINED),
        ),
        (
            "userProperties not strings",
            c.publish(
                "a/b".into(),
                "x".into(),
                obj(&[(
                    "properties",
                    obj(&[("userProperties", obj(&[("k", 1.into())]))]),
                )]),
            ),
        ),
        ("unsubscribe a number", c.unsubscribe(5.into())),
    ];
    for (what, p) in cases {
        rejects(p, "INVALID_ARGUMENT", what).await;
    }
    assert_eq!(state(&c), "connected");
    end(&c).await;
}

#[wasm_bindgen_test]
async fn invalid_connect_options_are_rejected_before_any_connection() {
    let url = ws_url();
    let cases: Vec<(&str, JsValue, JsValue, &str)> = vec![
        (
            "http url",
            "http://127.0.0.1:1".into(),
            JsValue::UNDEFINED,
            "INVALID_ARGUMENT",
        ),
        (
            "no url",
            JsValue::UNDEFINED,
            JsValue::UNDEFINED,
            "INVALID_ARGUMENT",
        ),
        ("options a number", url.into(), 5.into(), "INVALID_ARGUMENT"),
        (
            "keepalive -1",
            url.into(),
            obj(&[("keepalive", (-1).into())]),
            "INVALID_ARGUMENT",
        ),
        (
            "protocolVersion 3",
            url.into(),
            obj(&[("protocolVersion", 3.into())]),
            "INVALID_ARGUMENT",
        ),
        (
            "queue.overflow",
            url.into(),
            obj(&[("queue", obj(&[("overflow", "explode".into())]))]),
            "INVALID_ARGUMENT",
        ),
        (
            "credentials",
            url.into(),
            obj(&[("credentials", "x".into())]),
            "INVALID_ARGUMENT",
        ),
        (
            "store",
            url.into(),
            obj(&[("store", "disk".into())]),
            "INVALID_ARGUMENT",
        ),
        (
            "reconnect",
            url.into(),
            obj(&[("reconnect", 5.into())]),
            "INVALID_ARGUMENT",
        ),
        (
            "will topic",
            url.into(),
            obj(&[("will", obj(&[("topic", "a/+".into())]))]),
            "INVALID_TOPIC",
        ),
        (
            "will qos",
            url.into(),
            obj(&[("will", obj(&[("topic", "a".into()), ("qos", 7.into())]))]),
            "INVALID_QOS",
        ),
    ];
    for (what, u, o, code) in cases {
        rejects(MqttClient::connect(u, o), code, what).await;
    }
}

// ----- end -----

#[wasm_bindgen_test]
async fn end_flushes_in_flight_publishes_and_sends_no_will() {
    let t = topic("end");
    let will = obj(&[
        ("topic", format!("{t}/will").into()),
        ("payload", "gone".into()),
        ("qos", 1.into()),
    ]);
    let a = connect(obj(&[("will", will), ("reconnect", false.into())])).await;
    let b = connect_default().await;
    let got = messages(&b);
    subscribe(&b, &format!("{t}/#"), 1).await;
    let closes = on(&a, "close");
    let last = Watched::new(a.publish(format!("{t}/last").into(), "last".into(), qos_opts(1)));
    ok(a.end(JsValue::UNDEFINED), "end").await;
    assert!(last.is_settled(), "end waited for the PUBACK");
    last.result()
        .expect("settled")
        .expect("the in-flight publish succeeded");
    assert_eq!(state(&a), "closed");
    assert_eq!(closes.len(), 1, "one close event");
    rejects(
        a.publish(format!("{t}/x").into(), "x".into(), JsValue::UNDEFINED),
        "CLOSED",
        "publish after end",
    )
    .await;
    ok(a.end(JsValue::UNDEFINED), "a second end").await;

    publish(&b, &format!("{t}/marker"), "marker", 1).await;
    got.wait_topic(&format!("{t}/marker")).await;
    assert_eq!(
        got.topics(),
        [format!("{t}/last"), format!("{t}/marker")],
        "no Will"
    );
    end(&b).await;
}

#[wasm_bindgen_test]
async fn end_force_drops_at_once_and_the_broker_sends_the_will() {
    let t = topic("force");
    let will = obj(&[
        ("topic", format!("{t}/will").into()),
        ("payload", "gone".into()),
        ("qos", 1.into()),
    ]);
    let a = connect(obj(&[("will", will), ("reconnect", false.into())])).await;
    let b = connect_default().await;
    let got = messages(&b);
    subscribe(&b, &format!("{t}/#"), 1).await;
    let closes = on(&a, "close");
    ok(a.end(obj(&[("force", true.into())])), "end force").await;
    assert_eq!(state(&a), "closed");
    assert_eq!(closes.len(), 1);
    let m = got.wait_topic(&format!("{t}/will")).await;
    assert_eq!(m.text, "gone");
    end(&b).await;
}

#[wasm_bindgen_test]
async fn off_removes_a_listener() {
    let a = connect_default().await;
    let t = topic("off");
    let (kept, removed) = (messages(&a), messages(&a));
    a.off("message".into(), removed.f()).expect("off");
    subscribe(&a, &t, 1).await;
    publish(&a, &t, "one", 1).await;
    kept.wait_topic(&t).await;
    assert!(removed.is_empty(), "a removed listener is not called");
    // From Rust `on` adds the listener and returns nothing (JS chaining lives in the glue).
    a.on("state".into(), Function::new_no_args("")).expect("on");
    assert_eq!(state(&a), "connected");
    end(&a).await;
}

#[wasm_bindgen_test]
async fn a_persistent_session_gets_the_messages_published_while_it_was_away() {
    let id = uid("away");
    let t = topic("away");
    let persistent = || {
        obj(&[
            ("clientId", id.as_str().into()),
            ("clean", false.into()),
            ("sessionExpiry", 300.into()),
            ("reconnect", false.into()),
        ])
    };
    let a = connect(persistent()).await;
    subscribe(&a, &t, 1).await;
    end(&a).await;
    let b = connect_default().await;
    for i in 1..=3 {
        publish(&b, &t, &format!("while away {i}"), 1).await;
    }
    let a = connect(persistent()).await;
    let msgs = messages(&a);
    msgs.wait_len(3, TIMEOUT_MS, "the stored messages").await;
    let texts: Vec<String> = msgs.messages().into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["while away 1", "while away 2", "while away 3"]);
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn will_properties_reach_the_subscriber() {
    let t = topic("will-props");
    let will = obj(&[
        ("topic", format!("{t}/status").into()),
        ("payload", uint8(&[0, 1, 2])),
        ("qos", 1.into()),
        (
            "properties",
            obj(&[
                ("contentType", "application/octet-stream".into()),
                ("userProperties", obj(&[("reason", "crash".into())])),
                ("willDelayInterval", 0.into()),
            ]),
        ),
    ]);
    let a = connect(obj(&[
        ("will", will),
        ("reconnect", false.into()),
        (
            "properties",
            obj(&[
                ("receiveMaximum", 10.into()),
                ("userProperties", obj(&[("app", "tests".into())])),
            ]),
        ),
    ]))
    .await;
    let b = connect_default().await;
    let got = messages(&b);
    subscribe(&b, &format!("{t}/#"), 1).await;
    ok(a.end(obj(&[("force", true.into())])), "end force").await;
    let m = got.wait_topic(&format!("{t}/status")).await;
    assert_eq!(m.payload, [0, 1, 2]);
    let p = get(&got.arg(0), "properties");
    assert_eq!(
        get(&p, "contentType").as_string().as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(
        get(&get(&p, "userProperties"), "reason")
            .as_string()
            .as_deref(),
        Some("crash")
    );
    end(&b).await;
}
