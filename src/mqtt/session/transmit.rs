//! The packets the session answers with on its own (acknowledgements and PINGREQ), typed so
//! that encoding them cannot fail, and the one helper that appends an encoded packet to the
//! transmit buffer. Anything that can fail to encode (CONNECT, PUBLISH, SUBSCRIBE, a
//! DISCONNECT with the application's reason code) goes through a path that handles the
//! error; nothing here may drop one silently.

use crate::mqtt::codec::{self, Ack, EncodeError, Packet, ProtocolVersion, ReasonCode};

/// A packet built from a packet id and a fixed reason code, with no properties.
///
/// Encoding one cannot fail: every id is non-zero, because it comes either from a decoded
/// packet (the codec refuses id 0 [MQTT-2.2.1-3]) or from [`super::ids::PacketIds`] (which
/// never hands out 0), and 0x00 and 0x92 are reason codes every acknowledgement may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// Keepalive probe [MQTT-3.1.2-23].
    PingReq,
    /// Acknowledges an inbound QoS 1 PUBLISH.
    PubAck(u16),
    /// Receives an inbound QoS 2 PUBLISH.
    PubRec(u16),
    /// Releases an outbound QoS 2 PUBLISH; `found: false` answers a PUBREC for an id we do
    /// not hold (0x92, MQTT 5.0 only).
    PubRel { id: u16, found: bool },
    /// Completes an inbound QoS 2 exchange; `found: false` answers a PUBREL for an id we do
    /// not hold (0x92, MQTT 5.0 only).
    PubComp { id: u16, found: bool },
}

impl Reply {
    /// The packet as `version` writes it.
    pub(super) fn packet(self, version: ProtocolVersion) -> Packet {
        let ack = |packet_id: u16, found: bool| {
            let reason_code = if found || version == ProtocolVersion::V311 {
                ReasonCode::Success
            } else {
                ReasonCode::PacketIdentifierNotFound
            };
            Ack {
                packet_id,
                reason_code: reason_code.code(),
                ..Ack::default()
            }
        };
        match self {
            Reply::PingReq => Packet::PingReq,
            Reply::PubAck(id) => Packet::PubAck(ack(id, true)),
            Reply::PubRec(id) => Packet::PubRec(ack(id, true)),
            Reply::PubRel { id, found } => Packet::PubRel(ack(id, found)),
            Reply::PubComp { id, found } => Packet::PubComp(ack(id, found)),
        }
    }
}

/// Appends `packet` to `tx` and returns the number of bytes written (none on error).
pub(super) fn encode_into(
    tx: &mut Vec<u8>,
    version: ProtocolVersion,
    packet: &Packet,
) -> Result<usize, EncodeError> {
    let before = tx.len();
    codec::encode(packet, version, tx)?;
    Ok(tx.len() - before)
}

#[cfg(test)]
mod tests {
    use super::{encode_into, Reply};
    use crate::mqtt::codec::ProtocolVersion;

    #[test]
    fn every_reply_encodes_in_both_versions() {
        let replies = [
            Reply::PingReq,
            Reply::PubAck(1),
            Reply::PubRec(u16::MAX),
            Reply::PubRel { id: 2, found: true },
            Reply::PubRel {
                id: 3,
                found: false,
            },
            Reply::PubComp { id: 4, found: true },
            Reply::PubComp {
                id: 5,
                found: false,
            },
        ];
        for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
            for reply in replies {
                let mut tx = Vec::new();
                let written = encode_into(&mut tx, version, &reply.packet(version));
                assert_eq!(written, Ok(tx.len()), "{reply:?} in {version:?}");
            }
        }
    }
}
