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

pub use primitives::{read_var_int, var_int_len, write_var_int};
pub use properties::{PropertyContext, Properties};
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

/// Why bytes could not be decoded as a packet. Every variant maps to an MQTT 5 reason code
/// (see [`DecodeError::reason_code`]) so the session can tell the broker why it disconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Packet type 0, or AUTH in 3.1.1.
    InvalidPacketType(u8),
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
            DecodeError::InvalidPacketType(_)
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
            DecodeError::InvalidFlags { packet_type, flags } => {
                write!(f, "invalid flags {flags:#06b} for packet type {packet_type}")
            }
            DecodeError::InvalidQoS => write!(f, "invalid qos 3"),
            DecodeError::MalformedVarInt => write!(f, "variable byte integer longer than 4 bytes"),
            DecodeError::PacketTooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds maximum packet size {max}")
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
                write!(f, "reason code {code:#04x} is invalid for packet type {packet_type}")
            }
            DecodeError::UnknownProperty(id) => write!(f, "unknown property {id:#04x}"),
            DecodeError::DuplicateProperty(id) => write!(f, "duplicate property {id:#04x}"),
            DecodeError::PropertyNotAllowed(id) => write!(f, "property {id:#04x} not allowed here"),
            DecodeError::InvalidPropertyValue(id) => write!(f, "invalid value for property {id:#04x}"),
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
            EncodeError::FieldTooLong => write!(f, "string or binary field longer than 65535 bytes"),
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
pub fn decode(
    buf: &[u8],
    version: ProtocolVersion,
    max_size: u32,
) -> Result<Option<(Packet, usize)>, DecodeError> {
    todo_decode(buf, version, max_size)
}

/// Appends the encoding of `packet` for `version` to `out`. On error `out` is unchanged.
pub fn encode(packet: &Packet, version: ProtocolVersion, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    todo_encode(packet, version, out)
}
