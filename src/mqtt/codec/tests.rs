//! Cross-packet tests of the codec: byte-annotated encodings of every packet in both
//! versions (asserted both ways), incremental decoding, one test per malformation the
//! decoder refuses, the checks encoding makes, and a mutation sweep showing that no
//! corrupted packet panics and that whatever decodes re-encodes to itself.

use super::*;
use ProtocolVersion::{V311, V5};

/// Asserts that `packet` encodes to exactly `bytes` for `version` and that `bytes`
/// decode to `packet`, using all of them.
fn both_ways(packet: Packet, version: ProtocolVersion, bytes: &[u8]) {
    let mut out = Vec::new();
    encode(&packet, version, &mut out).expect("packet encodes");
    assert_eq!(out, bytes, "encoding of {packet:?}");
    assert_eq!(
        encoded_len(&packet, version),
        Ok(bytes.len()),
        "encoded_len"
    );
    assert_eq!(
        decode(bytes, version, u32::MAX),
        Ok(Some((packet, bytes.len()))),
        "decoding"
    );
}

/// Decodes a complete packet.
fn decoded(bytes: &[u8], version: ProtocolVersion) -> Packet {
    match decode(bytes, version, u32::MAX) {
        Ok(Some((packet, used))) => {
            assert_eq!(used, bytes.len(), "bytes used");
            packet
        }
        other => panic!("expected a packet, got {other:?}"),
    }
}

/// The error decoding `bytes` gives (and it must be an error, not a request for more).
fn refused(bytes: &[u8], version: ProtocolVersion) -> DecodeError {
    match decode(bytes, version, u32::MAX) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// The encoding of `packet`, which must encode.
fn encoded(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = Vec::new();
    encode(packet, version, &mut out).expect("packet encodes");
    out
}

/// The error encoding `packet` gives, after checking that it leaves `out` as it was.
fn encode_refused(packet: &Packet, version: ProtocolVersion) -> EncodeError {
    let mut out = vec![0xAA, 0xBB];
    let err = encode(packet, version, &mut out).expect_err("packet must not encode");
    assert_eq!(out, [0xAA, 0xBB], "out unchanged on error");
    assert_eq!(encoded_len(packet, version), Err(err.clone()));
    err
}

fn props() -> Properties {
    Properties::default()
}

fn user(key: &str, value: &str) -> Properties {
    Properties {
        user_properties: vec![(key.into(), value.into())],
        ..props()
    }
}

/// A v5 PUBLISH QoS 0 to topic "t" with the given raw property bytes and no payload.
fn v5_publish_with(properties: &[u8]) -> Vec<u8> {
    let mut v = vec![0x30, (4 + properties.len()) as u8, 0x00, 0x01, b't'];
    v.push(properties.len() as u8);
    v.extend_from_slice(properties);
    v
}

/// A v5 CONNACK (success) with the given raw property bytes.
fn v5_connack_with(properties: &[u8]) -> Vec<u8> {
    let mut v = vec![0x20, (3 + properties.len()) as u8, 0x00, 0x00];
    v.push(properties.len() as u8);
    v.extend_from_slice(properties);
    v
}

/// A v5 CONNECT (clean start, empty client id) with the given raw property bytes.
fn v5_connect_with(properties: &[u8]) -> Vec<u8> {
    let mut v = vec![0x10, (13 + properties.len()) as u8];
    v.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x00]);
    v.push(properties.len() as u8);
    v.extend_from_slice(properties);
    v.extend_from_slice(&[0x00, 0x00]);
    v
}

/// A v5 SUBSCRIBE (packet id 1, filter "t" QoS 0) with the given raw property bytes.
fn v5_subscribe_with(properties: &[u8]) -> Vec<u8> {
    let mut v = vec![0x82, (7 + properties.len()) as u8, 0x00, 0x01];
    v.push(properties.len() as u8);
    v.extend_from_slice(properties);
    v.extend_from_slice(&[0x00, 0x01, b't', 0x00]);
    v
}

// ---------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------

/// The variable header of the example of MQTT 3.1.1 section 3.1.2.10 (flags 0xCE: user
/// name, password, will QoS 1, will, clean session; keep alive 10), with a payload.
fn spec_connect(protocol: ProtocolVersion, properties: Properties) -> Packet {
    Packet::Connect(Connect {
        protocol,
        client_id: "c".into(),
        clean_start: true,
        keep_alive: 10,
        username: Some("u".into()),
        password: Some(b"p".to_vec()),
        will: Some(Will {
            topic: "w".into(),
            payload: b"x".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: props(),
        }),
        properties,
    })
}

#[test]
fn connect_v311_matches_the_variable_header_example_of_the_spec() {
    #[rustfmt::skip]
    let bytes = [
        0b0001_0000, 25,                       // CONNECT, remaining length 25
        0x00, 0x04, b'M', b'Q', b'T', b'T',    // protocol name "MQTT"
        0x04,                                  // protocol level 4 (3.1.1)
        0xCE,                                  // user name, password, will QoS 1, will, clean session
        0x00, 0x0A,                            // keep alive 10 s
        0x00, 0x01, b'c',                      // client identifier "c"
        0x00, 0x01, b'w',                      // will topic "w"
        0x00, 0x01, b'x',                      // will message "x"
        0x00, 0x01, b'u',                      // user name "u"
        0x00, 0x01, b'p',                      // password "p"
    ];
    both_ways(spec_connect(V311, props()), V311, &bytes);
}

#[test]
fn connect_v5_matches_the_variable_header_example_of_the_spec() {
    // MQTT 5.0 section 3.1.2.11: the same flags, keep alive 10 and a session expiry
    // interval of 10 as the only property.
    #[rustfmt::skip]
    let bytes = [
        0b0001_0000, 32,                       // CONNECT, remaining length 32
        0x00, 0x04, b'M', b'Q', b'T', b'T',    // protocol name "MQTT"
        0x05,                                  // protocol level 5
        0xCE,                                  // user name, password, will QoS 1, will, clean start
        0x00, 0x0A,                            // keep alive 10 s
        0x05,                                  // properties length 5
        0x11, 0x00, 0x00, 0x00, 0x0A,          // session expiry interval 10 s
        0x00, 0x01, b'c',                      // client identifier "c"
        0x00,                                  // will properties length 0
        0x00, 0x01, b'w',                      // will topic "w"
        0x00, 0x01, b'x',                      // will payload "x"
        0x00, 0x01, b'u',                      // user name "u"
        0x00, 0x01, b'p',                      // password "p"
    ];
    let properties = Properties {
        session_expiry_interval: Some(10),
        ..props()
    };
    both_ways(spec_connect(V5, properties), V5, &bytes);
}

#[test]
fn connect_v311_with_only_an_empty_client_id_is_twelve_bytes_of_body() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 12,                              // CONNECT, remaining length 12
        0x00, 0x04, b'M', b'Q', b'T', b'T',    // protocol name
        0x04,                                  // level 4
        0x02,                                  // clean session only
        0x00, 0x00,                            // keep alive 0: disabled
        0x00, 0x00,                            // client identifier "" (server assigns)
    ];
    let connect = Connect {
        protocol: V311,
        client_id: String::new(),
        clean_start: true,
        keep_alive: 0,
        username: None,
        password: None,
        will: None,
        properties: props(),
    };
    both_ways(Packet::Connect(connect), V311, &bytes);
}

#[test]
fn connect_v5_with_will_properties_and_a_password_without_user_name() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 47,                              // CONNECT, remaining length 47
        0x00, 0x04, b'M', b'Q', b'T', b'T',    // protocol name
        0x05,                                  // level 5
        0x74,                                  // password, will retain, will QoS 2, will
        0x00, 0x3C,                            // keep alive 60 s
        17,                                    // properties length 17
        0x17, 0x00,                            //   request problem information 0
        0x21, 0x00, 0x14,                      //   receive maximum 20
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b', // user property a=b
        0x27, 0x00, 0x00, 0x04, 0x00,          //   maximum packet size 1024
        0x00, 0x02, b'i', b'd',                // client identifier "id"
        0x05,                                  // will properties length 5
        0x18, 0x00, 0x00, 0x00, 0x05,          //   will delay interval 5 s
        0x00, 0x01, b't',                      // will topic "t"
        0x00, 0x00,                            // will payload, empty
        0x00, 0x02, b'p', b'w',                // password "pw" (5.0 allows it alone)
    ];
    let connect = Connect {
        protocol: V5,
        client_id: "id".into(),
        clean_start: false,
        keep_alive: 60,
        username: None,
        password: Some(b"pw".to_vec()),
        will: Some(Will {
            topic: "t".into(),
            payload: Vec::new(),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Properties {
                will_delay_interval: Some(5),
                ..props()
            },
        }),
        properties: Properties {
            request_problem_information: Some(0),
            receive_maximum: Some(20),
            user_properties: vec![("a".into(), "b".into())],
            maximum_packet_size: Some(1024),
            ..props()
        },
    };
    both_ways(Packet::Connect(connect), V5, &bytes);
}

#[test]
fn connect_decodes_by_its_own_protocol_level_whatever_version_is_passed() {
    let v5 = encoded(&spec_connect(V5, props()), V311);
    assert_eq!(decoded(&v5, V311), spec_connect(V5, props()));
    let v311 = encoded(&spec_connect(V311, props()), V5);
    assert_eq!(decoded(&v311, V5), spec_connect(V311, props()));
}

#[test]
fn connect_v311_leaves_out_properties_and_will_properties() {
    let with = Packet::Connect(Connect {
        properties: user("k", "v"),
        will: Some(Will {
            properties: user("k", "v"),
            ..Will::default()
        }),
        ..connect_v311()
    });
    let without = Packet::Connect(Connect {
        will: Some(Will::default()),
        ..connect_v311()
    });
    assert_eq!(encoded(&with, V311), encoded(&without, V311));
}

fn connect_v311() -> Connect {
    Connect {
        protocol: V311,
        client_id: "c".into(),
        clean_start: true,
        keep_alive: 30,
        username: None,
        password: None,
        will: None,
        properties: props(),
    }
}

// ---------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------

#[test]
fn connack_v311_carries_session_present_and_a_return_code() {
    #[rustfmt::skip]
    both_ways(
        Packet::ConnAck(ConnAck { session_present: true, reason_code: 0, properties: props() }),
        V311,
        &[
            0b0010_0000, 2,                    // CONNACK, remaining length 2
            0x01,                              // session present
            0x00,                              // connection accepted
        ],
    );
    #[rustfmt::skip]
    both_ways(
        Packet::ConnAck(ConnAck { session_present: false, reason_code: 5, properties: props() }),
        V311,
        &[
            0x20, 2,                           // CONNACK, remaining length 2
            0x00,                              // no session
            0x05,                              // refused: not authorized
        ],
    );
}

