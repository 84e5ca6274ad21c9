//! PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 3.1.1 sections 3.4-3.7, MQTT 5.0 sections
//! 3.4-3.7): a packet identifier and, in 5.0, a reason code and properties.
//!
//! In 5.0 the reason code and property length may be left out: a remaining length of 2
//! means reason 0x00 and no properties, 3 means a reason code and no properties
//! (MQTT 5.0 sections 3.4.2.1 and 3.4.2.2.1). Encoding uses the shortest form.

use super::primitives::{put_u16, Reader};
use super::properties::{Properties, PropertyContext};
use super::reason::{self, valid};
use super::{Ack, DecodeError, EncodeError, ProtocolVersion};

/// The reason codes allowed for acknowledgement packet type `packet_type` (4 to 7).
fn reason_table(packet_type: u8) -> &'static [u8] {
    match packet_type {
        // PUBACK and PUBREC.
        4 | 5 => valid::PUBACK,
        // PUBREL and PUBCOMP.
        _ => valid::PUBREL,
    }
}

/// Decodes the body of an acknowledgement of type `packet_type` (4 to 7).
pub(super) fn decode(
    packet_type: u8,
    body: &[u8],
    version: ProtocolVersion,
) -> Result<Ack, DecodeError> {
    let mut r = Reader::new(body);
    // Non-zero [MQTT-2.3.1-1] (5.0: [MQTT-2.2.1-3]).
    let packet_id = r.packet_id()?;
    let mut ack = Ack {
        packet_id,
        ..Ack::default()
    };
    if version == ProtocolVersion::V5 && !r.is_empty() {
        ack.reason_code = reason::check(packet_type, reason_table(packet_type), r.u8()?)?;
        if !r.is_empty() {
            ack.properties = Properties::decode(&mut r, PropertyContext::Ack)?;
        }
    }
    // 3.1.1: the remaining length is exactly 2 (MQTT 3.1.1 section 3.4.1).
    r.finish()?;
    Ok(ack)
}

/// The encoded size of the body of `a`, after checking it can be encoded. 3.1.1 has no
/// reason code or properties: they are not written.
pub(super) fn body_len(
    packet_type: u8,
    a: &Ack,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    if a.packet_id == 0 {
        return Err(EncodeError::InvalidPacketId);
    }
    if version == ProtocolVersion::V311 {
        return Ok(2);
    }
    reason::check_encode(reason_table(packet_type), a.reason_code)?;
    if a.properties.is_empty() {
        Ok(if a.reason_code == 0 { 2 } else { 3 })
    } else {
        Ok(3 + a.properties.encoded_len(PropertyContext::Ack)?)
    }
}

/// Writes the body of `a`, which [`body_len`] accepted.
pub(super) fn write_body(a: &Ack, version: ProtocolVersion, out: &mut Vec<u8>) {
    put_u16(out, a.packet_id);
    if version == ProtocolVersion::V311 {
        return;
    }
    let has_properties = !a.properties.is_empty();
    if a.reason_code != 0 || has_properties {
        out.push(a.reason_code);
    }
    if has_properties {
        a.properties.write(out);
    }
}
