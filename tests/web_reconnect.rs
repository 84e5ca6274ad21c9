//! Browser tests of `MqttClient` when the broker goes away, called from Rust: connect
//! timeouts and aborts against a frozen broker, reconnects after restarts (state events,
//! persistent and clean sessions, resubscription), unacknowledged publishes resent after a
//! crash, the bounded offline queue flushed in order, `reconnect()`, `maxAttempts`,
//! keep-alive pings and `end({ timeout })`. The broker is stopped, frozen, killed and
//! restarted through its control endpoint (`MQTT_RTC_CONTROL_URL`), and put back before a
//! test's assertions, or by the next test's connect if an assertion failed on the way.
#![cfg(target_arch = "wasm32")]

mod web_util;

use mqtt_rtc::client::MqttClient;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_util::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn an_aborted_signal_rejects_connect_with_aborted() {
    let controller = web_sys::AbortController::new().expect("AbortController");
    controller.abort();
    let opts = obj(&[("signal", controller.signal().into())]);
    rejects(
        MqttClient::connect(ws_url().into(), opts),
        "ABORTED",
        "pre-aborted",
    )
    .await;

    // Aborting while the broker does not answer gives up the attempt.
    let guard = BrokerGuard::new("freeze", "thaw").await;
    let controller = web_sys::AbortController::new().expect("AbortController");
    let opts = obj(&[
        ("signal", controller.signal().into()),
        ("reconnect", false.into()),
    ]);
    let p = Watched::new(MqttClient::connect(ws_url().into(), opts));
    sleep(100).await;
    assert!(
        !p.is_settled(),
        "connect to a frozen broker is still pending"
    );
    controller.abort();
    wait_for("connect to settle after abort", TIMEOUT_MS, || {
        p.is_settled()
    })
    .await;
    guard.undo().await;
    let e = p
        .result()
        .expect("settled")
        .expect_err("an aborted connect rejects");
    assert_eq!(code_of(&e), "ABORTED", "{e:?}");
}

#[wasm_bindgen_test]
async fn a_broker_that_does_not_answer_is_a_connect_timeout() {
    let guard = BrokerGuard::new("freeze", "thaw").await;
    let started = now();
    let r = try_connect(
        ws_url(),
        obj(&[("connectTimeout", 500.into()), ("reconnect", false.into())]),
    )
    .await;
    let took = now() - started;
    guard.undo().await;
    let e = r.err().expect("connected to a frozen broker");
    assert_eq!(code_of(&e), "CONNECT_TIMEOUT", "{e:?}");
    assert!(took >= 450.0, "not before the timeout: {took} ms");
    assert!(took < 5_000.0, "soon after the timeout: {took} ms");
}

// ----- reconnect -----