#[test]
fn connack_v5_carries_a_reason_code_and_properties() {
    #[rustfmt::skip]
    let bytes = [
        0x20, 12,                              // CONNACK, remaining length 12
        0x00,                                  // no session present
        0x00,                                  // success
        9,                                     // properties length 9
        0x12, 0x00, 0x01, b'x',                //   assigned client identifier "x"
        0x22, 0x00, 0x0A,                      //   topic alias maximum 10
        0x24, 0x01,                            //   maximum QoS 1
    ];
    let connack = ConnAck {
        session_present: false,
        reason_code: 0,
        properties: Properties {
            assigned_client_identifier: Some("x".into()),
            topic_alias_maximum: Some(10),
            maximum_qos: Some(1),
            ..props()
        },
    };
    both_ways(Packet::ConnAck(connack), V5, &bytes);
    #[rustfmt::skip]
    both_ways(
        Packet::ConnAck(ConnAck { session_present: false, reason_code: 0x87, properties: props() }),
        V5,
        &[
            0x20, 3,                           // CONNACK, remaining length 3
            0x00,                              // no session
            0x87,                              // not authorized
            0x00,                              // properties length 0
        ],
    );
}

#[test]
fn connack_v5_with_every_connack_property_round_trips() {
    let connack = Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: 0,
        properties: Properties {
            session_expiry_interval: Some(u32::MAX),
            assigned_client_identifier: Some("assigned".into()),
            server_keep_alive: Some(120),
            authentication_method: Some("SCRAM-SHA-1".into()),
            authentication_data: Some(vec![1, 2, 3]),
            response_information: Some("resp/".into()),
            server_reference: Some("other".into()),
            reason_string: Some("welcome".into()),
            receive_maximum: Some(65_535),
            topic_alias_maximum: Some(0),
            maximum_qos: Some(0),
            retain_available: Some(1),
            user_properties: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            maximum_packet_size: Some(u32::MAX),
            wildcard_subscription_available: Some(0),
            subscription_identifier_available: Some(1),
            shared_subscription_available: Some(0),
            ..props()
        },
    });
    let bytes = encoded(&connack, V5);
    assert_eq!(decoded(&bytes, V5), connack);
}

// ---------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------

#[test]
fn publish_v311_qos0_has_no_packet_identifier() {
    #[rustfmt::skip]
    let bytes = [
        0b0011_0000, 7,                        // PUBLISH, QoS 0, remaining length 7
        0x00, 0x03, b'a', b'/', b'b',          // topic "a/b"
        b'h', b'i',                            // payload "hi"
    ];
    let publish = Publish {
        topic: "a/b".into(),
        payload: b"hi".to_vec(),
        ..Publish::default()
    };
    both_ways(Packet::Publish(publish), V311, &bytes);
}

#[test]
fn publish_v311_qos1_matches_the_variable_header_example_of_the_spec() {
    // MQTT 3.1.1 section 3.3.2.3: topic "a/b", packet identifier 10.
    #[rustfmt::skip]
    let bytes = [
        0b0011_0010, 11,                       // PUBLISH, QoS 1, remaining length 11
        0x00, 0x03, b'a', b'/', b'b',          // topic "a/b"
        0x00, 0x0A,                            // packet identifier 10
        b'd', b'a', b't', b'a',                // payload "data"
    ];
    let publish = Publish {
        qos: QoS::AtLeastOnce,
        topic: "a/b".into(),
        packet_id: Some(10),
        payload: b"data".to_vec(),
        ..Publish::default()
    };
    both_ways(Packet::Publish(publish), V311, &bytes);
}

#[test]
fn publish_v311_qos2_with_dup_and_retain_sets_every_flag_bit() {
    #[rustfmt::skip]
    let bytes = [
        0b0011_1101, 5,                        // PUBLISH, DUP, QoS 2, RETAIN, remaining length 5
        0x00, 0x01, b't',                      // topic "t"
        0xFF, 0xFF,                            // packet identifier 65535
                                               // empty payload
    ];
    let publish = Publish {
        dup: true,
        qos: QoS::ExactlyOnce,
        retain: true,
        topic: "t".into(),
        packet_id: Some(65_535),
        payload: Vec::new(),
        properties: props(),
    };
    both_ways(Packet::Publish(publish), V311, &bytes);
}

#[test]
fn publish_v5_qos1_with_properties_and_two_subscription_identifiers() {
    #[rustfmt::skip]
    let bytes = [
        0b0011_0010, 24,                       // PUBLISH, QoS 1, remaining length 24
        0x00, 0x03, b'a', b'/', b'b',          // topic "a/b"
        0x00, 0x0A,                            // packet identifier 10
        15,                                    // properties length 15
        0x01, 0x01,                            //   payload format indicator: UTF-8
        0x02, 0x00, 0x00, 0x00, 0x3C,          //   message expiry interval 60 s
        0x0B, 0x01,                            //   subscription identifier 1
        0x0B, 0xC8, 0x01,                      //   subscription identifier 200 (var int)
        0x23, 0x00, 0x03,                      //   topic alias 3
        b'x',                                  // payload "x"
    ];
    let publish = Publish {
        qos: QoS::AtLeastOnce,
        topic: "a/b".into(),
        packet_id: Some(10),
        payload: b"x".to_vec(),
        properties: Properties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(60),
            subscription_identifiers: vec![1, 200],
            topic_alias: Some(3),
            ..props()
        },
        ..Publish::default()
    };
    both_ways(Packet::Publish(publish), V5, &bytes);
}

#[test]
fn publish_v5_with_an_empty_topic_and_a_topic_alias() {
    #[rustfmt::skip]
    let bytes = [
        0x30, 6,                               // PUBLISH, QoS 0, remaining length 6
        0x00, 0x00,                            // topic "" (the alias stands for it)
        3,                                     // properties length 3
        0x23, 0x00, 0x01,                      //   topic alias 1
                                               // empty payload
    ];
    let publish = Publish {
        properties: Properties {
            topic_alias: Some(1),
            ..props()
        },
        ..Publish::default()
    };
    both_ways(Packet::Publish(publish), V5, &bytes);
}

#[test]
fn publish_v5_request_response_properties_round_trip() {
    #[rustfmt::skip]
    let bytes = [
        0x31, 29,                              // PUBLISH, QoS 0, RETAIN, remaining length 29
        0x00, 0x01, b't',                      // topic "t"
        23,                                    // properties length 23
        0x03, 0x00, 0x04, b'j', b's', b'o', b'n', // content type "json"
        0x08, 0x00, 0x03, b'r', b'/', b'1',    //   response topic "r/1"
        0x09, 0x00, 0x02, 0xCA, 0xFE,          //   correlation data CA FE
        0x26, 0x00, 0x00, 0x00, 0x00,          //   user property ""=""
        b'{', b'}',                            // payload "{}"
    ];
    let publish = Publish {
        retain: true,
        topic: "t".into(),
        payload: b"{}".to_vec(),
        properties: Properties {
            content_type: Some("json".into()),
            response_topic: Some("r/1".into()),
            correlation_data: Some(vec![0xCA, 0xFE]),
            user_properties: vec![(String::new(), String::new())],
            ..props()
        },
        ..Publish::default()
    };
    both_ways(Packet::Publish(publish), V5, &bytes);
}

#[test]
fn publish_payload_over_127_bytes_takes_a_two_byte_remaining_length() {
    let publish = Packet::Publish(Publish {
        topic: "t".into(),
        payload: vec![7; 200],
        ..Publish::default()
    });
    let bytes = encoded(&publish, V311);
    // 3 bytes of topic + 200 of payload = 203 = 0xCB 0x01.
    assert_eq!(&bytes[..5], &[0x30, 0xCB, 0x01, 0x00, 0x01]);
    assert_eq!(bytes.len(), 1 + 2 + 203);
    assert_eq!(decoded(&bytes, V311), publish);
}

#[test]
fn publish_v311_leaves_out_properties() {
    let with = Packet::Publish(Publish {
        topic: "t".into(),
        properties: user("k", "v"),
        ..Publish::default()
    });
    assert_eq!(encoded(&with, V311), [0x30, 0x03, 0x00, 0x01, b't']);
}

// ---------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------

fn ack(packet_id: u16, reason_code: u8, properties: Properties) -> Ack {
    Ack {
        packet_id,
        reason_code,
        properties,
    }
}

#[test]
fn acks_v311_are_a_packet_identifier_only() {
    both_ways(
        Packet::PubAck(ack(10, 0, props())),
        V311,
        &[0b0100_0000, 2, 0x00, 0x0A],
    );
    both_ways(
        Packet::PubRec(ack(10, 0, props())),
        V311,
        &[0b0101_0000, 2, 0x00, 0x0A],
    );
    // PUBREL has the fixed-header flags 0b0010 [MQTT-3.6.1-1].
    both_ways(
        Packet::PubRel(ack(10, 0, props())),
        V311,
        &[0b0110_0010, 2, 0x00, 0x0A],
    );
    both_ways(
        Packet::PubComp(ack(10, 0, props())),
        V311,
        &[0b0111_0000, 2, 0x00, 0x0A],
    );
}

#[test]
fn acks_v311_leave_out_a_reason_code_and_properties() {
    let packet = Packet::PubAck(ack(10, 0x80, user("k", "v")));
    assert_eq!(encoded(&packet, V311), [0x40, 2, 0x00, 0x0A]);
}

#[test]
fn acks_v5_with_reason_0_and_no_properties_use_the_two_byte_short_form() {
    #[rustfmt::skip]
    both_ways(Packet::PubAck(ack(10, 0, props())), V5, &[
        0x40, 2,                               // PUBACK, remaining length 2
        0x00, 0x0A,                            // packet identifier 10; reason 0 implied
    ]);
    both_ways(
        Packet::PubRel(ack(1, 0, props())),
        V5,
        &[0x62, 2, 0x00, 0x01],
    );
}

#[test]
fn acks_v5_with_a_reason_and_no_properties_leave_out_the_property_length() {
    #[rustfmt::skip]
    both_ways(Packet::PubAck(ack(10, 0x10, props())), V5, &[
        0x40, 3,                               // PUBACK, remaining length 3
        0x00, 0x0A,                            // packet identifier 10
        0x10,                                  // no matching subscribers
    ]);
    #[rustfmt::skip]
    both_ways(Packet::PubRel(ack(10, 0x92, props())), V5, &[
        0x62, 3,                               // PUBREL, remaining length 3
        0x00, 0x0A,                            // packet identifier 10
        0x92,                                  // packet identifier not found
    ]);
}

