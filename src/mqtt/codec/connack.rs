//! CONNACK (MQTT 3.1.1 section 3.2, MQTT 5.0 section 3.2): the server's answer to
//! CONNECT. In 3.1.1 the second byte is a connect return code (0..=5); in 5.0 it is a
//! reason code from table 3-1, followed by properties.

use super::primitives::Reader;
use super::properties::{Properties, PropertyContext};
use super::reason::{self, valid};
use super::{ConnAck, DecodeError, EncodeError, ProtocolVersion};

/// The CONNACK packet type.
const TYPE: u8 = 2;

/// Decodes the body of a CONNACK.
pub(super) fn decode(body: &[u8], version: ProtocolVersion) -> Result<ConnAck, DecodeError> {
    let mut r = Reader::new(body);
    let flags = r.u8()?;
    // Bits 7-1 of the acknowledge flags are reserved [MQTT-3.2.2-1].
    if flags & 0xFE != 0 {
        return Err(DecodeError::InvalidConnAckFlags);
    }
    let code = r.u8()?;
    let properties = match version {
        ProtocolVersion::V311 => {
            // 3.1.1 return codes 0..=5 (MQTT 3.1.1 section 3.2.2.3); the rest are reserved.
            if code > valid::CONNACK_V311_MAX {
                return Err(DecodeError::InvalidReasonCode {
                    packet_type: TYPE,
                    code,
                });
            }
            Properties::default()
        }
        ProtocolVersion::V5 => {
            reason::check(TYPE, valid::CONNACK, code)?;
            Properties::decode(&mut r, PropertyContext::ConnAck)?
        }
    };
    r.finish()?;
    Ok(ConnAck {
        session_present: flags & 0x01 != 0,
        reason_code: code,
        properties,
    })
}

/// The encoded size of the body of `c`, after checking it can be encoded.
pub(super) fn body_len(c: &ConnAck, version: ProtocolVersion) -> Result<usize, EncodeError> {
    match version {
        ProtocolVersion::V311 => {
            if c.reason_code > valid::CONNACK_V311_MAX {
                return Err(EncodeError::InvalidValue(
                    "connect return code above 5 in MQTT 3.1.1",
                ));
            }
            Ok(2)
        }
        ProtocolVersion::V5 => {
            reason::check_encode(valid::CONNACK, c.reason_code)?;
            Ok(2 + c.properties.encoded_len(PropertyContext::ConnAck)?)
        }
    }
}

/// Writes the body of `c`, which [`body_len`] accepted.
pub(super) fn write_body(c: &ConnAck, version: ProtocolVersion, out: &mut Vec<u8>) {
    out.push(u8::from(c.session_present));
    out.push(c.reason_code);
    if version == ProtocolVersion::V5 {
        c.properties.write(out);
    }
}
