//! The session's durable journal (`SessionConfig::durable`, what `store: "indexeddb"` keeps)
//! against a scripted broker: which records a page leaves behind at every step, and what a
//! new page that loads them does. A "reload" here is a new `Session` given the records the
//! old one left (the old one is dropped mid-exchange, as a closing tab drops it); the store
//! is a map to which each step's operations are applied, which is what the browser driver
//! guarantees before anything the step wrote leaves the page.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod util;

use std::collections::BTreeMap;

use mqtt_rtc::mqtt::backoff::BackoffConfig;
use mqtt_rtc::mqtt::codec::{ConnAck, Packet, Publish, QoS};
use mqtt_rtc::mqtt::session::{ErrorCode, Event, SessionConfig, State, StoreOp};
use util::{ack, publish, Pair};

/// A persistent v5 session with a store.
fn durable() -> SessionConfig {
    SessionConfig {
        client_id: "page-1".to_string(),
        clean_start: false,
        session_expiry: Some(3_600),
        durable: true,
        reconnect: Some(BackoffConfig {
            initial_delay: 1_000,
            max_delay: 1_000,
            multiplier: 2.0,
            jitter: 0.0,
            max_attempts: None,
        }),
        ..SessionConfig::default()
    }
}

/// The store: record name to bytes.
#[derive(Default)]
struct Store(BTreeMap<String, Vec<u8>>);

impl Store {
    /// Applies what the session recorded since the last call.
    fn sync(&mut self, pair: &mut Pair) -> Vec<StoreOp> {
        let ops = pair.session.take_store_ops();
        for op in &ops {
            match op {
                StoreOp::Put(name, value) => {
                    self.0.insert(name.clone(), value.clone());
                }
                StoreOp::Delete(name) => {
                    self.0.remove(name);
                }
            }
        }
        ops
    }

    fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn records(&self) -> Vec<(String, Vec<u8>)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// A new page: a session that loads `store` and connects to a broker that answers with
/// `session_present`; returns it with what it took back.
fn reload(store: &Store, session_present: bool) -> (Pair, usize) {
    let mut pair = Pair::new(durable());
    let n = pair.session.load_store(store.records());
    pair.broker.auto_puback = false;
    pair.broker.auto_pubrec = false;
    pair.broker.auto_pubcomp = false;
    pair.broker.auto_connack = Some(ConnAck {
        session_present,
        ..ConnAck::default()
    });
    pair.connect();
    assert_eq!(pair.session.state(), State::Connected);
    (pair, n)
}

fn wire(topic: &str, qos: QoS, id: u16, payload: &[u8], dup: bool) -> Packet {
    Packet::Publish(Publish {
        packet_id: Some(id),
        dup,
        ..publish(topic, qos, payload)
    })
}

/// A connected page whose broker acknowledges nothing by itself.
fn silent_broker() -> Pair {
    let mut pair = Pair::connected(durable());
    pair.broker.auto_puback = false;
    pair.broker.auto_pubrec = false;
    pair.broker.auto_pubcomp = false;
    pair
}

/// What a page leaves when it is dropped with a (QoS 1, no ack), b (QoS 2, past PUBREC)
/// and c (QoS 2, no ack) in flight under ids 1, 2 and 3.
fn three_left_behind() -> Store {
    let mut pair = silent_broker();
    let mut store = Store::default();
    pair.publish("t/a", QoS::AtLeastOnce, b"a");
    pair.publish("t/b", QoS::ExactlyOnce, b"b");
    pair.publish("t/c", QoS::ExactlyOnce, b"c");
    pair.broker_send(Packet::PubRec(ack(2)));
    store.sync(&mut pair);
    store
}

#[test]
fn without_a_store_the_session_records_nothing() {
    let mut pair = Pair::connected(SessionConfig {
        durable: false,
        ..durable()
    });
    pair.publish("t/1", QoS::AtLeastOnce, b"1");
    pair.publish("t/2", QoS::ExactlyOnce, b"2");
    pair.broker_send(Packet::Publish(Publish {
        packet_id: Some(9),
        ..publish("in", QoS::ExactlyOnce, b"x")
    }));
    pair.broker_send(Packet::PubRel(ack(9)));
    assert_eq!(pair.session.take_store_ops(), []);
}

#[test]
fn a_publish_is_kept_from_acceptance_to_its_last_acknowledgement() {
    let mut pair = silent_broker();
    let mut store = Store::default();
    pair.publish("t/1", QoS::AtLeastOnce, b"1");
    let ops = store.sync(&mut pair);
    // The message first, then where it stands: nothing is sent before both are kept.
    assert!(
        matches!(&ops[..], [StoreOp::Put(o, _), StoreOp::Put(s, stage)]
        if o == "o0" && s == "s0" && stage == &[1, 0, 1])
    );
    pair.broker_send(Packet::PubAck(ack(1)));
    store.sync(&mut pair);
    assert_eq!(store.names(), Vec::<&str>::new());

    pair.publish("t/2", QoS::ExactlyOnce, b"2");
    store.sync(&mut pair);
    assert_eq!(store.names(), ["o1", "s1"]);
    pair.broker_send(Packet::PubRec(ack(2)));
    store.sync(&mut pair);
    // Past PUBREC: the stage changes; the message stays until PUBCOMP.
    assert_eq!(store.names(), ["o1", "s1"]);
    assert_eq!(store.0["s1"], [2, 0, 2]);
    pair.broker_send(Packet::PubComp(ack(2)));
    store.sync(&mut pair);
    assert_eq!(store.names(), Vec::<&str>::new());

    // QoS 0 is never kept.
    pair.publish("t/3", QoS::AtMostOnce, b"3");
    assert_eq!(store.sync(&mut pair), []);
}

#[test]
fn a_new_page_resends_what_the_last_one_left_with_the_same_ids_and_pubrel_past_pubrec() {
    let mut store = three_left_behind();

    let (mut page, n) = reload(&store, true);
    assert_eq!(n, 3);
    let received = page.take_received();
    assert!(matches!(received[0], Packet::Connect(_)));
    assert_eq!(
        received[1..],
        [
            wire("t/a", QoS::AtLeastOnce, 1, b"a", true),
            Packet::PubRel(ack(2)),
            wire("t/c", QoS::ExactlyOnce, 3, b"c", true),
        ]
    );
    store.sync(&mut page);
    page.broker_send(Packet::PubAck(ack(1)));
    page.broker_send(Packet::PubComp(ack(2)));
    page.broker_send(Packet::PubRec(ack(3)));
    assert_eq!(page.take_received(), [Packet::PubRel(ack(3))]);
    page.broker_send(Packet::PubComp(ack(3)));
    store.sync(&mut page);
    assert_eq!(store.names(), Vec::<&str>::new());
    // A new publish goes after them in the send order (seq 3), under a free id.
    page.publish("t/d", QoS::AtLeastOnce, b"d");
    assert_eq!(
        page.take_received(),
        [wire("t/d", QoS::AtLeastOnce, 1, b"d", false)]
    );
    store.sync(&mut page);
    assert_eq!(store.names(), ["o3", "s3"]);
}

#[test]
fn a_new_page_whose_broker_lost_the_session_sends_unacknowledged_messages_as_new_ones() {
    let mut store = three_left_behind();

    let (mut page, _) = reload(&store, false);
    let received = page.take_received();
    // All three go again, in order, as new messages [MQTT-3.2.2-5]; b too, although past
    // PUBREC: a broker that lost the session never released it to subscribers.
    assert_eq!(
        received[1..],
        [
            wire("t/a", QoS::AtLeastOnce, 1, b"a", false),
            wire("t/b", QoS::ExactlyOnce, 2, b"b", false),
            wire("t/c", QoS::ExactlyOnce, 3, b"c", false),
        ]
    );
    store.sync(&mut page);
    assert_eq!(store.names(), ["o0", "o1", "o2", "s0", "s1", "s2"]);
    assert_eq!(store.0["s1"], [1, 0, 2]);
}

#[test]
fn publishes_queued_offline_survive_a_reload_and_go_in_order() {
    let mut pair = Pair::new(durable());
    pair.open_transports = false;
    pair.session.connect(pair.now);
    pair.drive();
    let mut store = Store::default();
    for (i, qos) in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce]
        .into_iter()
        .enumerate()
    {
        pair.session
            .publish(pair.now, publish("q", qos, &[i as u8]))
            .unwrap();
    }
    store.sync(&mut pair);
    assert_eq!(store.names(), ["o0", "o1", "o2"]);
    drop(pair);

