#![cfg(not(target_arch = "wasm32"))]
//! Property tests of the packet codec.
//!
//! The strategies below build only *valid* packets for each protocol version (reason codes
//! from the MQTT 5 tables, properties allowed in each packet with values in range, packet
//! ids where they belong, ...), and every case checks one packet of every type in both
//! versions, so no type can be skipped by chance. On top of that, arbitrary and mutated
//! bytes go through the same decode check as the fuzz target (`fuzz/check.rs`), and
//! arbitrary property sets, valid or not, go into every packet that has a property list.

use mqtt_rtc::mqtt::codec::{
    decode, encode, Ack, Auth, ConnAck, Connect, DecodeError, Disconnect, EncodeError, Packet,
    Properties, ProtocolVersion, Publish, QoS, SubAck, Subscribe, SubscribeFilter, UnsubAck,
    Unsubscribe, Will,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::Union;

include!("../fuzz/check.rs");

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

// MQTT 5.0 reason codes allowed in each packet (sections 3.2.2.2, 3.4.2.1, 3.5.2.1,
// 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1 and 3.15.2.1).
const CONNACK_CODES: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const PUBACK_PUBREC_CODES: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_PUBCOMP_CODES: &[u8] = &[0x00, 0x92];
const SUBACK_CODES: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK_CODES: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT_CODES: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH_CODES: &[u8] = &[0x00, 0x18, 0x19];
// MQTT 3.1.1 return codes (sections 3.2.2.3 and 3.9.3).
const V311_CONNACK_CODES: std::ops::RangeInclusive<u8> = 0..=5;
const V311_SUBACK_CODES: &[u8] = &[0x00, 0x01, 0x02, 0x80];

const MAX_SUBSCRIPTION_IDENTIFIER: u32 = 268_435_455;

// ---------------------------------------------------------------------------------------
// Field strategies

/// A short UTF-8 string: any Unicode scalar but U+0000 [MQTT-1.5.4-2].
fn text() -> impl Strategy<Value = String> {
    "[^\\x00]{0,8}"
}

fn binary() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..16)
}

/// One level of a topic name or filter: no separator, no wildcard.
fn topic_level() -> impl Strategy<Value = String> {
    "[^\\x00/+#]{0,6}"
}

/// A non-empty topic name without wildcards [MQTT-3.3.2-2].
fn topic_name() -> impl Strategy<Value = String> {
    vec(topic_level(), 1..4)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("topic names are not empty", |t| !t.is_empty())
}

/// A non-empty, well-formed topic filter: `+` as whole levels, `#` only last [MQTT-4.7.1].
fn topic_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => topic_level(), 1 => Just("+".to_owned())];
    (vec(level, 1..4), any::<bool>())
        .prop_map(|(mut levels, multi_level)| {
            if multi_level {
                levels.push("#".to_owned());
            }
            levels.join("/")
        })
        .prop_filter("topic filters are not empty", |f| !f.is_empty())
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn flag() -> impl Strategy<Value = Option<u8>> {
    option::of(0..=1u8)
}

/// A payload, valid UTF-8 when the payload format indicator says so.
fn payload_for(properties: &Properties, bytes: Vec<u8>, utf8: String) -> Vec<u8> {
    if properties.payload_format_indicator == Some(1) {
        utf8.into_bytes()
    } else {
        bytes
    }
}

// ---------------------------------------------------------------------------------------
// Property strategies, one per packet (MQTT 5.0 section 2.2.2.2 and the doc comments of
// `Properties`)

fn user_properties() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((text(), text()), 0..3)
}

/// Authentication method and data; data only comes with a method [MQTT-3.1.2.11.10].
fn authentication() -> impl Strategy<Value = (Option<String>, Option<Vec<u8>>)> {
    option::of((text(), option::of(binary()))).prop_map(|method| match method {
        Some((method, data)) => (Some(method), data),
        None => (None, None),
    })
}

fn connect_properties() -> impl Strategy<Value = Properties> {
    (
        option::of(any::<u32>()),
        authentication(),
        flag(),
        flag(),
        option::of(1..=u16::MAX),
        option::of(any::<u16>()),
        option::of(1..=u32::MAX),
        user_properties(),
    )
        .prop_map(
            |(expiry, (method, data), problem, response, receive, alias, size, user)| Properties {
                session_expiry_interval: expiry,
                authentication_method: method,
                authentication_data: data,
                request_problem_information: problem,
                request_response_information: response,
                receive_maximum: receive,
                topic_alias_maximum: alias,
                maximum_packet_size: size,
                user_properties: user,
                ..Properties::default()
            },
        )
}