#[test]
fn acks_v5_with_properties_carry_a_reason_code_and_property_length() {
    #[rustfmt::skip]
    both_ways(Packet::PubRec(ack(10, 0x80, Properties { reason_string: Some("no".into()), ..props() })), V5, &[
        0x50, 9,                               // PUBREC, remaining length 9
        0x00, 0x0A,                            // packet identifier 10
        0x80,                                  // unspecified error
        5,                                     // properties length 5
        0x1F, 0x00, 0x02, b'n', b'o',          //   reason string "no"
    ]);
    #[rustfmt::skip]
    both_ways(Packet::PubComp(ack(10, 0, user("k", "v"))), V5, &[
        0x70, 11,                              // PUBCOMP, remaining length 11
        0x00, 0x0A,                            // packet identifier 10
        0x00,                                  // success, written because properties follow
        7,                                     // properties length 7
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
    ]);
}

#[test]
fn acks_v5_in_a_longer_form_than_needed_decode_to_the_same_value() {
    let expected = Packet::PubAck(ack(10, 0, props()));
    // Reason code written out, no property length.
    assert_eq!(decoded(&[0x40, 3, 0x00, 0x0A, 0x00], V5), expected);
    // Reason code and an empty property list.
    assert_eq!(decoded(&[0x40, 4, 0x00, 0x0A, 0x00, 0x00], V5), expected);
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK
// ---------------------------------------------------------------------------------------

fn filter(name: &str, qos: QoS) -> SubscribeFilter {
    SubscribeFilter {
        filter: name.into(),
        qos,
        ..SubscribeFilter::default()
    }
}

#[test]
fn subscribe_v311_matches_the_payload_example_of_the_spec() {
    // MQTT 3.1.1 section 3.8.3.1: "a/b" at QoS 1 and "c/d" at QoS 2, packet id 10.
    #[rustfmt::skip]
    let bytes = [
        0b1000_0010, 14,                       // SUBSCRIBE, flags 0b0010, remaining length 14
        0x00, 0x0A,                            // packet identifier 10
        0x00, 0x03, b'a', b'/', b'b',          // filter "a/b"
        0x01,                                  //   QoS 1
        0x00, 0x03, b'c', b'/', b'd',          // filter "c/d"
        0x02,                                  //   QoS 2
    ];
    let subscribe = Subscribe {
        packet_id: 10,
        filters: vec![
            filter("a/b", QoS::AtLeastOnce),
            filter("c/d", QoS::ExactlyOnce),
        ],
        properties: props(),
    };
    both_ways(Packet::Subscribe(subscribe), V311, &bytes);
}

#[test]
fn subscribe_v5_carries_options_and_a_subscription_identifier() {
    #[rustfmt::skip]
    let bytes = [
        0x82, 17,                              // SUBSCRIBE, remaining length 17
        0x00, 0x0A,                            // packet identifier 10
        2,                                     // properties length 2
        0x0B, 0x05,                            //   subscription identifier 5
        0x00, 0x03, b'a', b'/', b'b',          // filter "a/b"
        0b0010_1101,                           //   retain handling 2, RAP, no local, QoS 1
        0x00, 0x03, b'c', b'/', b'd',          // filter "c/d"
        0b0001_0010,                           //   retain handling 1, QoS 2
    ];
    let subscribe = Subscribe {
        packet_id: 10,
        filters: vec![
            SubscribeFilter {
                filter: "a/b".into(),
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: 2,
            },
            SubscribeFilter {
                filter: "c/d".into(),
                qos: QoS::ExactlyOnce,
                no_local: false,
                retain_as_published: false,
                retain_handling: 1,
            },
        ],
        properties: Properties {
            subscription_identifiers: vec![5],
            ..props()
        },
    };
    both_ways(Packet::Subscribe(subscribe), V5, &bytes);
}

#[test]
fn subscribe_v311_writes_only_the_qos_bits_of_the_options() {
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![SubscribeFilter {
            filter: "t".into(),
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: 2,
        }],
        properties: props(),
    });
    assert_eq!(
        encoded(&subscribe, V311),
        [0x82, 6, 0x00, 0x01, 0x00, 0x01, b't', 0x01]
    );
}

#[test]
fn suback_v311_matches_the_payload_example_of_the_spec() {
    // MQTT 3.1.1 section 3.9.3.1: success at QoS 0, 1 and 2, then a failure.
    #[rustfmt::skip]
    let bytes = [
        0b1001_0000, 6,                        // SUBACK, remaining length 6
        0x00, 0x0A,                            // packet identifier 10
        0x00, 0x01, 0x02, 0x80,                // granted 0, 1, 2; failure
    ];
    let suback = SubAck {
        packet_id: 10,
        reason_codes: vec![0x00, 0x01, 0x02, 0x80],
        properties: props(),
    };
    both_ways(Packet::SubAck(suback), V311, &bytes);
}

#[test]
fn suback_v5_has_properties_before_its_reason_codes() {
    #[rustfmt::skip]
    let bytes = [
        0x90, 9,                               // SUBACK, remaining length 9
        0x00, 0x0A,                            // packet identifier 10
        4,                                     // properties length 4
        0x1F, 0x00, 0x01, b'r',                //   reason string "r"
        0x01, 0x87,                            // granted QoS 1; not authorized
    ];
    let suback = SubAck {
        packet_id: 10,
        reason_codes: vec![0x01, 0x87],
        properties: Properties {
            reason_string: Some("r".into()),
            ..props()
        },
    };
    both_ways(Packet::SubAck(suback), V5, &bytes);
}

// ---------------------------------------------------------------------------------------
// UNSUBSCRIBE, UNSUBACK
// ---------------------------------------------------------------------------------------

#[test]
fn unsubscribe_v311_matches_the_payload_example_of_the_spec() {
    // MQTT 3.1.1 section 3.10.3.1: "a/b" and "c/d".
    #[rustfmt::skip]
    let bytes = [
        0b1010_0010, 12,                       // UNSUBSCRIBE, flags 0b0010, remaining length 12
        0x00, 0x0A,                            // packet identifier 10
        0x00, 0x03, b'a', b'/', b'b',          // filter "a/b"
        0x00, 0x03, b'c', b'/', b'd',          // filter "c/d"
    ];
    let unsubscribe = Unsubscribe {
        packet_id: 10,
        filters: vec!["a/b".into(), "c/d".into()],
        properties: props(),
    };
    both_ways(Packet::Unsubscribe(unsubscribe), V311, &bytes);
}

#[test]
fn unsubscribe_v5_has_properties_before_its_filters() {
    #[rustfmt::skip]
    let bytes = [
        0xA2, 15,                              // UNSUBSCRIBE, remaining length 15
        0x00, 0x0A,                            // packet identifier 10
        7,                                     // properties length 7
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
        0x00, 0x03, b'a', b'/', b'b',          // filter "a/b"
    ];
    let unsubscribe = Unsubscribe {
        packet_id: 10,
        filters: vec!["a/b".into()],
        properties: user("k", "v"),
    };
    both_ways(Packet::Unsubscribe(unsubscribe), V5, &bytes);
}

#[test]
fn unsuback_v311_is_a_packet_identifier_only() {
    let unsuback = UnsubAck {
        packet_id: 10,
        ..UnsubAck::default()
    };
    both_ways(
        Packet::UnsubAck(unsuback),
        V311,
        &[0b1011_0000, 2, 0x00, 0x0A],
    );
    // Reason codes given for 3.1.1 are not written.
    let with_codes = Packet::UnsubAck(UnsubAck {
        packet_id: 10,
        reason_codes: vec![0x11],
        properties: user("k", "v"),
    });
    assert_eq!(encoded(&with_codes, V311), [0xB0, 2, 0x00, 0x0A]);
}

#[test]
fn unsuback_v5_has_one_reason_code_per_filter() {
    #[rustfmt::skip]
    let bytes = [
        0xB0, 5,                               // UNSUBACK, remaining length 5
        0x00, 0x0A,                            // packet identifier 10
        0x00,                                  // properties length 0
        0x00, 0x11,                            // success; no subscription existed
    ];
    let unsuback = UnsubAck {
        packet_id: 10,
        reason_codes: vec![0x00, 0x11],
        properties: props(),
    };
    both_ways(Packet::UnsubAck(unsuback), V5, &bytes);
}

// ---------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH
// ---------------------------------------------------------------------------------------

#[test]
fn pings_are_two_bytes_in_both_versions() {
    for version in [V311, V5] {
        both_ways(Packet::PingReq, version, &[0b1100_0000, 0]);
        both_ways(Packet::PingResp, version, &[0b1101_0000, 0]);
    }
}

#[test]
fn disconnect_v311_has_no_body() {
    both_ways(
        Packet::Disconnect(Disconnect::default()),
        V311,
        &[0b1110_0000, 0],
    );
    let with_reason = Packet::Disconnect(Disconnect {
        reason_code: 0x04,
        properties: user("k", "v"),
    });
    assert_eq!(encoded(&with_reason, V311), [0xE0, 0]);
}

#[test]
fn disconnect_v5_uses_the_shortest_form() {
    // Normal disconnection, no properties: remaining length 0.
    both_ways(Packet::Disconnect(Disconnect::default()), V5, &[0xE0, 0]);
    #[rustfmt::skip]
    both_ways(Packet::Disconnect(Disconnect { reason_code: 0x04, properties: props() }), V5, &[
        0xE0, 1,                               // DISCONNECT, remaining length 1
        0x04,                                  // disconnect with will message
    ]);
    #[rustfmt::skip]
    both_ways(
        Packet::Disconnect(Disconnect {
            reason_code: 0x9C,
            properties: Properties { server_reference: Some("s".into()), ..props() },
        }),
        V5,
        &[
            0xE0, 6,                           // DISCONNECT, remaining length 6
            0x9C,                              // use another server
            4,                                 // properties length 4
            0x1C, 0x00, 0x01, b's',            //   server reference "s"
        ],
    );
}

#[test]
fn disconnect_v5_with_session_expiry_round_trips() {
    let packet = Packet::Disconnect(Disconnect {
        reason_code: 0,
        properties: Properties {
            session_expiry_interval: Some(0),
            ..props()
        },
    });
    #[rustfmt::skip]
    both_ways(packet, V5, &[
        0xE0, 7,                               // DISCONNECT, remaining length 7
        0x00,                                  // normal disconnection
        5,                                     // properties length 5
        0x11, 0x00, 0x00, 0x00, 0x00,          //   session expiry interval 0
    ]);
}

#[test]
fn auth_v5_success_without_properties_is_two_bytes() {
    both_ways(Packet::Auth(Auth::default()), V5, &[0b1111_0000, 0]);
}

#[test]
fn auth_v5_continue_carries_method_and_data() {
    #[rustfmt::skip]
    let bytes = [
        0xF0, 11,                              // AUTH, remaining length 11
        0x18,                                  // continue authentication
        9,                                     // properties length 9
        0x15, 0x00, 0x01, b'm',                //   authentication method "m"
        0x16, 0x00, 0x02, 0x01, 0x02,          //   authentication data 01 02
    ];
    let auth = Auth {
        reason_code: 0x18,
        properties: Properties {
            authentication_method: Some("m".into()),
            authentication_data: Some(vec![1, 2]),
            ..props()
        },
    };
    both_ways(Packet::Auth(auth), V5, &bytes);
}

