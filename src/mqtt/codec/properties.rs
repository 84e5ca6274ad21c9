//! MQTT 5.0 properties, described once: one line of the table below per property (its
//! identifier, field, wire type, range, repetition and the packets that may carry it), from
//! which the `Properties` struct, decoding, validation, sizing and writing all follow.
//!
//! 3.1.1 has no properties: encoders skip them for that version. Decoding rejects unknown
//! identifiers, properties not allowed in the packet, values out of range and repeats of
//! single-valued properties; encoding checks the same rules, so a property list that
//! encodes decodes back to itself. Nothing here may panic on bytes from the network.

mod spec;
mod value;

use super::primitives::{put_var_int, var_int_len, Reader, VAR_INT_MAX};
use super::{DecodeError, EncodeError};
use spec::on::*;
pub(crate) use spec::Spec;
use spec::{property_table, Range, Repeat};
use value::{Slot, Value};

// MQTT 5.0 section 2.2.2.2 (table 2-4), the property lists of each packet in chapter 3 and
// the range each property's section gives. A line reads: identifier, field and its type,
// range (`Range`), repetition (`Repeat`), the property lists that may carry it (`on`). The
// field type gives the wire type: `Option<u8>` a Byte, `Option<u16>` a Two Byte Integer,
// `Option<u32>` a Four Byte Integer, `Vec<u32>` Variable Byte Integers, `Option<String>` a
// UTF-8 string, `Option<Vec<u8>>` Binary Data, `Vec<(String, String)>` string pairs. Lines
// are in identifier order, which is the order properties are written on the wire.
property_table! {
    /// 0 bytes, 1 UTF-8 (MQTT 5.0 section 3.3.2.3.2).
    0x01 payload_format_indicator: Option<u8>, Flag, Once, PUBLISH | WILL;
    /// Seconds.
    0x02 message_expiry_interval: Option<u32>, Any, Once, PUBLISH | WILL;
    0x03 content_type: Option<String>, Any, Once, PUBLISH | WILL;
    0x08 response_topic: Option<String>, Any, Once, PUBLISH | WILL;
    0x09 correlation_data: Option<Vec<u8>>, Any, Once, PUBLISH | WILL;
    /// 1..=268,435,455 (MQTT 5.0 section 3.3.2.3.8); one per matching subscription in a
    /// PUBLISH [MQTT-3.3.4-3], at most one in SUBSCRIBE (MQTT 5.0 section 3.8.2.1.2).
    0x0B subscription_identifiers: Vec<u32>, NonZero, ManyInPublish, PUBLISH | SUBSCRIBE;
    /// Seconds.
    0x11 session_expiry_interval: Option<u32>, Any, Once, CONNECT | CONNACK | DISCONNECT;
    0x12 assigned_client_identifier: Option<String>, Any, Once, CONNACK;
    /// Seconds.
    0x13 server_keep_alive: Option<u16>, Any, Once, CONNACK;
    0x15 authentication_method: Option<String>, Any, Once, CONNECT | CONNACK | AUTH;
    0x16 authentication_data: Option<Vec<u8>>, Any, Once, CONNECT | CONNACK | AUTH;
    0x17 request_problem_information: Option<u8>, Flag, Once, CONNECT;
    /// Seconds.
    0x18 will_delay_interval: Option<u32>, Any, Once, WILL;
    0x19 request_response_information: Option<u8>, Flag, Once, CONNECT;
    0x1A response_information: Option<String>, Any, Once, CONNACK;
    0x1C server_reference: Option<String>, Any, Once, CONNACK | DISCONNECT;
    0x1F reason_string: Option<String>, Any, Once,
        CONNACK | ACK | SUBACK | UNSUBACK | DISCONNECT | AUTH;
    /// 0 is a protocol error (MQTT 5.0 sections 3.1.2.11.3, 3.2.2.3.3).
    0x21 receive_maximum: Option<u16>, NonZero, Once, CONNECT | CONNACK;
    0x22 topic_alias_maximum: Option<u16>, Any, Once, CONNECT | CONNACK;
    /// 0 is a protocol error [MQTT-3.3.2-8].
    0x23 topic_alias: Option<u16>, NonZero, Once, PUBLISH;
    0x24 maximum_qos: Option<u8>, Flag, Once, CONNACK;
    0x25 retain_available: Option<u8>, Flag, Once, CONNACK;
    /// Key and value, in order (MQTT 5.0 section 3.1.2.11.8 and the same text for every
    /// packet).
    0x26 user_properties: Vec<(String, String)>, Any, Many, ALL;
    /// 0 is a protocol error (MQTT 5.0 sections 3.1.2.11.4, 3.2.2.3.6).
    0x27 maximum_packet_size: Option<u32>, NonZero, Once, CONNECT | CONNACK;
    0x28 wildcard_subscription_available: Option<u8>, Flag, Once, CONNACK;
    0x29 subscription_identifier_available: Option<u8>, Flag, Once, CONNACK;
    0x2A shared_subscription_available: Option<u8>, Flag, Once, CONNACK;
}

