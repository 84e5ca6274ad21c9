//! The session state machine against a scripted broker on a virtual clock: what goes on
//! the wire, in what order, and which events the application sees, for every path the
//! session owns (connect, QoS flows, resend after reconnect, keepalive, limits the broker
//! sets, the offline queue, backoff, framing, malformed input, shutdown, stats).
//!
//! Pure Rust on a virtual clock, so the same tests run on the host and, through
//! wasm-bindgen-test, in a headless browser (`cargo test --target wasm32-unknown-unknown`).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod util;

use std::collections::HashSet;

use mqtt_rtc::mqtt::backoff::{BackoffConfig, SplitMix64};
use mqtt_rtc::mqtt::codec::{
    Ack, ConnAck, Connect, Disconnect, Packet, Properties, ProtocolVersion, Publish, QoS, SubAck,
    Subscribe, SubscribeFilter, UnsubAck, Unsubscribe, Will,
};
use mqtt_rtc::mqtt::session::{
    ErrorCode, Event, Overflow, PublishOutcome, QueueConfig, SessionConfig, SessionError, State,
    Token,
};
use util::{ack, publish, Framing, Pair};

// ----- helpers -----

/// A v5 session with deterministic backoff: 1 s doubling to 8 s, no jitter.
fn config() -> SessionConfig {
    SessionConfig {
        client_id: "client-1".to_string(),
        reconnect: Some(BackoffConfig {
            initial_delay: 1_000,
            max_delay: 8_000,
            multiplier: 2.0,
            jitter: 0.0,
            max_attempts: None,
        }),
        ..SessionConfig::default()
    }
}

/// A session the broker keeps across connections.
fn persistent() -> SessionConfig {
    SessionConfig {
        clean_start: false,
        session_expiry: Some(3_600),
        ..config()
    }
}

fn no_reconnect() -> SessionConfig {
    SessionConfig {
        reconnect: None,
        ..config()
    }
}

fn connack(properties: Properties) -> ConnAck {
    ConnAck {
        properties,
        ..ConnAck::default()
    }
}

fn session_present() -> ConnAck {
    ConnAck {
        session_present: true,
        ..ConnAck::default()
    }
}

/// An error as the tests compare it: code and reason code, the wording left out.
fn err(code: ErrorCode, reason_code: Option<u8>) -> SessionError {
    SessionError {
        code,
        reason_code,
        message: String::new(),
    }
}

/// Events with error messages blanked, so tests compare codes, not wording.
fn redact(events: Vec<Event>) -> Vec<Event> {
    fn r(e: SessionError) -> SessionError {
        SessionError {
            message: String::new(),
            ..e
        }
    }
    events
        .into_iter()
        .map(|event| match event {
            Event::Offline { error } => Event::Offline { error: r(error) },
            Event::Error(e) => Event::Error(r(e)),
            Event::Closed { error } => Event::Closed {
                error: error.map(r),
            },
            Event::PublishDone { token, result } => Event::PublishDone {
                token,
                result: result.map_err(r),
            },
            Event::SubscribeDone { token, result } => Event::SubscribeDone {
                token,
                result: result.map_err(r),
            },
            Event::UnsubscribeDone { token, result } => Event::UnsubscribeDone {
                token,
                result: result.map_err(r),
            },
            other => other,
        })
        .collect()
}

/// The events since the last look, redacted.
fn seen(pair: &mut Pair) -> Vec<Event> {
    redact(pair.take_events())
}

fn done(token: Token, packet_id: u16) -> Event {
    Event::PublishDone {
        token,
        result: Ok(PublishOutcome {
            packet_id: Some(packet_id),
            reason_code: 0,
        }),
    }
}

fn done_qos0(token: Token) -> Event {
    Event::PublishDone {
        token,
        result: Ok(PublishOutcome {
            packet_id: None,
            reason_code: 0,
        }),
    }
}

fn failed(token: Token, code: ErrorCode, reason_code: Option<u8>) -> Event {
    Event::PublishDone {
        token,
        result: Err(err(code, reason_code)),
    }
}

fn offline(code: ErrorCode, reason_code: Option<u8>) -> Event {
    Event::Offline {
        error: err(code, reason_code),
    }
}

/// The events of a connection that ends and waits `delay` ms for attempt `attempt`.
fn lost_then_waiting(error: Event, attempt: u32, delay: u64) -> Vec<Event> {
    vec![
        Event::CloseTransport,
        error,
        Event::StateChanged(State::Offline),
        Event::Reconnecting { attempt, delay },
    ]
}

/// The PUBLISH the client writes for the first time, with the id the session chose.
fn wire_publish(topic: &str, qos: QoS, packet_id: Option<u16>, payload: &[u8]) -> Packet {
    Packet::Publish(Publish {
        packet_id,
        ..publish(topic, qos, payload)
    })
}

fn with_alias(packet: Packet, alias: u16) -> Packet {
    match packet {
        Packet::Publish(mut p) => {
            p.properties.topic_alias = Some(alias);
            Packet::Publish(p)
        }
        other => panic!("not a publish: {other:?}"),
    }
}

fn dup(packet: Packet) -> Packet {
    match packet {
        Packet::Publish(p) => Packet::Publish(Publish { dup: true, ..p }),
        other => panic!("not a publish: {other:?}"),
    }
}

fn filter(name: &str, qos: QoS) -> SubscribeFilter {
    SubscribeFilter {
        filter: name.to_string(),
        qos,
        ..SubscribeFilter::default()
    }
}

fn packet_id(packet: &Packet) -> u16 {
    match packet {
        Packet::Publish(p) => p.packet_id.expect("a qos>0 publish has an id"),
        Packet::Subscribe(s) => s.packet_id,
        Packet::Unsubscribe(u) => u.packet_id,
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.packet_id
        }
        other => panic!("no packet id in {other:?}"),
    }
}

fn disconnect(reason_code: u8) -> Packet {
    Packet::Disconnect(Disconnect {
        reason_code,
        properties: Properties::default(),
    })
}

/// A PUBLISH from the broker.
fn inbound(topic: &str, qos: QoS, packet_id: Option<u16>, payload: &[u8]) -> Publish {
    Publish {
        packet_id,
        ..publish(topic, qos, payload)
    }
}

// ----- CONNECT -----

#[test]
fn a_v5_connect_carries_identity_credentials_will_and_our_limits() {
    let will = Will {
        topic: "clients/client-1/status".to_string(),
        payload: b"gone".to_vec(),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties {
            will_delay_interval: Some(5),
            ..Properties::default()
        },
    };
    let mut pair = Pair::new(SessionConfig {
        clean_start: false,
        keep_alive: 30,
        username: Some("alice".to_string()),
        password: Some(b"secret".to_vec()),
        will: Some(will.clone()),
        session_expiry: Some(3_600),
        receive_maximum: 20,
        maximum_packet_size: 4_096,
        topic_alias_maximum: 8,
        connect_properties: Properties {
            user_properties: vec![("app".to_string(), "test".to_string())],
            ..Properties::default()
        },
        ..config()
    });
    pair.broker.auto_connack = None;
    pair.connect();

    assert_eq!(
        pair.take_received(),
        [Packet::Connect(Connect {
            protocol: ProtocolVersion::V5,
            client_id: "client-1".to_string(),
            clean_start: false,
            keep_alive: 30,
            username: Some("alice".to_string()),
            password: Some(b"secret".to_vec()),
            will: Some(will),
            properties: Properties {
                session_expiry_interval: Some(3_600),
                receive_maximum: Some(20),
                maximum_packet_size: Some(4_096),
                topic_alias_maximum: Some(8),
                user_properties: vec![("app".to_string(), "test".to_string())],
                ..Properties::default()
            },
        })]
    );
    assert_eq!(seen(&mut pair), [Event::OpenTransport]);
    assert_eq!(pair.session.state(), State::Connecting);
}

#[test]
fn a_v5_connect_leaves_out_limits_that_equal_the_protocol_defaults() {
    let mut pair = Pair::new(SessionConfig {
        session_expiry: Some(0),
        receive_maximum: 65_535,
        maximum_packet_size: u32::MAX,
        topic_alias_maximum: 0,
        ..config()
    });
    pair.connect();
    let Packet::Connect(connect) = &pair.take_received()[0] else {
        panic!("the first packet is not connect");
    };
    assert_eq!(connect.properties, Properties::default());
}

#[test]
fn a_311_connect_has_level_4_and_no_properties_not_even_in_the_will() {
    let will = Will {
        topic: "clients/client-1/status".to_string(),
        payload: b"gone".to_vec(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Properties {
            will_delay_interval: Some(5),
            ..Properties::default()
        },
    };
    let mut pair = Pair::new(SessionConfig {
        protocol: ProtocolVersion::V311,
        clean_start: true,
        keep_alive: 15,
        username: Some("bob".to_string()),
        password: Some(b"pw".to_vec()),
        will: Some(will.clone()),
        session_expiry: Some(3_600),
        receive_maximum: 20,
        maximum_packet_size: 4_096,
        ..config()
    });
    pair.connect();

    assert_eq!(
        pair.take_received()[0],
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V311,
            client_id: "client-1".to_string(),
            clean_start: true,
            keep_alive: 15,
            username: Some("bob".to_string()),
            password: Some(b"pw".to_vec()),
            will: Some(Will {
                properties: Properties::default(),
                ..will
            }),
            properties: Properties::default(),
        })
    );
    assert_eq!(pair.session.protocol_version(), ProtocolVersion::V311);
    assert_eq!(pair.session.state(), State::Connected);
}

#[test]
fn connack_is_reported_with_its_properties_and_sets_the_server_limits() {
    let properties = Properties {
        receive_maximum: Some(10),
        maximum_packet_size: Some(1_000),
        topic_alias_maximum: Some(3),
        maximum_qos: Some(1),
        retain_available: Some(0),
        ..Properties::default()
    };
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = Some(connack(properties.clone()));
    pair.connect();

    assert_eq!(
        seen(&mut pair),
        [
            Event::OpenTransport,
            Event::StateChanged(State::Connected),
            Event::Connected {
                session_present: false,
                reason_code: 0,
                properties,
            },
        ]
    );
    let limits = pair.session.server_limits();
    assert_eq!(limits.receive_maximum, 10);
    assert_eq!(limits.maximum_packet_size, Some(1_000));
    assert_eq!(limits.topic_alias_maximum, 3);
    assert_eq!(limits.maximum_qos, QoS::AtLeastOnce);
    assert!(!limits.retain_available);
}

#[test]
fn a_client_id_assigned_by_the_broker_is_used_for_the_next_connect() {
    let mut pair = Pair::new(SessionConfig {
        client_id: String::new(),
        ..config()
    });
    pair.broker.auto_connack = Some(connack(Properties {
        assigned_client_identifier: Some("auto-7".to_string()),
        ..Properties::default()
    }));
    pair.connect();
    assert_eq!(pair.session.client_id(), "auto-7");
    pair.take_received();

    pair.break_link();
    pair.advance(1_000);
    let Packet::Connect(connect) = &pair.take_received()[0] else {
        panic!("no second connect");
    };
    assert_eq!(connect.client_id, "auto-7");
}

#[test]
fn a_session_present_connack_on_a_first_clean_start_connect_is_a_protocol_error() {
    // [MQTT-3.2.2-4]: a client without session state that gets Session Present 1 must close
    // the connection.
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = Some(session_present());
    pair.connect();

    let events = seen(&mut pair);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Connected { .. })),
        "connected anyway: {events:#?}"
    );
    assert!(
        events.contains(&offline(ErrorCode::ProtocolError, Some(0x82))),
        "{events:#?}"
    );
}

// ----- QoS 0, 1, 2 -----

#[test]
fn a_qos0_publish_is_done_as_soon_as_it_is_written() {
    let mut pair = Pair::connected(config());
    let token = pair.publish("t/a", QoS::AtMostOnce, b"x");

    assert_eq!(
        pair.take_received(),
        [wire_publish("t/a", QoS::AtMostOnce, None, b"x")]
    );
    assert_eq!(seen(&mut pair), [done_qos0(token)]);
}

#[test]
fn a_qos1_publish_is_done_only_after_puback() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    let token = pair.publish("t/a", QoS::AtLeastOnce, b"x");

    assert_eq!(
        pair.take_received(),
        [wire_publish("t/a", QoS::AtLeastOnce, Some(1), b"x")]
    );
    assert_eq!(seen(&mut pair), []);
    assert_eq!(pair.session.stats().inflight, 1);

    pair.broker_send(Packet::PubAck(ack(1)));
    assert_eq!(seen(&mut pair), [done(token, 1)]);
    assert_eq!(pair.session.stats().inflight, 0);
}

#[test]
fn a_qos2_publish_answers_pubrec_with_pubrel_and_is_done_only_after_pubcomp() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_pubrec = false;
    pair.broker.auto_pubcomp = false;
    let token = pair.publish("t/a", QoS::ExactlyOnce, b"x");
    assert_eq!(
        pair.take_received(),
        [wire_publish("t/a", QoS::ExactlyOnce, Some(1), b"x")]
    );

    pair.broker_send(Packet::PubRec(ack(1)));
    assert_eq!(pair.take_received(), [Packet::PubRel(ack(1))]);
    assert_eq!(
        seen(&mut pair),
        [],
        "pubrec must not complete a qos 2 publish"
    );

    pair.broker_send(Packet::PubComp(ack(1)));
    assert_eq!(seen(&mut pair), [done(token, 1)]);
    assert_eq!(pair.take_received(), []);
}