fn will_properties() -> impl Strategy<Value = Properties> {
    (
        flag(),
        option::of(any::<u32>()),
        option::of(text()),
        option::of(topic_name()),
        option::of(binary()),
        option::of(any::<u32>()),
        user_properties(),
    )
        .prop_map(
            |(format, expiry, content, response, correlation, delay, user)| Properties {
                payload_format_indicator: format,
                message_expiry_interval: expiry,
                content_type: content,
                response_topic: response,
                correlation_data: correlation,
                will_delay_interval: delay,
                user_properties: user,
                ..Properties::default()
            },
        )
}

fn connack_properties() -> impl Strategy<Value = Properties> {
    let first = (
        option::of(any::<u32>()),
        option::of(text()),
        option::of(any::<u16>()),
        authentication(),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(1..=u16::MAX),
    );
    let second = (
        option::of(any::<u16>()),
        flag(),
        flag(),
        user_properties(),
        option::of(1..=u32::MAX),
        flag(),
        flag(),
        flag(),
    );
    (first, second).prop_map(
        |(
            (expiry, assigned, keep_alive, (method, data), information, reference, reason, receive),
            (alias, qos, retain, user, size, wildcard, identifiers, shared),
        )| Properties {
            session_expiry_interval: expiry,
            assigned_client_identifier: assigned,
            server_keep_alive: keep_alive,
            authentication_method: method,
            authentication_data: data,
            response_information: information,
            server_reference: reference,
            reason_string: reason,
            receive_maximum: receive,
            topic_alias_maximum: alias,
            maximum_qos: qos,
            retain_available: retain,
            user_properties: user,
            maximum_packet_size: size,
            wildcard_subscription_available: wildcard,
            subscription_identifier_available: identifiers,
            shared_subscription_available: shared,
            ..Properties::default()
        },
    )
}

fn publish_properties() -> impl Strategy<Value = Properties> {
    (
        flag(),
        option::of(any::<u32>()),
        option::of(text()),
        option::of(topic_name()),
        option::of(binary()),
        vec(1..=MAX_SUBSCRIPTION_IDENTIFIER, 0..3),
        option::of(1..=u16::MAX),
        user_properties(),
    )
        .prop_map(
            |(format, expiry, content, response, correlation, identifiers, alias, user)| {
                Properties {
                    payload_format_indicator: format,
                    message_expiry_interval: expiry,
                    content_type: content,
                    response_topic: response,
                    correlation_data: correlation,
                    subscription_identifiers: identifiers,
                    topic_alias: alias,
                    user_properties: user,
                    ..Properties::default()
                }
            },
        )
}

/// Reason string and user properties: PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK.
fn reason_properties() -> impl Strategy<Value = Properties> {
    (option::of(text()), user_properties()).prop_map(|(reason, user)| Properties {
        reason_string: reason,
        user_properties: user,
        ..Properties::default()
    })
}

fn subscribe_properties() -> impl Strategy<Value = Properties> {
    (
        option::of(1..=MAX_SUBSCRIPTION_IDENTIFIER),
        user_properties(),
    )
        .prop_map(|(identifier, user)| Properties {
            subscription_identifiers: identifier.into_iter().collect(),
            user_properties: user,
            ..Properties::default()
        })
}

fn unsubscribe_properties() -> impl Strategy<Value = Properties> {
    user_properties().prop_map(|user| Properties {
        user_properties: user,
        ..Properties::default()
    })
}

fn disconnect_properties() -> impl Strategy<Value = Properties> {
    (
        option::of(any::<u32>()),
        option::of(text()),
        option::of(text()),
        user_properties(),
    )
        .prop_map(|(expiry, reference, reason, user)| Properties {
            session_expiry_interval: expiry,
            server_reference: reference,
            reason_string: reason,
            user_properties: user,
            ..Properties::default()
        })
}

/// AUTH properties always name the method [MQTT-3.15.2-1].
fn auth_properties() -> impl Strategy<Value = Properties> {
    (
        text(),
        option::of(binary()),
        option::of(text()),
        user_properties(),
    )
        .prop_map(|(method, data, reason, user)| Properties {
            authentication_method: Some(method),
            authentication_data: data,
            reason_string: reason,
            user_properties: user,
            ..Properties::default()
        })
}