#[test]
fn auth_v5_with_a_reason_and_no_properties_keeps_the_property_length() {
    #[rustfmt::skip]
    both_ways(Packet::Auth(Auth { reason_code: 0x19, properties: props() }), V5, &[
        0xF0, 2,                               // AUTH, remaining length 2
        0x19,                                  // re-authenticate
        0x00,                                  // properties length 0
    ]);
    // A lone reason code is accepted too.
    assert_eq!(
        decoded(&[0xF0, 1, 0x19], V5),
        Packet::Auth(Auth {
            reason_code: 0x19,
            properties: props()
        })
    );
}

#[test]
fn auth_does_not_exist_in_v311() {
    assert_eq!(
        refused(&[0xF0, 0], V311),
        DecodeError::InvalidPacketType(15)
    );
    assert!(matches!(
        encode_refused(&Packet::Auth(Auth::default()), V311),
        EncodeError::InvalidValue(_)
    ));
}

#[test]
fn a_client_refuses_the_packets_only_clients_send_from_their_first_byte() {
    let client_packets = [
        Packet::Connect(Connect {
            protocol: V5,
            client_id: "c".into(),
            clean_start: true,
            keep_alive: 60,
            username: None,
            password: None,
            will: None,
            properties: props(),
        }),
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![SubscribeFilter {
                filter: "a".into(),
                ..SubscribeFilter::default()
            }],
            properties: props(),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            filters: vec!["a".into()],
            properties: props(),
        }),
        Packet::PingReq,
    ];
    for packet in client_packets {
        let mut bytes = Vec::new();
        encode(&packet, V5, &mut bytes).expect("encodes");
        let t = packet.packet_type();
        // The full decoder (a broker's) reads it ...
        assert_eq!(decoded(&bytes, V5), packet);
        // ... a client's refuses it whole, and from the type byte alone.
        for end in [bytes.len(), 1] {
            assert_eq!(
                decode_from_server(&bytes[..end], V5, u32::MAX),
                Err(DecodeError::ClientPacket(t)),
                "{packet:?} cut at {end}"
            );
        }
        assert_eq!(
            DecodeError::ClientPacket(t).reason_code(),
            ReasonCode::ProtocolError
        );
    }
    // What a server sends decodes the same either way, incomplete ones included.
    for bytes in [
        &[0x20, 0x03, 0x00, 0x00, 0x00][..],
        &[0x30, 0x04, 0x00, 0x01, b'a', b'x'],
        &[0x40, 0x02, 0x00, 0x01],
        &[0x62, 0x02, 0x00, 0x01],
        &[0x90, 0x04, 0x00, 0x01, 0x00, 0x00],
        &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x00],
        &[0xD0, 0x00],
        &[0xE0, 0x00],
        &[0xF0, 0x00],
        &[0x30, 0x04, 0x00],
    ] {
        assert_eq!(
            decode_from_server(bytes, V5, u32::MAX),
            decode(bytes, V5, u32::MAX),
            "{bytes:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Incremental decoding
// ---------------------------------------------------------------------------------------

#[test]
fn an_empty_buffer_asks_for_more() {
    assert_eq!(decode(&[], V5, u32::MAX), Ok(None));
}

#[test]
fn two_packets_in_one_buffer_decode_one_at_a_time() {
    let mut buf = encoded(&Packet::PubAck(ack(7, 0, props())), V5);
    buf.extend(encoded(&Packet::PingResp, V5));
    buf.push(0x30); // the first byte of a third packet
    assert_eq!(
        decode(&buf, V5, u32::MAX),
        Ok(Some((Packet::PubAck(ack(7, 0, props())), 4)))
    );
    assert_eq!(
        decode(&buf[4..], V5, u32::MAX),
        Ok(Some((Packet::PingResp, 2)))
    );
    assert_eq!(decode(&buf[6..], V5, u32::MAX), Ok(None));
}

#[test]
fn a_packet_fed_byte_by_byte_asks_for_more_until_its_last_byte() {
    let packet = Packet::Publish(Publish {
        qos: QoS::AtLeastOnce,
        topic: "sensors/1".into(),
        packet_id: Some(3),
        payload: vec![0x5A; 300], // a two-byte remaining length
        properties: user("k", "v"),
        ..Publish::default()
    });
    let bytes = encoded(&packet, V5);
    for end in 0..bytes.len() {
        assert_eq!(
            decode(&bytes[..end], V5, u32::MAX),
            Ok(None),
            "prefix of {end} bytes"
        );
    }
    assert_eq!(
        decode(&bytes, V5, u32::MAX),
        Ok(Some((packet, bytes.len())))
    );
}

#[test]
fn a_partial_remaining_length_asks_for_more() {
    assert_eq!(decode(&[0x30], V5, u32::MAX), Ok(None));
    assert_eq!(decode(&[0x30, 0x80], V5, u32::MAX), Ok(None));
    assert_eq!(decode(&[0x30, 0xFF, 0xFF, 0xFF], V5, u32::MAX), Ok(None));
}

#[test]
fn an_oversized_packet_is_refused_as_soon_as_its_remaining_length_is_known() {
    // Remaining length 2,097,151 and not one byte of body yet.
    assert_eq!(
        decode(&[0x30, 0xFF, 0xFF, 0x7F], V5, 1024),
        Err(DecodeError::PacketTooLarge {
            size: 1 + 3 + 2_097_151,
            max: 1024
        })
    );
    // The largest remaining length there is, against a limit just below the packet.
    assert_eq!(
        decode(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], V311, 268_435_459),
        Err(DecodeError::PacketTooLarge {
            size: 268_435_460,
            max: 268_435_459
        })
    );
}

#[test]
fn max_size_counts_the_fixed_header_and_allows_a_packet_of_exactly_that_size() {
    let bytes = [0x40, 2, 0x00, 0x01];
    assert!(matches!(decode(&bytes, V5, 4), Ok(Some((_, 4)))));
    assert_eq!(
        decode(&bytes, V5, 3),
        Err(DecodeError::PacketTooLarge { size: 4, max: 3 })
    );
}

// ---------------------------------------------------------------------------------------
// Malformed fixed headers
// ---------------------------------------------------------------------------------------

#[test]
fn packet_type_0_is_invalid_in_both_versions() {
    for version in [V311, V5] {
        assert_eq!(
            refused(&[0x00, 0x00], version),
            DecodeError::InvalidPacketType(0)
        );
    }
}

#[test]
fn reserved_fixed_header_flags_are_refused_from_the_first_byte() {
    // [MQTT-2.1.3-1]: checked before the remaining length is even there.
    let cases: &[(u8, u8)] = &[
        (0x11, 1), // CONNECT with flags 0001
        (0x28, 2), // CONNACK with flags 1000
        (0x41, 4), // PUBACK with flags 0001
    ];
    for &(first, packet_type) in cases {
        assert_eq!(
            refused(&[first], V5),
            DecodeError::InvalidFlags {
                packet_type,
                flags: first & 0x0F
            }
        );
    }
    // PUBREL, SUBSCRIBE and UNSUBSCRIBE need exactly 0b0010.
    for (first, packet_type) in [(0x60, 6), (0x63, 6), (0x80, 8), (0x8A, 8), (0xA0, 10)] {
        assert_eq!(
            refused(&[first, 0x02, 0x00, 0x01], V311),
            DecodeError::InvalidFlags {
                packet_type,
                flags: first & 0x0F
            }
        );
    }
    for first in [0xC1, 0xD2, 0xE4, 0xF8, 0x72, 0x92, 0xB1] {
        assert!(
            matches!(
                refused(&[first, 0x00], V5),
                DecodeError::InvalidFlags { .. }
            ),
            "first byte {first:#04x}"
        );
    }
}

#[test]
fn publish_with_qos_3_is_invalid() {
    // [MQTT-3.3.1-4]
    assert_eq!(refused(&[0b0011_0110], V5), DecodeError::InvalidQoS);
}

#[test]
fn publish_qos0_with_dup_set_is_malformed() {
    // [MQTT-3.3.1-2]
    assert_eq!(
        refused(&[0b0011_1000, 3, 0x00, 0x01, b't'], V311),
        DecodeError::InvalidFlags {
            packet_type: 3,
            flags: 0b1000
        }
    );
}

#[test]
fn a_remaining_length_over_four_bytes_is_malformed() {
    assert_eq!(
        refused(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], V5),
        DecodeError::MalformedVarInt
    );
    // Not the shortest encoding of 0 [MQTT-1.5.5-1].
    assert_eq!(
        refused(&[0xC0, 0x80, 0x00], V5),
        DecodeError::MalformedVarInt
    );
}

