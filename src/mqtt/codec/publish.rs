//! PUBLISH (MQTT 3.1.1 section 3.3, MQTT 5.0 section 3.3): the hot path. The fixed
//! header flags carry DUP, QoS and RETAIN; the variable header holds the topic, the
//! packet identifier when QoS > 0 and, in 5.0, the properties; the payload is whatever is
//! left of the remaining length, copied once into the value.

use super::primitives::{put_str, put_u16, str_len, Reader};
use super::properties::{Properties, PropertyContext};
use super::{DecodeError, EncodeError, ProtocolVersion, Publish, QoS};

/// Fixed-header flag bits of PUBLISH (MQTT 5.0 section 3.3.1).
pub(super) const DUP: u8 = 0x08;
pub(super) const RETAIN: u8 = 0x01;

/// Checks the fixed-header flags of a PUBLISH and returns its QoS.
pub(super) fn check_flags(flags: u8) -> Result<QoS, DecodeError> {
    // QoS 3 is malformed [MQTT-3.3.1-4].
    let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::InvalidQoS)?;
    // DUP must be 0 on QoS 0 messages [MQTT-3.3.1-2].
    if qos == QoS::AtMostOnce && flags & DUP != 0 {
        return Err(DecodeError::InvalidFlags {
            packet_type: 3,
            flags,
        });
    }
    Ok(qos)
}

/// The fixed-header flags for `p`.
pub(super) fn flags(p: &Publish) -> u8 {
    let mut flags = (p.qos as u8) << 1;
    if p.dup {
        flags |= DUP;
    }
    if p.retain {
        flags |= RETAIN;
    }
    flags
}

/// Decodes the body of a PUBLISH whose fixed-header flags are `flags`.
pub(super) fn decode(
    flags: u8,
    body: &[u8],
    version: ProtocolVersion,
) -> Result<Publish, DecodeError> {
    let qos = check_flags(flags)?;
    let mut r = Reader::new(body);
    // The topic name is a UTF-8 string [MQTT-3.3.2-1]. Its content (no wildcards
    // [MQTT-3.3.2-2], non-empty unless a topic alias stands for it) is checked by the
    // topic layer, which knows the session's aliases.
    let topic = r.string()?;
    // A packet identifier only when QoS > 0, and then non-zero [MQTT-2.3.1-1]
    // (5.0: [MQTT-2.2.1-3]).
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce | QoS::ExactlyOnce => Some(r.packet_id()?),
    };
    let properties = match version {
        ProtocolVersion::V311 => Properties::default(),
        ProtocolVersion::V5 => Properties::decode(&mut r, PropertyContext::Publish)?,
    };
    // The payload is the rest of the packet and may be empty (MQTT 5.0 section 3.3.3).
    let payload = r.rest().to_vec();
    Ok(Publish {
        dup: flags & DUP != 0,
        qos,
        retain: flags & RETAIN != 0,
        topic,
        packet_id,
        payload,
        properties,
    })
}

/// The encoded size of the body of `p`, after checking it can be encoded.
pub(super) fn body_len(p: &Publish, version: ProtocolVersion) -> Result<usize, EncodeError> {
    // A packet identifier exactly when QoS > 0, never 0: 3.1.1 [MQTT-2.3.1-1]
    // [MQTT-2.3.1-5], 5.0 [MQTT-2.2.1-2] [MQTT-2.2.1-3].
    let id_len = match (p.qos, p.packet_id) {
        (QoS::AtMostOnce, None) => 0,
        (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) if id != 0 => 2,
        _ => return Err(EncodeError::InvalidPacketId),
    };
    // DUP must be 0 on QoS 0 messages [MQTT-3.3.1-2].
    if p.dup && p.qos == QoS::AtMostOnce {
        return Err(EncodeError::InvalidValue("dup set on a qos 0 publish"));
    }
    let mut len = str_len(&p.topic)? + id_len;
    if version == ProtocolVersion::V5 {
        len += p.properties.encoded_len(PropertyContext::Publish)?;
    }
    Ok(len.saturating_add(p.payload.len()))
}

/// Writes the body of `p`, which [`body_len`] accepted.
pub(super) fn write_body(p: &Publish, version: ProtocolVersion, out: &mut Vec<u8>) {
    put_str(out, &p.topic);
    if let Some(id) = p.packet_id {
        put_u16(out, id);
    }
    if version == ProtocolVersion::V5 {
        p.properties.write(out);
    }
    out.extend_from_slice(&p.payload);
}
