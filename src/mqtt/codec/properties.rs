//! MQTT 5.0 properties: one struct for every property, validated per packet on decode.
//!
//! 3.1.1 has no properties: encoders skip them for that version. Decoding rejects unknown
//! ids, duplicates of single-valued properties and properties not allowed in the packet.
//! Encoding checks the same rules, so a property list that encodes decodes back to itself.

use super::primitives::{
    bin_len, put_bin, put_str, put_u16, put_u32, put_var_int, str_len, var_int_len, Reader,
    VAR_INT_MAX,
};
use super::{DecodeError, EncodeError};

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

/// Property identifiers of MQTT 5.0 section 2.2.2.2 (table 2-4).
pub(crate) mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

impl PropertyContext {
    /// This context's bit in the masks of [`allowed_in`].
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Which contexts may carry property `id` (MQTT 5.0 table 2-4 and the property lists of
/// each packet in chapter 3), as a mask of [`PropertyContext::bit`]; `None` when the spec
/// does not define `id`.
fn allowed_in(id: u8) -> Option<u16> {
    use PropertyContext as C;
    let mask = |ctxs: &[PropertyContext]| ctxs.iter().fold(0u16, |m, c| m | c.bit());
    Some(match id {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::MESSAGE_EXPIRY_INTERVAL
        | id::CONTENT_TYPE
        | id::RESPONSE_TOPIC
        | id::CORRELATION_DATA => mask(&[C::Publish, C::Will]),
        id::SUBSCRIPTION_IDENTIFIER => mask(&[C::Publish, C::Subscribe]),
        id::SESSION_EXPIRY_INTERVAL => mask(&[C::Connect, C::ConnAck, C::Disconnect]),
        id::ASSIGNED_CLIENT_IDENTIFIER
        | id::SERVER_KEEP_ALIVE
        | id::RESPONSE_INFORMATION
        | id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUBSCRIPTION_AVAILABLE
        | id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | id::SHARED_SUBSCRIPTION_AVAILABLE => mask(&[C::ConnAck]),
        id::AUTHENTICATION_METHOD | id::AUTHENTICATION_DATA => {
            mask(&[C::Connect, C::ConnAck, C::Auth])
        }
        id::REQUEST_PROBLEM_INFORMATION | id::REQUEST_RESPONSE_INFORMATION => mask(&[C::Connect]),
        id::WILL_DELAY_INTERVAL => mask(&[C::Will]),
        id::SERVER_REFERENCE => mask(&[C::ConnAck, C::Disconnect]),
        id::REASON_STRING => mask(&[
            C::ConnAck,
            C::Ack,
            C::SubAck,
            C::UnsubAck,
            C::Disconnect,
            C::Auth,
        ]),
        id::RECEIVE_MAXIMUM | id::TOPIC_ALIAS_MAXIMUM | id::MAXIMUM_PACKET_SIZE => {
            mask(&[C::Connect, C::ConnAck])
        }
        id::TOPIC_ALIAS => mask(&[C::Publish]),
        // User properties may appear in every property list.
        id::USER_PROPERTY => u16::MAX,
        _ => return None,
    })
}

/// True when property `id` may appear in `ctx`.
fn is_allowed(id: u8, ctx: PropertyContext) -> bool {
    allowed_in(id).is_some_and(|mask| mask & ctx.bit() != 0)
}

/// Stores a single-valued property, refusing a second occurrence.
fn set_once<T>(slot: &mut Option<T>, id: u8, value: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(id));
    }
    *slot = Some(value);
    Ok(())
}

/// A byte property whose only values are 0 and 1.
fn read_flag(r: &mut Reader<'_>, id: u8) -> Result<u8, DecodeError> {
    match r.u8()? {
        v @ (0 | 1) => Ok(v),
        _ => Err(DecodeError::InvalidPropertyValue(id)),
    }
}

/// A two-byte property for which 0 is a protocol error.
fn read_nonzero_u16(r: &mut Reader<'_>, id: u8) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::InvalidPropertyValue(id)),
        v => Ok(v),
    }
}