#[test]
fn a_property_length_over_four_bytes_is_malformed() {
    assert_eq!(
        refused(
            &[0x40, 8, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            V5
        ),
        DecodeError::MalformedVarInt
    );
}

// ---------------------------------------------------------------------------------------
// Truncated and trailing bytes
// ---------------------------------------------------------------------------------------

#[test]
fn fields_running_past_the_remaining_length_are_truncated() {
    // Topic length 5 with 1 byte of topic.
    assert_eq!(
        refused(&[0x30, 3, 0x00, 0x05, b'a'], V311),
        DecodeError::Truncated
    );
    // QoS 1 PUBLISH with no room for the packet identifier.
    assert_eq!(
        refused(&[0x32, 3, 0x00, 0x01, b't'], V311),
        DecodeError::Truncated
    );
    // CONNACK with one byte.
    assert_eq!(refused(&[0x20, 1, 0x00], V311), DecodeError::Truncated);
    // PUBACK with one byte of packet identifier.
    assert_eq!(refused(&[0x40, 1, 0x00], V5), DecodeError::Truncated);
    // CONNECT cut after the keep alive.
    assert_eq!(
        refused(
            &[0x10, 10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 4, 0x02, 0x00, 0x00],
            V311
        ),
        DecodeError::Truncated
    );
    // SUBSCRIBE filter without its options byte.
    assert_eq!(
        refused(&[0x82, 5, 0x00, 0x01, 0x00, 0x01, b't'], V311),
        DecodeError::Truncated
    );
}

#[test]
fn a_property_list_longer_than_the_packet_is_truncated() {
    // Property length 5, but only the end of the packet follows.
    assert_eq!(
        refused(&[0x40, 4, 0x00, 0x01, 0x00, 0x05], V5),
        DecodeError::Truncated
    );
    // A missing property length after a reason code in CONNACK.
    assert_eq!(refused(&[0x20, 2, 0x00, 0x00], V5), DecodeError::Truncated);
}

#[test]
fn a_property_running_past_its_property_length_is_truncated() {
    // Property length 3 holds a reason string whose length says 5.
    assert_eq!(
        refused(&[0x40, 7, 0x00, 0x01, 0x00, 0x03, 0x1F, 0x00, 0x05], V5),
        DecodeError::Truncated
    );
    // A four-byte property cut to two.
    assert_eq!(
        refused(&v5_publish_with(&[0x02, 0x00, 0x00]), V5),
        DecodeError::Truncated
    );
}

#[test]
fn bytes_after_the_last_field_are_trailing() {
    let cases: &[(&[u8], ProtocolVersion)] = &[
        (&[0x40, 3, 0x00, 0x01, 0x00], V311), // PUBACK 3.1.1 with a reason byte
        (&[0x62, 3, 0x00, 0x01, 0x00], V311), // PUBREL 3.1.1
        (&[0xB0, 3, 0x00, 0x01, 0x00], V311), // UNSUBACK 3.1.1 with a reason code
        (&[0x20, 3, 0x00, 0x00, 0x00], V311), // CONNACK 3.1.1 with a third byte
        (&[0xC0, 1, 0x00], V5),               // PINGREQ with a body
        (&[0xD0, 1, 0x00], V311),             // PINGRESP with a body
        (&[0xE0, 1, 0x00], V311),             // DISCONNECT 3.1.1 with a body
        (&[0x40, 5, 0x00, 0x01, 0x00, 0x00, 0xFF], V5), // PUBACK 5.0 after its properties
        (&[0xE0, 3, 0x00, 0x00, 0xFF], V5),   // DISCONNECT 5.0 after its properties
        (&[0xF0, 3, 0x00, 0x00, 0xFF], V5),   // AUTH after its properties
        (&[0x20, 4, 0x00, 0x00, 0x00, 0xFF], V5), // CONNACK 5.0 after its properties
    ];
    for (bytes, version) in cases {
        assert_eq!(
            refused(bytes, *version),
            DecodeError::TrailingBytes,
            "{bytes:02x?}"
        );
    }
    // CONNECT with a byte after the password.
    let mut connect = encoded(&spec_connect(V311, props()), V311);
    connect[1] += 1;
    connect.push(0);
    assert_eq!(refused(&connect, V311), DecodeError::TrailingBytes);
}

// ---------------------------------------------------------------------------------------
// Packet identifiers and strings
// ---------------------------------------------------------------------------------------

#[test]
fn packet_identifier_0_is_refused_where_one_is_required() {
    let cases: &[(&[u8], ProtocolVersion)] = &[
        (&[0x32, 5, 0x00, 0x01, b't', 0x00, 0x00], V311), // PUBLISH QoS 1
        (&[0x34, 5, 0x00, 0x01, b't', 0x00, 0x00], V5),   // PUBLISH QoS 2
        (&[0x40, 2, 0x00, 0x00], V311),                   // PUBACK
        (&[0x50, 2, 0x00, 0x00], V5),                     // PUBREC
        (&[0x62, 2, 0x00, 0x00], V5),                     // PUBREL
        (&[0x70, 2, 0x00, 0x00], V311),                   // PUBCOMP
        (&[0x82, 6, 0x00, 0x00, 0x00, 0x01, b't', 0x00], V311), // SUBSCRIBE
        (&[0x90, 3, 0x00, 0x00, 0x00], V311),             // SUBACK
        (&[0xA2, 5, 0x00, 0x00, 0x00, 0x01, b't'], V311), // UNSUBSCRIBE
        (&[0xB0, 2, 0x00, 0x00], V311),                   // UNSUBACK
    ];
    for (bytes, version) in cases {
        assert_eq!(
            refused(bytes, *version),
            DecodeError::ZeroPacketId,
            "{bytes:02x?}"
        );
    }
}

/// 0xC3 0x28: a lead byte followed by a byte that cannot continue it.
const BAD_UTF8: [u8; 2] = [0xC3, 0x28];
/// "a" U+0000.
const WITH_NULL: [u8; 2] = [b'a', 0x00];

#[test]
fn a_topic_with_invalid_utf8_or_a_null_character_is_refused() {
    let publish = |s: [u8; 2]| [0x30, 4, 0x00, 0x02, s[0], s[1]];
    assert_eq!(refused(&publish(BAD_UTF8), V311), DecodeError::InvalidUtf8);
    assert_eq!(
        refused(&publish(WITH_NULL), V311),
        DecodeError::NullCharacter
    );
}

#[test]
fn connect_strings_with_invalid_utf8_or_a_null_character_are_refused() {
    // [MQTT-1.5.4-1] [MQTT-1.5.4-2] for the client id, will topic and user name.
    let connect = |flags: u8, client: [u8; 2], will_topic: [u8; 2], user: [u8; 2]| {
        let mut v = vec![0x10, 0];
        v.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 4, flags, 0x00, 0x00]);
        v.extend_from_slice(&[0x00, 0x02, client[0], client[1]]);
        v.extend_from_slice(&[0x00, 0x02, will_topic[0], will_topic[1], 0x00, 0x00]);
        v.extend_from_slice(&[0x00, 0x02, user[0], user[1]]);
        v[1] = (v.len() - 2) as u8;
        v
    };
    let ok = *b"ok";
    let flags = 0x80 | 0x04; // user name, will
    assert!(matches!(
        decoded(&connect(flags, ok, ok, ok), V311),
        Packet::Connect(_)
    ));
    for (bad, error) in [
        (BAD_UTF8, DecodeError::InvalidUtf8),
        (WITH_NULL, DecodeError::NullCharacter),
    ] {
        assert_eq!(refused(&connect(flags, bad, ok, ok), V311), error);
        assert_eq!(refused(&connect(flags, ok, bad, ok), V311), error);
        assert_eq!(refused(&connect(flags, ok, ok, bad), V311), error);
    }
}

#[test]
fn property_strings_and_user_property_pairs_with_invalid_utf8_or_a_null_are_refused() {
    for (bad, error) in [
        (BAD_UTF8, DecodeError::InvalidUtf8),
        (WITH_NULL, DecodeError::NullCharacter),
    ] {
        // Content type.
        assert_eq!(
            refused(&v5_publish_with(&[0x03, 0x00, 0x02, bad[0], bad[1]]), V5),
            error
        );
        // User property name, then value.
        assert_eq!(
            refused(
                &v5_publish_with(&[0x26, 0x00, 0x02, bad[0], bad[1], 0x00, 0x00]),
                V5
            ),
            error
        );
        assert_eq!(
            refused(
                &v5_publish_with(&[0x26, 0x00, 0x00, 0x00, 0x02, bad[0], bad[1]]),
                V5
            ),
            error
        );
    }
}

#[test]
fn topic_filters_with_invalid_utf8_or_a_null_character_are_refused() {
    assert_eq!(
        refused(&[0x82, 7, 0x00, 0x01, 0x00, 0x02, 0xC3, 0x28, 0x00], V311),
        DecodeError::InvalidUtf8
    );
    assert_eq!(
        refused(&[0xA2, 6, 0x00, 0x01, 0x00, 0x02, b'a', 0x00], V311),
        DecodeError::NullCharacter
    );
}

// ---------------------------------------------------------------------------------------
// CONNECT and CONNACK specifics
// ---------------------------------------------------------------------------------------

/// A 3.1.1-style CONNECT body header with the given name, level and flags, an empty
/// client id, and whatever `payload` adds.
fn connect_bytes(name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x10, 0, 0x00, name.len() as u8];
    v.extend_from_slice(name);
    v.extend_from_slice(&[level, flags, 0x00, 0x00]);
    if level == 5 {
        v.push(0); // properties length
    }
    v.extend_from_slice(&[0x00, 0x00]); // client id ""
    v.extend_from_slice(payload);
    v[1] = (v.len() - 2) as u8;
    v
}

#[test]
fn connect_with_a_protocol_name_other_than_mqtt_is_refused() {
    // MQTT 3.1 used "MQIsdp" with level 3.
    assert_eq!(
        refused(&connect_bytes(b"MQIsdp", 3, 0x02, &[]), V311),
        DecodeError::InvalidProtocolName
    );
    assert_eq!(
        refused(&connect_bytes(b"mqtt", 4, 0x02, &[]), V311),
        DecodeError::InvalidProtocolName
    );
}

#[test]
fn connect_with_a_protocol_level_other_than_4_or_5_is_unsupported() {
    for level in [3, 6, 0] {
        assert_eq!(
            refused(&connect_bytes(b"MQTT", level, 0x02, &[]), V5),
            DecodeError::UnsupportedProtocolLevel(level)
        );
    }
}

#[test]
fn connect_flags_that_are_reserved_or_inconsistent_are_refused() {
    let will = [0x00, 0x01, b't', 0x00, 0x00]; // will topic "t", empty will payload
    let cases: &[(u8, &[u8], &str)] = &[
        (0x03, &[], "reserved bit 0 set [MQTT-3.1.2-3]"),
        (0x0A, &[], "will QoS 1 without will flag [MQTT-3.1.2-13]"),
        (0x22, &[], "will retain without will flag [MQTT-3.1.2-15]"),
        (0x1E, &will, "will QoS 3 [MQTT-3.1.2-14]"),
        (
            0x42,
            &[0x00, 0x00],
            "password without user name [MQTT-3.1.2-22]",
        ),
    ];
    for (flags, payload, what) in cases {
        assert_eq!(
            refused(&connect_bytes(b"MQTT", 4, *flags, payload), V311),
            DecodeError::InvalidConnectFlags,
            "{what}"
        );
    }
    // The same will checks hold in 5.0 ([MQTT-3.1.2-11] [MQTT-3.1.2-12] [MQTT-3.1.2-13]).
    let will_v5 = [0x00, 0x00, 0x01, b't', 0x00, 0x00];
    for (flags, payload) in [(0x03, &[][..]), (0x0A, &[]), (0x22, &[]), (0x1E, &will_v5)] {
        assert_eq!(
            refused(&connect_bytes(b"MQTT", 5, flags, payload), V5),
            DecodeError::InvalidConnectFlags
        );
    }
    // 5.0 allows a password without a user name.
    assert!(matches!(
        decoded(&connect_bytes(b"MQTT", 5, 0x42, &[0x00, 0x00]), V5),
        Packet::Connect(Connect {
            username: None,
            password: Some(_),
            ..
        })
    ));
}

