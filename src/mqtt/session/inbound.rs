//! Inbound application messages: which PUBLISH from the broker is delivered and how it is
//! acknowledged, and the QoS 2 packet ids held between our PUBREC and the broker's PUBREL,
//! so that a resent QoS 2 message is acknowledged again but delivered once. Topic aliases
//! are resolved before a message gets here; this module never delivers a message twice
//! within one exchange and never holds more ids than our Receive Maximum.

use super::journal::Journal;
use super::transmit::Reply;
use super::SessionError;
use crate::map::VecSet;
use crate::mqtt::codec::{Publish, QoS, ReasonCode};

/// What to do with an inbound PUBLISH.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Delivery {
    /// Hand it to the application (false for a duplicate of an unreleased QoS 2 message).
    pub(super) deliver: bool,
    /// The acknowledgement to write.
    pub(super) reply: Option<Reply>,
}

/// Inbound QoS 2 state; it lives as long as the broker keeps the session.
#[derive(Debug, Default)]
pub(super) struct Inbound {
    /// Ids between our PUBREC and the broker's PUBREL. Only looked up, never iterated.
    qos2: VecSet<u16>,
    /// What a persistent store must keep (off without one).
    pub(super) journal: Journal,
}

impl Inbound {
    /// The broker lost the session: every id is new again.
    pub(super) fn clear(&mut self) {
        for &id in self.qos2.iter() {
            self.journal.release_incoming(id);
        }
        self.qos2.clear();
    }

    /// Ids a store kept from an earlier page.
    pub(super) fn restore(&mut self, ids: Vec<u16>) {
        for id in ids {
            self.qos2.insert(id);
        }
    }

    /// Decides about an inbound PUBLISH; `receive_maximum` is the one we announced.
    pub(super) fn publish(
        &mut self,
        p: &Publish,
        receive_maximum: u16,
    ) -> Result<Delivery, SessionError> {
        let (deliver, reply) = match (p.qos, p.packet_id) {
            (QoS::AtMostOnce, _) => (true, None),
            (QoS::AtLeastOnce, Some(id)) => (true, Some(Reply::PubAck(id))),
            (QoS::ExactlyOnce, Some(id)) => {
                let new = !self.qos2.contains(&id);
                if new && self.qos2.len() >= usize::from(receive_maximum) {
                    return Err(SessionError::protocol(
                        ReasonCode::ReceiveMaximumExceeded,
                        "the broker exceeded our receive maximum",
                    ));
                }
                if new {
                    // Kept before the message is delivered or acknowledged.
                    self.journal.hold_incoming(id);
                }
                self.qos2.insert(id);
                // A duplicate (id still held) is acknowledged but not delivered again.
                (new, Some(Reply::PubRec(id)))
            }
            // The codec never yields a QoS>0 publish without an id.
            _ => (false, None),
        };
        Ok(Delivery { deliver, reply })
    }

    /// PUBREL: the exchange ends; the PUBCOMP says whether we knew the id.
    pub(super) fn pubrel(&mut self, id: u16) -> Reply {
        let found = self.qos2.remove(&id);
        if found {
            self.journal.release_incoming(id);
        }
        Reply::PubComp { id, found }
    }
}
