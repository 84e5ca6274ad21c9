//! The durable part of a session, as a journal of store operations for a driver with a
//! persistent store (`store: "indexeddb"`): what must survive a page reload so that a new
//! page with the same client id resumes without losing or repeating a message. Outgoing
//! QoS 1/2 publishes are kept from the moment they are accepted (offline queue included)
//! until their last acknowledgement, with their packet id and stage once in flight; incoming
//! QoS 2 packet ids are kept between our PUBREC and the broker's PUBREL. The session only
//! records operations; the driver applies them, in order, and must not send what the
//! session wrote after them, nor deliver its events, before they are durable. Without a
//! store the journal is off and records nothing.
//!
//! Records, by name: `o<seq>` the message (an MQTT 5.0 PUBLISH, packet id left out) until
//! its last acknowledgement, `s<seq>` where it stands once in flight (stage byte, packet
//! id), `i<id>` an incoming QoS 2 id. `seq` is the send order, kept across reloads.

use crate::map::VecMap;
use crate::mqtt::codec::{self, Packet, ProtocolVersion, Publish, QoS, SendAs};

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Create or replace the record `name`.
    Put(String, Vec<u8>),
    /// Remove the record `name` (absent is fine).
    Delete(String),
}

/// Stage bytes of an `s` record.
const AWAIT_ACK: u8 = 1;
const AWAIT_COMP: u8 = 2;

/// Operations recorded since the driver last took them.
#[derive(Debug, Default)]
pub(super) struct Journal {
    on: bool,
    ops: Vec<StoreOp>,
}

impl Journal {
    pub(super) fn new(on: bool) -> Self {
        Journal {
            on,
            ops: Vec::new(),
        }
    }

    pub(super) fn take(&mut self) -> Vec<StoreOp> {
        std::mem::take(&mut self.ops)
    }

    /// A QoS 1/2 publish was accepted (queued) under `seq`. `p` is encoded in place (its
    /// packet id set for the encoding and cleared again), not copied.
    pub(super) fn accepted(&mut self, seq: u64, p: &mut Publish) {
        if !self.on || p.qos == QoS::AtMostOnce {
            return;
        }
        let mut bytes = Vec::new();
        // The packet id lives in the `s` record; any non-zero one encodes the same size.
        p.packet_id = Some(1);
        let encoded = p.encode_to(ProtocolVersion::V5, SendAs::default(), &mut bytes);
        p.packet_id = None;
        if encoded.is_ok() {
            self.ops.push(StoreOp::Put(format!("o{seq}"), bytes));
        }
    }

    /// The publish `seq` went out under `id`: a new page resends it with that id.
    pub(super) fn sent(&mut self, seq: u64, id: u16) {
        self.stage(seq, AWAIT_ACK, id);
    }

    /// PUBREC accepted the QoS 2 publish `seq`: its PUBREL is what a new page resends. The
    /// message stays until PUBCOMP: if the broker loses the session before then, it goes
    /// again as a new publish.
    pub(super) fn received(&mut self, seq: u64, id: u16) {
        self.stage(seq, AWAIT_COMP, id);
    }

    fn stage(&mut self, seq: u64, stage: u8, id: u16) {
        if self.on {
            let [hi, lo] = id.to_be_bytes();
            self.ops
                .push(StoreOp::Put(format!("s{seq}"), vec![stage, hi, lo]));
        }
    }

    /// The publish `seq` is back in the queue as a new message (the broker lost the session).
    pub(super) fn requeued(&mut self, seq: u64) {
        if self.on {
            self.ops.push(StoreOp::Delete(format!("s{seq}")));
        }
    }

    /// The publish `seq` is done: acknowledged, refused, or failed to its caller.
    pub(super) fn done(&mut self, seq: u64) {
        if self.on {
            self.ops.push(StoreOp::Delete(format!("o{seq}")));
            self.ops.push(StoreOp::Delete(format!("s{seq}")));
        }
    }

    /// Removes a record that cannot be read.
    pub(super) fn forget(&mut self, name: &str) {
        if self.on {
            self.ops.push(StoreOp::Delete(name.to_owned()));
        }
    }