/// What the driver asks before it holds output back for a later task: whether bytes wait,
/// whether a PUBLISH is among them, and how many publishes are in flight.
#[test]
fn the_session_tells_whether_its_output_holds_a_publish_and_how_many_are_in_flight() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_pubrec = false;
    assert!(!pair.session.has_transmit());
    assert!(!pair.session.transmit_has_publish());
    let now = pair.now;
    pair.session
        .publish(now, publish("t/a", QoS::ExactlyOnce, b"x"))
        .unwrap();
    pair.session
        .publish(now, publish("t/b", QoS::ExactlyOnce, b"y"))
        .unwrap();
    assert!(pair.session.has_transmit());
    assert!(pair.session.transmit_has_publish());
    assert_eq!(pair.session.inflight_len(), 2);
    assert!(pair.session.poll_transmit().is_some());
    assert!(!pair.session.has_transmit());
    assert!(!pair.session.transmit_has_publish(), "taken with the bytes");

    // A PUBREC calls for a PUBREL only: output, but no PUBLISH in it.
    let pubrec = pair.broker.encode(&Packet::PubRec(ack(1)));
    pair.session.handle_bytes(now, &pubrec);
    assert!(pair.session.has_transmit());
    assert!(!pair.session.transmit_has_publish());
    assert_eq!(
        pair.session.inflight_len(),
        2,
        "both wait for PUBCOMP or PUBREC"
    );
}

#[test]
fn a_puback_with_a_failure_reason_fails_the_publish_with_that_reason() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    let token = pair.publish("t/a", QoS::AtLeastOnce, b"x");
    pair.broker_send(Packet::PubAck(Ack {
        packet_id: 1,
        reason_code: 0x87,
        properties: Properties::default(),
    }));
    assert_eq!(
        seen(&mut pair),
        [failed(token, ErrorCode::PublishFailed, Some(0x87))]
    );
}

#[test]
fn a_pubrec_with_a_failure_reason_ends_the_qos2_exchange_without_pubrel() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_pubrec = false;
    let token = pair.publish("t/a", QoS::ExactlyOnce, b"x");
    pair.take_received();
    pair.broker_send(Packet::PubRec(Ack {
        packet_id: 1,
        reason_code: 0x97,
        properties: Properties::default(),
    }));
    assert_eq!(pair.take_received(), []);
    assert_eq!(
        seen(&mut pair),
        [failed(token, ErrorCode::PublishFailed, Some(0x97))]
    );
}

#[test]
fn a_puback_0x10_no_matching_subscribers_is_a_success_that_carries_the_reason() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    let token = pair.publish("t/a", QoS::AtLeastOnce, b"x");
    pair.broker_send(Packet::PubAck(Ack {
        packet_id: 1,
        reason_code: 0x10,
        properties: Properties::default(),
    }));
    assert_eq!(
        seen(&mut pair),
        [Event::PublishDone {
            token,
            result: Ok(PublishOutcome {
                packet_id: Some(1),
                reason_code: 0x10,
            }),
        }]
    );
}

#[test]
fn an_inbound_qos1_publish_is_delivered_and_acknowledged() {
    let mut pair = Pair::connected(config());
    let message = inbound("in/a", QoS::AtLeastOnce, Some(9), b"hello");
    pair.broker_send(Packet::Publish(message.clone()));
    assert_eq!(seen(&mut pair), [Event::Message(message)]);
    assert_eq!(pair.take_received(), [Packet::PubAck(ack(9))]);
}

// ----- resend after reconnect, session present -----

#[test]
fn with_session_present_unacknowledged_publishes_are_resent_with_dup_in_order_and_pubrel_after_pubrec(
) {
    let mut pair = Pair::connected(persistent());
    pair.broker.auto_puback = false;
    pair.broker.auto_pubrec = false;
    pair.broker.auto_pubcomp = false;
    let a = pair.publish("t/a", QoS::AtLeastOnce, b"a");
    let b = pair.publish("t/b", QoS::ExactlyOnce, b"b");
    let c = pair.publish("t/c", QoS::AtLeastOnce, b"c");
    // The broker takes b (PUBREC arrives, PUBREL goes out); the PUBACK for a is lost.
    pair.broker_send(Packet::PubRec(ack(2)));
    pair.broker.drop_to_client = 1;
    pair.broker_send(Packet::PubAck(ack(1)));
    assert_eq!(
        pair.take_received(),
        [
            wire_publish("t/a", QoS::AtLeastOnce, Some(1), b"a"),
            wire_publish("t/b", QoS::ExactlyOnce, Some(2), b"b"),
            wire_publish("t/c", QoS::AtLeastOnce, Some(3), b"c"),
            Packet::PubRel(ack(2)),
        ]
    );

    pair.break_link();
    assert_eq!(
        seen(&mut pair),
        [
            offline(ErrorCode::ConnectionLost, None),
            Event::StateChanged(State::Offline),
            Event::Reconnecting {
                attempt: 1,
                delay: 1_000
            },
        ]
    );
    pair.broker.auto_connack = Some(session_present());
    pair.advance(1_000);

    let received = pair.take_received();
    assert!(matches!(received[0], Packet::Connect(_)));
    assert_eq!(
        received[1..],
        [
            dup(wire_publish("t/a", QoS::AtLeastOnce, Some(1), b"a")),
            Packet::PubRel(ack(2)),
            dup(wire_publish("t/c", QoS::AtLeastOnce, Some(3), b"c")),
        ]
    );
    assert_eq!(
        seen(&mut pair),
        [
            Event::StateChanged(State::Reconnecting),
            Event::OpenTransport,
            Event::StateChanged(State::Connected),
            Event::Connected {
                session_present: true,
                reason_code: 0,
                properties: Properties::default(),
            },
        ]
    );

    // Acks, some of them twice: each publish completes exactly once.
    for packet in [
        Packet::PubAck(ack(1)),
        Packet::PubComp(ack(2)),
        Packet::PubAck(ack(3)),
        Packet::PubAck(ack(1)),
        Packet::PubComp(ack(2)),
    ] {
        pair.broker_send(packet);
    }
    assert_eq!(seen(&mut pair), [done(a, 1), done(b, 2), done(c, 3)]);
    assert_eq!(pair.session.stats().inflight, 0);
}

#[test]
fn with_session_present_a_qos2_publish_whose_pubrec_was_lost_is_resent_as_publish() {
    let mut pair = Pair::connected(persistent());
    pair.broker.drop_to_client = 1;
    let token = pair.publish("t/a", QoS::ExactlyOnce, b"a");
    // The PUBREC was lost: no PUBREL went out.
    assert_eq!(
        pair.take_received(),
        [wire_publish("t/a", QoS::ExactlyOnce, Some(1), b"a")]
    );

    pair.break_link();
    pair.broker.auto_connack = Some(session_present());
    pair.advance(1_000);
    let received = pair.take_received();
    assert_eq!(
        received[1..],
        [
            dup(wire_publish("t/a", QoS::ExactlyOnce, Some(1), b"a")),
            Packet::PubRel(ack(1)),
        ]
    );
    let events = seen(&mut pair);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::PublishDone { .. }))
            .count(),
        1
    );
    assert_eq!(events.last(), Some(&done(token, 1)));
}

#[test]
fn with_session_present_a_lost_qos1_publish_is_resent_with_dup_and_done_once() {
    let mut pair = Pair::connected(persistent());
    pair.broker.drop_to_broker = 1;
    let token = pair.publish("t/a", QoS::AtLeastOnce, b"a");
    assert_eq!(pair.take_received(), []);
    assert_eq!(pair.broker.dropped.len(), 1);

    pair.break_link();
    pair.broker.auto_connack = Some(session_present());
    pair.advance(1_000);
    assert_eq!(
        pair.take_received()[1..],
        [dup(wire_publish("t/a", QoS::AtLeastOnce, Some(1), b"a"))]
    );
    let events = seen(&mut pair);
    assert_eq!(events.last(), Some(&done(token, 1)));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::PublishDone { .. }))
            .count(),
        1
    );
}

#[test]
fn with_session_present_a_publish_too_large_for_the_new_connection_fails_instead_of_hanging() {
    let mut pair = Pair::connected(persistent());
    pair.broker.drop_to_broker = 1;
    let token = pair.publish("t/a", QoS::AtLeastOnce, &[7; 200]);
    pair.break_link();
    pair.broker.auto_connack = Some(ConnAck {
        properties: Properties {
            maximum_packet_size: Some(100),
            ..Properties::default()
        },
        ..session_present()
    });
    pair.advance(1_000);
    assert_eq!(pair.take_received().len(), 1, "the CONNECT alone");
    assert_eq!(
        seen(&mut pair).last(),
        Some(&failed(token, ErrorCode::PacketTooLarge, Some(0x95)))
    );
    assert_eq!(pair.session.stats().inflight, 0);
    // Later publishes go out as usual.
    let next = pair.publish("t/b", QoS::AtLeastOnce, b"b");
    assert_eq!(
        pair.take_received(),
        [wire_publish("t/b", QoS::AtLeastOnce, Some(2), b"b")]
    );
    assert_eq!(seen(&mut pair), [done(next, 2)]);
}

#[test]
fn incoming_qos2_state_survives_a_reconnect_with_session_present() {
    let mut pair = Pair::connected(persistent());
    let message = inbound("in/a", QoS::ExactlyOnce, Some(4), b"m");
    pair.broker_send(Packet::Publish(message.clone()));
    assert_eq!(seen(&mut pair), [Event::Message(message.clone())]);
    pair.break_link();
    pair.broker.auto_connack = Some(session_present());
    pair.advance(1_000);
    pair.take_events();
    pair.take_received();

    // The broker never saw our PUBREC and sends the message again.
    pair.broker_send(Packet::Publish(Publish {
        dup: true,
        ..message
    }));
    assert_eq!(seen(&mut pair), [], "delivered twice");
    assert_eq!(pair.take_received(), [Packet::PubRec(ack(4))]);
}

// ----- resend after reconnect, session absent -----

