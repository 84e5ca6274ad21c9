//! MQTT 3.1.1 and 5.0 packet codec: plain packet values in, bytes out, and back.
//!
//! Decoding is incremental: [`decode`] returns `Ok(None)` while the buffer holds only a
//! prefix of a packet, and the number of bytes used when it holds a whole one, so a driver
//! can feed it WebSocket frames that hold several packets or a fraction of one. Malformed
//! input is always a [`DecodeError`] value: this module must never panic on bytes from the
//! network, and must never allocate more than the declared packet size.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod primitives;
mod properties;
mod publish;
mod reason;
mod subscribe;
mod unsubscribe;

#[cfg(test)]
mod tests;

pub use primitives::{read_var_int, var_int_len, write_var_int, VAR_INT_MAX};
pub use properties::{Properties, PropertyContext};
pub use publish::SendAs;
pub use reason::ReasonCode;

use std::fmt;

/// The protocol level sent in CONNECT: 4 is MQTT 3.1.1, 5 is MQTT 5.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }
}

/// Quality of service of a PUBLISH or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    /// At most once: no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// At least once: PUBACK.
    AtLeastOnce = 1,
    /// Exactly once: PUBREC, PUBREL, PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for a 2-bit value; `None` for 3 [MQTT-3.3.1-4].
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// Will message carried in CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    /// v5 will properties (will delay, expiry, content type, ...); ignored for 3.1.1.
    pub properties: Properties,
}

/// CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Decoding takes it from the packet's protocol level, not from the caller's version.
    pub protocol: ProtocolVersion,
    pub client_id: String,
    /// Clean session (3.1.1) / clean start (5.0).
    pub clean_start: bool,
    /// Seconds; 0 disables keepalive.
    pub keep_alive: u16,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub will: Option<Will>,
    pub properties: Properties,
}

/// CONNACK. For 3.1.1, `reason_code` holds the connect return code (0..=5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    pub session_present: bool,
    pub reason_code: u8,
    pub properties: Properties,
}

/// PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in v5 when a topic alias stands for it.
    pub topic: String,
    /// `Some` (non-zero) exactly when `qos > 0`.
    pub packet_id: Option<u16>,
    pub payload: Vec<u8>,
    pub properties: Properties,
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share this shape. In 3.1.1 only `packet_id` is on
/// the wire; in 5.0 a reason code 0 with no properties is encoded in the short form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ack {
    pub packet_id: u16,
    pub reason_code: u8,
    pub properties: Properties,
}

/// One entry of SUBSCRIBE. The option bits other than `qos` exist in 5.0 only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeFilter {
    pub filter: String,
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0: send retained on subscribe, 1: only if new, 2: never. 3 is malformed.
    pub retain_handling: u8,
}

/// SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    pub packet_id: u16,
    /// Never empty [MQTT-3.8.3-3].
    pub filters: Vec<SubscribeFilter>,
    pub properties: Properties,
}

/// SUBACK: one reason code (3.1.1: return code 0,1,2 or 0x80) per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubAck {
    pub packet_id: u16,
    pub reason_codes: Vec<u8>,
    pub properties: Properties,
}

/// UNSUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unsubscribe {
    pub packet_id: u16,
    /// Never empty [MQTT-3.10.3-2].
    pub filters: Vec<String>,
    pub properties: Properties,
}

/// UNSUBACK: in 5.0 one reason code per filter; in 3.1.1 `reason_codes` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubAck {
    pub packet_id: u16,
    pub reason_codes: Vec<u8>,
    pub properties: Properties,
}

/// DISCONNECT. In 3.1.1 it has no body; in 5.0 reason 0 with no properties is encoded short.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    pub reason_code: u8,
    pub properties: Properties,
}

/// AUTH (5.0 only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    pub reason_code: u8,
    pub properties: Properties,
}