#[wasm_bindgen_test]
async fn a_persistent_session_survives_a_broker_restart() {
    let a = connect(obj(&[
        ("clientId", uid("persist").into()),
        ("clean", false.into()),
        ("sessionExpiry", 300.into()),
        ("reconnect", fast_reconnect()),
    ]))
    .await;
    let t = topic("persist");
    subscribe(&a, &t, 1).await;
    let states = on(&a, "state");
    let connects = on(&a, "connect");
    let msgs = messages(&a);

    control("restart").await;
    connects.wait_len(1, 20_000, "the reconnect").await;
    let info = connects.arg(0);
    assert_eq!(
        get(&info, "sessionPresent").as_bool(),
        Some(true),
        "{info:?}"
    );
    assert_eq!(get(&info, "reasonCode").as_f64(), Some(0.0));
    let seen = states.strings();
    // Offline when the broker goes, attempts while it is down, then connected.
    assert_eq!(
        seen.first().map(String::as_str),
        Some("offline"),
        "{seen:?}"
    );
    assert_eq!(
        seen.last().map(String::as_str),
        Some("connected"),
        "{seen:?}"
    );
    assert!(seen.contains(&"reconnecting".to_string()), "{seen:?}");
    assert!(
        seen[..seen.len() - 1]
            .iter()
            .all(|s| s == "offline" || s == "reconnecting"),
        "{seen:?}"
    );
    assert_eq!(state(&a), "connected");
    assert!(stats_field(&a, "reconnects") >= 1.0);

    let b = connect_default().await;
    publish(&b, &t, "after restart", 1).await;
    assert_eq!(msgs.wait_topic(&t).await.text, "after restart");
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn a_clean_session_resubscribes_after_a_broker_restart() {
    let a = connect(obj(&[("reconnect", fast_reconnect())])).await;
    let t = topic("resub");
    let listener = Recorder::new();
    ok(
        a.subscribe(t.as_str().into(), qos_opts(1), listener.js()),
        "subscribe",
    )
    .await;
    let connects = on(&a, "connect");
    control("restart").await;
    connects.wait_len(1, 20_000, "the reconnect").await;
    assert_eq!(
        get(&connects.arg(0), "sessionPresent").as_bool(),
        Some(false),
        "a clean session is new after the restart"
    );
    let b = connect_default().await;
    // The resubscription is in flight right after CONNACK: retry until it takes effect.
    let mut n = 0;
    wait_for(
        "delivery through the restored subscription",
        TIMEOUT_MS,
        || {
            n += 1;
            if n % 20 == 1 {
                let _ = b.publish(t.as_str().into(), "after".into(), qos_opts(1));
            }
            !listener.is_empty()
        },
    )
    .await;
    assert_eq!(
        listener.messages()[0].text,
        "after",
        "the per-subscription listener too"
    );
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn unacknowledged_qos1_and_qos2_publishes_are_resent_after_a_drop() {
    let a = connect(obj(&[
        ("clientId", uid("resend").into()),
        ("clean", false.into()),
        ("sessionExpiry", 300.into()),
        ("reconnect", fast_reconnect()),
    ]))
    .await;
    let t = topic("resend");
    let guard = BrokerGuard::new("freeze", "start").await; // undone by a start after the kill
                                                           // Written to a broker that cannot answer: no PUBACK / PUBREC.
    let p1 = Watched::new(a.publish(format!("{t}/1").into(), "one".into(), qos_opts(1)));
    let p2 = Watched::new(a.publish(format!("{t}/2").into(), "two".into(), qos_opts(2)));
    sleep(200).await;
    assert!(
        !p1.is_settled() && !p2.is_settled(),
        "no acknowledgement from a frozen broker"
    );
    assert_eq!(stats_field(&a, "inflight"), 2.0);
    // A crash while frozen: the broker never saw the publishes.
    control("kill").await;
    guard.undo().await;
    wait_for("both publishes to settle", 20_000, || {
        p1.is_settled() && p2.is_settled()
    })
    .await;
    for (p, what) in [(&p1, "qos 1"), (&p2, "qos 2")] {
        let r = p
            .result()
            .expect("settled")
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        // 0 success, or 0x10 no matching subscribers: acknowledged either way.
        let reason = get(&r, "reasonCode").as_f64();
        assert!(
            matches!(reason, Some(c) if c == 0.0 || c == 16.0),
            "{what}: {r:?}"
        );
    }
    assert_eq!(stats_field(&a, "inflight"), 0.0);
    end(&a).await;
}

#[wasm_bindgen_test]
async fn offline_publishes_are_bounded_and_flushed_in_order() {
    let t = topic("offline");
    let b = connect(obj(&[
        ("clientId", uid("offline-rx").into()),
        ("clean", false.into()),
        ("sessionExpiry", 300.into()),
        ("reconnect", fast_reconnect()),
    ]))
    .await;
    let got = messages(&b);
    subscribe(&b, &format!("{t}/#"), 1).await;
    let a = connect(obj(&[
        ("reconnect", fast_reconnect()),
        ("queue", obj(&[("maxMessages", 3.into())])),
    ]))
    .await;
    let guard = BrokerGuard::new("stop", "start").await;
    wait_for("a to notice the broker is gone", TIMEOUT_MS, || {
        state(&a) != "connected"
    })
    .await;
    let queued: Vec<Watched> = (1..=3)
        .map(|i| {
            Watched::new(a.publish(format!("{t}/{i}").into(), i.to_string().into(), qos_opts(1)))
        })
        .collect();
    assert_eq!(stats_field(&a, "queued"), 3.0);
    rejects(
        a.publish(format!("{t}/4").into(), "4".into(), qos_opts(1)),
        "QUEUE_FULL",
        "a fourth publish",
    )
    .await;
    assert!(
        queued.iter().all(|p| !p.is_settled()),
        "nothing settles while offline"
    );
    guard.undo().await;
    wait_for("the queue to flush", 20_000, || {
        queued.iter().all(Watched::is_settled)
    })
    .await;
    for p in &queued {
        p.result()
            .expect("settled")
            .expect("a queued publish succeeds");
    }
    got.wait_len(3, 20_000, "the subscriber").await;
    let texts: Vec<String> = got.messages().into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["1", "2", "3"], "in order, the refused one not sent");
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn reconnect_drops_the_connection_and_keeps_the_subscriptions() {
    let a = connect(obj(&[("reconnect", fast_reconnect())])).await;
    let t = topic("reconnect");
    let msgs = messages(&a);
    subscribe(&a, &t, 1).await;
    let states = on(&a, "state");
    let connects = on(&a, "connect");
    a.reconnect().expect("reconnect");
    connects.wait_len(1, TIMEOUT_MS, "the reconnect").await;
    assert_eq!(states.strings(), ["reconnecting", "connected"]);
    let b = connect_default().await;
    publish(&b, &t, "still subscribed", 1).await;
    assert_eq!(msgs.wait_topic(&t).await.text, "still subscribed");
    end(&a).await;
    end(&b).await;
}

#[wasm_bindgen_test]
async fn the_client_gives_up_after_max_attempts() {
    let a = connect(obj(&[(
        "reconnect",
        obj(&[
            ("initialDelay", 50.into()),
            ("maxDelay", 50.into()),
            ("maxAttempts", 2.into()),
        ]),
    )]))
    .await;
    let closes = on(&a, "close");
    let attempts = on(&a, "reconnecting");
    let guard = BrokerGuard::new("stop", "start").await;
    closes
        .wait_len(1, 20_000, "close after the last attempt")
        .await;
    guard.undo().await;
    assert_eq!(state(&a), "closed");
    let numbers: Vec<f64> = attempts
        .all()
        .iter()
        .filter_map(|a| get(a, "attempt").as_f64())
        .collect();
    assert_eq!(numbers, [1.0, 2.0], "exactly maxAttempts attempts");
    rejects(
        a.publish("x".into(), "y".into(), JsValue::UNDEFINED),
        "CLOSED",
        "publish after giving up",
    )
    .await;
}

#[wasm_bindgen_test]
async fn keepalive_pings_measure_a_round_trip() {
    let a = connect(obj(&[("keepalive", 1.into()), ("reconnect", false.into())])).await;
    wait_for("a PINGRESP", 5_000, || {
        get(&a.stats().expect("stats"), "lastPingRtt")
            .as_f64()
            .is_some()
    })
    .await;
    let rtt = stats_field(&a, "lastPingRtt");
    assert!((0.0..1_000.0).contains(&rtt), "rtt {rtt}");
    assert_eq!(state(&a), "connected");
    end(&a).await;
}

#[wasm_bindgen_test]
async fn end_with_a_timeout_gives_up_on_a_broker_that_does_not_answer() {
    let a = connect_default().await;
    let t = topic("end-timeout");
    let guard = BrokerGuard::new("freeze", "thaw").await;
    let pending = Watched::new(a.publish(t.as_str().into(), "never acked".into(), qos_opts(1)));
    let started = now();
    let ended = settle_within(a.end(obj(&[("timeout", 300.into())])), TIMEOUT_MS, "end").await;
    let took = now() - started;
    guard.undo().await;
    ended.expect("end resolves after its timeout");
    assert!((250.0..3_000.0).contains(&took), "end took {took} ms");
    assert_eq!(state(&a), "closed");
    wait_for("the unacknowledged publish to settle", TIMEOUT_MS, || {
        pending.is_settled()
    })
    .await;
    let e = pending
        .result()
        .expect("settled")
        .expect_err("an unacknowledged publish fails");
    assert_eq!(code_of(&e), "CLOSED", "{e:?}");
}
