//! PUBLISH (MQTT 3.1.1 section 3.3, MQTT 5.0 section 3.3): the hot path. The fixed
//! header flags carry DUP, QoS and RETAIN; the variable header holds the topic, the
//! packet identifier when QoS > 0 and, in 5.0, the properties; the payload is whatever is
//! left of the remaining length, copied once into the value. A sender that keeps a message
//! to resend it encodes it by reference, with [`SendAs`] saying what differs between sends,
//! and learns its size from [`Publish::encoded_len`] without encoding a copy.

use super::primitives::{put_str, put_u16, put_var_int, str_len, var_int_len, Reader, VAR_INT_MAX};
use super::properties::{Properties, PropertyContext};
use super::{DecodeError, EncodeError, ProtocolVersion, Publish, QoS};

/// What may differ between the sends of one stored PUBLISH, given at encoding time so the
/// message itself need not be copied or changed to resend it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendAs {
    /// The DUP flag, set on a resend [MQTT-3.3.1-1]; ORed with [`Publish::dup`].
    pub dup: bool,
    /// Send an empty topic name: the topic alias among the properties stands for it
    /// (MQTT 5.0 section 3.3.2.3.4).
    pub alias_only: bool,
}

impl Publish {
    /// The number of bytes [`Publish::encode_to`] appends (fixed header included), or the
    /// error it would return.
    pub fn encoded_len(
        &self,
        version: ProtocolVersion,
        send: SendAs,
    ) -> Result<usize, EncodeError> {
        let remaining = remaining_len(self, version, send)?;
        Ok(1 + var_int_len(remaining) + remaining as usize)
    }

    /// Appends this PUBLISH as `send` says and returns the number of bytes written; on error
    /// nothing is written. The same checks as [`super::encode`] apply.
    pub fn encode_to(
        &self,
        version: ProtocolVersion,
        send: SendAs,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        let remaining = remaining_len(self, version, send)?;
        let before = out.len();
        out.reserve_exact(1 + var_int_len(remaining) + remaining as usize);
        out.push((3 << 4) | flags_as(self, send));
        put_var_int(out, remaining);
        write_body_as(self, version, send, out);
        Ok(out.len() - before)
    }
}

/// The remaining length of `p` sent as `send`, checked against the 268,435,455 bytes limit
/// (MQTT 5.0 section 2.1.4).
fn remaining_len(p: &Publish, version: ProtocolVersion, send: SendAs) -> Result<u32, EncodeError> {
    let len = body_len_as(p, version, send)?;
    u32::try_from(len)
        .ok()
        .filter(|&len| len <= VAR_INT_MAX)
        .ok_or(EncodeError::PacketTooLarge)
}

/// `p` sent as it is.
fn as_is(p: &Publish) -> SendAs {
    SendAs {
        dup: p.dup,
        alias_only: false,
    }
}

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
    flags_as(p, as_is(p))
}

fn flags_as(p: &Publish, send: SendAs) -> u8 {
    let mut flags = (p.qos as u8) << 1;
    if p.dup || send.dup {
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
    body_len_as(p, version, as_is(p))
}

fn body_len_as(p: &Publish, version: ProtocolVersion, send: SendAs) -> Result<usize, EncodeError> {
    // A packet identifier exactly when QoS > 0, never 0: 3.1.1 [MQTT-2.3.1-1]
    // [MQTT-2.3.1-5], 5.0 [MQTT-2.2.1-2] [MQTT-2.2.1-3].
    let id_len = match (p.qos, p.packet_id) {
        (QoS::AtMostOnce, None) => 0,
        (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) if id != 0 => 2,
        _ => return Err(EncodeError::InvalidPacketId),
    };
    // DUP must be 0 on QoS 0 messages [MQTT-3.3.1-2].
    if (p.dup || send.dup) && p.qos == QoS::AtMostOnce {
        return Err(EncodeError::InvalidValue("dup set on a qos 0 publish"));
    }
    let topic = if send.alias_only {
        // An empty topic name needs a topic alias to stand for it [MQTT-3.3.2-1].
        if version == ProtocolVersion::V311 || p.properties.topic_alias.is_none() {
            return Err(EncodeError::InvalidValue(
                "empty topic name without a topic alias",
            ));
        }
        ""
    } else {
        &p.topic
    };
    let mut len = str_len(topic)? + id_len;
    if version == ProtocolVersion::V5 {
        len += p.properties.encoded_len(PropertyContext::Publish)?;
    }
    Ok(len.saturating_add(p.payload.len()))
}

/// Writes the body of `p`, which [`body_len`] accepted.
pub(super) fn write_body(p: &Publish, version: ProtocolVersion, out: &mut Vec<u8>) {
    write_body_as(p, version, as_is(p), out);
}

fn write_body_as(p: &Publish, version: ProtocolVersion, send: SendAs, out: &mut Vec<u8>) {
    put_str(out, if send.alias_only { "" } else { &p.topic });
    if let Some(id) = p.packet_id {
        put_u16(out, id);
    }
    if version == ProtocolVersion::V5 {
        p.properties.write(out);
    }
    out.extend_from_slice(&p.payload);
}

#[cfg(test)]
mod tests {
    use super::SendAs;
    use crate::mqtt::codec::{encode, EncodeError, Packet, ProtocolVersion, Publish, QoS};

    fn stored() -> Publish {
        let mut p = Publish {
            qos: QoS::ExactlyOnce,
            topic: "a/b".into(),
            packet_id: Some(7),
            payload: b"payload".to_vec(),
            ..Publish::default()
        };
        p.properties.topic_alias = Some(3);
        p
    }

    /// What `codec::encode` writes for `p`.
    fn encoded(p: Publish, version: ProtocolVersion) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&Packet::Publish(p), version, &mut out).expect("a valid publish encodes");
        out
    }

    #[test]
    fn sending_by_reference_writes_what_encoding_the_changed_copy_writes() {
        let p = stored();
        for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
            let mut copy = p.clone();
            copy.dup = true;
            if version == ProtocolVersion::V5 {
                copy.topic.clear();
            }
            let send = SendAs {
                dup: true,
                alias_only: version == ProtocolVersion::V5,
            };
            let mut out = Vec::new();
            let n = p.encode_to(version, send, &mut out).expect("encodes");
            assert_eq!(out, encoded(copy, version));
            assert_eq!(n, out.len());
            assert_eq!(p.encoded_len(version, send), Ok(n));
        }
    }

    #[test]
    fn an_empty_topic_needs_an_alias_and_a_qos0_publish_is_never_dup() {
        let mut p = stored();
        p.properties.topic_alias = None;
        let alias_only = SendAs {
            alias_only: true,
            ..SendAs::default()
        };
        let mut out = Vec::new();
        assert!(p
            .encode_to(ProtocolVersion::V5, alias_only, &mut out)
            .is_err());
        p.qos = QoS::AtMostOnce;
        p.packet_id = None;
        let dup = SendAs {
            dup: true,
            ..SendAs::default()
        };
        assert_eq!(
            p.encoded_len(ProtocolVersion::V5, dup),
            Err(EncodeError::InvalidValue("dup set on a qos 0 publish"))
        );
        assert!(out.is_empty());
    }
}