/// `strategy` in 5.0, no properties in 3.1.1.
fn properties_for(
    version: ProtocolVersion,
    strategy: impl Strategy<Value = Properties> + 'static,
) -> BoxedStrategy<Properties> {
    match version {
        V311 => Just(Properties::default()).boxed(),
        V5 => strategy.boxed(),
    }
}

// ---------------------------------------------------------------------------------------
// Packet strategies

fn will(version: ProtocolVersion) -> impl Strategy<Value = Will> {
    (
        topic_name(),
        binary(),
        text(),
        qos(),
        any::<bool>(),
        properties_for(version, will_properties()),
    )
        .prop_map(|(topic, bytes, utf8, qos, retain, properties)| Will {
            topic,
            payload: payload_for(&properties, bytes, utf8),
            qos,
            retain,
            properties,
        })
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        text(),
        any::<bool>(),
        any::<u16>(),
        option::of(text()),
        option::of(binary()),
        option::of(will(version)),
        properties_for(version, connect_properties()),
    )
        .prop_map(
            move |(client_id, clean_start, keep_alive, username, password, will, properties)| {
                // 3.1.1 allows a password only after a user name [MQTT-3.1.2-22].
                let password = match version {
                    V311 if username.is_none() => None,
                    _ => password,
                };
                Packet::Connect(Connect {
                    protocol: version,
                    client_id,
                    clean_start,
                    keep_alive,
                    username,
                    password,
                    will,
                    properties,
                })
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let reason_code = match version {
        V311 => V311_CONNACK_CODES.boxed(),
        V5 => select(CONNACK_CODES).boxed(),
    };
    (
        any::<bool>(),
        reason_code,
        properties_for(version, connack_properties()),
    )
        .prop_map(|(session_present, reason_code, properties)| {
            Packet::ConnAck(ConnAck {
                // A refused connection has no session [MQTT-3.2.2-4] [MQTT-3.2.2-6].
                session_present: session_present && reason_code == 0,
                reason_code,
                properties,
            })
        })
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        packet_id(),
        binary(),
        text(),
        properties_for(version, publish_properties()),
    )
        .prop_map(
            |(qos, dup, retain, topic, alias_only, id, bytes, utf8, properties)| {
                let acknowledged = qos != QoS::AtMostOnce;
                Packet::Publish(Publish {
                    dup: dup && acknowledged,
                    qos,
                    retain,
                    // A topic alias may stand for the whole topic name in 5.0.
                    topic: if alias_only && properties.topic_alias.is_some() {
                        String::new()
                    } else {
                        topic
                    },
                    packet_id: acknowledged.then_some(id),
                    payload: payload_for(&properties, bytes, utf8),
                    properties,
                })
            },
        )
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP, built by `wrap`, with reason codes from `codes`.
fn ack(
    version: ProtocolVersion,
    codes: &'static [u8],
    wrap: fn(Ack) -> Packet,
) -> impl Strategy<Value = Packet> {
    let reason_code = match version {
        V311 => Just(0).boxed(),
        V5 => select(codes).boxed(),
    };
    (
        packet_id(),
        reason_code,
        properties_for(version, reason_properties()),
    )
        .prop_map(move |(packet_id, reason_code, properties)| {
            wrap(Ack {
                packet_id,
                reason_code,
                properties,
            })
        })
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let entry = (topic_filter(), qos(), any::<bool>(), any::<bool>(), 0..=2u8).prop_map(
        move |(filter, qos, no_local, retain_as_published, retain_handling)| {
            // Only the QoS of the option byte exists in 3.1.1.
            let v5 = version == V5;
            SubscribeFilter {
                filter,
                qos,
                no_local: no_local && v5,
                retain_as_published: retain_as_published && v5,
                retain_handling: if v5 { retain_handling } else { 0 },
            }
        },
    );
    (
        packet_id(),
        vec(entry, 1..4),
        properties_for(version, subscribe_properties()),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = match version {
        V311 => V311_SUBACK_CODES,
        V5 => SUBACK_CODES,
    };
    (
        packet_id(),
        vec(select(codes), 1..4),
        properties_for(version, reason_properties()),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec(topic_filter(), 1..4),
        properties_for(version, unsubscribe_properties()),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    // 3.1.1 UNSUBACK carries only the packet id.
    let reason_codes = match version {
        V311 => Just(Vec::new()).boxed(),
        V5 => vec(select(UNSUBACK_CODES), 1..4).boxed(),
    };
    (
        packet_id(),
        reason_codes,
        properties_for(version, reason_properties()),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
}

fn disconnect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let reason_code = match version {
        V311 => Just(0).boxed(),
        V5 => select(DISCONNECT_CODES).boxed(),
    };
    (
        reason_code,
        properties_for(version, disconnect_properties()),
    )
        .prop_map(|(reason_code, properties)| {
            Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            })
        })
}

/// AUTH exists in 5.0 only: either the short form (success, no properties) or a reason
/// code with properties that name the method.
fn auth() -> impl Strategy<Value = Packet> {
    prop_oneof![
        Just(Auth::default()),
        (select(AUTH_CODES), auth_properties()).prop_map(|(reason_code, properties)| Auth {
            reason_code,
            properties,
        }),
    ]
    .prop_map(Packet::Auth)
}

/// One strategy per packet type that `version` has, in packet type order.
fn packet_strategies(version: ProtocolVersion) -> Vec<BoxedStrategy<Packet>> {
    let mut strategies = vec![
        connect(version).boxed(),
        connack(version).boxed(),
        publish(version).boxed(),
        ack(version, PUBACK_PUBREC_CODES, Packet::PubAck).boxed(),
        ack(version, PUBACK_PUBREC_CODES, Packet::PubRec).boxed(),
        ack(version, PUBREL_PUBCOMP_CODES, Packet::PubRel).boxed(),
        ack(version, PUBREL_PUBCOMP_CODES, Packet::PubComp).boxed(),
        subscribe(version).boxed(),
        suback(version).boxed(),
        unsubscribe(version).boxed(),
        unsuback(version).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(version).boxed(),
    ];
    if version == V5 {
        strategies.push(auth().boxed());
    }
    strategies
}

/// One valid packet of every type, for both versions: 14 for 3.1.1, then 15 for 5.0.
fn one_of_every_packet() -> impl Strategy<Value = Vec<(ProtocolVersion, Packet)>> {
    (packet_strategies(V311), packet_strategies(V5)).prop_map(|(v311, v5)| {
        let v311 = v311.into_iter().map(|p| (V311, p));
        let v5 = v5.into_iter().map(|p| (V5, p));
        v311.chain(v5).collect()
    })
}

/// One valid packet of a random type and version.
fn any_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    prop_oneof![Just(V311), Just(V5)]
        .prop_flat_map(|version| (Just(version), Union::new(packet_strategies(version))))
}