#[test]
fn with_the_session_lost_subscriptions_are_restored_before_in_flight_and_queued_publishes() {
    let mut pair = Pair::connected(config());
    let sub = pair
        .session
        .subscribe(
            pair.now,
            vec![
                filter("a/#", QoS::AtLeastOnce),
                filter("b", QoS::AtMostOnce),
            ],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    assert_eq!(
        seen(&mut pair),
        [Event::SubscribeDone {
            token: sub,
            result: Ok(SubAck {
                packet_id: 1,
                reason_codes: vec![1, 0],
                properties: Properties::default(),
            }),
        }]
    );
    pair.broker.auto_puback = false;
    let first = pair.publish("t/1", QoS::AtLeastOnce, b"1");
    pair.take_received();
    pair.break_link();
    let second = pair.publish("t/2", QoS::AtLeastOnce, b"2");
    pair.take_events();

    pair.advance(1_000);
    let received = pair.take_received();
    assert!(matches!(received[0], Packet::Connect(_)));
    let (s, p1, p2) = (
        packet_id(&received[1]),
        packet_id(&received[2]),
        packet_id(&received[3]),
    );
    assert_eq!(
        received[1..],
        [
            Packet::Subscribe(Subscribe {
                packet_id: s,
                filters: vec![
                    filter("a/#", QoS::AtLeastOnce),
                    filter("b", QoS::AtMostOnce)
                ],
                properties: Properties::default(),
            }),
            wire_publish("t/1", QoS::AtLeastOnce, Some(p1), b"1"),
            wire_publish("t/2", QoS::AtLeastOnce, Some(p2), b"2"),
        ],
        "the in-flight publish goes again as a new one (no dup)"
    );
    assert_ne!(p1, p2);

    pair.broker_send(Packet::PubAck(ack(p1)));
    pair.broker_send(Packet::PubAck(ack(p2)));
    assert_eq!(
        seen(&mut pair)[4..],
        [done(first, p1), done(second, p2)],
        "the resubscribe has no token and completes silently"
    );
}

#[test]
fn with_the_session_lost_qos2_publishes_before_and_past_pubrec_both_go_again_as_new_ones() {
    // [MQTT-3.2.2-5]: with Session Present 0 the client discards its session state, not
    // the messages. A broker may forward a QoS 2 message only on PUBREL (Mosquitto does):
    // one whose PUBREL it never processed died with the session, so a message past PUBREC
    // is sent again like one before it, in send order, as a new publish (new id, no DUP).
    let mut pair = Pair::connected(config());
    pair.broker.auto_pubrec = false;
    pair.broker.auto_pubcomp = false;
    let taken = pair.publish("t/a", QoS::ExactlyOnce, b"a");
    let pending = pair.publish("t/b", QoS::ExactlyOnce, b"b");
    pair.broker_send(Packet::PubRec(ack(1)));
    assert_eq!(pair.take_received()[2..], [Packet::PubRel(ack(1))]);
    pair.break_link();
    pair.take_events();

    pair.advance(1_000);
    let received = pair.take_received();
    let (a, b) = (packet_id(&received[1]), packet_id(&received[2]));
    assert_eq!(
        received[1..],
        [
            wire_publish("t/a", QoS::ExactlyOnce, Some(a), b"a"),
            wire_publish("t/b", QoS::ExactlyOnce, Some(b), b"b"),
        ],
        "no PUBREL for the old id, and both messages again"
    );
    assert_ne!(a, b);
    assert_eq!(
        seen(&mut pair)[4..],
        [],
        "nothing completes before the new broker acks"
    );
    for id in [a, b] {
        pair.broker_send(Packet::PubRec(ack(id)));
        pair.broker_send(Packet::PubComp(ack(id)));
    }
    assert_eq!(seen(&mut pair), [done(taken, a), done(pending, b)]);
    assert_eq!(pair.session.stats().inflight, 0);
}

#[test]
fn with_resubscribe_off_no_subscribe_follows_a_lost_session() {
    let mut pair = Pair::connected(SessionConfig {
        resubscribe: false,
        ..config()
    });
    pair.session
        .subscribe(
            pair.now,
            vec![filter("a/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    pair.take_received();
    pair.break_link();
    pair.advance(1_000);

    let received = pair.take_received();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert!(matches!(received[0], Packet::Connect(_)));
}

#[test]
fn a_resubscribe_keeps_one_subscribe_per_subscription_identifier() {
    let mut pair = Pair::connected(config());
    for (name, id) in [("a", 7), ("b", 8)] {
        pair.session
            .subscribe(
                pair.now,
                vec![filter(name, QoS::AtMostOnce)],
                Properties {
                    subscription_identifiers: vec![id],
                    ..Properties::default()
                },
            )
            .unwrap();
    }
    pair.drive();
    pair.take_received();
    pair.break_link();
    pair.advance(1_000);

    let received = pair.take_received();
    let restored: Vec<(Vec<String>, Vec<u32>)> = received[1..]
        .iter()
        .map(|p| match p {
            Packet::Subscribe(s) => (
                s.filters.iter().map(|f| f.filter.clone()).collect(),
                s.properties.subscription_identifiers.clone(),
            ),
            other => panic!("not a subscribe: {other:?}"),
        })
        .collect();
    assert_eq!(
        restored,
        [
            (vec!["a".to_string()], vec![7]),
            (vec!["b".to_string()], vec![8])
        ]
    );
}

#[test]
fn a_filter_refused_in_suback_is_not_restored_after_a_lost_session() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_suback = false;
    let token = pair
        .session
        .subscribe(
            pair.now,
            vec![
                filter("ok/#", QoS::AtLeastOnce),
                filter("no/#", QoS::AtLeastOnce),
            ],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    let refused = SubAck {
        packet_id: 1,
        reason_codes: vec![0x01, 0x87],
        properties: Properties::default(),
    };
    pair.broker_send(Packet::SubAck(refused.clone()));
    assert_eq!(
        seen(&mut pair),
        [Event::SubscribeDone {
            token,
            result: Ok(refused),
        }]
    );
    pair.take_received();
    pair.broker.auto_suback = true;
    pair.break_link();
    pair.advance(1_000);
    let received = pair.take_received();
    let Packet::Subscribe(restored) = &received[1] else {
        panic!("no resubscribe: {received:#?}");
    };
    assert_eq!(restored.filters, [filter("ok/#", QoS::AtLeastOnce)]);
}

#[test]
fn each_suback_replaces_earlier_grants_and_the_last_of_a_filter_named_twice_counts() {
    let mut pair = Pair::connected(config());
    let subscribe = |pair: &mut Pair, filters: Vec<SubscribeFilter>| {
        pair.session
            .subscribe(pair.now, filters, Properties::default())
            .unwrap();
        pair.drive();
    };
    let granted = |pair: &Pair| -> Vec<(String, QoS)> {
        let list = pair.session.subscriptions();
        list.map(|(f, _)| (f.filter.clone(), f.qos)).collect()
    };
    let q0 = QoS::AtMostOnce;
    let (q1, q2) = (QoS::AtLeastOnce, QoS::ExactlyOnce);
    subscribe(
        &mut pair,
        vec![filter("a", q0), filter("b", q0), filter("c", q0)],
    );
    // b again at QoS 1; d twice, the second time at QoS 2.
    subscribe(
        &mut pair,
        vec![filter("b", q1), filter("d", q0), filter("d", q2)],
    );
    let own = |name: &str, qos| (name.to_string(), qos);
    let expected = [own("a", q0), own("c", q0), own("b", q1), own("d", q2)];
    assert_eq!(granted(&pair), expected);
    // A refused subscribe to c drops its earlier grant; a refused filter named first
    // and granted second counts as granted.
    pair.broker.auto_suback = false;
    subscribe(
        &mut pair,
        vec![filter("c", q1), filter("e", q1), filter("e", q0)],
    );
    pair.broker_send(Packet::SubAck(SubAck {
        packet_id: 3,
        reason_codes: vec![0x87, 0x80, 0x00],
        properties: Properties::default(),
    }));
    pair.broker.auto_suback = true;
    let expected = [own("a", q0), own("b", q1), own("d", q2), own("e", q0)];
    assert_eq!(granted(&pair), expected);
    let names = ["a", "e", "x"].map(String::from).to_vec();
    pair.session
        .unsubscribe(pair.now, names, Properties::default())
        .unwrap();
    pair.drive();
    assert_eq!(granted(&pair), [own("b", q1), own("d", q2)]);
}

#[test]
fn an_unsubscribe_in_flight_when_the_session_was_lost_is_not_undone_by_the_resubscribe() {
    let mut pair = Pair::connected(config());
    pair.session
        .subscribe(
            pair.now,
            vec![filter("a/b", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    pair.broker.auto_suback = false;
    pair.session
        .unsubscribe(pair.now, vec!["a/b".to_string()], Properties::default())
        .unwrap();
    pair.drive();
    pair.take_received();
    pair.break_link();
    pair.broker.auto_suback = true;
    pair.advance(1_000);

    // Play the packets on the broker's subscription table, in the order they came.
    let mut table = HashSet::new();
    for packet in pair.take_received() {
        match packet {
            Packet::Subscribe(s) => table.extend(s.filters.into_iter().map(|f| f.filter)),
            Packet::Unsubscribe(u) => u.filters.iter().for_each(|f| {
                table.remove(f);
            }),
            _ => {}
        }
    }
    assert!(
        table.is_empty(),
        "the broker ends up subscribed to {table:?} after the client unsubscribed"
    );
    assert_eq!(pair.session.subscriptions().count(), 0);
}

// ----- incoming QoS 2 -----

#[test]
fn a_duplicate_qos2_publish_is_delivered_once_and_answered_with_pubrec_each_time() {
    let mut pair = Pair::connected(config());
    let first = inbound("in/x", QoS::ExactlyOnce, Some(7), b"1");
    pair.broker_send(Packet::Publish(first.clone()));
    assert_eq!(seen(&mut pair), [Event::Message(first.clone())]);
    assert_eq!(pair.take_received(), [Packet::PubRec(ack(7))]);

    pair.broker_send(Packet::Publish(Publish { dup: true, ..first }));
    assert_eq!(seen(&mut pair), [], "a duplicate must not be delivered");
    assert_eq!(pair.take_received(), [Packet::PubRec(ack(7))]);

    pair.broker_send(Packet::PubRel(ack(7)));
    assert_eq!(pair.take_received(), [Packet::PubComp(ack(7))]);
    assert_eq!(seen(&mut pair), []);

    // After PUBREL the id is free: the same id is a new message.
    let second = inbound("in/x", QoS::ExactlyOnce, Some(7), b"2");
    pair.broker_send(Packet::Publish(second.clone()));
    assert_eq!(seen(&mut pair), [Event::Message(second)]);
    assert_eq!(pair.take_received(), [Packet::PubRec(ack(7))]);
}

#[test]
fn a_pubrel_for_an_unknown_id_is_answered_with_pubcomp_0x92() {
    let mut pair = Pair::connected(config());
    pair.broker_send(Packet::PubRel(ack(3)));
    assert_eq!(
        pair.take_received(),
        [Packet::PubComp(Ack {
            packet_id: 3,
            reason_code: 0x92,
            properties: Properties::default(),
        })]
    );
    assert_eq!(pair.session.state(), State::Connected);
}

#[test]
fn more_unreleased_inbound_qos2_publishes_than_our_receive_maximum_is_a_protocol_error_0x93() {
    let mut pair = Pair::connected(SessionConfig {
        receive_maximum: 2,
        ..config()
    });
    let messages: Vec<Publish> = (1..=3)
        .map(|id| inbound("in/a", QoS::ExactlyOnce, Some(id), &[id as u8]))
        .collect();
    for m in &messages {
        pair.broker_send(Packet::Publish(m.clone()));
    }
    let mut expected = vec![
        Event::Message(messages[0].clone()),
        Event::Message(messages[1].clone()),
    ];
    expected.extend(lost_then_waiting(
        offline(ErrorCode::ProtocolError, Some(0x93)),
        1,
        1_000,
    ));
    assert_eq!(seen(&mut pair), expected);
}

#[test]
fn after_a_lost_session_an_inbound_qos2_packet_id_is_new_again() {
    let mut pair = Pair::connected(config());
    pair.broker_send(Packet::Publish(inbound(
        "in/a",
        QoS::ExactlyOnce,
        Some(4),
        b"old",
    )));
    pair.break_link();
    pair.advance(1_000);
    pair.take_events();
    pair.take_received();

    let fresh = inbound("in/a", QoS::ExactlyOnce, Some(4), b"new");
    pair.broker_send(Packet::Publish(fresh.clone()));
    assert_eq!(seen(&mut pair), [Event::Message(fresh)]);
    assert_eq!(pair.take_received(), [Packet::PubRec(ack(4))]);
}

#[test]
fn a_311_session_runs_the_qos_and_unsubscribe_flows() {
    let mut pair = Pair::connected(SessionConfig {
        protocol: ProtocolVersion::V311,
        ..config()
    });
    let q1 = pair.publish("t/a", QoS::AtLeastOnce, b"1");
    let q2 = pair.publish("t/b", QoS::ExactlyOnce, b"2");
    pair.session
        .subscribe(
            pair.now,
            vec![filter("a/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    let unsub = pair
        .session
        .unsubscribe(pair.now, vec!["a/#".to_string()], Properties::default())
        .unwrap();
    pair.drive();
    let message = inbound("in/a", QoS::ExactlyOnce, Some(3), b"m");
    pair.broker_send(Packet::Publish(message.clone()));
    pair.broker_send(Packet::PubRel(ack(3)));

    let received = pair.take_received();
    assert_eq!(
        received[..3],
        [
            wire_publish("t/a", QoS::AtLeastOnce, Some(1), b"1"),
            wire_publish("t/b", QoS::ExactlyOnce, Some(2), b"2"),
            Packet::PubRel(ack(2)),
        ]
    );
    assert_eq!(
        received[5..],
        [Packet::PubRec(ack(3)), Packet::PubComp(ack(3))]
    );
    let events = seen(&mut pair);
    assert_eq!(events[..2], [done(q1, 1), done(q2, 2)]);
    assert_eq!(
        events[3..],
        [
            Event::UnsubscribeDone {
                token: unsub,
                result: Ok(UnsubAck {
                    packet_id: 4,
                    reason_codes: Vec::new(),
                    properties: Properties::default(),
                }),
            },
            Event::Message(message),
        ]
    );
    assert_eq!(pair.session.subscriptions().count(), 0);
}

// ----- keepalive -----

#[test]
fn an_idle_connection_sends_pingreq_after_keepalive_and_records_the_ping_rtt() {
    let mut pair = Pair::connected(SessionConfig {
        keep_alive: 10,
        ..config()
    });
    pair.broker.auto_pingresp = false;
    pair.advance(9_999);
    assert_eq!(pair.take_received(), []);
    pair.advance(1);
    assert_eq!(pair.take_received(), [Packet::PingReq]);
    assert_eq!(pair.session.stats().last_ping_rtt, None);

    pair.advance(250);
    pair.broker_send(Packet::PingResp);
    assert_eq!(pair.session.stats().last_ping_rtt, Some(250));
    assert_eq!(pair.session.state(), State::Connected);

    // The next ping is due a keepalive after the last one went out.
    pair.advance_to(19_999);
    assert_eq!(pair.take_received(), []);
    pair.advance(1);
    assert_eq!(pair.take_received(), [Packet::PingReq]);
    assert_eq!(seen(&mut pair), []);
}

#[test]
fn without_pingresp_the_session_goes_offline_at_two_keepalives_of_silence_not_earlier() {
    let mut pair = Pair::connected(SessionConfig {
        keep_alive: 10,
        ..config()
    });
    pair.broker.auto_pingresp = false;
    pair.advance(10_000);
    assert_eq!(pair.take_received(), [Packet::PingReq]);

    // The reply gets a full keepalive: half of one is no longer enough to give up.
    pair.advance_to(19_999);
    assert_eq!(seen(&mut pair), []);
    assert_eq!(pair.session.state(), State::Connected);

    pair.advance(1);
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::KeepaliveTimeout, None), 1, 1_000)
    );
    assert!(!pair.link_up);
}

#[test]
fn a_server_keep_alive_in_connack_overrides_ours() {
    let mut pair = Pair::connected_with(
        SessionConfig {
            keep_alive: 60,
            ..config()
        },
        connack(Properties {
            server_keep_alive: Some(5),
            ..Properties::default()
        }),
    );
    pair.broker.auto_pingresp = false;
    pair.advance(4_999);
    assert_eq!(pair.take_received(), []);
    pair.advance(1);
    assert_eq!(pair.take_received(), [Packet::PingReq]);
    pair.advance(4_999);
    assert_eq!(seen(&mut pair), []);
    pair.advance(1);
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::KeepaliveTimeout, None), 1, 1_000)
    );
}

#[test]
fn a_message_that_takes_1_7_keepalives_to_arrive_with_the_pingresp_behind_it_is_received() {
    // Mosquitto's WebSocket listener trickles a large queued message out at resume (a
    // browser sees it only once it is complete) and queues the PINGRESP behind it.
    let mut pair = Pair::connected(SessionConfig {
        keep_alive: 1,
        ..persistent()
    });
    pair.broker.auto_pingresp = false;
    pair.advance(1_000);
    assert_eq!(pair.take_received(), [Packet::PingReq]);
    pair.advance(700);
    let message = inbound("big", QoS::AtLeastOnce, Some(1), &[7; 72 * 1024]);
    pair.broker_send_all(
        &[Packet::Publish(message.clone()), Packet::PingResp],
        Framing::PerPacket,
    );
    assert_eq!(seen(&mut pair), [Event::Message(message)]);
    assert_eq!(pair.take_received(), [Packet::PubAck(ack(1))]);
    assert_eq!(pair.session.state(), State::Connected);
    assert_eq!(pair.session.stats().last_ping_rtt, Some(700));
}

#[test]
fn keepalive_0_sends_no_pingreq_and_arms_no_timer() {
    let mut pair = Pair::connected(SessionConfig {
        keep_alive: 0,
        ..config()
    });
    assert_eq!(pair.session.poll_timeout(), None);
    pair.advance(3_600_000);
    assert_eq!(pair.take_received(), []);
    assert_eq!(pair.session.state(), State::Connected);
}

// ----- connect timeout -----

#[test]
fn without_connack_the_attempt_fails_with_connect_timeout_exactly_at_the_timeout() {
    let mut pair = Pair::new(SessionConfig {
        connect_timeout: 5_000,
        ..config()
    });
    pair.broker.auto_connack = None;
    pair.connect();
    pair.take_events();
    pair.advance(4_999);
    assert_eq!(seen(&mut pair), []);

    pair.advance(1);
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::ConnectTimeout, None), 1, 1_000)
    );
    pair.advance(1_000);
    assert_eq!(
        seen(&mut pair),
        [Event::StateChanged(State::Connecting), Event::OpenTransport]
    );
    assert_eq!(pair.broker.received.len(), 2, "a second connect");
}

#[test]
fn a_transport_that_never_opens_also_times_out() {
    let mut pair = Pair::new(SessionConfig {
        connect_timeout: 5_000,
        ..config()
    });
    pair.open_transports = false;
    pair.connect();
    pair.advance(5_000);
    assert_eq!(
        seen(&mut pair)[1..],
        lost_then_waiting(offline(ErrorCode::ConnectTimeout, None), 1, 1_000)
    );
}

#[test]
fn without_connack_and_without_reconnect_the_session_closes_with_connect_timeout() {
    let mut pair = Pair::new(SessionConfig {
        connect_timeout: 5_000,
        ..no_reconnect()
    });
    pair.broker.auto_connack = None;
    pair.connect();
    pair.take_events();
    pair.advance(5_000);
    let error = err(ErrorCode::ConnectTimeout, None);
    assert_eq!(
        seen(&mut pair),
        [
            Event::CloseTransport,
            Event::Offline {
                error: error.clone()
            },
            Event::StateChanged(State::Closed),
            Event::Closed { error: Some(error) },
        ]
    );
    pair.advance(600_000);
    assert_eq!(pair.opens_requested, 1);
    assert_eq!(pair.session.poll_timeout(), None);
}

// ----- refusals -----

#[test]
fn a_v5_connack_0x86_or_0x87_is_not_authorized_with_that_reason_code() {
    for reason in [0x86, 0x87] {
        let mut pair = Pair::new(no_reconnect());
        pair.broker.auto_connack = Some(ConnAck {
            reason_code: reason,
            ..ConnAck::default()
        });
        pair.connect();
        let error = err(ErrorCode::NotAuthorized, Some(reason));
        assert_eq!(
            seen(&mut pair),
            [
                Event::OpenTransport,
                Event::CloseTransport,
                Event::Offline {
                    error: error.clone()
                },
                Event::StateChanged(State::Closed),
                Event::Closed { error: Some(error) },
            ]
        );
        pair.advance(600_000);
        assert_eq!(pair.opens_requested, 1, "no further attempt");
    }
}

#[test]
fn a_311_connack_return_code_5_is_not_authorized() {
    let mut pair = Pair::new(SessionConfig {
        protocol: ProtocolVersion::V311,
        ..no_reconnect()
    });
    pair.broker.auto_connack = Some(ConnAck {
        reason_code: 5,
        ..ConnAck::default()
    });
    pair.connect();
    // The error carries the v5 equivalent of the 3.1.1 return code (5 -> 0x87).
    assert_eq!(
        seen(&mut pair)[2..],
        [
            offline(ErrorCode::NotAuthorized, Some(0x87)),
            Event::StateChanged(State::Closed),
            Event::Closed {
                error: Some(err(ErrorCode::NotAuthorized, Some(0x87)))
            },
        ]
    );
    assert_eq!(pair.opens_requested, 1);
}

#[test]
fn with_reconnect_on_a_refusal_retries_with_credentials_set_meanwhile() {
    let mut pair = Pair::new(SessionConfig {
        username: Some("alice".to_string()),
        password: Some(b"old".to_vec()),
        ..config()
    });
    pair.broker.auto_connack = Some(ConnAck {
        reason_code: 0x86,
        ..ConnAck::default()
    });
    pair.connect();
    assert_eq!(
        seen(&mut pair)[1..],
        lost_then_waiting(offline(ErrorCode::NotAuthorized, Some(0x86)), 1, 1_000)
    );
    pair.session
        .set_credentials(Some("alice".to_string()), Some(b"new".to_vec()));
    pair.broker.auto_connack = Some(ConnAck::default());
    pair.advance(1_000);
    let received = pair.take_received();
    let Packet::Connect(connect) = &received[1] else {
        panic!("no second connect");
    };
    assert_eq!(connect.password.as_deref(), Some(&b"new"[..]));
    assert_eq!(pair.session.state(), State::Connected);
}

// ----- fallback to 3.1.1 -----

/// A v5 session whose broker answers CONNECT by hand.
fn unanswered_v5() -> Pair {
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = None;
    pair.connect();
    pair.take_events();
    pair
}

fn assert_fell_back(pair: &mut Pair) {
    assert_eq!(
        seen(pair),
        [Event::CloseTransport, Event::OpenTransport],
        "the same attempt goes on with 3.1.1"
    );
    let received = pair.take_received();
    assert_eq!(received.len(), 2);
    let Packet::Connect(connect) = &received[1] else {
        panic!("no second connect: {received:#?}");
    };
    assert_eq!(connect.protocol, ProtocolVersion::V311);
    assert_eq!(connect.properties, Properties::default());
    assert_eq!(pair.session.protocol_version(), ProtocolVersion::V311);

    pair.broker_send(Packet::ConnAck(ConnAck::default()));
    assert_eq!(pair.session.state(), State::Connected);
}

#[test]
fn a_311_connack_to_a_v5_connect_makes_the_session_fall_back_to_311() {
    let mut pair = unanswered_v5();
    // 3.1.1 CONNACK: type 2, remaining length 2, no session present, return code 1.
    pair.broker_send_raw(&[0x20, 0x02, 0x00, 0x01], Framing::OneChunk);
    assert_fell_back(&mut pair);
}

#[test]
fn a_2_byte_connack_accepting_a_v5_connect_is_malformed_not_a_311_session() {
    let mut pair = unanswered_v5();
    // What a v5 CONNACK would be without its property length: reason 0, nothing else.
    pair.broker_send_raw(&[0x20, 0x02, 0x00, 0x00], Framing::OneChunk);
    let events = seen(&mut pair);
    assert_eq!(
        events[..2],
        [
            Event::CloseTransport,
            offline(ErrorCode::ProtocolError, Some(0x81))
        ],
        "{events:?}"
    );
    assert_ne!(pair.session.state(), State::Connected);
    assert_eq!(pair.session.protocol_version(), ProtocolVersion::V5);
}

#[test]
fn a_311_connack_split_into_single_bytes_still_makes_the_session_fall_back() {
    let mut pair = unanswered_v5();
    pair.broker_send_raw(&[0x20, 0x02, 0x00, 0x01], Framing::ByteByByte);
    assert_fell_back(&mut pair);
}

#[test]
fn a_v5_connack_0x84_makes_the_session_fall_back_to_311() {
    let mut pair = unanswered_v5();
    pair.broker_send(Packet::ConnAck(ConnAck {
        reason_code: 0x84,
        ..ConnAck::default()
    }));
    assert_fell_back(&mut pair);
}

#[test]
fn with_fallback_off_unsupported_protocol_version_is_a_refusal() {
    let mut pair = Pair::new(SessionConfig {
        fallback_to_v311: false,
        ..no_reconnect()
    });
    pair.broker.auto_connack = None;
    pair.connect();
    pair.take_events();
    pair.broker_send_raw(&[0x20, 0x02, 0x00, 0x01], Framing::OneChunk);
    let error = err(ErrorCode::Refused, Some(0x84));
    assert_eq!(
        seen(&mut pair),
        [
            Event::CloseTransport,
            Event::Offline {
                error: error.clone()
            },
            Event::StateChanged(State::Closed),
            Event::Closed { error: Some(error) },
        ]
    );
    assert_eq!(pair.session.protocol_version(), ProtocolVersion::V5);
    assert_eq!(pair.opens_requested, 1);
}

// ----- flow control: Receive Maximum -----

#[test]
fn receive_maximum_2_keeps_two_qos1_publishes_in_flight_and_sends_the_rest_in_order() {
    let mut pair = Pair::connected_with(
        config(),
        connack(Properties {
            receive_maximum: Some(2),
            ..Properties::default()
        }),
    );
    pair.broker.auto_puback = false;
    let tokens: Vec<Token> = (1..=5u8)
        .map(|i| pair.publish(&format!("t/{i}"), QoS::AtLeastOnce, &[i]))
        .collect();
    assert_eq!(
        pair.take_received(),
        [
            wire_publish("t/1", QoS::AtLeastOnce, Some(1), &[1]),
            wire_publish("t/2", QoS::AtLeastOnce, Some(2), &[2]),
        ]
    );
    assert_eq!(pair.session.stats().inflight, 2);
    assert_eq!(pair.session.stats().queued, 3);

    for (i, token) in tokens.iter().enumerate() {
        let id = i as u16 + 1;
        pair.broker_send(Packet::PubAck(ack(id)));
        assert_eq!(seen(&mut pair), [done(*token, id)]);
        let next = id + 2;
        if next <= 5 {
            assert_eq!(
                pair.take_received(),
                [wire_publish(
                    &format!("t/{next}"),
                    QoS::AtLeastOnce,
                    Some(next),
                    &[next as u8]
                )]
            );
        } else {
            assert_eq!(pair.take_received(), []);
        }
        assert!(pair.session.stats().inflight <= 2);
    }
}

/// Publishes `n` messages of `qos` on a connected pair whose broker acknowledges none of
/// them; the packet ids that went out.
fn publish_unacknowledged(pair: &mut Pair, qos: QoS, n: u16) -> (Vec<Token>, Vec<u16>) {
    pair.broker.auto_puback = false;
    pair.broker.auto_pubrec = false;
    pair.broker.auto_pubcomp = false;
    let tokens = (1..=n)
        .map(|i| pair.publish("t/w", qos, &i.to_be_bytes()))
        .collect();
    let ids = pair.take_received().iter().map(packet_id).collect();
    (tokens, ids)
}

/// With `window` publishes of `qos` in flight and more queued, the window is never
/// exceeded and, once full, opens again only when half of it (at most 32 slots) is free:
/// then the next publishes go out together, in order.
fn assert_window(pair: &mut Pair, qos: QoS, window: u16, total: u16) {
    let batch = (window / 2).clamp(1, 32);
    let (tokens, ids) = publish_unacknowledged(pair, qos, total);
    assert_eq!(ids, (1..=window).collect::<Vec<_>>(), "the first window");
    assert_eq!(pair.session.stats().inflight, usize::from(window));
    assert_eq!(pair.session.stats().queued, usize::from(total - window));
    for (i, token) in tokens.iter().enumerate() {
        let id = i as u16 + 1;
        if qos == QoS::ExactlyOnce {
            pair.broker_send(Packet::PubRec(ack(id)));
            assert_eq!(pair.take_received(), [Packet::PubRel(ack(id))]);
            // Past PUBREC the message still holds its slot until PUBCOMP.
            let sent = total.min(window + batch * ((id - 1) / batch));
            assert_eq!(pair.session.stats().inflight, usize::from(sent - id + 1));
            pair.broker_send(Packet::PubComp(ack(id)));
        } else {
            pair.broker_send(Packet::PubAck(ack(id)));
        }
        assert_eq!(seen(pair), [done(*token, id)]);
        let sent: Vec<u16> = pair.take_received().iter().map(packet_id).collect();
        let expected: Vec<u16> = if id % batch == 0 {
            (id + window - batch + 1..=(id + window).min(total)).collect()
        } else {
            Vec::new()
        };
        assert_eq!(sent, expected, "after the ack of {id}");
        assert!(pair.session.stats().inflight <= usize::from(window));
    }
    assert_eq!(pair.session.stats().inflight, 0);
    assert_eq!(pair.session.stats().queued, 0);
}

fn v311() -> SessionConfig {
    SessionConfig {
        protocol: ProtocolVersion::V311,
        ..config()
    }
}

#[test]
fn a_311_session_keeps_at_most_20_qos2_publishes_in_flight_by_default() {
    // MQTT 3.1.1 has no Receive Maximum; a default Mosquitto drops QoS 2 beyond 20.
    assert_eq!(mqtt_rtc::mqtt::session::DEFAULT_MAX_INFLIGHT_V311, 20);
    let mut pair = Pair::connected(v311());
    assert_window(&mut pair, QoS::ExactlyOnce, 20, 45);
}

#[test]
fn a_311_session_keeps_at_most_20_qos1_publishes_in_flight_by_default() {
    let mut pair = Pair::connected(v311());
    assert_window(&mut pair, QoS::AtLeastOnce, 20, 30);
}

#[test]
fn max_inflight_sets_the_window_of_a_311_session() {
    let mut pair = Pair::connected(SessionConfig {
        max_inflight: Some(3),
        ..v311()
    });
    assert_window(&mut pair, QoS::AtLeastOnce, 3, 8);
    let mut pair = Pair::connected(SessionConfig {
        max_inflight: Some(100),
        ..v311()
    });
    assert_window(&mut pair, QoS::ExactlyOnce, 100, 130);
}

#[test]
fn a_v5_session_without_max_inflight_follows_the_brokers_receive_maximum_not_20() {
    let mut pair = Pair::connected_with(
        config(),
        connack(Properties {
            receive_maximum: Some(50),
            ..Properties::default()
        }),
    );
    assert_window(&mut pair, QoS::ExactlyOnce, 50, 60);
}

#[test]
fn a_v5_session_with_max_inflight_uses_the_smaller_of_it_and_the_receive_maximum() {
    let pair_with = |max_inflight, receive_maximum| {
        Pair::connected_with(
            SessionConfig {
                max_inflight: Some(max_inflight),
                ..config()
            },
            connack(Properties {
                receive_maximum: Some(receive_maximum),
                ..Properties::default()
            }),
        )
    };
    assert_window(&mut pair_with(4, 10), QoS::AtLeastOnce, 4, 9);
    assert_window(&mut pair_with(10, 3), QoS::ExactlyOnce, 3, 7);
}

#[test]
fn the_window_holds_for_publishes_queued_while_offline_and_sent_after_connack() {
    let mut pair = Pair::new(SessionConfig {
        max_inflight: Some(2),
        ..v311()
    });
    pair.broker.auto_puback = false;
    for i in 0..5u8 {
        pair.session
            .publish(pair.now, publish("t/q", QoS::AtLeastOnce, &[i]))
            .unwrap();
    }
    pair.connect();
    let received = pair.take_received();
    assert!(matches!(received[0], Packet::Connect(_)));
    let ids: Vec<u16> = received[1..].iter().map(packet_id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(pair.session.stats().queued, 3);
}

// ----- topic aliases -----

fn alias_pair() -> Pair {
    Pair::connected_with(
        config(),
        connack(Properties {
            topic_alias_maximum: Some(2),
            ..Properties::default()
        }),
    )
}

#[test]
fn with_topic_alias_maximum_2_two_topics_get_aliases_and_repeats_carry_only_the_alias() {
    let mut pair = alias_pair();
    for topic in ["t/a", "t/b", "t/a", "t/c", "t/b", "t/c"] {
        pair.publish(topic, QoS::AtMostOnce, b"x");
    }
    let p = |topic: &str| wire_publish(topic, QoS::AtMostOnce, None, b"x");
    assert_eq!(
        pair.take_received(),
        [
            with_alias(p("t/a"), 1),
            with_alias(p("t/b"), 2),
            with_alias(p(""), 1),
            p("t/c"),
            with_alias(p(""), 2),
            p("t/c"),
        ]
    );
}

#[test]
fn topic_aliases_start_afresh_after_a_reconnect() {
    let mut pair = alias_pair();
    pair.publish("t/a", QoS::AtMostOnce, b"x");
    pair.take_received();
    pair.break_link();
    pair.broker.auto_connack = Some(connack(Properties {
        topic_alias_maximum: Some(2),
        ..Properties::default()
    }));
    pair.advance(1_000);
    pair.take_received();
    pair.publish("t/a", QoS::AtMostOnce, b"x");
    assert_eq!(
        pair.take_received(),
        [with_alias(
            wire_publish("t/a", QoS::AtMostOnce, None, b"x"),
            1
        )]
    );
}

#[test]
fn a_publish_resent_after_a_reconnect_carries_its_topic_not_an_alias_of_the_old_connection() {
    let mut pair = Pair::connected_with(
        persistent(),
        connack(Properties {
            topic_alias_maximum: Some(2),
            ..Properties::default()
        }),
    );
    pair.broker.auto_puback = false;
    pair.publish("t/a", QoS::AtLeastOnce, b"1");
    pair.publish("t/a", QoS::AtLeastOnce, b"2");
    assert_eq!(
        pair.take_received()[1],
        with_alias(wire_publish("", QoS::AtLeastOnce, Some(2), b"2"), 1)
    );
    pair.break_link();
    pair.broker.auto_connack = Some(ConnAck {
        session_present: true,
        ..connack(Properties {
            topic_alias_maximum: Some(2),
            ..Properties::default()
        })
    });
    pair.advance(1_000);
    let received = pair.take_received();
    assert_eq!(
        received[1..],
        [
            dup(with_alias(
                wire_publish("t/a", QoS::AtLeastOnce, Some(1), b"1"),
                1
            )),
            dup(with_alias(
                wire_publish("", QoS::AtLeastOnce, Some(2), b"2"),
                1
            )),
        ]
    );
}

#[test]
fn an_inbound_alias_set_with_a_topic_resolves_later_publishes_that_carry_only_the_alias() {
    let mut pair = Pair::connected(config());
    let mut first = inbound("in/a", QoS::AtMostOnce, None, b"1");
    first.properties.topic_alias = Some(1);
    let mut second = inbound("", QoS::AtMostOnce, None, b"2");
    second.properties.topic_alias = Some(1);
    pair.broker_send(Packet::Publish(first));
    pair.broker_send(Packet::Publish(second));

    let delivered: Vec<(String, Vec<u8>)> = pair
        .take_events()
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => (m.topic, m.payload),
            other => panic!("not a message: {other:?}"),
        })
        .collect();
    assert_eq!(
        delivered,
        [
            ("in/a".to_string(), b"1".to_vec()),
            ("in/a".to_string(), b"2".to_vec())
        ]
    );
}