    /// The incoming QoS 2 message `id` is being delivered: held until PUBREL.
    pub(super) fn hold_incoming(&mut self, id: u16) {
        if self.on {
            self.ops.push(StoreOp::Put(format!("i{id}"), Vec::new()));
        }
    }

    /// PUBREL released the incoming id, or the broker lost the session.
    pub(super) fn release_incoming(&mut self, id: u16) {
        if self.on {
            self.ops.push(StoreOp::Delete(format!("i{id}")));
        }
    }
}

/// An outgoing publish read back from the store.
#[derive(Debug, PartialEq)]
pub(super) enum Restored {
    /// Accepted, never sent.
    Queued(Publish),
    /// Sent under this id, not acknowledged.
    AwaitAck(u16, Publish),
    /// QoS 2 past PUBREC under this id: its PUBREL is resent (or, with the session lost,
    /// the message as a new one).
    AwaitComp(u16, Publish),
}

/// What a store held, sorted out.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Loaded {
    /// Outgoing publishes in send order.
    pub(super) outgoing: Vec<(u64, Restored)>,
    pub(super) incoming: Vec<u16>,
    /// Names of records that cannot be read (and are removed).
    pub(super) bad: Vec<String>,
}

/// Sorts records read from a store; none is trusted.
pub(super) fn load(records: Vec<(String, Vec<u8>)>) -> Loaded {
    let mut loaded = Loaded::default();
    let mut messages: VecMap<u64, Publish> = VecMap::new();
    let mut stages: VecMap<u64, (u8, u16)> = VecMap::new();
    for (name, value) in records {
        let ok = match (name.get(..1), name.get(1..).and_then(number)) {
            (Some("o"), Some(seq)) => decode_publish(&value).map(|p| {
                messages.insert(seq, p);
            }),
            (Some("s"), Some(seq)) => decode_stage(&value).map(|s| {
                stages.insert(seq, s);
            }),
            (Some("i"), Some(id)) => u16::try_from(id)
                .ok()
                .filter(|&id| id != 0 && value.is_empty())
                .map(|id| loaded.incoming.push(id)),
            _ => None,
        };
        if ok.is_none() {
            loaded.bad.push(name);
        }
    }
    let seqs = merged(messages.keys(), stages.keys());
    for seq in seqs {
        let restored = match (stages.get(&seq).copied(), messages.remove(&seq)) {
            (None, Some(p)) => Restored::Queued(p),
            (Some((AWAIT_ACK, id)), Some(p)) => Restored::AwaitAck(id, p),
            (Some((AWAIT_COMP, id)), Some(p)) => Restored::AwaitComp(id, p),
            _ => {
                loaded.bad.push(format!("s{seq}"));
                continue;
            }
        };
        loaded.outgoing.push((seq, restored));
    }
    loaded
}

/// The keys of two sorted maps, merged in order, each once.
fn merged<'a>(a: impl Iterator<Item = &'a u64>, b: impl Iterator<Item = &'a u64>) -> Vec<u64> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut out = Vec::new();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(&&x), Some(&&y)) if x < y => a.next(),
            (Some(&&x), Some(&&y)) if x > y => b.next(),
            (Some(_), Some(_)) => {
                b.next();
                a.next()
            }
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(&seq) => out.push(seq),
            None => return out,
        }
    }
}

/// A decimal number (record names are written with `format!`); no sign, no overflow.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

fn decode_publish(bytes: &[u8]) -> Option<Publish> {
    match codec::decode_from_server(bytes, ProtocolVersion::V5, u32::MAX) {
        Ok(Some((Packet::Publish(mut p), used)))
            if used == bytes.len() && p.qos != QoS::AtMostOnce =>
        {
            p.packet_id = None;
            Some(p)
        }
        _ => None,
    }
}

fn decode_stage(bytes: &[u8]) -> Option<(u8, u16)> {
    match *bytes {
        [stage @ (AWAIT_ACK | AWAIT_COMP), hi, lo] if u16::from_be_bytes([hi, lo]) != 0 => {
            Some((stage, u16::from_be_bytes([hi, lo])))
        }
        _ => None,
    }
}