fn encoded(packet: &Packet, version: ProtocolVersion) -> Result<Vec<u8>, TestCaseError> {
    let mut out = Vec::new();
    encode(packet, version, &mut out)
        .map_err(|e| TestCaseError::fail(format!("{version:?} {packet:?} does not encode: {e}")))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Byte strategies for the robustness properties

/// A first byte of the fixed header: mostly a valid type with its required flags, so the
/// body parsers get exercised, sometimes anything.
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        1 => any::<u8>(),
        2 => (1..=15u8).prop_map(|t| (t << 4) | if matches!(t, 6 | 8 | 10) { 0b0010 } else { 0 }),
        1 => (0..=0x0Fu8).prop_map(|flags| 0x30 | flags),
    ]
}

/// Random bytes, or a random body framed by a fixed header whose remaining length fits.
fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    let framed = (
        header_byte(),
        vec(any::<u8>(), 0..300),
        vec(any::<u8>(), 0..8),
    )
        .prop_map(|(header, body, trailer)| {
            let mut out = vec![header];
            let mut length = body.len();
            loop {
                let byte = (length % 128) as u8;
                length /= 128;
                out.push(if length > 0 { byte | 0x80 } else { byte });
                if length == 0 {
                    break;
                }
            }
            out.extend(body);
            out.extend(trailer);
            out
        });
    prop_oneof![vec(any::<u8>(), 0..=512), framed]
}

/// One edit of an encoding: where, what, and the byte to use.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Replace(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip(at, 1 << bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace(at, byte)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<Index>().prop_map(Mutation::Remove),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    if len == 0 {
        return;
    }
    match mutation {
        Mutation::Flip(at, bit) => bytes[at.index(len)] ^= bit,
        Mutation::Replace(at, byte) => bytes[at.index(len)] = *byte,
        Mutation::Insert(at, byte) => bytes.insert(at.index(len + 1), *byte),
        Mutation::Remove(at) => {
            bytes.remove(at.index(len));
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(len)),
    }
}