#[test]
fn inbound_topic_aliases_do_not_survive_a_reconnect() {
    let mut pair = Pair::connected(config());
    let mut first = inbound("in/a", QoS::AtMostOnce, None, b"1");
    first.properties.topic_alias = Some(1);
    pair.broker_send(Packet::Publish(first));
    pair.break_link();
    pair.advance(1_000);
    pair.take_events();

    let mut alias_only = inbound("", QoS::AtMostOnce, None, b"2");
    alias_only.properties.topic_alias = Some(1);
    pair.broker_send(Packet::Publish(alias_only));
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::ProtocolError, Some(0x82)), 1, 1_000)
    );
}

#[test]
fn an_unknown_inbound_topic_alias_is_a_protocol_error_answered_with_disconnect_0x82() {
    let mut pair = Pair::connected(config());
    let mut p = inbound("", QoS::AtMostOnce, None, b"x");
    p.properties.topic_alias = Some(3);
    pair.broker_send(Packet::Publish(p));
    assert_eq!(pair.take_received(), [disconnect(0x82)]);
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::ProtocolError, Some(0x82)), 1, 1_000)
    );
}

#[test]
fn an_inbound_topic_alias_above_our_maximum_is_answered_with_disconnect_0x94() {
    let mut pair = Pair::connected(SessionConfig {
        topic_alias_maximum: 4,
        ..config()
    });
    let mut p = inbound("in/a", QoS::AtMostOnce, None, b"x");
    p.properties.topic_alias = Some(5);
    pair.broker_send(Packet::Publish(p));
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::ProtocolError, Some(0x94)), 1, 1_000)
    );
    assert_eq!(pair.take_received(), [disconnect(0x94)]);
}