    let (mut page, n) = reload(&store, false);
    assert_eq!(n, 3);
    assert_eq!(
        page.take_received()[1..],
        [
            wire("q", QoS::AtLeastOnce, 1, &[0], false),
            wire("q", QoS::ExactlyOnce, 2, &[1], false),
            wire("q", QoS::AtLeastOnce, 3, &[2], false),
        ]
    );
}

#[test]
fn an_incoming_qos2_message_delivered_before_a_reload_is_not_delivered_again() {
    let mut pair = Pair::connected(durable());
    let mut store = Store::default();
    let message = Publish {
        packet_id: Some(7),
        ..publish("in", QoS::ExactlyOnce, b"once")
    };
    pair.broker_send(Packet::Publish(message.clone()));
    assert!(pair
        .take_events()
        .contains(&Event::Message(message.clone())));
    store.sync(&mut pair);
    assert_eq!(store.names(), ["i7"]);
    drop(pair);

    let (mut page, _) = reload(&store, true);
    page.take_events();
    page.take_received();
    page.broker_send(Packet::Publish(Publish {
        dup: true,
        ..message.clone()
    }));
    assert!(
        !page
            .take_events()
            .iter()
            .any(|e| matches!(e, Event::Message(_))),
        "delivered again after the reload"
    );
    assert_eq!(page.take_received(), [Packet::PubRec(ack(7))]);
    page.broker_send(Packet::PubRel(ack(7)));
    store.sync(&mut page);
    assert_eq!(store.names(), Vec::<&str>::new());
    // The id is free again: a new message under it is delivered.
    page.broker_send(Packet::Publish(message.clone()));
    assert!(page.take_events().contains(&Event::Message(message)));
}

#[test]
fn incoming_ids_are_forgotten_when_the_broker_lost_the_session() {
    let mut store = Store::default();
    store.0.insert("i7".to_string(), Vec::new());
    let (mut page, _) = reload(&store, false);
    store.sync(&mut page);
    assert_eq!(store.names(), Vec::<&str>::new());
    let message = Publish {
        packet_id: Some(7),
        ..publish("in", QoS::ExactlyOnce, b"new")
    };
    page.take_events();
    page.broker_send(Packet::Publish(message.clone()));
    assert!(page.take_events().contains(&Event::Message(message)));
}

#[test]
fn unreadable_records_are_removed_and_reported_and_the_rest_is_used() {
    let mut pair = silent_broker();
    let mut store = Store::default();
    pair.publish("t/ok", QoS::AtLeastOnce, b"ok");
    store.sync(&mut pair);
    store.0.insert("o5".to_string(), vec![0x30, 0xFF]);
    store.0.insert("s6".to_string(), vec![1, 0, 9]);
    store.0.insert("zz".to_string(), vec![]);
    store.0.insert("i0".to_string(), vec![]);

    let (mut page, n) = reload(&store, true);
    assert_eq!(n, 1);
    let errors: Vec<_> = page
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Error(e) => Some(e.code),
            _ => None,
        })
        .collect();
    assert_eq!(errors, [ErrorCode::StoreFailed; 4]);
    assert_eq!(
        page.take_received()[1..],
        [wire("t/ok", QoS::AtLeastOnce, 1, b"ok", true)]
    );
    store.sync(&mut page);
    assert_eq!(store.names(), ["o0", "s0"]);
}

#[test]
fn a_publish_failed_to_its_caller_is_forgotten() {
    let mut pair = Pair::new(SessionConfig {
        reconnect: None,
        ..durable()
    });
    pair.open_transports = false;
    pair.session.connect(pair.now);
    pair.drive();
    let mut store = Store::default();
    pair.session
        .publish(pair.now, publish("q", QoS::AtLeastOnce, b"x"))
        .unwrap();
    store.sync(&mut pair);
    assert_eq!(store.names(), ["o0"]);
    // end(): the queued publish is rejected (CLOSED), so no later page sends it.
    pair.session.close(pair.now);
    pair.drive();
    store.sync(&mut pair);
    assert_eq!(store.names(), Vec::<&str>::new());
}