// Lines in strictly increasing identifier order (the wire order, one line per identifier),
// and identifiers below 64: decoding and validation mark seen properties in a `u64`.
const _: () = {
    let mut i = 0;
    while i < SPECS.len() {
        assert!(SPECS[i].id < 64, "property identifiers must stay below 64");
        assert!(
            i == 0 || SPECS[i - 1].id < SPECS[i].id,
            "lines out of order"
        );
        i += 1;
    }
};

/// The identifier of the topic alias (its line in the table above), for the short form of
/// a list holding only it.
const TOPIC_ALIAS: u8 = 0x23;

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

/// The table line of property `id`, `None` when the spec does not define `id`.
pub(crate) fn spec(id: u8) -> Option<Spec> {
    SPECS.iter().copied().find(|s| s.id == id)
}

impl Properties {
    /// Reads a property list (its variable byte integer length, then the properties)
    /// and checks each property against `ctx`.
    ///
    /// Errors: [`DecodeError::UnknownProperty`] for an id the spec does not define,
    /// [`DecodeError::PropertyNotAllowed`] for one `ctx` does not allow,
    /// [`DecodeError::InvalidPropertyValue`] for an out-of-range value,
    /// [`DecodeError::DuplicateProperty`] for a second occurrence of a single-valued one
    /// (user properties may repeat anywhere and subscription identifiers in PUBLISH), and
    /// the errors of the primitives (a property running past the declared length is
    /// `Truncated`).
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        ctx: PropertyContext,
    ) -> Result<Properties, DecodeError> {
        let len = r.var_int()?;
        // `take` checks the length against the packet before anything is read or allocated.
        let mut r = Reader::new(r.take(len as usize)?);
        let mut p = Properties::default();
        let mut seen = 0u64;
        while !r.is_empty() {
            // Property identifiers are variable byte integers, but every defined one is
            // below 0x80 (MQTT 5.0 section 2.2.2.2): a first byte >= 0x80 is unknown.
            let pid = r.u8()?;
            let spec = spec(pid).ok_or(DecodeError::UnknownProperty(pid))?;
            if !spec.allowed_in(ctx) {
                return Err(DecodeError::PropertyNotAllowed(pid));
            }
            let value = Value::read(spec.kind, &mut r)?;
            if !spec.in_range(value) {
                return Err(DecodeError::InvalidPropertyValue(pid));
            }
            // `pid` has a table line, so it is below 64 (checked at compile time above).
            let bit = 1u64 << pid;
            if seen & bit != 0 && !spec.repeats_in(ctx) {
                return Err(DecodeError::DuplicateProperty(pid));
            }
            seen |= bit;
            p.store(pid, value);
        }
        Ok(p)
    }

    /// The encoded size of the property list for `ctx`, its length prefix included, after
    /// checking that every property is allowed in `ctx`, appears no more often than it
    /// may and is in range (so that what is encoded decodes back to the same value).
    ///
    /// Errors: [`EncodeError::FieldTooLong`] for a string or binary over 65,535 bytes,
    /// [`EncodeError::PacketTooLarge`] for a list over 268,435,455 bytes, and
    /// [`EncodeError::InvalidValue`] for a property not allowed in `ctx`, repeated, out of
    /// range, or a string holding U+0000.
    pub fn encoded_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        // The common cases on the hot path: a lone zero length byte, or a lone (valid)
        // topic alias: length byte, identifier, two-byte value.
        if self.is_empty() {
            return Ok(1);
        }
        if ctx == PropertyContext::Publish && self.lone_topic_alias().is_some_and(|a| a != 0) {
            return Ok(4);
        }
        let len = self.validated_content_len(ctx)?;
        let len32 = u32::try_from(len).map_err(|_| EncodeError::PacketTooLarge)?;
        if len32 > VAR_INT_MAX {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(var_int_len(len32) + len)
    }

    /// The size of the properties without their length prefix, validated for `ctx`; the
    /// first property that breaks a rule (in wire order) gives the error.
    fn validated_content_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        let mut seen = 0u64;
        let mut result = Ok(0usize);
        self.visit(&mut |pid, value| {
            if let Ok(len) = result {
                result = check(pid, value, ctx, &mut seen).map(|size| len.saturating_add(1 + size));
            }
        });
        result
    }

    /// The topic alias when it is the only property, as on most publishes once the broker
    /// allows aliases: encoded without visiting the other 26 fields (four visits of the
    /// whole list per publish were 5% of a burst of QoS 0 publishes).
    fn lone_topic_alias(&self) -> Option<u16> {
        self.topic_alias.filter(|_| self.set_count() == 1)
    }

    /// The size of the properties without their length prefix, with no checks: only for
    /// a list that [`Properties::encoded_len`] accepted.
    fn content_len(&self) -> usize {
        let mut len = 0;
        self.visit(&mut |_, value| len += 1 + value.len());
        len
    }

    /// Writes the property list (length prefix, then the properties in identifier order)
    /// of a list that [`Properties::encoded_len`] accepted for the packet being written.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        if self.is_empty() {
            out.push(0);
            return;
        }
        if let Some(alias) = self.lone_topic_alias() {
            let [hi, lo] = alias.to_be_bytes();
            out.extend_from_slice(&[3, TOPIC_ALIAS, hi, lo]);
            return;
        }
        // Validated by `encoded_len`: the content fits a variable byte integer.
        put_var_int(out, self.content_len() as u32);
        self.visit(&mut |pid, value| {
            out.push(pid);
            value.write(out);
        });
    }
}