impl Properties {
    /// Reads a property list (its variable byte integer length, then the properties)
    /// and checks each property against `ctx`.
    ///
    /// Errors: [`DecodeError::UnknownProperty`] for an id the spec does not define,
    /// [`DecodeError::PropertyNotAllowed`] for one `ctx` does not allow,
    /// [`DecodeError::DuplicateProperty`] for a second occurrence of a single-valued one
    /// (user properties may repeat anywhere and subscription identifiers in PUBLISH),
    /// [`DecodeError::InvalidPropertyValue`] for an out-of-range value, and the errors of
    /// the primitives (a property running past the declared length is `Truncated`).
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        ctx: PropertyContext,
    ) -> Result<Properties, DecodeError> {
        let len = r.var_int()?;
        // `take` checks the length against the packet before anything is read or allocated.
        let mut r = Reader::new(r.take(len as usize)?);
        let mut p = Properties::default();
        while !r.is_empty() {
            // Property identifiers are variable byte integers, but every defined one is
            // below 0x80 (MQTT 5.0 section 2.2.2.2): a first byte >= 0x80 is unknown.
            let pid = r.u8()?;
            if allowed_in(pid).is_none() {
                return Err(DecodeError::UnknownProperty(pid));
            }
            if !is_allowed(pid, ctx) {
                return Err(DecodeError::PropertyNotAllowed(pid));
            }
            match pid {
                id::PAYLOAD_FORMAT_INDICATOR => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.payload_format_indicator, pid, v)?;
                }
                id::MESSAGE_EXPIRY_INTERVAL => {
                    let v = r.u32()?;
                    set_once(&mut p.message_expiry_interval, pid, v)?;
                }
                id::CONTENT_TYPE => {
                    let v = r.string()?;
                    set_once(&mut p.content_type, pid, v)?;
                }
                id::RESPONSE_TOPIC => {
                    let v = r.string()?;
                    set_once(&mut p.response_topic, pid, v)?;
                }
                id::CORRELATION_DATA => {
                    let v = r.binary()?.to_vec();
                    set_once(&mut p.correlation_data, pid, v)?;
                }
                id::SUBSCRIPTION_IDENTIFIER => {
                    // Several in a PUBLISH (one per matching subscription) [MQTT-3.3.4-3],
                    // at most one in SUBSCRIBE (MQTT 5.0 section 3.8.2.1.2).
                    if ctx != PropertyContext::Publish && !p.subscription_identifiers.is_empty() {
                        return Err(DecodeError::DuplicateProperty(pid));
                    }
                    // 1..=268,435,455; the variable byte integer bounds the top, 0 is a
                    // protocol error (MQTT 5.0 section 3.3.2.3.8).
                    match r.var_int()? {
                        0 => return Err(DecodeError::InvalidPropertyValue(pid)),
                        v => p.subscription_identifiers.push(v),
                    }
                }
                id::SESSION_EXPIRY_INTERVAL => {
                    let v = r.u32()?;
                    set_once(&mut p.session_expiry_interval, pid, v)?;
                }
                id::ASSIGNED_CLIENT_IDENTIFIER => {
                    let v = r.string()?;
                    set_once(&mut p.assigned_client_identifier, pid, v)?;
                }
                id::SERVER_KEEP_ALIVE => {
                    let v = r.u16()?;
                    set_once(&mut p.server_keep_alive, pid, v)?;
                }
                id::AUTHENTICATION_METHOD => {
                    let v = r.string()?;
                    set_once(&mut p.authentication_method, pid, v)?;
                }
                id::AUTHENTICATION_DATA => {
                    let v = r.binary()?.to_vec();
                    set_once(&mut p.authentication_data, pid, v)?;
                }
                id::REQUEST_PROBLEM_INFORMATION => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.request_problem_information, pid, v)?;
                }
                id::WILL_DELAY_INTERVAL => {
                    let v = r.u32()?;
                    set_once(&mut p.will_delay_interval, pid, v)?;
                }
                id::REQUEST_RESPONSE_INFORMATION => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.request_response_information, pid, v)?;
                }
                id::RESPONSE_INFORMATION => {
                    let v = r.string()?;
                    set_once(&mut p.response_information, pid, v)?;
                }
                id::SERVER_REFERENCE => {
                    let v = r.string()?;
                    set_once(&mut p.server_reference, pid, v)?;
                }
                id::REASON_STRING => {
                    let v = r.string()?;
                    set_once(&mut p.reason_string, pid, v)?;
                }
                id::RECEIVE_MAXIMUM => {
                    // 0 is a protocol error (MQTT 5.0 sections 3.1.2.11.3, 3.2.2.3.3).
                    let v = read_nonzero_u16(&mut r, pid)?;
                    set_once(&mut p.receive_maximum, pid, v)?;
                }
                id::TOPIC_ALIAS_MAXIMUM => {
                    let v = r.u16()?;
                    set_once(&mut p.topic_alias_maximum, pid, v)?;
                }
                id::TOPIC_ALIAS => {
                    // A topic alias of 0 is a protocol error [MQTT-3.3.2-8].
                    let v = read_nonzero_u16(&mut r, pid)?;
                    set_once(&mut p.topic_alias, pid, v)?;
                }
                id::MAXIMUM_QOS => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.maximum_qos, pid, v)?;
                }
                id::RETAIN_AVAILABLE => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.retain_available, pid, v)?;
                }
                id::USER_PROPERTY => {
                    // A UTF-8 string pair that may appear several times, in order (MQTT 5.0
                    // section 3.1.2.11.8 and the same text for every packet).
                    let key = r.string()?;
                    let value = r.string()?;
                    p.user_properties.push((key, value));
                }
                id::MAXIMUM_PACKET_SIZE => {
                    // 0 is a protocol error (MQTT 5.0 sections 3.1.2.11.4, 3.2.2.3.6).
                    let v = r.u32()?;
                    if v == 0 {
                        return Err(DecodeError::InvalidPropertyValue(pid));
                    }
                    set_once(&mut p.maximum_packet_size, pid, v)?;
                }
                id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.wildcard_subscription_available, pid, v)?;
                }
                id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.subscription_identifier_available, pid, v)?;
                }
                id::SHARED_SUBSCRIPTION_AVAILABLE => {
                    let v = read_flag(&mut r, pid)?;
                    set_once(&mut p.shared_subscription_available, pid, v)?;
                }
                // `allowed_in` returned `Some` above, and it only does for the ids matched
                // here; a new id added there without a branch here is reported as unknown.
                _ => return Err(DecodeError::UnknownProperty(pid)),
            }
        }
        Ok(p)
    }

    /// The encoded size of the property list for `ctx`, its length prefix included, after
    /// checking that every property is allowed in `ctx` and in range (so that what is
    /// encoded decodes back to the same value).
    ///
    /// Errors: [`EncodeError::FieldTooLong`] for a string or binary over 65,535 bytes,
    /// [`EncodeError::PacketTooLarge`] for a list over 268,435,455 bytes, and
    /// [`EncodeError::InvalidValue`] for a property not allowed in `ctx`, out of range, or
    /// a string holding U+0000.
    pub fn encoded_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        // The common case on the hot path: a lone zero length byte.
        if self.is_empty() {
            return Ok(1);
        }
        let len = self.validated_content_len(ctx)?;
        let len32 = u32::try_from(len).map_err(|_| EncodeError::PacketTooLarge)?;
        if len32 > VAR_INT_MAX {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(var_int_len(len32) + len)
    }

    /// The size of the properties without their length prefix, validated for `ctx`.
    fn validated_content_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        const NOT_ALLOWED: EncodeError =
            EncodeError::InvalidValue("property not allowed in this packet");
        const OUT_OF_RANGE: EncodeError = EncodeError::InvalidValue("property value out of range");
        let mut len = 0usize;
        // Adds one single-valued property of `size` bytes after its id.
        let mut add = |present: bool, pid: u8, size: Result<usize, EncodeError>| {
            if !present {
                return Ok(());
            }
            if !is_allowed(pid, ctx) {
                return Err(NOT_ALLOWED);
            }
            len = len.saturating_add(1 + size?);
            Ok(())
        };
        let flag = |v: Option<u8>| match v {
            Some(2..) => Err(OUT_OF_RANGE),
            _ => Ok(1),
        };
        let nonzero = |zero: bool, size: usize| if zero { Err(OUT_OF_RANGE) } else { Ok(size) };
        let opt_str = |v: &Option<String>| v.as_deref().map_or(Ok(0), str_len);
        let opt_bin = |v: &Option<Vec<u8>>| v.as_deref().map_or(Ok(0), bin_len);

        add(
            self.payload_format_indicator.is_some(),
            id::PAYLOAD_FORMAT_INDICATOR,
            flag(self.payload_format_indicator),
        )?;
        add(
            self.message_expiry_interval.is_some(),
            id::MESSAGE_EXPIRY_INTERVAL,
            Ok(4),
        )?;
        add(
            self.content_type.is_some(),
            id::CONTENT_TYPE,
            opt_str(&self.content_type),
        )?;
        add(
            self.response_topic.is_some(),
            id::RESPONSE_TOPIC,
            opt_str(&self.response_topic),
        )?;
        add(
            self.correlation_data.is_some(),
            id::CORRELATION_DATA,
            opt_bin(&self.correlation_data),
        )?;
        if !self.subscription_identifiers.is_empty() {
            // One subscription identifier at most in SUBSCRIBE (MQTT 5.0 section 3.8.2.1.2).
            if ctx != PropertyContext::Publish && self.subscription_identifiers.len() > 1 {
                return Err(EncodeError::InvalidValue(
                    "several subscription identifiers",
                ));
            }
            for &sid in &self.subscription_identifiers {
                let size = if sid == 0 || sid > VAR_INT_MAX {
                    Err(OUT_OF_RANGE)
                } else {
                    Ok(var_int_len(sid))
                };
                add(true, id::SUBSCRIPTION_IDENTIFIER, size)?;
            }
        }
        add(
            self.session_expiry_interval.is_some(),
            id::SESSION_EXPIRY_INTERVAL,
            Ok(4),
        )?;
        add(
            self.assigned_client_identifier.is_some(),
            id::ASSIGNED_CLIENT_IDENTIFIER,
            opt_str(&self.assigned_client_identifier),
        )?;
        add(
            self.server_keep_alive.is_some(),
            id::SERVER_KEEP_ALIVE,
            Ok(2),
        )?;
        add(
            self.authentication_method.is_some(),
            id::AUTHENTICATION_METHOD,
            opt_str(&self.authentication_method),
        )?;
        add(
            self.authentication_data.is_some(),
            id::AUTHENTICATION_DATA,
            opt_bin(&self.authentication_data),
        )?;
        add(
            self.request_problem_information.is_some(),
            id::REQUEST_PROBLEM_INFORMATION,
            flag(self.request_problem_information),
        )?;
        add(
            self.will_delay_interval.is_some(),
            id::WILL_DELAY_INTERVAL,
            Ok(4),
        )?;
        add(
            self.request_response_information.is_some(),
            id::REQUEST_RESPONSE_INFORMATION,
            flag(self.request_response_information),
        )?;
        add(
            self.response_information.is_some(),
            id::RESPONSE_INFORMATION,
            opt_str(&self.response_information),
        )?;
        add(
            self.server_reference.is_some(),
            id::SERVER_REFERENCE,
            opt_str(&self.server_reference),
        )?;
        add(
            self.reason_string.is_some(),
            id::REASON_STRING,
            opt_str(&self.reason_string),
        )?;
        add(
            self.receive_maximum.is_some(),
            id::RECEIVE_MAXIMUM,
            nonzero(self.receive_maximum == Some(0), 2),
        )?;
        add(
            self.topic_alias_maximum.is_some(),
            id::TOPIC_ALIAS_MAXIMUM,
            Ok(2),
        )?;
        add(
            self.topic_alias.is_some(),
            id::TOPIC_ALIAS,
            nonzero(self.topic_alias == Some(0), 2),
        )?;
        add(
            self.maximum_qos.is_some(),
            id::MAXIMUM_QOS,
            flag(self.maximum_qos),
        )?;
        add(
            self.retain_available.is_some(),
            id::RETAIN_AVAILABLE,
            flag(self.retain_available),
        )?;
        for (key, value) in &self.user_properties {
            let size = str_len(key).and_then(|k| Ok(k + str_len(value)?));
            add(true, id::USER_PROPERTY, size)?;
        }
        add(
            self.maximum_packet_size.is_some(),
            id::MAXIMUM_PACKET_SIZE,
            nonzero(self.maximum_packet_size == Some(0), 4),
        )?;
        add(
            self.wildcard_subscription_available.is_some(),
            id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            flag(self.wildcard_subscription_available),
        )?;
        add(
            self.subscription_identifier_available.is_some(),
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            flag(self.subscription_identifier_available),
        )?;
        add(
            self.shared_subscription_available.is_some(),
            id::SHARED_SUBSCRIPTION_AVAILABLE,
            flag(self.shared_subscription_available),
        )?;
        Ok(len)
    }

    /// The size of the properties without their length prefix, with no checks: only for
    /// a list that [`Properties::encoded_len`] accepted.
    fn content_len(&self) -> usize {
        let s = |v: &Option<String>| v.as_ref().map_or(0, |v| 3 + v.len());
        let b = |v: &Option<Vec<u8>>| v.as_ref().map_or(0, |v| 3 + v.len());
        let n = |present: bool, size: usize| if present { 1 + size } else { 0 };
        n(self.payload_format_indicator.is_some(), 1)
            + n(self.message_expiry_interval.is_some(), 4)
            + s(&self.content_type)
            + s(&self.response_topic)
            + b(&self.correlation_data)
            + self
                .subscription_identifiers
                .iter()
                .map(|&v| 1 + var_int_len(v))
                .sum::<usize>()
            + n(self.session_expiry_interval.is_some(), 4)
            + s(&self.assigned_client_identifier)
            + n(self.server_keep_alive.is_some(), 2)
            + s(&self.authentication_method)
            + b(&self.authentication_data)
            + n(self.request_problem_information.is_some(), 1)
            + n(self.will_delay_interval.is_some(), 4)
            + n(self.request_response_information.is_some(), 1)
            + s(&self.response_information)
            + s(&self.server_reference)
            + s(&self.reason_string)
            + n(self.receive_maximum.is_some(), 2)
            + n(self.topic_alias_maximum.is_some(), 2)
            + n(self.topic_alias.is_some(), 2)
            + n(self.maximum_qos.is_some(), 1)
            + n(self.retain_available.is_some(), 1)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| 5 + k.len() + v.len())
                .sum::<usize>()
            + n(self.maximum_packet_size.is_some(), 4)
            + n(self.wildcard_subscription_available.is_some(), 1)
            + n(self.subscription_identifier_available.is_some(), 1)
            + n(self.shared_subscription_available.is_some(), 1)
    }

    /// Writes the property list (length prefix, then the properties in identifier order)
    /// of a list that [`Properties::encoded_len`] accepted for the packet being written.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        if self.is_empty() {
            out.push(0);
            return;
        }
        // Validated by `encoded_len`: the content fits a variable byte integer.
        put_var_int(out, self.content_len() as u32);
        let byte = |out: &mut Vec<u8>, pid: u8, v: Option<u8>| {
            if let Some(v) = v {
                out.push(pid);
                out.push(v);
            }
        };
        let two = |out: &mut Vec<u8>, pid: u8, v: Option<u16>| {
            if let Some(v) = v {
                out.push(pid);
                put_u16(out, v);
            }
        };
        let four = |out: &mut Vec<u8>, pid: u8, v: Option<u32>| {
            if let Some(v) = v {
                out.push(pid);
                put_u32(out, v);
            }
        };
        let string = |out: &mut Vec<u8>, pid: u8, v: &Option<String>| {
            if let Some(v) = v {
                out.push(pid);
                put_str(out, v);
            }
        };
        let binary = |out: &mut Vec<u8>, pid: u8, v: &Option<Vec<u8>>| {
            if let Some(v) = v {
                out.push(pid);
                put_bin(out, v);
            }
        };
        byte(
            out,
            id::PAYLOAD_FORMAT_INDICATOR,
            self.payload_format_indicator,
        );
        four(
            out,
            id::MESSAGE_EXPIRY_INTERVAL,
            self.message_expiry_interval,
        );
        string(out, id::CONTENT_TYPE, &self.content_type);
        string(out, id::RESPONSE_TOPIC, &self.response_topic);
        binary(out, id::CORRELATION_DATA, &self.correlation_data);
        for &sid in &self.subscription_identifiers {
            out.push(id::SUBSCRIPTION_IDENTIFIER);
            put_var_int(out, sid);
        }
        four(
            out,
            id::SESSION_EXPIRY_INTERVAL,
            self.session_expiry_interval,
        );
        string(
            out,
            id::ASSIGNED_CLIENT_IDENTIFIER,
            &self.assigned_client_identifier,
        );
        two(out, id::SERVER_KEEP_ALIVE, self.server_keep_alive);
        string(out, id::AUTHENTICATION_METHOD, &self.authentication_method);
        binary(out, id::AUTHENTICATION_DATA, &self.authentication_data);
        byte(
            out,
            id::REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information,
        );
        four(out, id::WILL_DELAY_INTERVAL, self.will_delay_interval);
        byte(
            out,
            id::REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        string(out, id::RESPONSE_INFORMATION, &self.response_information);
        string(out, id::SERVER_REFERENCE, &self.server_reference);
        string(out, id::REASON_STRING, &self.reason_string);
        two(out, id::RECEIVE_MAXIMUM, self.receive_maximum);
        two(out, id::TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        two(out, id::TOPIC_ALIAS, self.topic_alias);
        byte(out, id::MAXIMUM_QOS, self.maximum_qos);
        byte(out, id::RETAIN_AVAILABLE, self.retain_available);
        for (key, value) in &self.user_properties {
            out.push(id::USER_PROPERTY);
            put_str(out, key);
            put_str(out, value);
        }
        four(out, id::MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        byte(
            out,
            id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        byte(
            out,
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifier_available,
        );
        byte(
            out,
            id::SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
    }
}