// ---------------------------------------------------------------------------------------
// Properties of valid packets

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_valid_packet_decodes_to_itself_using_exactly_its_encoded_length(
        packets in one_of_every_packet(),
    ) {
        for (version, packet) in packets {
            let bytes = encoded(&packet, version)?;
            prop_assert_eq!(
                decode(&bytes, version, u32::MAX),
                Ok(Some((packet.clone(), bytes.len()))),
                "{:?} {:?} encoded as {:02x?}", version, packet, bytes
            );
        }
    }

    #[test]
    fn every_strict_prefix_of_a_valid_encoding_asks_for_more_bytes(
        packets in one_of_every_packet(),
    ) {
        for (version, packet) in packets {
            let bytes = encoded(&packet, version)?;
            for end in 0..bytes.len() {
                prop_assert_eq!(
                    decode(&bytes[..end], version, u32::MAX),
                    Ok(None),
                    "prefix of {} of {:02x?} ({:?} {:?})", end, bytes, version, packet
                );
            }
        }
    }

    #[test]
    fn two_encodings_back_to_back_decode_as_the_first_packet_with_its_own_length(
        packets in one_of_every_packet(),
        shift in 1..14usize,
    ) {
        // Pair each packet with another one of the same version.
        for (i, (version, first)) in packets.iter().enumerate() {
            let second = packets
                .iter()
                .filter(|(v, _)| v == version)
                .cycle()
                .nth(i + shift)
                .map(|(_, p)| p)
                .expect("every version has packets");
            let mut bytes = encoded(first, *version)?;
            let first_length = bytes.len();
            bytes.extend(encoded(second, *version)?);
            prop_assert_eq!(
                decode(&bytes, *version, u32::MAX),
                Ok(Some((first.clone(), first_length))),
                "{:?} {:?} then {:?} as {:02x?}", version, first, second, bytes
            );
        }
    }

    #[test]
    fn a_maximum_size_of_exactly_the_encoded_length_decodes_and_one_less_is_too_large(
        packets in one_of_every_packet(),
    ) {
        for (version, packet) in packets {
            let bytes = encoded(&packet, version)?;
            let length = u32::try_from(bytes.len()).expect("short packet");
            prop_assert_eq!(
                decode(&bytes, version, length),
                Ok(Some((packet.clone(), bytes.len()))),
                "{:?} {:?} as {:02x?}", version, packet, bytes
            );
            prop_assert_eq!(
                decode(&bytes, version, length - 1),
                Err(DecodeError::PacketTooLarge { size: bytes.len(), max: length - 1 }),
                "{:?} {:?} as {:02x?}", version, packet, bytes
            );
        }
    }

    #[test]
    fn every_single_byte_edit_of_a_valid_encoding_never_panics_and_round_trips_if_it_decodes(
        packets in one_of_every_packet(),
    ) {
        // Small changes of one byte are what turn a length field into one that cuts the
        // next field short or runs past its container: the edges a decoder gets wrong.
        let edits: [fn(u8) -> u8; 6] = [
            |b| b.wrapping_sub(1),
            |b| b.wrapping_sub(2),
            |b| b.wrapping_sub(3),
            |b| b.wrapping_add(1),
            |b| b ^ 0x80,
            |_| 0xFF,
        ];
        for (version, packet) in packets {
            let bytes = encoded(&packet, version)?;
            for at in 0..bytes.len() {
                for edit in edits {
                    let mut edited = bytes.clone();
                    edited[at] = edit(edited[at]);
                    check_decode(&edited, version, u32::MAX);
                }
            }
        }
    }

    #[test]
    fn mutated_valid_encodings_never_panic_and_whatever_decodes_round_trips(
        (version, packet) in any_packet(),
        mutations in vec(mutation(), 1..4),
    ) {
        let mut bytes = encoded(&packet, version)?;
        for mutation in &mutations {
            mutate(&mut bytes, mutation);
        }
        check_input(&bytes);
    }
}

// ---------------------------------------------------------------------------------------
// Properties of arbitrary property sets

/// Maybe a value: rarely, so that a set often holds only what some packet allows (about a
/// fifth of the packets below then encode).
fn sometimes<T: std::fmt::Debug>(
    value: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    option::weighted(0.06, value)
}

/// An integer at the edges of every property range (0, 1, 2, the largest).
fn edge<T: Copy + std::fmt::Debug + 'static>(values: [T; 4]) -> impl Strategy<Value = T> {
    select(values.to_vec())
}