/// Checks one property about to be encoded in `ctx` (`seen` marks the identifiers already
/// met in this list) and returns the size of its value.
fn check(
    pid: u8,
    value: Value<'_>,
    ctx: PropertyContext,
    seen: &mut u64,
) -> Result<usize, EncodeError> {
    // `visit` only hands out identifiers of the table, so `None` cannot happen; it would
    // be refused like a property of another packet.
    let Some(spec) = spec(pid).filter(|s| s.allowed_in(ctx)) else {
        return Err(EncodeError::InvalidValue(
            "property not allowed in this packet",
        ));
    };
    // Below 64: checked at compile time for every table line.
    let bit = 1u64 << pid;
    if *seen & bit != 0 && !spec.repeats_in(ctx) {
        return Err(EncodeError::InvalidValue(
            "property repeated where it may appear once",
        ));
    }
    *seen |= bit;
    if !spec.in_range(value) {
        return Err(EncodeError::InvalidValue("property value out of range"));
    }
    value.checked_len()
}

#[cfg(test)]
mod tests {
    use super::value::Kind;
    use super::*;

    /// `is_empty` tests each field on its own: every line of the table, set alone, makes
    /// the list non-empty.
    #[test]
    fn a_list_holding_any_one_property_is_not_empty() {
        assert!(Properties::default().is_empty());
        for spec in SPECS {
            let value = match spec.kind {
                Kind::Byte => Value::Byte(1),
                Kind::Two => Value::Two(1),
                Kind::Four => Value::Four(1),
                Kind::Var => Value::Var(1),
                Kind::Str => Value::Str("x"),
                Kind::Bin => Value::Bin(b"x"),
                Kind::Pair => Value::Pair("k", "v"),
            };
            let mut p = Properties::default();
            p.store(spec.id, value);
            assert_ne!(p, Properties::default(), "property {:#04x} stored", spec.id);
            assert!(!p.is_empty(), "property {:#04x}", spec.id);
        }
    }

    /// The list `write` and `encoded_len` make by visiting every field, for comparison.
    fn visited(p: &Properties, ctx: PropertyContext) -> Result<Vec<u8>, EncodeError> {
        let len = p.validated_content_len(ctx)?;
        let mut out = Vec::new();
        put_var_int(&mut out, len as u32);
        p.visit(&mut |pid, value| {
            out.push(pid);
            value.write(&mut out);
        });
        Ok(out)
    }

    /// A list holding only a topic alias (most publishes) takes a short way; it must give
    /// what visiting every field gives, and leave every check to the long way.
    #[test]
    fn a_lone_topic_alias_is_encoded_as_the_full_list_would_be() {
        let alias = |a| Properties {
            topic_alias: Some(a),
            ..Properties::default()
        };
        for a in [1, 0x1234, u16::MAX] {
            let p = alias(a);
            let mut out = Vec::new();
            p.write(&mut out);
            assert_eq!(Ok(out.clone()), visited(&p, PropertyContext::Publish));
            assert_eq!(p.encoded_len(PropertyContext::Publish), Ok(out.len()));
            let mut r = Reader::new(&out);
            assert_eq!(Properties::decode(&mut r, PropertyContext::Publish), Ok(p));
        }
        let invalid = |r| matches!(r, Err(EncodeError::InvalidValue(_)));
        assert!(invalid(alias(0).encoded_len(PropertyContext::Publish)));
        assert!(invalid(alias(5).encoded_len(PropertyContext::Will)));
        let two = Properties {
            content_type: Some("text/plain".into()),
            ..alias(5)
        };
        let mut out = Vec::new();
        two.write(&mut out);
        assert_eq!(Ok(out.clone()), visited(&two, PropertyContext::Publish));
        assert_eq!(two.encoded_len(PropertyContext::Publish), Ok(out.len()));
    }
}
