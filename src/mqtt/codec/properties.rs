//! MQTT 5.0 properties: one struct for every property, validated per packet on decode.
//!
//! 3.1.1 has no properties: encoders skip them for that version. Decoding rejects unknown
//! ids, duplicates of single-valued properties and properties not allowed in the packet.

/// All MQTT 5.0 properties. `None` / empty means absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// 0x01, PUBLISH and Will: 0 bytes, 1 UTF-8 (encoded as a byte 0 or 1).
    pub payload_format_indicator: Option<u8>,
    /// 0x02, PUBLISH and Will: seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03, PUBLISH and Will.
    pub content_type: Option<String>,
    /// 0x08, PUBLISH and Will.
    pub response_topic: Option<String>,
    /// 0x09, PUBLISH and Will.
    pub correlation_data: Option<Vec<u8>>,
    /// 0x0B, PUBLISH (several allowed, broker to client) and SUBSCRIBE (one): 1..=268435455.
    pub subscription_identifiers: Vec<u32>,
    /// 0x11, CONNECT, CONNACK, DISCONNECT: seconds.
    pub session_expiry_interval: Option<u32>,
    /// 0x12, CONNACK.
    pub assigned_client_identifier: Option<String>,
    /// 0x13, CONNACK: seconds.
    pub server_keep_alive: Option<u16>,
    /// 0x15, CONNECT, CONNACK, AUTH.
    pub authentication_method: Option<String>,
    /// 0x16, CONNECT, CONNACK, AUTH.
    pub authentication_data: Option<Vec<u8>>,
    /// 0x17, CONNECT: 0 or 1.
    pub request_problem_information: Option<u8>,
    /// 0x18, Will: seconds.
    pub will_delay_interval: Option<u32>,
    /// 0x19, CONNECT: 0 or 1.
    pub request_response_information: Option<u8>,
    /// 0x1A, CONNACK.
    pub response_information: Option<String>,
    /// 0x1C, CONNACK, DISCONNECT.
    pub server_reference: Option<String>,
    /// 0x1F, CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH.
    pub reason_string: Option<String>,
    /// 0x21, CONNECT, CONNACK: 1..=65535.
    pub receive_maximum: Option<u16>,
    /// 0x22, CONNECT, CONNACK.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23, PUBLISH: 1..=65535.
    pub topic_alias: Option<u16>,
    /// 0x24, CONNACK: 0 or 1.
    pub maximum_qos: Option<u8>,
    /// 0x25, CONNACK: 0 or 1.
    pub retain_available: Option<u8>,
    /// 0x26, every packet with properties; may repeat, order kept.
    pub user_properties: Vec<(String, String)>,
    /// 0x27, CONNECT, CONNACK: 1..=4294967295 (0 is a protocol error).
    pub maximum_packet_size: Option<u32>,
    /// 0x28, CONNACK: 0 or 1.
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29, CONNACK: 0 or 1.
    pub subscription_identifier_available: Option<u8>,
    /// 0x2A, CONNACK: 0 or 1.
    pub shared_subscription_available: Option<u8>,
}

/// Where a property list stands; decides which properties are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyContext {
    Connect,
    Will,
    ConnAck,
    Publish,
    /// PUBACK, PUBREC, PUBREL, PUBCOMP.
    Ack,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl Properties {
    /// True when no property is set (so a v5 encoder may use a short form).
    pub fn is_empty(&self) -> bool {
        *self == Properties::default()
    }
}