// ----- Maximum Packet Size -----

fn max_size_pair(topic_alias_maximum: Option<u16>) -> Pair {
    Pair::connected_with(
        config(),
        connack(Properties {
            maximum_packet_size: Some(256),
            topic_alias_maximum,
            ..Properties::default()
        }),
    )
}

#[test]
fn a_publish_over_the_brokers_maximum_packet_size_fails_at_once_and_sends_nothing() {
    let mut pair = max_size_pair(None);
    let result = pair
        .session
        .publish(pair.now, publish("t/a", QoS::AtLeastOnce, &[0; 300]));
    assert_eq!(
        result.map_err(|e| (e.code, e.reason_code)),
        Err((ErrorCode::PacketTooLarge, Some(0x95)))
    );
    pair.drive();
    assert_eq!(pair.take_received(), []);
    assert_eq!(seen(&mut pair), []);
    assert_eq!(pair.session.state(), State::Connected);

    pair.publish("t/a", QoS::AtLeastOnce, &[0; 100]);
    assert_eq!(
        pair.take_received(),
        [wire_publish("t/a", QoS::AtLeastOnce, Some(1), &[0; 100])]
    );
}

#[test]
fn a_publish_of_exactly_the_brokers_maximum_packet_size_is_sent() {
    let mut pair = max_size_pair(None);
    // 1 type byte + 2 length bytes + (2 + 3 topic + 1 property length + 247 payload) = 256.
    let token = pair.publish("t/a", QoS::AtMostOnce, &[0; 247]);
    assert_eq!(
        pair.take_received(),
        [wire_publish("t/a", QoS::AtMostOnce, None, &[0; 247])]
    );
    assert_eq!(seen(&mut pair), [done_qos0(token)]);
}

#[test]
fn a_publish_that_fits_only_without_a_topic_alias_is_sent_without_one() {
    let mut pair = max_size_pair(Some(2));
    // 256 bytes without an alias; a new alias would add 3 property bytes.
    let token = pair.publish("t/a", QoS::AtMostOnce, &[0; 247]);
    assert_eq!(seen(&mut pair), [done_qos0(token)]);
    assert_eq!(
        pair.take_received(),
        [wire_publish("t/a", QoS::AtMostOnce, None, &[0; 247])]
    );
}

#[test]
fn a_topic_alias_is_never_used_before_the_broker_has_seen_it_with_its_topic() {
    let mut pair = max_size_pair(Some(2));
    pair.session
        .publish(pair.now, publish("t/a", QoS::AtMostOnce, &[0; 247]))
        .unwrap();
    pair.drive();
    pair.take_received();
    pair.publish("t/a", QoS::AtMostOnce, b"small");
    let received = pair.take_received();
    let Packet::Publish(p) = &received[0] else {
        panic!("no publish: {received:#?}");
    };
    assert_eq!(
        p.topic, "t/a",
        "the broker never saw alias {:?} bound to a topic",
        p.properties.topic_alias
    );
}

#[test]
fn a_packet_over_our_maximum_packet_size_ends_the_connection_with_packet_too_large() {
    let mut pair = Pair::connected(SessionConfig {
        maximum_packet_size: 128,
        ..config()
    });
    pair.broker_send(Packet::Publish(inbound(
        "in/a",
        QoS::AtMostOnce,
        None,
        &[0; 200],
    )));
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::PacketTooLarge, Some(0x95)), 1, 1_000)
    );
}

#[test]
fn a_packet_over_our_maximum_packet_size_is_answered_with_disconnect_0x95() {
    let mut pair = Pair::connected(SessionConfig {
        maximum_packet_size: 128,
        ..config()
    });
    pair.broker_send(Packet::Publish(inbound(
        "in/a",
        QoS::AtMostOnce,
        None,
        &[0; 200],
    )));
    assert_eq!(pair.take_received(), [disconnect(0x95)]);
}

// ----- limits the broker sets on publishes -----

#[test]
fn a_publish_above_the_brokers_maximum_qos_or_retained_against_its_will_is_refused_at_once() {
    let mut pair = Pair::connected_with(
        config(),
        connack(Properties {
            maximum_qos: Some(1),
            retain_available: Some(0),
            ..Properties::default()
        }),
    );
    let code = |r: Result<Token, SessionError>| r.map_err(|e| e.code);
    assert_eq!(
        code(
            pair.session
                .publish(pair.now, publish("t/a", QoS::ExactlyOnce, b"x"))
        ),
        Err(ErrorCode::QosNotSupported)
    );
    let retained = Publish {
        retain: true,
        ..publish("t/a", QoS::AtMostOnce, b"x")
    };
    assert_eq!(
        code(pair.session.publish(pair.now, retained)),
        Err(ErrorCode::RetainNotSupported)
    );
    assert_eq!(
        code(
            pair.session
                .publish(pair.now, publish("t/+", QoS::AtMostOnce, b"x"))
        ),
        Err(ErrorCode::InvalidTopic)
    );
    pair.drive();
    assert_eq!(pair.take_received(), []);
}

#[test]
fn a_qos2_publish_queued_before_connack_is_not_sent_above_the_brokers_maximum_qos() {
    // [MQTT-3.2.2-11]: no PUBLISH above the Maximum QoS the broker announced.
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = Some(connack(Properties {
        maximum_qos: Some(1),
        ..Properties::default()
    }));
    pair.session
        .publish(pair.now, publish("t/a", QoS::ExactlyOnce, b"x"))
        .unwrap();
    pair.connect();
    let over: Vec<Packet> = pair
        .take_received()
        .into_iter()
        .filter(|p| matches!(p, Packet::Publish(p) if p.qos > QoS::AtLeastOnce))
        .collect();
    assert_eq!(over, [], "sent above the broker's maximum qos");
}

#[test]
fn a_retained_publish_queued_before_connack_is_not_sent_when_the_broker_has_no_retain() {
    // [MQTT-3.2.2-14]: no RETAIN 1 when the broker said Retain Available 0.
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = Some(connack(Properties {
        retain_available: Some(0),
        ..Properties::default()
    }));
    let retained = Publish {
        retain: true,
        ..publish("t/a", QoS::AtMostOnce, b"x")
    };
    pair.session.publish(pair.now, retained).unwrap();
    pair.connect();
    let retained: Vec<Packet> = pair
        .take_received()
        .into_iter()
        .filter(|p| matches!(p, Packet::Publish(p) if p.retain))
        .collect();
    assert_eq!(retained, [], "sent retained to a broker without retain");
}

// ----- packet ids -----

#[test]
fn with_all_65535_packet_ids_in_flight_the_next_publish_waits_and_takes_the_first_freed_id() {
    let mut pair = Pair::connected_with(
        config(),
        connack(Properties {
            receive_maximum: Some(65_535),
            ..Properties::default()
        }),
    );
    pair.broker.auto_puback = false;
    let mut tokens = Vec::with_capacity(65_535);
    for _ in 0..65_535 {
        let token = pair
            .session
            .publish(pair.now, publish("t/x", QoS::AtLeastOnce, b""))
            .unwrap();
        tokens.push(token);
    }
    pair.drive();
    let ids: Vec<u16> = pair.take_received().iter().map(packet_id).collect();
    assert_eq!(ids.len(), 65_535);
    assert!(!ids.contains(&0));
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        65_535,
        "an id reused"
    );

    let last = pair.publish("t/x", QoS::AtLeastOnce, b"last");
    assert_eq!(pair.take_received(), [], "no free id, nothing may go out");
    assert_eq!(pair.session.stats().queued, 1);

    // The full window opens again when 32 slots are free: "last" takes the first id freed.
    let freed = ids[4_241];
    for k in 4_241..4_241 + 32 {
        pair.broker_send(Packet::PubAck(ack(ids[k])));
        assert_eq!(seen(&mut pair), [done(tokens[k], ids[k])]);
        if k < 4_241 + 31 {
            assert_eq!(pair.take_received(), [], "the window is not open yet");
        }
    }
    assert_eq!(
        pair.take_received(),
        [wire_publish("t/x", QoS::AtLeastOnce, Some(freed), b"last")]
    );
    pair.broker_send(Packet::PubAck(ack(freed)));
    assert_eq!(seen(&mut pair), [done(last, freed)]);
}