#[test]
fn connack_with_reserved_acknowledge_flags_is_refused() {
    // [MQTT-3.2.2-1]
    assert_eq!(
        refused(&[0x20, 2, 0x02, 0x00], V311),
        DecodeError::InvalidConnAckFlags
    );
    assert_eq!(
        refused(&[0x20, 3, 0x80, 0x00, 0x00], V5),
        DecodeError::InvalidConnAckFlags
    );
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE and UNSUBSCRIBE specifics
// ---------------------------------------------------------------------------------------

#[test]
fn subscription_options_with_reserved_bits_or_retain_handling_3_are_refused() {
    let subscribe_v5 = |options: u8| [0x82, 7, 0x00, 0x01, 0x00, 0x00, 0x01, b't', options];
    // Bits 7-6 [MQTT-3.8.3-5].
    assert_eq!(
        refused(&subscribe_v5(0x40), V5),
        DecodeError::InvalidSubscribeOptions
    );
    assert_eq!(
        refused(&subscribe_v5(0x80), V5),
        DecodeError::InvalidSubscribeOptions
    );
    // Retain handling 3 (MQTT 5.0 section 3.8.3.1).
    assert_eq!(
        refused(&subscribe_v5(0x30), V5),
        DecodeError::InvalidSubscribeOptions
    );
    // 3.1.1 has only the QoS bits [MQTT-3.8.3-4].
    let subscribe_v311 = |options: u8| [0x82, 6, 0x00, 0x01, 0x00, 0x01, b't', options];
    assert_eq!(
        refused(&subscribe_v311(0x04), V311),
        DecodeError::InvalidSubscribeOptions
    );
    assert_eq!(
        refused(&subscribe_v311(0x21), V311),
        DecodeError::InvalidSubscribeOptions
    );
}

#[test]
fn subscription_options_with_qos_3_are_refused() {
    assert_eq!(
        refused(&[0x82, 6, 0x00, 0x01, 0x00, 0x01, b't', 0x03], V311),
        DecodeError::InvalidQoS
    );
    assert_eq!(
        refused(&[0x82, 7, 0x00, 0x01, 0x00, 0x00, 0x01, b't', 0x07], V5),
        DecodeError::InvalidQoS
    );
}

#[test]
fn subscribe_and_unsubscribe_without_a_filter_are_refused() {
    // [MQTT-3.8.3-3] (3.1.1) / [MQTT-3.8.3-2] (5.0), [MQTT-3.10.3-2].
    assert_eq!(
        refused(&[0x82, 2, 0x00, 0x01], V311),
        DecodeError::EmptySubscription
    );
    assert_eq!(
        refused(&[0x82, 3, 0x00, 0x01, 0x00], V5),
        DecodeError::EmptySubscription
    );
    assert_eq!(
        refused(&[0xA2, 2, 0x00, 0x01], V311),
        DecodeError::EmptySubscription
    );
    assert_eq!(
        refused(&[0xA2, 3, 0x00, 0x01, 0x00], V5),
        DecodeError::EmptySubscription
    );
}

// ---------------------------------------------------------------------------------------
// Reason codes
// ---------------------------------------------------------------------------------------

#[test]
fn reason_codes_not_defined_for_the_packet_are_refused() {
    let invalid = |packet_type, code| DecodeError::InvalidReasonCode { packet_type, code };
    let cases: &[(&[u8], ProtocolVersion, DecodeError)] = &[
        (&[0x20, 2, 0x00, 0x06], V311, invalid(2, 0x06)), // return code above 5
        (&[0x20, 3, 0x00, 0x01, 0x00], V5, invalid(2, 0x01)), // granted QoS 1 in CONNACK
        (&[0x20, 3, 0x00, 0x8B, 0x00], V5, invalid(2, 0x8B)), // shutting down in CONNACK
        (&[0x40, 3, 0x00, 0x01, 0x92], V5, invalid(4, 0x92)), // PUBACK: id not found is PUBREL's
        (&[0x50, 3, 0x00, 0x01, 0x01], V5, invalid(5, 0x01)),
        (&[0x62, 3, 0x00, 0x01, 0x10], V5, invalid(6, 0x10)), // PUBREL: only 0x00, 0x92
        (&[0x70, 3, 0x00, 0x01, 0x80], V5, invalid(7, 0x80)),
        (&[0x90, 3, 0x00, 0x01, 0x03], V311, invalid(9, 0x03)), // SUBACK 3.1.1: 0,1,2,0x80
        (&[0x90, 3, 0x00, 0x01, 0x87], V311, invalid(9, 0x87)),
        (
            &[0x90, 5, 0x00, 0x01, 0x00, 0x00, 0x11],
            V5,
            invalid(9, 0x11),
        ),
        (&[0xB0, 4, 0x00, 0x01, 0x00, 0x02], V5, invalid(11, 0x02)),
        (&[0xE0, 1, 0x01], V5, invalid(14, 0x01)),
        (&[0xE0, 1, 0x84], V5, invalid(14, 0x84)),
        (&[0xF0, 1, 0x01], V5, invalid(15, 0x01)),
    ];
    for (bytes, version, error) in cases {
        assert_eq!(&refused(bytes, *version), error, "{bytes:02x?}");
    }
}

#[test]
fn every_reason_code_of_each_packet_table_decodes() {
    for code in reason::valid::PUBACK {
        assert_eq!(
            decoded(&[0x40, 3, 0x00, 0x01, *code], V5),
            Packet::PubAck(ack(1, *code, props()))
        );
    }
    for code in reason::valid::DISCONNECT {
        assert!(
            matches!(decoded(&[0xE0, 1, *code], V5), Packet::Disconnect(d) if d.reason_code == *code)
        );
    }
    for code in 0..=5 {
        assert!(
            matches!(decoded(&[0x20, 2, 0x00, code], V311), Packet::ConnAck(c) if c.reason_code == code)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

#[test]
fn an_unknown_property_identifier_is_refused() {
    for pid in [0x00, 0x04, 0x0A, 0x14, 0x2B, 0x7F, 0x80] {
        assert_eq!(
            refused(&v5_publish_with(&[pid, 0x00]), V5),
            DecodeError::UnknownProperty(pid),
            "{pid:#04x}"
        );
    }
}

#[test]
fn a_property_not_allowed_in_the_packet_is_refused() {
    // Session expiry interval in PUBLISH.
    assert_eq!(
        refused(&v5_publish_with(&[0x11, 0, 0, 0, 1]), V5),
        DecodeError::PropertyNotAllowed(0x11)
    );
    // Topic alias in CONNECT.
    assert_eq!(
        refused(&v5_connect_with(&[0x23, 0x00, 0x01]), V5),
        DecodeError::PropertyNotAllowed(0x23)
    );
    // Will delay interval in CONNECT (it belongs in the will properties).
    assert_eq!(
        refused(&v5_connect_with(&[0x18, 0, 0, 0, 1]), V5),
        DecodeError::PropertyNotAllowed(0x18)
    );
    // Reason string in UNSUBSCRIBE.
    assert_eq!(
        refused(
            &[0xA2, 9, 0x00, 0x01, 3, 0x1F, 0x00, 0x00, 0x00, 0x01, b't'],
            V5
        ),
        DecodeError::PropertyNotAllowed(0x1F)
    );
    // Subscription identifier in CONNACK.
    assert_eq!(
        refused(&v5_connack_with(&[0x0B, 0x01]), V5),
        DecodeError::PropertyNotAllowed(0x0B)
    );
    // Session expiry interval in a will.
    let mut will = v5_connect_with(&[]);
    will[9] |= 0x04; // will flag
    will.extend_from_slice(&[5, 0x11, 0, 0, 0, 1, 0x00, 0x01, b't', 0x00, 0x00]);
    will[1] = (will.len() - 2) as u8;
    assert_eq!(refused(&will, V5), DecodeError::PropertyNotAllowed(0x11));
    // Authentication method in a PUBACK.
    assert_eq!(
        refused(&[0x40, 7, 0x00, 0x01, 0x00, 3, 0x15, 0x00, 0x00], V5),
        DecodeError::PropertyNotAllowed(0x15)
    );
}

#[test]
fn a_single_valued_property_given_twice_is_a_duplicate() {
    assert_eq!(
        refused(&v5_connect_with(&[0x21, 0x00, 0x01, 0x21, 0x00, 0x02]), V5),
        DecodeError::DuplicateProperty(0x21)
    );
    assert_eq!(
        refused(&v5_publish_with(&[0x23, 0x00, 0x01, 0x23, 0x00, 0x01]), V5),
        DecodeError::DuplicateProperty(0x23)
    );
    assert_eq!(
        refused(&v5_connack_with(&[0x1F, 0x00, 0x00, 0x1F, 0x00, 0x00]), V5),
        DecodeError::DuplicateProperty(0x1F)
    );
    // One subscription identifier at most in SUBSCRIBE.
    assert_eq!(
        refused(&v5_subscribe_with(&[0x0B, 0x01, 0x0B, 0x02]), V5),
        DecodeError::DuplicateProperty(0x0B)
    );
}

#[test]
fn user_properties_and_publish_subscription_identifiers_may_repeat_in_order() {
    let bytes = v5_publish_with(&[
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'2', // k=2
        0x0B, 0x07, // subscription identifier 7
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'1', // k=1
        0x0B, 0x03, // subscription identifier 3
    ]);
    let Packet::Publish(publish) = decoded(&bytes, V5) else {
        panic!("not a publish");
    };
    assert_eq!(publish.properties.subscription_identifiers, [7, 3]);
    assert_eq!(
        publish.properties.user_properties,
        [
            ("k".to_string(), "2".to_string()),
            ("k".to_string(), "1".to_string())
        ]
    );
}

#[test]
fn property_values_out_of_range_are_refused() {
    let cases: &[(Vec<u8>, u8)] = &[
        (v5_connect_with(&[0x21, 0x00, 0x00]), 0x21), // receive maximum 0
        (v5_connack_with(&[0x21, 0x00, 0x00]), 0x21),
        (v5_connect_with(&[0x27, 0, 0, 0, 0]), 0x27), // maximum packet size 0
        (v5_connack_with(&[0x27, 0, 0, 0, 0]), 0x27),
        (v5_publish_with(&[0x23, 0x00, 0x00]), 0x23), // topic alias 0
        (v5_publish_with(&[0x0B, 0x00]), 0x0B),       // subscription identifier 0
        (v5_subscribe_with(&[0x0B, 0x00]), 0x0B),
        (v5_publish_with(&[0x01, 0x02]), 0x01), // payload format indicator 2
        (v5_connect_with(&[0x17, 0x02]), 0x17), // request problem information 2
        (v5_connect_with(&[0x19, 0x02]), 0x19), // request response information 2
        (v5_connack_with(&[0x24, 0x02]), 0x24), // maximum QoS 2
        (v5_connack_with(&[0x25, 0x02]), 0x25), // retain available 2
        (v5_connack_with(&[0x28, 0xFF]), 0x28), // wildcard subscription available
        (v5_connack_with(&[0x29, 0x02]), 0x29), // subscription identifier available
        (v5_connack_with(&[0x2A, 0x02]), 0x2A), // shared subscription available
    ];
    for (bytes, pid) in cases {
        assert_eq!(
            refused(bytes, V5),
            DecodeError::InvalidPropertyValue(*pid),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn topic_alias_0_disconnects_with_topic_alias_invalid_like_one_above_the_maximum() {
    let e = refused(&v5_publish_with(&[0x23, 0x00, 0x00]), V5);
    assert_eq!(e.reason_code(), ReasonCode::TopicAliasInvalid);
    // Other values out of range stay protocol errors.
    let e = refused(&v5_publish_with(&[0x0B, 0x00]), V5);
    assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
}

#[test]
fn a_subscription_identifier_above_the_var_int_range_is_malformed() {
    assert_eq!(
        refused(&v5_publish_with(&[0x0B, 0xFF, 0xFF, 0xFF, 0xFF]), V5),
        DecodeError::MalformedVarInt
    );
    // The largest one is fine.
    assert!(matches!(
        decoded(&v5_publish_with(&[0x0B, 0xFF, 0xFF, 0xFF, 0x7F]), V5),
        Packet::Publish(p) if p.properties.subscription_identifiers == [268_435_455]
    ));
}

/// MQTT 5.0 section 2.2.2.2, table 2-4, copied line by line: identifier, type, and the
/// packets (or "Will Properties") that may carry the property.
const SPEC_TABLE_2_4: &[(u8, &str, &[&str])] = &[
    (0x01, "Byte", &["PUBLISH", "Will Properties"]),
    (0x02, "Four Byte Integer", &["PUBLISH", "Will Properties"]),
    (
        0x03,
        "UTF-8 Encoded String",
        &["PUBLISH", "Will Properties"],
    ),
    (
        0x08,
        "UTF-8 Encoded String",
        &["PUBLISH", "Will Properties"],
    ),
    (0x09, "Binary Data", &["PUBLISH", "Will Properties"]),
    (0x0B, "Variable Byte Integer", &["PUBLISH", "SUBSCRIBE"]),
    (
        0x11,
        "Four Byte Integer",
        &["CONNECT", "CONNACK", "DISCONNECT"],
    ),
    (0x12, "UTF-8 Encoded String", &["CONNACK"]),
    (0x13, "Two Byte Integer", &["CONNACK"]),
    (
        0x15,
        "UTF-8 Encoded String",
        &["CONNECT", "CONNACK", "AUTH"],
    ),
    (0x16, "Binary Data", &["CONNECT", "CONNACK", "AUTH"]),
    (0x17, "Byte", &["CONNECT"]),
    (0x18, "Four Byte Integer", &["Will Properties"]),
    (0x19, "Byte", &["CONNECT"]),
    (0x1A, "UTF-8 Encoded String", &["CONNACK"]),
    (0x1C, "UTF-8 Encoded String", &["CONNACK", "DISCONNECT"]),
    (
        0x1F,
        "UTF-8 Encoded String",
        &[
            "CONNACK",
            "PUBACK",
            "PUBREC",
            "PUBREL",
            "PUBCOMP",
            "SUBACK",
            "UNSUBACK",
            "DISCONNECT",
            "AUTH",
        ],
    ),
    (0x21, "Two Byte Integer", &["CONNECT", "CONNACK"]),
    (0x22, "Two Byte Integer", &["CONNECT", "CONNACK"]),
    (0x23, "Two Byte Integer", &["PUBLISH"]),
    (0x24, "Byte", &["CONNACK"]),
    (0x25, "Byte", &["CONNACK"]),
    (
        0x26,
        "UTF-8 String Pair",
        &[
            "CONNECT",
            "CONNACK",
            "PUBLISH",
            "Will Properties",
            "PUBACK",
            "PUBREC",
            "PUBREL",
            "PUBCOMP",
            "SUBSCRIBE",
            "SUBACK",
            "UNSUBSCRIBE",
            "UNSUBACK",
            "DISCONNECT",
            "AUTH",
        ],
    ),
    (0x27, "Four Byte Integer", &["CONNECT", "CONNACK"]),
    (0x28, "Byte", &["CONNACK"]),
    (0x29, "Byte", &["CONNACK"]),
    (0x2A, "Byte", &["CONNACK"]),
];

/// Every property list, with the names table 2-4 gives the packets behind it.
const CONTEXTS: [(PropertyContext, &[&str]); 11] = [
    (PropertyContext::Connect, &["CONNECT"]),
    (PropertyContext::Will, &["Will Properties"]),
    (PropertyContext::ConnAck, &["CONNACK"]),
    (PropertyContext::Publish, &["PUBLISH"]),
    (
        PropertyContext::Ack,
        &["PUBACK", "PUBREC", "PUBREL", "PUBCOMP"],
    ),
    (PropertyContext::Subscribe, &["SUBSCRIBE"]),
    (PropertyContext::SubAck, &["SUBACK"]),
    (PropertyContext::Unsubscribe, &["UNSUBSCRIBE"]),
    (PropertyContext::UnsubAck, &["UNSUBACK"]),
    (PropertyContext::Disconnect, &["DISCONNECT"]),
    (PropertyContext::Auth, &["AUTH"]),
];

/// A valid value of a table 2-4 type, as bytes (1 for integers, "a" for strings).
fn spec_value(kind: &str) -> &'static [u8] {
    match kind {
        "Byte" | "Variable Byte Integer" => &[1],
        "Two Byte Integer" => &[0, 1],
        "Four Byte Integer" => &[0, 0, 0, 1],
        "UTF-8 Encoded String" | "Binary Data" => &[0, 1, b'a'],
        "UTF-8 String Pair" => &[0, 1, b'k', 0, 1, b'v'],
        _ => panic!("not a type of table 2-4: {kind}"),
    }
}

/// Decodes the raw property list `list` (length prefix included) in `ctx`.
fn decoded_properties(list: &[u8], ctx: PropertyContext) -> Result<Properties, DecodeError> {
    let mut r = primitives::Reader::new(list);
    let p = Properties::decode(&mut r, ctx)?;
    assert!(r.is_empty(), "{list:02x?} read to its end");
    Ok(p)
}

/// A property list holding `properties` (identifier and value bytes) after its length.
fn property_list(properties: &[u8]) -> Vec<u8> {
    let mut list = vec![properties.len() as u8];
    list.extend_from_slice(properties);
    list
}

#[test]
fn every_identifier_is_accepted_exactly_where_table_2_4_of_the_spec_allows_it() {
    for id in 0..=u8::MAX {
        let line = SPEC_TABLE_2_4.iter().find(|line| line.0 == id);
        assert_eq!(
            line.is_some(),
            properties::spec(id).is_some(),
            "{id:#04x}: defined?"
        );
        let Some(&(_, kind, packets)) = line else {
            let list = property_list(&[id, 0]);
            for (ctx, _) in CONTEXTS {
                assert_eq!(
                    decoded_properties(&list, ctx),
                    Err(DecodeError::UnknownProperty(id))
                );
            }
            continue;
        };
        let mut one = vec![id];
        one.extend_from_slice(spec_value(kind));
        let list = property_list(&one);
        for (ctx, names) in CONTEXTS {
            let listed = names.iter().filter(|n| packets.contains(n)).count();
            assert!(
                listed == 0 || listed == names.len(),
                "{id:#04x}: table 2-4 names only some of {names:?}"
            );
            let decoded = decoded_properties(&list, ctx);
            if listed == 0 {
                assert_eq!(
                    decoded,
                    Err(DecodeError::PropertyNotAllowed(id)),
                    "{id:#04x} in {ctx:?}"
                );
                continue;
            }
            // Decodes, sizes and writes back to the same bytes: the type is right.
            let decoded = decoded.unwrap_or_else(|e| panic!("{id:#04x} in {ctx:?}: {e}"));
            assert_eq!(decoded.encoded_len(ctx), Ok(list.len()), "{id:#04x}");
            let mut out = Vec::new();
            decoded.write(&mut out);
            assert_eq!(out, list, "{id:#04x} in {ctx:?}");
        }
    }
}

#[test]
fn property_ranges_and_repetitions_are_those_of_the_spec() {
    // Byte properties whose only values are 0 and 1 (MQTT 5.0 sections 3.1.2.11.6,
    // 3.1.2.11.7, 3.2.2.3.4, 3.2.2.3.5, 3.2.2.3.11 to 3.2.2.3.13, 3.3.2.3.2).
    const FLAGS: &[u8] = &[0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A];
    // Properties for which 0 is a protocol error (MQTT 5.0 sections 3.1.2.11.3,
    // 3.1.2.11.4, 3.3.2.3.4, 3.3.2.3.8).
    const NON_ZERO: &[u8] = &[0x0B, 0x21, 0x23, 0x27];
    for &(id, kind, packets) in SPEC_TABLE_2_4 {
        let (ctx, _) = CONTEXTS
            .iter()
            .find(|(_, names)| names.iter().any(|n| packets.contains(n)))
            .copied()
            .expect("every property is allowed somewhere");
        let value = spec_value(kind);
        let with = |v: &[u8]| property_list(&[&[id], v].concat());
        if FLAGS.contains(&id) {
            assert!(decoded_properties(&with(&[0]), ctx).is_ok(), "{id:#04x}");
            let refused = decoded_properties(&with(&[2]), ctx);
            assert_eq!(refused, Err(DecodeError::InvalidPropertyValue(id)));
        }
        if NON_ZERO.contains(&id) {
            let zero = vec![0; value.len()];
            let refused = decoded_properties(&with(&zero), ctx);
            assert_eq!(refused, Err(DecodeError::InvalidPropertyValue(id)));
        }
        // Only user properties repeat everywhere (MQTT 5.0 section 3.1.2.11.8), and subscription
        // identifiers in PUBLISH [MQTT-3.3.4-3]; every other property is single-valued.
        let once = [&[id], value].concat();
        let twice = property_list(&[once.as_slice(), &once].concat());
        for (ctx, names) in CONTEXTS {
            if !names.iter().any(|n| packets.contains(n)) {
                continue;
            }
            let repeats = id == 0x26 || (id == 0x0B && ctx == PropertyContext::Publish);
            let decoded = decoded_properties(&twice, ctx);
            if repeats {
                assert!(decoded.is_ok(), "{id:#04x} twice in {ctx:?}");
            } else {
                assert_eq!(decoded, Err(DecodeError::DuplicateProperty(id)), "{ctx:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Encoding checks
// ---------------------------------------------------------------------------------------

#[test]
fn encoding_appends_to_what_out_already_holds() {
    let mut out = vec![0xEE];
    encode(&Packet::PingReq, V5, &mut out).unwrap();
    encode(&Packet::PingResp, V5, &mut out).unwrap();
    assert_eq!(out, [0xEE, 0xC0, 0x00, 0xD0, 0x00]);
}

#[test]
fn strings_and_binaries_over_65535_bytes_are_too_long_to_encode() {
    let long = "a".repeat(65_536);
    let publish = Packet::Publish(Publish {
        topic: long.clone(),
        ..Publish::default()
    });
    assert_eq!(encode_refused(&publish, V311), EncodeError::FieldTooLong);
    let connect = Packet::Connect(Connect {
        username: Some("u".into()),
        password: Some(vec![0; 65_536]),
        ..connect_v311()
    });
    assert_eq!(encode_refused(&connect, V311), EncodeError::FieldTooLong);
    let ack_with_long_property = Packet::PubAck(ack(1, 0, user("k", &long)));
    assert_eq!(
        encode_refused(&ack_with_long_property, V5),
        EncodeError::FieldTooLong
    );
    // The limit itself is fine.
    let publish = Packet::Publish(Publish {
        topic: "a".repeat(65_535),
        ..Publish::default()
    });
    assert_eq!(encoded_len(&publish, V5), Ok(1 + 3 + 65_538));
}

#[test]
fn a_remaining_length_over_268435455_is_too_large_to_encode() {
    // 2 bytes of topic length; calloc'd, so the pages are never touched.
    let publish = |payload_len: usize| {
        Packet::Publish(Publish {
            payload: vec![0; payload_len],
            ..Publish::default()
        })
    };
    assert_eq!(
        encoded_len(&publish(268_435_453), V311),
        Ok(1 + 4 + 268_435_455)
    );
    assert_eq!(
        encode_refused(&publish(268_435_454), V311),
        EncodeError::PacketTooLarge
    );
}

#[test]
fn packet_identifiers_inconsistent_with_the_qos_are_refused_on_encode() {
    let publish = |qos, packet_id| {
        Packet::Publish(Publish {
            qos,
            packet_id,
            topic: "t".into(),
            ..Publish::default()
        })
    };
    for packet in [
        publish(QoS::AtMostOnce, Some(1)),
        publish(QoS::AtLeastOnce, None),
        publish(QoS::ExactlyOnce, Some(0)),
        Packet::PubAck(ack(0, 0, props())),
        Packet::PubRel(ack(0, 0, props())),
        Packet::Subscribe(Subscribe {
            packet_id: 0,
            filters: vec![filter("t", QoS::AtMostOnce)],
            properties: props(),
        }),
        Packet::SubAck(SubAck::default()),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 0,
            filters: vec!["t".into()],
            properties: props(),
        }),
        Packet::UnsubAck(UnsubAck::default()),
    ] {
        assert_eq!(
            encode_refused(&packet, V5),
            EncodeError::InvalidPacketId,
            "{packet:?}"
        );
    }
}

// Long by design: one flat list of cases, each a packet and the value it must refuse.
#[test]
fn values_the_packet_cannot_carry_are_refused_on_encode() {
    let refused_value = |packet: Packet, version| {
        assert!(
            matches!(
                encode_refused(&packet, version),
                EncodeError::InvalidValue(_)
            ),
            "{packet:?}"
        );
    };
    refused_value(
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            ..Subscribe::default()
        }),
        V5,
    );
    refused_value(
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            ..Unsubscribe::default()
        }),
        V311,
    );
    refused_value(
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![SubscribeFilter {
                filter: "t".into(),
                retain_handling: 3,
                ..SubscribeFilter::default()
            }],
            properties: props(),
        }),
        V5,
    );
    refused_value(
        Packet::Publish(Publish {
            dup: true,
            topic: "t".into(),
            ..Publish::default()
        }),
        V5,
    );
    refused_value(
        Packet::Publish(Publish {
            topic: "a\0b".into(),
            ..Publish::default()
        }),
        V311,
    );
    refused_value(
        Packet::Connect(Connect {
            password: Some(vec![1]),
            ..connect_v311()
        }),
        V311,
    );
    refused_value(
        Packet::ConnAck(ConnAck {
            reason_code: 6,
            ..ConnAck::default()
        }),
        V311,
    );
    refused_value(
        Packet::ConnAck(ConnAck {
            reason_code: 0x01,
            ..ConnAck::default()
        }),
        V5,
    );
    refused_value(Packet::PubAck(ack(1, 0x92, props())), V5);
    refused_value(
        Packet::SubAck(SubAck {
            packet_id: 1,
            reason_codes: vec![0x87],
            properties: props(),
        }),
        V311,
    );
    refused_value(
        Packet::Disconnect(Disconnect {
            reason_code: 0x01,
            properties: props(),
        }),
        V5,
    );
    refused_value(
        Packet::Auth(Auth {
            reason_code: 0x04,
            properties: props(),
        }),
        V5,
    );
    // Properties the packet cannot carry, or out of range.
    refused_value(
        Packet::Publish(Publish {
            topic: "t".into(),
            properties: Properties {
                session_expiry_interval: Some(1),
                ..props()
            },
            ..Publish::default()
        }),
        V5,
    );
    refused_value(
        Packet::Publish(Publish {
            topic: "t".into(),
            properties: Properties {
                topic_alias: Some(0),
                ..props()
            },
            ..Publish::default()
        }),
        V5,
    );
    refused_value(
        Packet::ConnAck(ConnAck {
            properties: Properties {
                maximum_qos: Some(2),
                ..props()
            },
            ..ConnAck::default()
        }),
        V5,
    );
    refused_value(
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![filter("t", QoS::AtMostOnce)],
            properties: Properties {
                subscription_identifiers: vec![1, 2],
                ..props()
            },
        }),
        V5,
    );
    refused_value(
        Packet::Publish(Publish {
            topic: "t".into(),
            properties: Properties {
                subscription_identifiers: vec![268_435_456],
                ..props()
            },
            ..Publish::default()
        }),
        V5,
    );
}

// ---------------------------------------------------------------------------------------
// Corruption sweep
// ---------------------------------------------------------------------------------------

/// One packet of every kind, both versions, with as many fields set as each allows.
/// Long by design: a literal list of packets, one per kind and version.
fn corpus() -> Vec<(Packet, ProtocolVersion)> {
    let full = Properties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(9),
        content_type: Some("c".into()),
        response_topic: Some("r".into()),
        correlation_data: Some(vec![1]),
        subscription_identifiers: vec![1, 300],
        topic_alias: Some(2),
        user_properties: vec![("k".into(), "v".into())],
        ..props()
    };
    let mut v = vec![
        (spec_connect(V311, props()), V311),
        (
            spec_connect(
                V5,
                Properties {
                    session_expiry_interval: Some(10),
                    ..props()
                },
            ),
            V5,
        ),
        (
            Packet::ConnAck(ConnAck {
                session_present: true,
                ..ConnAck::default()
            }),
            V311,
        ),
        (
            Packet::ConnAck(ConnAck {
                reason_code: 0x9C,
                properties: Properties {
                    server_reference: Some("s".into()),
                    receive_maximum: Some(5),
                    ..props()
                },
                ..ConnAck::default()
            }),
            V5,
        ),
        (
            Packet::Publish(Publish {
                qos: QoS::ExactlyOnce,
                packet_id: Some(9),
                topic: "a/b".into(),
                payload: b"xyz".to_vec(),
                properties: full,
                ..Publish::default()
            }),
            V5,
        ),
        (
            Packet::Subscribe(Subscribe {
                packet_id: 4,
                filters: vec![
                    filter("a/+", QoS::AtLeastOnce),
                    filter("#", QoS::ExactlyOnce),
                ],
                properties: Properties {
                    subscription_identifiers: vec![4],
                    ..props()
                },
            }),
            V5,
        ),
        (
            Packet::SubAck(SubAck {
                packet_id: 4,
                reason_codes: vec![0, 0x80],
                properties: props(),
            }),
            V311,
        ),
        (
            Packet::SubAck(SubAck {
                packet_id: 4,
                reason_codes: vec![1, 0xA2],
                properties: user("a", "b"),
            }),
            V5,
        ),
        (
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 5,
                filters: vec!["a".into(), "b".into()],
                properties: props(),
            }),
            V5,
        ),
        (
            Packet::UnsubAck(UnsubAck {
                packet_id: 5,
                reason_codes: vec![0x11, 0],
                properties: props(),
            }),
            V5,
        ),
        (
            Packet::Disconnect(Disconnect {
                reason_code: 0x8E,
                properties: user("x", "y"),
            }),
            V5,
        ),
        (
            Packet::Auth(Auth {
                reason_code: 0x18,
                properties: Properties {
                    authentication_method: Some("m".into()),
                    ..props()
                },
            }),
            V5,
        ),
        (Packet::PingReq, V311),
    ];
    for version in [V311, V5] {
        // Reason codes and properties exist on the wire in 5.0 only.
        let v5 = version == V5;
        let reason = if v5 { 0x10 } else { 0 };
        let properties = if v5 { user("k", "v") } else { props() };
        v.push((Packet::PubAck(ack(3, reason, props())), version));
        v.push((Packet::PubRec(ack(3, 0, properties)), version));
        v.push((Packet::PubRel(ack(65_535, 0, props())), version));
        v.push((Packet::PubComp(ack(1, 0, props())), version));
        v.push((
            Packet::Publish(Publish {
                topic: "t".into(),
                payload: vec![0; 130],
                ..Publish::default()
            }),
            version,
        ));
    }
    v
}

