//! SUBSCRIBE and SUBACK (MQTT 3.1.1 sections 3.8-3.9, MQTT 5.0 sections 3.8-3.9).
//!
//! Each SUBSCRIBE entry is a topic filter and an options byte: in 3.1.1 only the QoS
//! bits exist; in 5.0 it also holds No Local, Retain As Published and Retain Handling.
//! SUBACK carries one return or reason code per entry.

use super::primitives::{put_str, put_u16, str_len, Reader};
use super::properties::{Properties, PropertyContext};
use super::reason::{self, valid};
use super::{DecodeError, EncodeError, ProtocolVersion, QoS, SubAck, Subscribe, SubscribeFilter};

/// Subscription option bits (MQTT 5.0 section 3.8.3.1).
const QOS_MASK: u8 = 0x03;
const NO_LOCAL: u8 = 0x04;
const RETAIN_AS_PUBLISHED: u8 = 0x08;
const RETAIN_HANDLING_SHIFT: u8 = 4;
/// Bits 7-6 in 5.0 [MQTT-3.8.3-5]; bits 7-2 in 3.1.1 [MQTT-3.8.3-4].
const RESERVED_V5: u8 = 0xC0;
const RESERVED_V311: u8 = 0xFC;

/// The SUBACK packet type.
const SUBACK_TYPE: u8 = 9;

/// Decodes the body of a SUBSCRIBE.
pub(super) fn decode(body: &[u8], version: ProtocolVersion) -> Result<Subscribe, DecodeError> {
    let mut r = Reader::new(body);
    let packet_id = r.packet_id()?;
    let properties = match version {
        ProtocolVersion::V311 => Properties::default(),
        ProtocolVersion::V5 => Properties::decode(&mut r, PropertyContext::Subscribe)?,
    };
    let mut filters = Vec::new();
    while !r.is_empty() {
        // A UTF-8 topic filter [MQTT-3.8.3-1]; its syntax is checked by the topic layer.
        let filter = r.string()?;
        let options = r.u8()?;
        let reserved = match version {
            ProtocolVersion::V311 => RESERVED_V311,
            ProtocolVersion::V5 => RESERVED_V5,
        };
        if options & reserved != 0 {
            return Err(DecodeError::InvalidSubscribeOptions);
        }
        // QoS 3: 3.1.1 [MQTT-3.8.3-4], 5.0 section 3.8.3.1.
        let qos = QoS::from_u8(options & QOS_MASK).ok_or(DecodeError::InvalidQoS)?;
        let retain_handling = options >> RETAIN_HANDLING_SHIFT;
        // Retain Handling 3 is a protocol error (MQTT 5.0 section 3.8.3.1).
        if retain_handling == 3 {
            return Err(DecodeError::InvalidSubscribeOptions);
        }
        filters.push(SubscribeFilter {
            filter,
            qos,
            no_local: options & NO_LOCAL != 0,
            retain_as_published: options & RETAIN_AS_PUBLISHED != 0,
            retain_handling,
        });
    }
    // At least one filter: 3.1.1 [MQTT-3.8.3-3], 5.0 [MQTT-3.8.3-2].
    if filters.is_empty() {
        return Err(DecodeError::EmptySubscription);
    }
    Ok(Subscribe {
        packet_id,
        filters,
        properties,
    })
}

/// The encoded size of the body of `s`, after checking it can be encoded.
pub(super) fn body_len(s: &Subscribe, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if s.packet_id == 0 {
        return Err(EncodeError::InvalidPacketId);
    }
    if s.filters.is_empty() {
        return Err(EncodeError::InvalidValue(
            "subscribe without a topic filter",
        ));
    }
    let mut len: usize = 2;
    if version == ProtocolVersion::V5 {
        len += s.properties.encoded_len(PropertyContext::Subscribe)?;
    }
    for f in &s.filters {
        if f.retain_handling > 2 {
            return Err(EncodeError::InvalidValue("retain handling above 2"));
        }
        len = len.saturating_add(str_len(&f.filter)? + 1);
    }
    Ok(len)
}

/// The options byte of `f`: only the QoS in 3.1.1.
fn options(f: &SubscribeFilter, version: ProtocolVersion) -> u8 {
    let mut options = f.qos as u8;
    if version == ProtocolVersion::V5 {
        if f.no_local {
            options |= NO_LOCAL;
        }
        if f.retain_as_published {
            options |= RETAIN_AS_PUBLISHED;
        }
        options |= f.retain_handling << RETAIN_HANDLING_SHIFT;
    }
    options
}

/// Writes the body of `s`, which [`body_len`] accepted.
pub(super) fn write_body(s: &Subscribe, version: ProtocolVersion, out: &mut Vec<u8>) {
    put_u16(out, s.packet_id);
    if version == ProtocolVersion::V5 {
        s.properties.write(out);
    }
    for f in &s.filters {
        put_str(out, &f.filter);
        out.push(options(f, version));
    }
}

/// The return or reason codes SUBACK may carry in `version`.
fn suback_table(version: ProtocolVersion) -> &'static [u8] {
    match version {
        ProtocolVersion::V311 => valid::SUBACK_V311,
        ProtocolVersion::V5 => valid::SUBACK,
    }
}

/// Decodes the body of a SUBACK.
pub(super) fn decode_ack(body: &[u8], version: ProtocolVersion) -> Result<SubAck, DecodeError> {
    let mut r = Reader::new(body);
    let packet_id = r.packet_id()?;
    let properties = match version {
        ProtocolVersion::V311 => Properties::default(),
        ProtocolVersion::V5 => Properties::decode(&mut r, PropertyContext::SubAck)?,
    };
    let codes = r.rest();
    let table = suback_table(version);
    for &code in codes {
        reason::check(SUBACK_TYPE, table, code)?;
    }
    Ok(SubAck {
        packet_id,
        reason_codes: codes.to_vec(),
        properties,
    })
}

/// The encoded size of the body of `s`, after checking it can be encoded.
pub(super) fn ack_body_len(s: &SubAck, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if s.packet_id == 0 {
        return Err(EncodeError::InvalidPacketId);
    }
    let table = suback_table(version);
    for &code in &s.reason_codes {
        reason::check_encode(table, code)?;
    }
    let mut len: usize = 2;
    if version == ProtocolVersion::V5 {
        len += s.properties.encoded_len(PropertyContext::SubAck)?;
    }
    Ok(len.saturating_add(s.reason_codes.len()))
}

/// Writes the body of `s`, which [`ack_body_len`] accepted.
pub(super) fn write_ack_body(s: &SubAck, version: ProtocolVersion, out: &mut Vec<u8>) {
    put_u16(out, s.packet_id);
    if version == ProtocolVersion::V5 {
        s.properties.write(out);
    }
    out.extend_from_slice(&s.reason_codes);
}