// ----- offline queue -----

fn queue_config(queue: QueueConfig) -> SessionConfig {
    SessionConfig { queue, ..config() }
}

#[test]
fn the_offline_queue_rejects_a_publish_beyond_its_message_bound() {
    let mut pair = Pair::new(queue_config(QueueConfig {
        max_messages: 2,
        ..QueueConfig::default()
    }));
    for i in 0..2 {
        pair.session
            .publish(pair.now, publish("t/a", QoS::AtLeastOnce, &[i]))
            .unwrap();
    }
    let third = pair
        .session
        .publish(pair.now, publish("t/a", QoS::AtLeastOnce, &[2]));
    assert_eq!(third.map_err(|e| e.code), Err(ErrorCode::QueueFull));
    assert_eq!(pair.session.stats().queued, 2);
    pair.drive();
    assert_eq!(seen(&mut pair), []);
}

#[test]
fn the_offline_queue_rejects_a_publish_beyond_its_byte_bound() {
    let mut pair = Pair::new(queue_config(QueueConfig {
        max_bytes: 10,
        ..QueueConfig::default()
    }));
    // Topic and payload count: 3 + 4 = 7 bytes each.
    pair.session
        .publish(pair.now, publish("t/a", QoS::AtLeastOnce, b"1234"))
        .unwrap();
    let second = pair
        .session
        .publish(pair.now, publish("t/a", QoS::AtLeastOnce, b"1234"));
    assert_eq!(second.map_err(|e| e.code), Err(ErrorCode::QueueFull));
    // A smaller one still fits: 3 + 0 = 3 bytes, 10 in all.
    pair.session
        .publish(pair.now, publish("t/a", QoS::AtLeastOnce, b""))
        .unwrap();
    assert_eq!(pair.session.stats().queued, 2);
}

#[test]
fn drop_oldest_fails_the_oldest_queued_publish_with_queue_full_and_keeps_the_new_one() {
    let mut pair = Pair::new(queue_config(QueueConfig {
        max_messages: 2,
        overflow: Overflow::DropOldest,
        ..QueueConfig::default()
    }));
    let tokens: Vec<Token> = (1..=3u8)
        .map(|i| {
            pair.session
                .publish(pair.now, publish("t/a", QoS::AtMostOnce, &[i]))
                .unwrap()
        })
        .collect();
    pair.drive();
    assert_eq!(
        seen(&mut pair),
        [failed(tokens[0], ErrorCode::QueueFull, None)]
    );

    pair.connect();
    assert_eq!(
        pair.take_received()[1..],
        [
            wire_publish("t/a", QoS::AtMostOnce, None, &[2]),
            wire_publish("t/a", QoS::AtMostOnce, None, &[3]),
        ]
    );
}

#[test]
fn publishes_queued_before_connect_are_sent_in_order_after_connack() {
    let mut pair = Pair::new(config());
    let a = pair
        .session
        .publish(pair.now, publish("t/a", QoS::AtMostOnce, b"a"))
        .unwrap();
    let b = pair
        .session
        .publish(pair.now, publish("t/b", QoS::AtLeastOnce, b"b"))
        .unwrap();
    let c = pair
        .session
        .publish(pair.now, publish("t/c", QoS::ExactlyOnce, b"c"))
        .unwrap();
    assert_eq!(pair.session.stats().queued, 3);
    pair.connect();

    assert_eq!(
        pair.take_received()[1..],
        [
            wire_publish("t/a", QoS::AtMostOnce, None, b"a"),
            wire_publish("t/b", QoS::AtLeastOnce, Some(1), b"b"),
            wire_publish("t/c", QoS::ExactlyOnce, Some(2), b"c"),
            Packet::PubRel(ack(2)),
        ]
    );
    assert_eq!(
        seen(&mut pair),
        [
            Event::OpenTransport,
            Event::StateChanged(State::Connected),
            Event::Connected {
                session_present: false,
                reason_code: 0,
                properties: Properties::default(),
            },
            done_qos0(a),
            done(b, 1),
            done(c, 2),
        ]
    );
}

#[test]
fn with_qos0_queueing_off_a_qos0_publish_while_offline_fails_with_not_connected() {
    let mut pair = Pair::new(queue_config(QueueConfig {
        qos0: false,
        ..QueueConfig::default()
    }));
    let qos0 = pair
        .session
        .publish(pair.now, publish("t/a", QoS::AtMostOnce, b"x"));
    assert_eq!(qos0.map_err(|e| e.code), Err(ErrorCode::NotConnected));
    pair.session
        .publish(pair.now, publish("t/a", QoS::AtLeastOnce, b"x"))
        .expect("qos 1 still waits for the connection");
    assert_eq!(pair.session.stats().queued, 1);
}