/// Every MQTT control packet.
// CONNECT (two property sets) is much larger than the rest. Boxing it would change the
// public shape other modules are written against; a packet value is short-lived and
// moved a handful of times, so the size costs little.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    /// The 4-bit control packet type of the fixed header.
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::Connect(_) => 1,
            Packet::ConnAck(_) => 2,
            Packet::Publish(_) => 3,
            Packet::PubAck(_) => 4,
            Packet::PubRec(_) => 5,
            Packet::PubRel(_) => 6,
            Packet::PubComp(_) => 7,
            Packet::Subscribe(_) => 8,
            Packet::SubAck(_) => 9,
            Packet::Unsubscribe(_) => 10,
            Packet::UnsubAck(_) => 11,
            Packet::PingReq => 12,
            Packet::PingResp => 13,
            Packet::Disconnect(_) => 14,
            Packet::Auth(_) => 15,
        }
    }
}

/// The Topic Alias property identifier (MQTT 5.0 table 2-4).
const TOPIC_ALIAS: u8 = 0x23;

/// Why bytes could not be decoded as a packet. Every variant maps to an MQTT 5 reason code
/// (see [`DecodeError::reason_code`]) so the session can tell the broker why it disconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Packet type 0, or AUTH in 3.1.1.
    InvalidPacketType(u8),
    /// A packet only clients send (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ), received by a
    /// client ([`decode_from_server`]).
    ClientPacket(u8),
    /// Fixed-header flag bits that the spec reserves [MQTT-2.1.3-1].
    InvalidFlags { packet_type: u8, flags: u8 },
    /// A QoS of 3 [MQTT-3.3.1-4].
    InvalidQoS,
    /// A variable byte integer longer than 4 bytes [MQTT-1.5.5-1].
    MalformedVarInt,
    /// The packet is larger than the negotiated maximum packet size.
    PacketTooLarge { size: usize, max: u32 },
    /// A field runs past the end of the packet's remaining length.
    Truncated,
    /// Bytes left over inside the remaining length after the last field.
    TrailingBytes,
    /// A packet identifier of 0 where one is required [MQTT-2.2.1-3].
    ZeroPacketId,
    /// A string that is not well-formed UTF-8 [MQTT-1.5.4-1].
    InvalidUtf8,
    /// A string containing U+0000 [MQTT-1.5.4-2].
    NullCharacter,
    /// CONNECT with a protocol name other than "MQTT".
    InvalidProtocolName,
    /// CONNECT with a protocol level other than 4 or 5.
    UnsupportedProtocolLevel(u8),
    /// Reserved or inconsistent CONNECT flags [MQTT-3.1.2-3].
    InvalidConnectFlags,
    /// CONNACK acknowledge flags with reserved bits set [MQTT-3.2.2-1].
    InvalidConnAckFlags,
    /// Reserved bits or retain handling 3 in a SUBSCRIBE option byte [MQTT-3.8.3-5].
    InvalidSubscribeOptions,
    /// SUBSCRIBE or UNSUBSCRIBE with no topic filter [MQTT-3.8.3-3] [MQTT-3.10.3-2].
    EmptySubscription,
    /// A reason code not defined for this packet type.
    InvalidReasonCode { packet_type: u8, code: u8 },
    /// A property identifier the spec does not define.
    UnknownProperty(u8),
    /// A property that may appear at most once appears twice.
    DuplicateProperty(u8),
    /// A property that is not allowed in this packet.
    PropertyNotAllowed(u8),
    /// A property value outside its allowed range (e.g. receive maximum 0).
    InvalidPropertyValue(u8),
}

