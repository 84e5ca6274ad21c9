//! DISCONNECT (MQTT 3.1.1 section 3.14, MQTT 5.0 section 3.14). In 3.1.1 it has no body.
//! In 5.0 a remaining length of 0 means reason 0x00 and no properties, and of 1 a reason
//! code and no properties (MQTT 5.0 sections 3.14.2.1 and 3.14.2.2.1); encoding uses the
//! shortest form.

use super::primitives::Reader;
use super::properties::{Properties, PropertyContext};
use super::reason::{self, valid};
use super::{DecodeError, Disconnect, EncodeError, ProtocolVersion};

/// The DISCONNECT packet type.
const TYPE: u8 = 14;

/// Decodes the body of a DISCONNECT.
pub(super) fn decode(body: &[u8], version: ProtocolVersion) -> Result<Disconnect, DecodeError> {
    let mut r = Reader::new(body);
    let mut d = Disconnect::default();
    if version == ProtocolVersion::V5 && !r.is_empty() {
        d.reason_code = reason::check(TYPE, valid::DISCONNECT, r.u8()?)?;
        if !r.is_empty() {
            d.properties = Properties::decode(&mut r, PropertyContext::Disconnect)?;
        }
    }
    // 3.1.1: the remaining length is 0 (MQTT 3.1.1 section 3.14.1).
    r.finish()?;
    Ok(d)
}

/// The encoded size of the body of `d`, after checking it can be encoded. 3.1.1 has no
/// body: the reason code and properties are not written.
pub(super) fn body_len(d: &Disconnect, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if version == ProtocolVersion::V311 {
        return Ok(0);
    }
    reason::check_encode(valid::DISCONNECT, d.reason_code)?;
    if d.properties.is_empty() {
        Ok(usize::from(d.reason_code != 0))
    } else {
        Ok(1 + d.properties.encoded_len(PropertyContext::Disconnect)?)
    }
}

/// Writes the body of `d`, which [`body_len`] accepted.
pub(super) fn write_body(d: &Disconnect, version: ProtocolVersion, out: &mut Vec<u8>) {
    if version == ProtocolVersion::V311 {
        return;
    }
    let has_properties = !d.properties.is_empty();
    if d.reason_code != 0 || has_properties {
        out.push(d.reason_code);
    }
    if has_properties {
        d.properties.write(out);
    }
}
