//! UNSUBSCRIBE and UNSUBACK (MQTT 3.1.1 sections 3.10-3.11, MQTT 5.0 sections
//! 3.10-3.11). In 3.1.1 UNSUBACK is only a packet identifier; in 5.0 it has properties and
//! one reason code per topic filter.

use super::primitives::{put_str, put_u16, str_len, Reader};
use super::properties::{Properties, PropertyContext};
use super::reason::{self, valid};
use super::{DecodeError, EncodeError, ProtocolVersion, UnsubAck, Unsubscribe};

/// The UNSUBACK packet type.
const UNSUBACK_TYPE: u8 = 11;

/// Decodes the body of an UNSUBSCRIBE.
pub(super) fn decode(body: &[u8], version: ProtocolVersion) -> Result<Unsubscribe, DecodeError> {
    let mut r = Reader::new(body);
    let packet_id = r.packet_id()?;
    let properties = match version {
        ProtocolVersion::V311 => Properties::default(),
        ProtocolVersion::V5 => Properties::decode(&mut r, PropertyContext::Unsubscribe)?,
    };
    let mut filters = Vec::new();
    while !r.is_empty() {
        // UTF-8 topic filters [MQTT-3.10.3-1]; their syntax is the topic layer's.
        filters.push(r.string()?);
    }
    // At least one filter [MQTT-3.10.3-2].
    if filters.is_empty() {
        return Err(DecodeError::EmptySubscription);
    }
    Ok(Unsubscribe {
        packet_id,
        filters,
        properties,
    })
}

/// The encoded size of the body of `u`, after checking it can be encoded.
pub(super) fn body_len(u: &Unsubscribe, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if u.packet_id == 0 {
        return Err(EncodeError::InvalidPacketId);
    }
    if u.filters.is_empty() {
        return Err(EncodeError::InvalidValue(
            "unsubscribe without a topic filter",
        ));
    }
    let mut len: usize = 2;
    if version == ProtocolVersion::V5 {
        len += u.properties.encoded_len(PropertyContext::Unsubscribe)?;
    }
    for f in &u.filters {
        len = len.saturating_add(str_len(f)?);
    }
    Ok(len)
}

/// Writes the body of `u`, which [`body_len`] accepted.
pub(super) fn write_body(u: &Unsubscribe, version: ProtocolVersion, out: &mut Vec<u8>) {
    put_u16(out, u.packet_id);
    if version == ProtocolVersion::V5 {
        u.properties.write(out);
    }
    for f in &u.filters {
        put_str(out, f);
    }
}

/// Decodes the body of an UNSUBACK.
pub(super) fn decode_ack(body: &[u8], version: ProtocolVersion) -> Result<UnsubAck, DecodeError> {
    let mut r = Reader::new(body);
    let packet_id = r.packet_id()?;
    let mut ack = UnsubAck {
        packet_id,
        ..UnsubAck::default()
    };
    if version == ProtocolVersion::V5 {
        ack.properties = Properties::decode(&mut r, PropertyContext::UnsubAck)?;
        let codes = r.rest();
        for &code in codes {
            reason::check(UNSUBACK_TYPE, valid::UNSUBACK, code)?;
        }
        ack.reason_codes = codes.to_vec();
    }
    // 3.1.1: the remaining length is exactly 2 (MQTT 3.1.1 section 3.11.1).
    r.finish()?;
    Ok(ack)
}

/// The encoded size of the body of `u`, after checking it can be encoded. 3.1.1 has no
/// reason codes or properties: they are not written.
pub(super) fn ack_body_len(u: &UnsubAck, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if u.packet_id == 0 {
        return Err(EncodeError::InvalidPacketId);
    }
    if version == ProtocolVersion::V311 {
        return Ok(2);
    }
    for &code in &u.reason_codes {
        reason::check_encode(valid::UNSUBACK, code)?;
    }
    let len = 2 + u.properties.encoded_len(PropertyContext::UnsubAck)?;
    Ok(len.saturating_add(u.reason_codes.len()))
}

/// Writes the body of `u`, which [`ack_body_len`] accepted.
pub(super) fn write_ack_body(u: &UnsubAck, version: ProtocolVersion, out: &mut Vec<u8>) {
    put_u16(out, u.packet_id);
    if version == ProtocolVersion::V5 {
        u.properties.write(out);
        out.extend_from_slice(&u.reason_codes);
    }
}