impl DecodeError {
    /// The MQTT 5 reason code to put in the DISCONNECT that this error causes.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            DecodeError::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            // A Topic Alias of 0 is as invalid as one above the maximum, and the session
            // reports both as 0x94 [MQTT-3.3.2-8]: the codec, which sees 0 first, agrees.
            DecodeError::InvalidPropertyValue(TOPIC_ALIAS) => ReasonCode::TopicAliasInvalid,
            DecodeError::InvalidPacketType(_)
            | DecodeError::ClientPacket(_)
            | DecodeError::UnsupportedProtocolLevel(_)
            | DecodeError::InvalidReasonCode { .. }
            | DecodeError::PropertyNotAllowed(_)
            | DecodeError::DuplicateProperty(_)
            | DecodeError::InvalidPropertyValue(_) => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidPacketType(t) => write!(f, "invalid packet type {t}"),
            DecodeError::ClientPacket(t) => write!(f, "packet type {t} is sent by clients only"),
            DecodeError::InvalidFlags { packet_type, flags } => {
                write!(
                    f,
                    "invalid flags {flags:#06b} for packet type {packet_type}"
                )
            }
            DecodeError::InvalidQoS => write!(f, "invalid qos 3"),
            DecodeError::MalformedVarInt => write!(f, "variable byte integer longer than 4 bytes"),
            DecodeError::PacketTooLarge { size, max } => {
                write!(
                    f,
                    "packet of {size} bytes exceeds maximum packet size {max}"
                )
            }
            DecodeError::Truncated => write!(f, "field runs past the end of the packet"),
            DecodeError::TrailingBytes => write!(f, "unexpected bytes after the last field"),
            DecodeError::ZeroPacketId => write!(f, "packet identifier 0"),
            DecodeError::InvalidUtf8 => write!(f, "string is not valid utf-8"),
            DecodeError::NullCharacter => write!(f, "string contains u+0000"),
            DecodeError::InvalidProtocolName => write!(f, "protocol name is not mqtt"),
            DecodeError::UnsupportedProtocolLevel(l) => write!(f, "unsupported protocol level {l}"),
            DecodeError::InvalidConnectFlags => write!(f, "invalid connect flags"),
            DecodeError::InvalidConnAckFlags => write!(f, "invalid connack flags"),
            DecodeError::InvalidSubscribeOptions => write!(f, "invalid subscription options"),
            DecodeError::EmptySubscription => write!(f, "no topic filter in (un)subscribe"),
            DecodeError::InvalidReasonCode { packet_type, code } => {
                write!(
                    f,
                    "reason code {code:#04x} is invalid for packet type {packet_type}"
                )
            }
            DecodeError::UnknownProperty(id) => write!(f, "unknown property {id:#04x}"),
            DecodeError::DuplicateProperty(id) => write!(f, "duplicate property {id:#04x}"),
            DecodeError::PropertyNotAllowed(id) => write!(f, "property {id:#04x} not allowed here"),
            DecodeError::InvalidPropertyValue(id) => {
                write!(f, "invalid value for property {id:#04x}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a packet value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A string or binary field longer than 65535 bytes.
    FieldTooLong,
    /// A remaining length above 268,435,455 bytes.
    PacketTooLarge,
    /// QoS > 0 without a non-zero packet id, QoS 0 with one, or a zero id elsewhere.
    InvalidPacketId,
    /// A value the packet cannot carry (AUTH in 3.1.1, empty filter list, retain handling 3, ...).
    InvalidValue(&'static str),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::FieldTooLong => {
                write!(f, "string or binary field longer than 65535 bytes")
            }
            EncodeError::PacketTooLarge => write!(f, "packet longer than 268435455 bytes"),
            EncodeError::InvalidPacketId => write!(f, "packet identifier does not fit the qos"),
            EncodeError::InvalidValue(what) => write!(f, "cannot encode: {what}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Decodes one packet from the front of `buf`.
///
/// `version` is the negotiated protocol (CONNECT ignores it and uses its own level).
/// `max_size` bounds the whole packet (fixed header included); `u32::MAX` for no limit.
/// Returns `Ok(None)` when `buf` holds only a prefix of a packet, otherwise the packet and
/// how many bytes of `buf` it used.
///
/// The packet type, its fixed-header flags and `max_size` are checked as soon as the bytes
/// that carry them are there, so a bad or oversized packet is refused before its body is
/// waited for.
pub fn decode(
    buf: &[u8],
    version: ProtocolVersion,
    max_size: u32,
) -> Result<Option<(Packet, usize)>, DecodeError> {
    decode_packet::<false>(buf, version, max_size)
}

/// [`decode`] for a client: the packets only clients send (CONNECT, SUBSCRIBE, UNSUBSCRIBE,
/// PINGREQ) are refused with [`DecodeError::ClientPacket`] from their first byte, and their
/// decoders are left out of a build that uses this function alone (the browser client's).
pub fn decode_from_server(
    buf: &[u8],
    version: ProtocolVersion,
    max_size: u32,
) -> Result<Option<(Packet, usize)>, DecodeError> {
    decode_packet::<true>(buf, version, max_size)
}

fn decode_packet<const FROM_SERVER: bool>(
    buf: &[u8],
    version: ProtocolVersion,
    max_size: u32,
) -> Result<Option<(Packet, usize)>, DecodeError> {
    let Some((&first, after_first)) = buf.split_first() else {
        return Ok(None);
    };
    let packet_type = first >> 4;
    let flags = first & 0x0F;
    if FROM_SERVER && matches!(packet_type, 1 | 8 | 10 | 12) {
        return Err(DecodeError::ClientPacket(packet_type));
    }
    check_fixed_header(packet_type, flags, version)?;
    let Some((remaining, len_bytes)) = read_var_int(after_first)? else {
        return Ok(None);
    };
    // At most 1 + 4 + 268,435,455: fits a 32-bit usize.
    let size = 1 + len_bytes + remaining as usize;
    if size > usize::try_from(max_size).unwrap_or(usize::MAX) {
        return Err(DecodeError::PacketTooLarge {
            size,
            max: max_size,
        });
    }
    let Some(body) = buf.get(1 + len_bytes..size) else {
        return Ok(None);
    };
    let packet = match packet_type {
        // Refused above when FROM_SERVER: the constant leaves these decoders out.
        1 if !FROM_SERVER => Packet::Connect(connect::decode(body)?),
        2 => Packet::ConnAck(connack::decode(body, version)?),
        3 => Packet::Publish(publish::decode(flags, body, version)?),
        4 => Packet::PubAck(ack::decode(packet_type, body, version)?),
        5 => Packet::PubRec(ack::decode(packet_type, body, version)?),
        6 => Packet::PubRel(ack::decode(packet_type, body, version)?),
        7 => Packet::PubComp(ack::decode(packet_type, body, version)?),
        8 if !FROM_SERVER => Packet::Subscribe(subscribe::decode(body, version)?),
        9 => Packet::SubAck(subscribe::decode_ack(body, version)?),
        10 if !FROM_SERVER => Packet::Unsubscribe(unsubscribe::decode(body, version)?),
        11 => Packet::UnsubAck(unsubscribe::decode_ack(body, version)?),
        12 | 13 => {
            // PINGREQ and PINGRESP have no variable header and no payload (MQTT 5.0
            // sections 3.12 and 3.13).
            if !body.is_empty() {
                return Err(DecodeError::TrailingBytes);
            }
            if packet_type == 12 {
                Packet::PingReq
            } else {
                Packet::PingResp
            }
        }
        14 => Packet::Disconnect(disconnect::decode(body, version)?),
        15 => Packet::Auth(auth::decode(body)?),
        // `check_fixed_header` refused type 0 and FROM_SERVER the client packets; a 4-bit
        // type has no other value.
        _ => return Err(DecodeError::InvalidPacketType(packet_type)),
    };
    Ok(Some((packet, size)))
}

/// Checks the packet type and the fixed-header flags (MQTT 5.0 section 2.1.3, table 2-2;
/// MQTT 3.1.1 table 2.2).
fn check_fixed_header(
    packet_type: u8,
    flags: u8,
    version: ProtocolVersion,
) -> Result<(), DecodeError> {
    let expected = match packet_type {
        // Type 0 is reserved; AUTH does not exist in 3.1.1.
        0 => return Err(DecodeError::InvalidPacketType(packet_type)),
        15 if version == ProtocolVersion::V311 => {
            return Err(DecodeError::InvalidPacketType(packet_type))
        }
        // PUBLISH flags are DUP, QoS and RETAIN.
        3 => return publish::check_flags(flags).map(|_| ()),
        // PUBREL, SUBSCRIBE and UNSUBSCRIBE: 0b0010 [MQTT-3.6.1-1] [MQTT-3.8.1-1]
        // [MQTT-3.10.1-1].
        6 | 8 | 10 => 0b0010,
        _ => 0,
    };
    // Reserved flags must be exactly as listed [MQTT-2.1.3-1] (3.1.1: [MQTT-2.2.2-1]).
    if flags != expected {
        return Err(DecodeError::InvalidFlags { packet_type, flags });
    }
    Ok(())
}

/// The remaining length of `packet` encoded for `version`, after checking that it can be
/// encoded (every check of [`encode`] but the 268,435,455 bytes limit).
fn body_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    match packet {
        Packet::Connect(c) => connect::body_len(c),
        Packet::ConnAck(c) => connack::body_len(c, version),
        Packet::Publish(p) => publish::body_len(p, version),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            ack::body_len(packet.packet_type(), a, version)
        }
        Packet::Subscribe(s) => subscribe::body_len(s, version),
        Packet::SubAck(s) => subscribe::ack_body_len(s, version),
        Packet::Unsubscribe(u) => unsubscribe::body_len(u, version),
        Packet::UnsubAck(u) => unsubscribe::ack_body_len(u, version),
        Packet::PingReq | Packet::PingResp => Ok(0),
        Packet::Disconnect(d) => disconnect::body_len(d, version),
        Packet::Auth(a) => auth::body_len(a, version),
    }
}

/// The remaining length of `packet`, checked against its 268,435,455 bytes limit
/// (MQTT 5.0 section 2.1.4).
fn remaining_len(packet: &Packet, version: ProtocolVersion) -> Result<u32, EncodeError> {
    let len = body_len(packet, version)?;
    u32::try_from(len)
        .ok()
        .filter(|&len| len <= VAR_INT_MAX)
        .ok_or(EncodeError::PacketTooLarge)
}

/// The number of bytes [`encode`] appends for `packet` (fixed header included), or the
/// error it would return. Lets a session compare a packet with the peer's maximum packet
/// size before encoding it.
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let remaining = remaining_len(packet, version)?;
    Ok(1 + var_int_len(remaining) + remaining as usize)
}

/// Appends the encoding of `packet` for `version` to `out`. On error `out` is unchanged.
///
/// CONNECT is encoded for its own [`Connect::protocol`], not for `version`. For 3.1.1,
/// the fields 3.1.1 does not have (properties, acknowledgement and DISCONNECT reason codes,
/// UNSUBACK reason codes, the 5.0 subscription options) are left out.
///
/// Everything written decodes back: the same checks as [`decode`] are made first, and a
/// packet that would fail them is an [`EncodeError`] (a string over 65,535 bytes or with
/// U+0000, a packet identifier that does not fit the QoS, a reason code or property the
/// packet cannot carry, an empty filter list, retain handling 3, AUTH in 3.1.1, ...).
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    // Every check happens before the first byte is written, so `out` is untouched on error.
    let remaining = remaining_len(packet, version)?;
    let body = remaining as usize;
    out.reserve_exact(1 + var_int_len(remaining) + body);
    out.push(first_byte(packet));
    primitives::put_var_int(out, remaining);
    let body_start = out.len();
    match packet {
        Packet::Connect(c) => connect::write_body(c, out),
        Packet::ConnAck(c) => connack::write_body(c, version, out),
        Packet::Publish(p) => publish::write_body(p, version, out),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            ack::write_body(a, version, out)
        }
        Packet::Subscribe(s) => subscribe::write_body(s, version, out),
        Packet::SubAck(s) => subscribe::write_ack_body(s, version, out),
        Packet::Unsubscribe(u) => unsubscribe::write_body(u, version, out),
        Packet::UnsubAck(u) => unsubscribe::write_ack_body(u, version, out),
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => disconnect::write_body(d, version, out),
        Packet::Auth(a) => auth::write_body(a, out),
    }
    debug_assert_eq!(
        out.len() - body_start,
        body,
        "body_len and write_body disagree"
    );
    Ok(())
}

/// The first byte of the fixed header: packet type and flags (MQTT 5.0 section 2.1.2).
fn first_byte(packet: &Packet) -> u8 {
    let flags = match packet {
        Packet::Publish(p) => publish::flags(p),
        // PUBREL, SUBSCRIBE and UNSUBSCRIBE [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1].
        Packet::PubRel(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) => 0b0010,
        _ => 0,
    };
    (packet.packet_type() << 4) | flags
}