/// Any property set, each property rarely present, allowed in some packet or none, in
/// range or not.
fn any_properties() -> impl Strategy<Value = Properties> {
    let byte = || sometimes(edge([0u8, 1, 2, u8::MAX]));
    let two = || sometimes(edge([0u16, 1, 2, u16::MAX]));
    let four = || sometimes(edge([0u32, 1, 2, u32::MAX]));
    let first = (
        byte(),
        four(),
        sometimes(text()),
        sometimes(text()),
        sometimes(binary()),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => vec(edge([0, 1, MAX_SUBSCRIPTION_IDENTIFIER, u32::MAX]), 1..3),
        ],
        four(),
        sometimes(text()),
        two(),
    );
    let second = (
        sometimes(text()),
        sometimes(binary()),
        byte(),
        four(),
        byte(),
        sometimes(text()),
        sometimes(text()),
        sometimes(text()),
        two(),
    );
    let third = (
        two(),
        two(),
        byte(),
        byte(),
        vec((text(), text()), 0..2),
        four(),
        byte(),
        byte(),
        byte(),
    );
    (first, second, third).prop_map(|(a, b, c)| Properties {
        payload_format_indicator: a.0,
        message_expiry_interval: a.1,
        content_type: a.2,
        response_topic: a.3,
        correlation_data: a.4,
        subscription_identifiers: a.5,
        session_expiry_interval: a.6,
        assigned_client_identifier: a.7,
        server_keep_alive: a.8,
        authentication_method: b.0,
        authentication_data: b.1,
        request_problem_information: b.2,
        will_delay_interval: b.3,
        request_response_information: b.4,
        response_information: b.5,
        server_reference: b.6,
        reason_string: b.7,
        receive_maximum: b.8,
        topic_alias_maximum: c.0,
        topic_alias: c.1,
        maximum_qos: c.2,
        retain_available: c.3,
        user_properties: c.4,
        maximum_packet_size: c.5,
        wildcard_subscription_available: c.6,
        subscription_identifier_available: c.7,
        shared_subscription_available: c.8,
    })
}

/// One small valid MQTT 5 packet for each of the eleven property lists, carrying `p`.
fn every_property_list_with(p: &Properties) -> Vec<Packet> {
    let connect = |properties, will| {
        Packet::Connect(Connect {
            protocol: V5,
            client_id: "c".into(),
            clean_start: true,
            keep_alive: 0,
            username: None,
            password: None,
            will,
            properties,
        })
    };
    let will = Will {
        topic: "w".into(),
        properties: p.clone(),
        ..Will::default()
    };
    let ack = Ack {
        packet_id: 1,
        reason_code: 0,
        properties: p.clone(),
    };
    vec![
        connect(p.clone(), None),
        connect(Properties::default(), Some(will)),
        Packet::ConnAck(ConnAck {
            properties: p.clone(),
            ..ConnAck::default()
        }),
        Packet::Publish(Publish {
            topic: "t".into(),
            properties: p.clone(),
            ..Publish::default()
        }),
        Packet::PubAck(ack.clone()),
        Packet::PubRec(ack.clone()),
        Packet::PubRel(ack.clone()),
        Packet::PubComp(ack),
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![SubscribeFilter {
                filter: "t".into(),
                ..SubscribeFilter::default()
            }],
            properties: p.clone(),
        }),
        Packet::SubAck(SubAck {
            packet_id: 1,
            reason_codes: vec![0],
            properties: p.clone(),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            filters: vec!["t".into()],
            properties: p.clone(),
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: 1,
            reason_codes: vec![0],
            properties: p.clone(),
        }),
        Packet::Disconnect(Disconnect {
            reason_code: 0,
            properties: p.clone(),
        }),
        Packet::Auth(Auth {
            reason_code: 0,
            properties: p.clone(),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_property_set_in_any_packet_is_refused_as_an_invalid_value_or_decodes_to_itself(
        properties in any_properties(),
    ) {
        for packet in every_property_list_with(&properties) {
            let mut bytes = Vec::new();
            match encode(&packet, V5, &mut bytes) {
                Ok(()) => prop_assert_eq!(
                    decode(&bytes, V5, u32::MAX),
                    Ok(Some((packet.clone(), bytes.len()))),
                    "{:?} encoded as {:02x?}", packet, bytes
                ),
                Err(e) => prop_assert!(
                    matches!(e, EncodeError::InvalidValue(_)),
                    "{:?} refused with {:?}", packet, e
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Properties of arbitrary bytes

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_whatever_decodes_round_trips(
        bytes in arbitrary_input(),
        version in prop_oneof![Just(V311), Just(V5)],
        max_size in prop_oneof![Just(u32::MAX), 0..=600u32, any::<u32>()],
    ) {
        check_decode(&bytes, version, max_size);
    }
}
