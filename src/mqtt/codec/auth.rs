//! AUTH (MQTT 5.0 section 3.15): enhanced authentication exchanges. It does not exist in
//! 3.1.1: the fixed header check refuses packet type 15 there, and encoding refuses it.
//!
//! A remaining length of 0 means reason 0x00 (Success) and no properties (MQTT 5.0
//! section 3.15.2.1), and is what encoding uses for that case. Section 3.15.2.2.1 does not
//! allow leaving out the property length alone, so a non-zero reason code is always
//! written with a property length; decoding still accepts a lone reason code, like
//! DISCONNECT, as peers do send it.

use super::primitives::Reader;
use super::properties::{Properties, PropertyContext};
use super::reason::{self, valid};
use super::{Auth, DecodeError, EncodeError, ProtocolVersion};

/// The AUTH packet type.
const TYPE: u8 = 15;

/// Decodes the body of an AUTH (5.0 only: the caller has refused it in 3.1.1).
pub(super) fn decode(body: &[u8]) -> Result<Auth, DecodeError> {
    let mut r = Reader::new(body);
    let mut a = Auth::default();
    if !r.is_empty() {
        a.reason_code = reason::check(TYPE, valid::AUTH, r.u8()?)?;
        if !r.is_empty() {
            a.properties = Properties::decode(&mut r, PropertyContext::Auth)?;
        }
    }
    r.finish()?;
    Ok(a)
}

/// The encoded size of the body of `a`, after checking it can be encoded.
pub(super) fn body_len(a: &Auth, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if version == ProtocolVersion::V311 {
        return Err(EncodeError::InvalidValue(
            "AUTH does not exist in MQTT 3.1.1",
        ));
    }
    reason::check_encode(valid::AUTH, a.reason_code)?;
    if a.reason_code == 0 && a.properties.is_empty() {
        Ok(0)
    } else {
        Ok(1 + a.properties.encoded_len(PropertyContext::Auth)?)
    }
}

/// Writes the body of `a`, which [`body_len`] accepted.
pub(super) fn write_body(a: &Auth, out: &mut Vec<u8>) {
    if a.reason_code != 0 || !a.properties.is_empty() {
        out.push(a.reason_code);
        a.properties.write(out);
    }
}