#[test]
fn a_subscribe_made_while_offline_goes_out_after_connack_before_queued_publishes() {
    let mut pair = Pair::new(config());
    let published = pair
        .session
        .publish(pair.now, publish("t/a", QoS::AtLeastOnce, b"x"))
        .unwrap();
    let subscribed = pair
        .session
        .subscribe(
            pair.now,
            vec![filter("a/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.connect();
    assert_eq!(
        pair.take_received()[1..],
        [
            Packet::Subscribe(Subscribe {
                packet_id: 1,
                filters: vec![filter("a/#", QoS::AtLeastOnce)],
                properties: Properties::default(),
            }),
            wire_publish("t/a", QoS::AtLeastOnce, Some(2), b"x"),
        ]
    );
    assert_eq!(
        seen(&mut pair)[3..],
        [
            Event::SubscribeDone {
                token: subscribed,
                result: Ok(SubAck {
                    packet_id: 1,
                    reason_codes: vec![1],
                    properties: Properties::default(),
                }),
            },
            done(published, 2),
        ]
    );
}

// ----- reconnect backoff -----

/// The `Reconnecting` delays of the events so far.
fn delays(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Reconnecting { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect()
}

#[test]
fn reconnect_delays_double_up_to_the_cap_and_each_attempt_waits_its_delay() {
    let mut pair = Pair::connected(config());
    pair.fail_opens = usize::MAX;
    pair.break_link();
    let expected = [1_000, 2_000, 4_000, 8_000, 8_000, 8_000];
    for (i, delay) in expected.iter().enumerate() {
        let attempt = i as u32 + 1;
        assert_eq!(
            pair.take_events().last(),
            Some(&Event::Reconnecting {
                attempt,
                delay: *delay
            })
        );
        let opens = pair.opens_requested;
        pair.advance(delay - 1);
        assert_eq!(pair.opens_requested, opens, "attempt {attempt} came early");
        pair.advance(1);
        assert_eq!(
            pair.opens_requested,
            opens + 1,
            "attempt {attempt} did not come"
        );
    }
}

#[test]
fn with_full_jitter_every_delay_stays_within_its_ceiling() {
    let mut pair = Pair::connected(SessionConfig {
        seed: 42,
        reconnect: Some(BackoffConfig {
            jitter: 1.0,
            ..config().reconnect.unwrap()
        }),
        ..config()
    });
    pair.fail_opens = usize::MAX;
    pair.break_link();
    for _ in 0..9 {
        pair.advance(8_000);
    }
    let delays = delays(&pair.events);
    assert!(delays.len() >= 10, "{delays:?}");
    let ceilings = [1_000, 2_000, 4_000]
        .into_iter()
        .chain(std::iter::repeat(8_000));
    for (delay, ceiling) in delays.iter().zip(ceilings) {
        assert!(
            *delay <= ceiling,
            "delay {delay} above {ceiling}: {delays:?}"
        );
    }
    assert!(delays.iter().any(|&d| d < 8_000), "no jitter: {delays:?}");
}

#[test]
fn after_max_attempts_failed_attempts_the_session_closes() {
    let mut pair = Pair::connected(SessionConfig {
        reconnect: Some(BackoffConfig {
            max_attempts: Some(3),
            ..config().reconnect.unwrap()
        }),
        ..config()
    });
    pair.fail_opens = usize::MAX;
    pair.break_link();
    pair.advance(1_000 + 2_000);
    pair.take_events();
    pair.advance(4_000);
    let error = err(ErrorCode::ConnectionLost, None);
    assert_eq!(
        seen(&mut pair),
        [
            Event::StateChanged(State::Reconnecting),
            Event::OpenTransport,
            Event::Offline {
                error: error.clone()
            },
            Event::StateChanged(State::Closed),
            Event::Closed { error: Some(error) },
        ]
    );
    assert_eq!(pair.opens_requested, 1 + 3);
    pair.advance(600_000);
    assert_eq!(pair.opens_requested, 1 + 3);
}

#[test]
fn a_successful_connection_resets_the_backoff() {
    let mut pair = Pair::connected(config());
    pair.fail_opens = 2;
    pair.break_link();
    pair.advance(1_000 + 2_000 + 4_000);
    assert_eq!(delays(&pair.take_events()), [1_000, 2_000, 4_000]);
    assert_eq!(pair.session.state(), State::Connected);
    pair.break_link();
    assert_eq!(delays(&pair.take_events()), [1_000]);
}

#[test]
fn network_online_skips_the_rest_of_the_wait() {
    let mut pair = Pair::connected(config());
    pair.break_link();
    pair.advance(10);
    pair.take_events();
    pair.session.network_online(pair.now);
    pair.drive();
    assert_eq!(
        seen(&mut pair),
        [
            Event::StateChanged(State::Reconnecting),
            Event::OpenTransport,
            Event::StateChanged(State::Connected),
            Event::Connected {
                session_present: false,
                reason_code: 0,
                properties: Properties::default(),
            },
        ]
    );
    assert_eq!(pair.now, 10);
}

#[test]
fn reconnect_now_drops_the_connection_and_keeps_the_session_state() {
    let mut pair = Pair::connected(persistent());
    pair.session
        .subscribe(
            pair.now,
            vec![filter("a/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    pair.broker.auto_puback = false;
    let token = pair.publish("t/a", QoS::AtLeastOnce, b"a");
    let id = packet_id(&pair.take_received()[1]);
    pair.take_events();

    pair.broker.auto_connack = Some(session_present());
    pair.session.reconnect_now(pair.now);
    pair.drive();
    assert_eq!(
        seen(&mut pair),
        [
            Event::CloseTransport,
            offline(ErrorCode::ConnectionLost, None),
            Event::StateChanged(State::Reconnecting),
            Event::OpenTransport,
            Event::StateChanged(State::Connected),
            Event::Connected {
                session_present: true,
                reason_code: 0,
                properties: Properties::default(),
            },
        ]
    );
    assert_eq!(
        pair.take_received()[1..],
        [dup(wire_publish("t/a", QoS::AtLeastOnce, Some(id), b"a"))]
    );
    assert_eq!(pair.session.subscriptions().count(), 1);
    pair.broker_send(Packet::PubAck(ack(id)));
    assert_eq!(seen(&mut pair), [done(token, id)]);
    assert_eq!(pair.session.stats().reconnects, 1);
}

// ----- framing of inbound bytes -----

/// Several packets a broker might send at once, the first with a two-byte length.
fn inbound_stream() -> Vec<Packet> {
    vec![
        Packet::Publish(inbound("in/a", QoS::AtMostOnce, None, &[7; 200])),
        Packet::Publish(inbound("in/b", QoS::AtLeastOnce, Some(5), b"b")),
        Packet::Publish(inbound("in/c", QoS::ExactlyOnce, Some(6), b"c")),
        Packet::PubRel(ack(6)),
        Packet::PubAck(ack(1)),
        Packet::SubAck(SubAck {
            packet_id: 2,
            reason_codes: vec![1],
            properties: Properties::default(),
        }),
    ]
}

/// A connected session with a publish and a subscribe waiting for the stream's acks.
fn stream_pair() -> Pair {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    pair.broker.auto_suback = false;
    pair.publish("t/a", QoS::AtLeastOnce, b"a");
    pair.session
        .subscribe(
            pair.now,
            vec![filter("in/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    pair.take_events();
    pair.take_received();
    pair
}

fn outcome(pair: &mut Pair) -> (Vec<Event>, Vec<Packet>) {
    (pair.take_events(), pair.take_received())
}

#[test]
fn packets_fed_byte_by_byte_or_in_one_chunk_yield_the_same_events() {
    let mut outcomes = Vec::new();
    for framing in [Framing::PerPacket, Framing::OneChunk, Framing::ByteByByte] {
        let mut pair = stream_pair();
        pair.broker_send_all(&inbound_stream(), framing);
        outcomes.push((framing, outcome(&mut pair)));
    }
    let (_, (events, received)) = &outcomes[0];
    assert_eq!(events.len(), 5, "{events:#?}");
    assert_eq!(
        received,
        &[
            Packet::PubAck(ack(5)),
            Packet::PubRec(ack(6)),
            Packet::PubComp(ack(6))
        ]
    );
    for (framing, o) in &outcomes[1..] {
        assert_eq!(o, &outcomes[0].1, "{framing:?}");
    }
}

#[test]
fn packets_cut_at_random_places_yield_the_same_events() {
    let mut reference = stream_pair();
    reference.broker_send_all(&inbound_stream(), Framing::OneChunk);
    let expected = outcome(&mut reference);

    let bytes: Vec<u8> = {
        let pair = stream_pair();
        inbound_stream()
            .iter()
            .flat_map(|p| pair.broker.encode(p))
            .collect()
    };
    let mut rng = SplitMix64::new(7);
    for case in 0..200 {
        let mut chunks = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + (rng.next_u64() % 40) as usize;
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            chunks.push(chunk.to_vec());
            rest = tail;
        }
        let mut pair = stream_pair();
        pair.broker_send_chunks(chunks);
        assert_eq!(outcome(&mut pair), expected, "case {case}");
    }
}

#[test]
fn a_connack_and_a_publish_in_one_chunk_are_both_handled() {
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = None;
    pair.connect();
    pair.take_events();
    let message = inbound("in/a", QoS::AtMostOnce, None, b"x");
    pair.broker_send_all(
        &[
            Packet::ConnAck(ConnAck::default()),
            Packet::Publish(message.clone()),
        ],
        Framing::OneChunk,
    );
    assert_eq!(
        seen(&mut pair),
        [
            Event::StateChanged(State::Connected),
            Event::Connected {
                session_present: false,
                reason_code: 0,
                properties: Properties::default(),
            },
            Event::Message(message),
        ]
    );
}

// ----- bounded receive -----

/// `n` QoS 0 PUBLISHes from the broker, their payloads the sequence numbers `from..from + n`
/// (u32, big-endian), encoded back to back.
fn numbered_publishes(pair: &Pair, from: u32, n: u32) -> Vec<u8> {
    (from..from + n)
        .flat_map(|i| {
            let p = inbound("in/seq", QoS::AtMostOnce, None, &i.to_be_bytes());
            pair.broker.encode(&Packet::Publish(p))
        })
        .collect()
}

/// The sequence numbers of the messages among the session's pending events.
fn delivered(pair: &mut Pair) -> Vec<u32> {
    let mut seqs = Vec::new();
    while let Some(event) = pair.session.poll_event() {
        if let Event::Message(p) = event {
            let n: [u8; 4] = p.payload[..].try_into().expect("a numbered payload");
            seqs.push(u32::from_be_bytes(n));
        }
    }
    seqs
}

#[test]
fn one_message_of_many_packets_is_decoded_a_bounded_batch_per_call_in_order() {
    let mut pair = Pair::connected(config());
    let bytes = numbered_publishes(&pair, 0, 1000);
    pair.session.handle_message(pair.now, bytes);
    assert_eq!(
        pair.session.poll_event(),
        None,
        "nothing decoded on arrival"
    );
    let mut batches = Vec::new();
    let mut all = Vec::new();
    loop {
        let more = pair.session.decode_batch(pair.now, 64, usize::MAX);
        let batch = delivered(&mut pair);
        batches.push(batch.len());
        all.extend(batch);
        if !more {
            break;
        }
    }
    let mut expected = vec![64; 15];
    expected.push(1000 - 15 * 64);
    assert_eq!(batches, expected, "64 packets a call, the rest in the last");
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    assert_eq!(pair.session.stats().messages_received, 1000);
}

#[test]
fn a_batch_stops_once_its_byte_bound_is_reached() {
    let mut pair = Pair::connected(config());
    let bytes = numbered_publishes(&pair, 0, 10);
    let one = bytes.len() / 10;
    pair.session.handle_message(pair.now, bytes);
    // Two and a half packets' worth: the third packet crosses the bound and ends the batch.
    assert!(pair.session.decode_batch(pair.now, usize::MAX, one * 5 / 2));
    assert_eq!(delivered(&mut pair), [0, 1, 2]);
    assert!(
        pair.session.decode_batch(pair.now, usize::MAX, 1),
        "at least one a call"
    );
    assert_eq!(delivered(&mut pair), [3]);
    assert!(!pair.session.decode_batch(pair.now, usize::MAX, usize::MAX));
    assert_eq!(delivered(&mut pair), [4, 5, 6, 7, 8, 9]);
}

#[test]
fn later_messages_wait_for_earlier_ones_and_a_packet_cut_between_them_is_joined() {
    let mut pair = Pair::connected(config());
    let first = numbered_publishes(&pair, 0, 10);
    let second = numbered_publishes(&pair, 10, 10);
    // The fifth packet of the second run is cut across the second and third messages.
    let cut = second.len() / 2 - 3;
    pair.session.handle_message(pair.now, first);
    pair.session
        .handle_message(pair.now, second[..cut].to_vec());
    pair.session
        .handle_message(pair.now, second[cut..].to_vec());
    let mut all = Vec::new();
    while pair.session.decode_batch(pair.now, 3, usize::MAX) {
        let batch = delivered(&mut pair);
        assert!(batch.len() <= 3, "{batch:?}");
        all.extend(batch);
    }
    all.extend(delivered(&mut pair));
    assert_eq!(all, (0..20).collect::<Vec<_>>());
    // A cut packet whose rest has not arrived waits for it.
    let third = numbered_publishes(&pair, 20, 1);
    pair.session.handle_message(pair.now, third[..4].to_vec());
    assert!(!pair.session.decode_batch(pair.now, 3, usize::MAX));
    assert_eq!(delivered(&mut pair), Vec::<u32>::new());
    pair.session.handle_message(pair.now, third[4..].to_vec());
    assert!(!pair.session.decode_batch(pair.now, 3, usize::MAX));
    assert_eq!(delivered(&mut pair), [20]);
}

#[test]
fn a_malformed_packet_in_a_batch_ends_the_connection_and_voids_the_rest() {
    let mut pair = Pair::connected(config());
    let mut bytes = numbered_publishes(&pair, 0, 3);
    bytes.extend([0x00, 0x00]); // packet type 0
    bytes.extend(numbered_publishes(&pair, 3, 3));
    pair.session.handle_message(pair.now, bytes);
    assert!(pair.session.decode_batch(pair.now, 2, usize::MAX));
    assert_eq!(delivered(&mut pair), [0, 1]);
    assert!(!pair.session.decode_batch(pair.now, 2, usize::MAX));
    let events: Vec<Event> = std::iter::from_fn(|| pair.session.poll_event()).collect();
    assert!(
        matches!(&events[0], Event::Message(p) if p.payload == 2u32.to_be_bytes()),
        "{events:?}"
    );
    assert_eq!(
        redact(events[1..].to_vec()),
        redact(lost_then_waiting(
            offline(ErrorCode::ProtocolError, Some(0x82)),
            1,
            1_000
        ))
    );
    assert!(
        !pair.session.decode_batch(pair.now, 2, usize::MAX),
        "nothing left"
    );
    assert_eq!(delivered(&mut pair), Vec::<u32>::new());
}

#[test]
fn a_transport_error_fails_the_connection_after_the_bytes_that_came_before_it() {
    let mut pair = Pair::connected(config());
    let bytes = numbered_publishes(&pair, 0, 5);
    pair.session.handle_message(pair.now, bytes);
    pair.session
        .handle_transport_error(SessionError::with_reason(
            ErrorCode::ProtocolError,
            0x82,
            "a text message",
        ));
    // Bytes after the violation are void.
    let later = numbered_publishes(&pair, 5, 1);
    pair.session.handle_message(pair.now, later);
    assert!(pair.session.decode_batch(pair.now, 4, usize::MAX));
    assert_eq!(delivered(&mut pair), [0, 1, 2, 3]);
    assert_eq!(pair.session.state(), State::Connected);
    assert!(!pair.session.decode_batch(pair.now, 4, usize::MAX));
    let events: Vec<Event> = std::iter::from_fn(|| pair.session.poll_event()).collect();
    assert!(matches!(&events[0], Event::Message(p) if p.payload == 4u32.to_be_bytes()));
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Offline { error } if error.code == ErrorCode::ProtocolError)
        ),
        "{events:?}"
    );
    assert_ne!(pair.session.state(), State::Connected);
    pair.drive();
    assert_eq!(pair.take_received().last(), Some(&disconnect(0x82)));
}

// ----- malformed input -----

#[test]
fn malformed_or_unexpected_packets_from_the_broker_end_the_connection_with_a_protocol_error() {
    let cases: [(&str, Vec<u8>, u8); 9] = [
        ("packet type 0", vec![0x00, 0x00], 0x82),
        (
            "remaining length of five bytes",
            vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            0x81,
        ),
        (
            "publish with qos 3",
            vec![0x36, 0x07, 0x00, 0x01, b'a', 0x00, 0x01, 0x00, b'x'],
            0x81,
        ),
        (
            "connack after connack",
            vec![0x20, 0x03, 0x00, 0x00, 0x00],
            0x82,
        ),
        (
            "subscribe sent to the client",
            vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00],
            0x82,
        ),
        (
            "unsubscribe sent to the client",
            vec![0xA2, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, b'a'],
            0x82,
        ),
        ("pingreq sent to the client", vec![0xC0, 0x00], 0x82),
        (
            "connect sent to the client",
            vec![
                0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00,
                0x00,
            ],
            0x82,
        ),
        (
            "the first bytes of a connect of 268 MB",
            vec![0x10, 0xFF, 0xFF, 0xFF, 0x7F],
            0x82,
        ),
    ];
    for (what, bytes, reason) in cases {
        let mut pair = Pair::connected(config());
        pair.broker_send_raw(&bytes, Framing::OneChunk);
        let events = seen(&mut pair);
        assert_eq!(
            events,
            lost_then_waiting(offline(ErrorCode::ProtocolError, Some(reason)), 1, 1_000),
            "{what}"
        );
    }
}

#[test]
fn a_malformed_packet_is_answered_with_disconnect_0x81() {
    let mut pair = Pair::connected(config());
    pair.broker_send_raw(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], Framing::OneChunk);
    assert_eq!(pair.take_received(), [disconnect(0x81)]);
}

#[test]
fn a_packet_before_connack_is_a_protocol_error() {
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = None;
    pair.connect();
    pair.take_events();
    pair.broker_send(Packet::Publish(inbound(
        "in/a",
        QoS::AtMostOnce,
        None,
        b"x",
    )));
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::ProtocolError, Some(0x82)), 1, 1_000)
    );
    assert_eq!(pair.take_received().len(), 1, "only the connect");
}

#[test]
fn random_bytes_from_the_broker_never_panic_and_only_end_the_connection_for_a_reason() {
    let mut rng = SplitMix64::new(1);
    for case in 0..500 {
        let len = 1 + (rng.next_u64() % 48) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Mostly plausible lengths, so the fields behind them get exercised.
        if len > 1 && case % 2 == 0 {
            bytes[1] = (len - 2) as u8;
        }
        for connected in [true, false] {
            let mut pair = if connected {
                Pair::connected(config())
            } else {
                let mut pair = Pair::new(config());
                pair.broker.auto_connack = None;
                pair.connect();
                pair
            };
            pair.broker_send_raw(&bytes, Framing::OneChunk);
            for event in pair.take_events() {
                if let Event::Offline { error } = event {
                    assert!(
                        matches!(
                            error.code,
                            ErrorCode::ProtocolError
                                | ErrorCode::PacketTooLarge
                                | ErrorCode::ServerDisconnect
                                | ErrorCode::NotAuthorized
                                | ErrorCode::Refused
                        ),
                        "case {case} {bytes:02x?}: {error:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_server_disconnect_ends_the_connection_with_its_reason_code() {
    let mut pair = Pair::connected(config());
    pair.broker_send(disconnect(0x8B));
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::ServerDisconnect, Some(0x8B)), 1, 1_000)
    );
    assert_eq!(pair.take_received(), []);
}

// ----- SUBACK / UNSUBACK reason-code count -----

/// Sends a request for `filters` filters (SUBSCRIBE, or UNSUBSCRIBE when `unsubscribe`) on
/// `version`, answers it with `codes` reason codes, and checks the protocol failure: the
/// request fails with PROTOCOL_ERROR naming both counts, v5 says so in DISCONNECT 0x82, the
/// connection ends, the failure is reported and the next attempt is scheduled; the failed
/// request is not sent again.
fn assert_miscounted_ack(
    version: ProtocolVersion,
    unsubscribe: bool,
    filters: usize,
    codes: usize,
) {
    let mut pair = Pair::connected(SessionConfig {
        protocol: version,
        ..config()
    });
    pair.broker.auto_suback = false;
    let names: Vec<String> = (0..filters).map(|i| format!("f/{i}")).collect();
    let token = if unsubscribe {
        pair.session
            .unsubscribe(pair.now, names.clone(), Properties::default())
            .unwrap()
    } else {
        let subs = names.iter().map(|n| filter(n, QoS::AtLeastOnce)).collect();
        pair.session
            .subscribe(pair.now, subs, Properties::default())
            .unwrap()
    };
    pair.drive();
    assert_eq!(pair.take_received().len(), 1);
    let reason_codes = vec![0x01; codes];
    let (ack, kind) = if unsubscribe {
        let ack = UnsubAck {
            packet_id: 1,
            reason_codes: vec![0x00; codes],
            properties: Properties::default(),
        };
        (Packet::UnsubAck(ack), "unsuback")
    } else {
        let ack = SubAck {
            packet_id: 1,
            reason_codes,
            properties: Properties::default(),
        };
        (Packet::SubAck(ack), "suback")
    };
    pair.broker_send(ack);

    let events = pair.take_events();
    let message = format!("expected {filters} codes, got {codes}");
    let failed = match &events[0] {
        Event::SubscribeDone { token: t, result } if !unsubscribe => (t, result.clone().err()),
        Event::UnsubscribeDone { token: t, result } if unsubscribe => (t, result.clone().err()),
        other => panic!("the request did not fail first: {other:?}"),
    };
    assert_eq!(failed.0, &token);
    let error = failed.1.expect("the request fails");
    assert!(error.message.contains(&message), "{error}");
    assert!(error.message.contains(kind), "{error}");
    let Event::Offline { error: reported } = &events[2] else {
        panic!("the failure is not reported: {events:#?}");
    };
    assert_eq!(reported, &error);
    let protocol_error = err(ErrorCode::ProtocolError, Some(0x82));
    let mut expected = vec![Event::SubscribeDone {
        token,
        result: Err(protocol_error.clone()),
    }];
    if unsubscribe {
        expected = vec![Event::UnsubscribeDone {
            token,
            result: Err(protocol_error.clone()),
        }];
    }
    expected.extend(lost_then_waiting(
        Event::Offline {
            error: protocol_error,
        },
        1,
        1_000,
    ));
    assert_eq!(redact(events), expected);
    let wire = pair.take_received();
    match version {
        ProtocolVersion::V5 => assert_eq!(wire, [disconnect(0x82)]),
        ProtocolVersion::V311 => assert_eq!(wire, []),
    }
    assert!(!pair.link_up);
    assert_eq!(pair.session.subscriptions().count(), 0);

    // The next connection does not send the failed request again.
    pair.advance(1_000);
    assert_eq!(pair.session.state(), State::Connected);
    let wire = pair.take_received();
    assert!(matches!(wire[..], [Packet::Connect(_)]), "{wire:#?}");
}

#[test]
fn a_v5_suback_with_fewer_reason_codes_than_filters_is_a_protocol_error() {
    assert_miscounted_ack(ProtocolVersion::V5, false, 2, 1);
}

#[test]
fn a_v5_suback_with_more_reason_codes_than_filters_is_a_protocol_error() {
    assert_miscounted_ack(ProtocolVersion::V5, false, 1, 2);
}

#[test]
fn a_311_suback_with_fewer_reason_codes_than_filters_is_a_protocol_error() {
    assert_miscounted_ack(ProtocolVersion::V311, false, 3, 2);
}

#[test]
fn a_311_suback_with_more_reason_codes_than_filters_is_a_protocol_error() {
    assert_miscounted_ack(ProtocolVersion::V311, false, 1, 3);
}

#[test]
fn a_v5_unsuback_with_fewer_reason_codes_than_filters_is_a_protocol_error() {
    assert_miscounted_ack(ProtocolVersion::V5, true, 2, 1);
}

#[test]
fn a_v5_unsuback_with_more_reason_codes_than_filters_is_a_protocol_error() {
    assert_miscounted_ack(ProtocolVersion::V5, true, 1, 2);
}

#[test]
fn a_v5_unsuback_with_no_reason_code_is_a_protocol_error() {
    assert_miscounted_ack(ProtocolVersion::V5, true, 1, 0);
}

#[test]
fn a_311_unsuback_with_anything_after_the_packet_id_is_a_protocol_error() {
    // 3.1.1 UNSUBACK carries no reason codes: its remaining length is exactly 2.
    let mut pair = Pair::connected(v311());
    pair.broker.auto_suback = false;
    pair.session
        .unsubscribe(pair.now, vec!["f/0".to_string()], Properties::default())
        .unwrap();
    pair.drive();
    pair.take_received();
    pair.broker_send_raw(&[0xB0, 0x03, 0x00, 0x01, 0x00], Framing::OneChunk);
    assert_eq!(
        seen(&mut pair),
        lost_then_waiting(offline(ErrorCode::ProtocolError, Some(0x81)), 1, 1_000)
    );
    assert_eq!(pair.take_received(), []);
}

#[test]
fn a_311_unsuback_without_reason_codes_completes_the_unsubscribe() {
    let mut pair = Pair::connected(v311());
    let token = pair
        .session
        .unsubscribe(
            pair.now,
            vec!["f/0".to_string(), "f/1".to_string()],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    assert_eq!(
        seen(&mut pair),
        [Event::UnsubscribeDone {
            token,
            result: Ok(UnsubAck {
                packet_id: 1,
                reason_codes: Vec::new(),
                properties: Properties::default(),
            }),
        }]
    );
}

#[test]
fn a_miscounted_suback_leaves_the_granted_subscriptions_as_they_were() {
    let mut pair = Pair::connected(config());
    pair.session
        .subscribe(
            pair.now,
            vec![filter("kept/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    pair.broker.auto_suback = false;
    pair.session
        .subscribe(
            pair.now,
            vec![
                filter("new/a", QoS::AtLeastOnce),
                filter("new/b", QoS::AtLeastOnce),
            ],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    pair.broker_send(Packet::SubAck(SubAck {
        packet_id: 2,
        reason_codes: vec![0x01],
        properties: Properties::default(),
    }));
    let granted: Vec<String> = pair
        .session
        .subscriptions()
        .map(|(f, _)| f.filter.clone())
        .collect();
    assert_eq!(granted, ["kept/#"]);
}

// ----- disconnect and close -----

#[test]
fn disconnect_writes_disconnect_then_closes_and_fails_pending_requests_with_closed() {
    let mut pair = Pair::connected_with(
        config(),
        connack(Properties {
            receive_maximum: Some(1),
            ..Properties::default()
        }),
    );
    pair.broker.auto_puback = false;
    pair.broker.auto_suback = false;
    let in_flight = pair.publish("t/a", QoS::AtLeastOnce, b"a");
    let queued = pair.publish("t/b", QoS::AtLeastOnce, b"b");
    let sub = pair
        .session
        .subscribe(
            pair.now,
            vec![filter("a/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    pair.take_received();

    pair.session.disconnect(pair.now, 0);
    pair.drive();
    let closed = err(ErrorCode::Closed, None);
    assert_eq!(
        seen(&mut pair),
        [
            Event::CloseTransport,
            failed(in_flight, ErrorCode::Closed, None),
            failed(queued, ErrorCode::Closed, None),
            Event::SubscribeDone {
                token: sub,
                result: Err(closed),
            },
            Event::StateChanged(State::Closed),
            Event::Closed { error: None },
        ]
    );
    assert_eq!(pair.take_received(), [disconnect(0)]);
    assert_eq!(pair.session.state(), State::Closed);
    assert_eq!(
        pair.session
            .publish(pair.now, publish("t/a", QoS::AtMostOnce, b"x"))
            .map_err(|e| e.code),
        Err(ErrorCode::Closed)
    );
    pair.advance(600_000);
    assert_eq!(pair.opens_requested, 1);
}

#[test]
fn disconnect_sends_the_reason_code_it_is_given() {
    let mut pair = Pair::connected(config());
    pair.session.disconnect(pair.now, 0x04);
    pair.drive();
    assert_eq!(pair.take_received(), [disconnect(0x04)]);
}

#[test]
fn a_reason_code_disconnect_cannot_carry_is_reported_and_the_session_closes_without_it() {
    let mut pair = Pair::connected(config());
    // 0x05 is no DISCONNECT reason code (MQTT 5.0 section 3.14.2.1).
    pair.session.disconnect(pair.now, 0x05);
    pair.drive();
    assert_eq!(pair.take_received(), []);
    assert_eq!(
        seen(&mut pair),
        [
            Event::Error(err(ErrorCode::InvalidArgument, None)),
            Event::CloseTransport,
            Event::StateChanged(State::Closed),
            Event::Closed { error: None },
        ]
    );
}

#[test]
fn close_writes_no_disconnect() {
    let mut pair = Pair::connected(config());
    pair.session.close(pair.now);
    pair.drive();
    assert_eq!(pair.take_received(), []);
    assert_eq!(
        seen(&mut pair),
        [
            Event::CloseTransport,
            Event::StateChanged(State::Closed),
            Event::Closed { error: None },
        ]
    );
}

#[test]
fn disconnect_before_connack_writes_no_disconnect() {
    let mut pair = Pair::new(config());
    pair.broker.auto_connack = None;
    pair.connect();
    pair.take_received();
    pair.take_events();
    pair.session.disconnect(pair.now, 0);
    pair.drive();
    assert_eq!(pair.take_received(), []);
    assert_eq!(
        seen(&mut pair),
        [
            Event::CloseTransport,
            Event::StateChanged(State::Closed),
            Event::Closed { error: None },
        ]
    );
}

#[test]
fn disconnect_while_offline_just_closes() {
    let mut pair = Pair::connected(config());
    pair.break_link();
    pair.take_events();
    pair.session.disconnect(pair.now, 0);
    pair.drive();
    assert_eq!(
        seen(&mut pair),
        [
            Event::StateChanged(State::Closed),
            Event::Closed { error: None }
        ]
    );
    pair.advance(600_000);
    assert_eq!(pair.opens_requested, 1);
}

// ----- stats -----

#[test]
fn stats_count_bytes_and_messages_both_ways() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    pair.publish("t/a", QoS::AtMostOnce, b"a");
    pair.publish("t/b", QoS::AtLeastOnce, b"b");
    pair.publish("t/c", QoS::AtLeastOnce, b"c");
    pair.broker_send(Packet::Publish(inbound(
        "in/a",
        QoS::AtMostOnce,
        None,
        b"1",
    )));
    pair.broker_send(Packet::Publish(inbound(
        "in/b",
        QoS::AtLeastOnce,
        Some(1),
        b"2",
    )));

    let stats = pair.session.stats();
    assert_eq!(stats.messages_sent, 3);
    assert_eq!(stats.messages_received, 2);
    assert_eq!(stats.inflight, 2);
    assert_eq!(stats.queued, 0);
    assert_eq!(stats.reconnects, 0);
    assert_eq!(stats.bytes_sent, pair.broker.bytes_received as u64);
    assert_eq!(stats.bytes_received, pair.broker.bytes_sent as u64);
    assert!(stats.bytes_sent > 0 && stats.bytes_received > 0);

    pair.break_link();
    pair.advance(1_000);
    assert_eq!(pair.session.stats().reconnects, 1);
}

#[test]
fn an_unsubscribe_is_acknowledged_and_forgets_the_subscription() {
    let mut pair = Pair::connected(config());
    pair.session
        .subscribe(
            pair.now,
            vec![filter("a/#", QoS::AtLeastOnce)],
            Properties::default(),
        )
        .unwrap();
    pair.drive();
    assert_eq!(pair.session.subscriptions().count(), 1);
    let token = pair
        .session
        .unsubscribe(pair.now, vec!["a/#".to_string()], Properties::default())
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.take_received()[1],
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 2,
            filters: vec!["a/#".to_string()],
            properties: Properties::default(),
        })
    );
    assert_eq!(
        seen(&mut pair)[1..],
        [Event::UnsubscribeDone {
            token,
            result: Ok(UnsubAck {
                packet_id: 2,
                reason_codes: vec![0],
                properties: Properties::default(),
            }),
        }]
    );
    assert_eq!(pair.session.subscriptions().count(), 0);
}

// ----- graceful end -----

#[test]
fn end_waits_for_the_puback_before_sending_disconnect() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    let token = pair.publish("t/a", QoS::AtLeastOnce, b"a");
    pair.drive();
    pair.take_received();
    pair.take_events();

    pair.session.end(pair.now, 0, 5_000);
    pair.drive();
    assert!(
        pair.take_received().is_empty(),
        "no DISCONNECT while a PUBACK is due"
    );
    assert_eq!(pair.session.state(), State::Connected);

    pair.broker_send(Packet::PubAck(ack(1)));
    pair.drive();
    assert_eq!(pair.take_received(), [disconnect(0)]);
    assert_eq!(
        seen(&mut pair),
        [
            done(token, 1),
            Event::CloseTransport,
            Event::StateChanged(State::Closed),
            Event::Closed { error: None },
        ]
    );
}

#[test]
fn end_sends_queued_publishes_first_and_gives_up_at_its_deadline() {
    let mut pair = Pair::connected_with(
        config(),
        connack(Properties {
            receive_maximum: Some(1),
            ..Properties::default()
        }),
    );
    pair.broker.auto_puback = false;
    let first = pair.publish("t/a", QoS::AtLeastOnce, b"a");
    let second = pair.publish("t/b", QoS::AtLeastOnce, b"b");
    pair.drive();
    pair.take_received();
    pair.take_events();

    pair.session.end(pair.now, 0x04, 5_000);
    pair.broker_send(Packet::PubAck(ack(1)));
    pair.drive();
    // The queued one went out once the first was acknowledged; its ack never comes.
    assert!(matches!(pair.take_received().as_slice(), [Packet::Publish(p)] if p.topic == "t/b"));
    pair.advance(4_999);
    assert!(pair.take_received().is_empty());
    pair.advance(1);
    assert_eq!(pair.take_received(), [disconnect(0x04)]);
    let events = seen(&mut pair);
    assert_eq!(events[0], done(first, 1));
    assert!(events.contains(&failed(second, ErrorCode::Closed, None)));
    assert_eq!(events.last(), Some(&Event::Closed { error: None }));
}

#[test]
fn requests_made_while_ending_fail_closed_and_send_nothing() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    pair.publish("t/a", QoS::AtLeastOnce, b"a");
    pair.drive();
    pair.take_received();
    pair.session.end(pair.now, 0, 5_000);
    let e = pair
        .session
        .publish(pair.now, publish("t/b", QoS::AtMostOnce, b"b"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Closed);
    let e = pair
        .session
        .subscribe(
            pair.now,
            vec![filter("x", QoS::AtMostOnce)],
            Properties::default(),
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Closed);
    pair.drive();
    assert!(pair.take_received().is_empty());
}

#[test]
fn a_connection_lost_while_ending_closes_instead_of_reconnecting() {
    let mut pair = Pair::connected(config());
    pair.broker.auto_puback = false;
    let token = pair.publish("t/a", QoS::AtLeastOnce, b"a");
    pair.drive();
    pair.take_events();
    pair.session.end(pair.now, 0, 5_000);
    pair.break_link();
    pair.drive();
    let events = seen(&mut pair);
    assert!(events.contains(&failed(token, ErrorCode::ConnectionLost, None)));
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::Reconnecting { .. } | Event::OpenTransport)));
    assert_eq!(pair.session.state(), State::Closed);
}

#[test]
fn end_with_nothing_pending_disconnects_at_once() {
    let mut pair = Pair::connected(config());
    pair.take_received();
    pair.session.end(pair.now, 0, 5_000);
    pair.drive();
    assert_eq!(pair.take_received(), [disconnect(0)]);
    assert_eq!(pair.session.state(), State::Closed);
}