#[test]
fn every_corpus_packet_round_trips() {
    for (packet, version) in corpus() {
        let bytes = encoded(&packet, version);
        assert_eq!(decoded(&bytes, version), packet, "{packet:?}");
    }
}

#[test]
fn corrupted_packets_never_panic_and_whatever_decodes_re_encodes_to_itself() {
    // Every byte of every corpus packet replaced by a set of telling values, and every
    // truncation with a remaining length patched to match: the decoder must return, and
    // a packet it accepts must encode (all encode checks mirror decode checks) and decode
    // back to the same value.
    let check = |bytes: &[u8], version: ProtocolVersion| {
        if let Ok(Some((packet, used))) = decode(bytes, version, u32::MAX) {
            assert!(used <= bytes.len());
            let again = encoded(&packet, version);
            assert_eq!(decoded(&again, version), packet, "from {bytes:02x?}");
        }
    };
    for (packet, version) in corpus() {
        let bytes = encoded(&packet, version);
        for i in 0..bytes.len() {
            for value in [
                0x00,
                0x01,
                0x02,
                0x03,
                0x7F,
                0x80,
                0xC0,
                0xFF,
                bytes[i] ^ 0x01,
                bytes[i] ^ 0x80,
            ] {
                let mut mutated = bytes.clone();
                mutated[i] = value;
                check(&mutated, version);
                check(&mutated, if version == V5 { V311 } else { V5 });
            }
            if bytes[1] < 0x80 && i >= 2 {
                let mut cut = bytes[..i].to_vec();
                cut[1] = (i - 2) as u8;
                check(&cut, version);
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod random {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic_and_whatever_decodes_re_encodes_to_itself(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            v5 in any::<bool>(),
        ) {
            let version = if v5 { V5 } else { V311 };
            if let Ok(Some((packet, used))) = decode(&bytes, version, u32::MAX) {
                prop_assert!(used <= bytes.len());
                let again = encoded(&packet, version);
                prop_assert_eq!(decode(&again, version, u32::MAX), Ok(Some((packet, again.len()))));
            }
        }
    }
}
