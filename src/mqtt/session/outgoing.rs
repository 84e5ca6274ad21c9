//! Outgoing application messages: the offline queue (bounded in messages and bytes), the
//! in-flight table of QoS 1/2 publishes in send order, and flow control (the send window:
//! the broker's Receive Maximum, or our own cap where 3.1.1 has none). A
//! packet id is held exactly while its publish is in flight here. After a reconnect there is
//! one replay path ([`Outgoing::take_for_replay`]) and at the end one fail-all path
//! ([`Outgoing::fail_all`]). It never copies a payload and never writes bytes: the session
//! encodes the publishes it hands out by reference.

use std::collections::VecDeque;

use super::ids::PacketIds;
use super::journal::{Journal, Restored};
use super::{
    ErrorCode, Event, Overflow, PublishOutcome, QueueConfig, ServerLimits, SessionError, Token,
};
use crate::map::VecMap;
use crate::mqtt::codec::{Publish, QoS, ReasonCode};

/// Where a QoS 1/2 publish stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Waiting for PUBACK (QoS 1) or PUBREC (QoS 2): a resend is the PUBLISH with DUP.
    AwaitAck,
    /// PUBREL sent, waiting for PUBCOMP: a resend is the PUBREL.
    AwaitComp,
}

/// A publish in flight.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) token: Token,
    /// Its packet id, also in `publish.packet_id`.
    pub(super) id: u16,
    pub(super) publish: Publish,
    pub(super) stage: Stage,
    /// Send order; resends after a reconnect keep it [MQTT-4.6.0-1].
    pub(super) seq: u64,
}

/// A publish waiting for a connection, a packet id or a flow-control slot.
#[derive(Debug)]
struct Queued {
    token: Token,
    /// Its send order, given when it is accepted.
    seq: u64,
    publish: Publish,
    /// What it counts against [`QueueConfig::max_bytes`].
    bytes: usize,
}

impl Queued {
    fn new(token: Token, seq: u64, publish: Publish) -> Self {
        let bytes = publish.payload.len() + publish.topic.len();
        Queued {
            token,
            seq,
            publish,
            bytes,
        }
    }
}

/// A publish [`Outgoing::next_ready`] lets go out now.
#[derive(Debug)]
pub(super) struct Ready {
    pub(super) token: Token,
    pub(super) seq: u64,
    pub(super) publish: Publish,
}

/// What PUBREC did to the publish it acknowledges.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PubRec {
    /// No publish in flight under that id.
    Unknown,
    /// Not a QoS 2 publish: nothing to do.
    Ignored,
    /// The broker refused it: the exchange ended, the id is free.
    Failed(Token),
    /// Accepted: PUBREL goes out now.
    Release,
}

/// Why the broker refuses `p` given what it said in CONNACK [MQTT-3.2.2-11] [MQTT-3.2.2-14].
pub(super) fn refusal(p: &Publish, server: &ServerLimits) -> Option<SessionError> {
    if p.qos > server.maximum_qos {
        Some(SessionError::new(
            ErrorCode::QosNotSupported,
            format!("the broker supports qos up to {}", server.maximum_qos as u8),
        ))
    } else if p.retain && !server.retain_available {
        Some(SessionError::new(
            ErrorCode::RetainNotSupported,
            "the broker does not support retain",
        ))
    } else {
        None
    }
}

/// The result a PUBACK or PUBCOMP (or a failing PUBREC) gives the publish under `id`.
pub(super) fn outcome(
    id: u16,
    reason_code: u8,
    reason: Option<String>,
) -> Result<PublishOutcome, SessionError> {
    if !ReasonCode::is_failure_code(reason_code) {
        return Ok(PublishOutcome {
            packet_id: Some(id),
            reason_code,
        });
    }
    let mut message = format!("the broker rejected the publish (reason code {reason_code:#04x})");
    if let Some(r) = reason {
        message = format!("{message}: {r}");
    }
    Err(SessionError::with_reason(
        ErrorCode::PublishFailed,
        reason_code,
        message,
    ))
}

/// How many slots of a full send window of `window` must be free before it opens again:
/// half of it (Mosquitto's Receive Maximum 20: 10 at a time), at most 32 (a window as large
/// as 65,535 must not wait for thousands of acknowledgements), at least 1. In the benchmark
/// against Mosquitto it took QoS 1 publishing from 5.6k to 9.4k msgs/s.
fn refill_batch(window: usize) -> usize {
    (window / 2).clamp(1, 32)
}

/// The queue and the in-flight table.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    /// By send order, so replays and failures go in the order the messages went out.
    inflight: VecMap<u64, InFlight>,
    /// Packet id to send order.
    by_id: VecMap<u16, u64>,
    next_seq: u64,
    /// The send window filled and has not yet drained to half: see [`Outgoing::window_shut`].
    refilling: bool,
    /// What a persistent store must keep (off without one).
    pub(super) journal: Journal,
}

impl Outgoing {
    pub(super) fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    pub(super) fn queued_len(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.inflight.is_empty()
    }

    /// Queues a publish. With `bounded` (it cannot go out at once) the queue bounds apply:
    /// it is refused, or older publishes are dropped (with their events), as configured.
    pub(super) fn enqueue(
        &mut self,
        token: Token,
        publish: Publish,
        bounded: Option<&QueueConfig>,
        events: &mut VecDeque<Event>,
    ) -> Result<(), SessionError> {
        let mut q = Queued::new(token, self.next_seq, publish);
        if let Some(limits) = bounded {
            self.make_room(q.bytes, limits, events)?;
        }
        self.next_seq += 1;
        self.journal.accepted(q.seq, &mut q.publish);
        self.queued_bytes += q.bytes;
        self.queue.push_back(q);
        Ok(())
    }

    /// Makes room for one more publish of `bytes`, or says why there is none.
    fn make_room(
        &mut self,
        bytes: usize,
        limits: &QueueConfig,
        events: &mut VecDeque<Event>,
    ) -> Result<(), SessionError> {
        let full = |o: &Self| {
            o.queue.len() + 1 > limits.max_messages || o.queued_bytes + bytes > limits.max_bytes
        };
        if !full(self) {
            return Ok(());
        }
        if limits.overflow == Overflow::Reject
            || bytes > limits.max_bytes
            || limits.max_messages == 0
        {
            return Err(SessionError::new(
                ErrorCode::QueueFull,
                "the offline queue is full",
            ));
        }
        while !self.queue.is_empty() && full(self) {
            if let Some(old) = self.pop_front() {
                self.journal.done(old.seq);
                events.push_back(Event::PublishDone {
                    token: old.token,
                    result: Err(SessionError::new(
                        ErrorCode::QueueFull,
                        "dropped from the full offline queue",
                    )),
                });
            }
        }
        Ok(())
    }

    fn pop_front(&mut self) -> Option<Queued> {
        let q = self.queue.pop_front()?;
        self.queued_bytes -= q.bytes;
        Some(q)
    }

    /// The next queued publish that may go out now, with its packet id set (QoS 1/2) and
    /// held; `None` when the queue is empty, `window` QoS 1/2 publishes are in flight or no
    /// id is free. Publishes the broker's limits refuse fail on the way.
    pub(super) fn next_ready(
        &mut self,
        server: &ServerLimits,
        window: usize,
        ids: &mut PacketIds,
        events: &mut VecDeque<Event>,
    ) -> Option<Ready> {
        loop {
            let front = &self.queue.front()?.publish;
            // Queued before this CONNACK: its limits apply now.
            if let Some(error) = refusal(front, server) {
                let q = self.pop_front()?;
                self.journal.done(q.seq);
                events.push_back(Event::PublishDone {
                    token: q.token,
                    result: Err(error),
                });
                continue;
            }
            let id = if front.qos == QoS::AtMostOnce {
                None
            } else if self.window_shut(window) {
                return None;
            } else {
                Some(ids.allocate()?)
            };
            let mut q = self.pop_front()?;
            q.publish.packet_id = id;
            return Some(Ready {
                token: q.token,
                seq: q.seq,
                publish: q.publish,
            });
        }
    }

    /// Flow control [MQTT-4.9.0-2]: at most `window` QoS 1/2 publishes unacknowledged
    /// (the broker's Receive Maximum on v5; on 3.1.1 never more than its broker takes
    /// without dropping). Once the window has filled while publishes wait, it opens again
    /// only when [`refill_batch`] slots are free, so the waiting publishes go out together
    /// in one WebSocket message rather than one message per acknowledgement (in a browser
    /// a message costs about as much as a batch of them). A publish made while the window
    /// has room goes out at once, as ever.
    fn window_shut(&mut self, window: usize) -> bool {
        let n = self.inflight.len();
        if self.refilling {
            let half_free = n <= window - refill_batch(window);
            self.refilling = !half_free;
        }
        if n >= window {
            self.refilling = true;
        }
        self.refilling
    }

    /// A QoS 1/2 publish from [`Outgoing::next_ready`] went out: it waits for its ack.
    /// (A QoS 0 publish, having no id, is done once written and never enters the table.)
    pub(super) fn start(&mut self, ready: Ready) {
        let Ready {
            token,
            seq,
            publish,
        } = ready;
        let Some(id) = publish.packet_id else {
            return;
        };
        self.journal.sent(seq, id);
        self.insert(InFlight {
            token,
            id,
            publish,
            stage: Stage::AwaitAck,
            seq,
        });
    }

    /// Takes `o` into the in-flight table under its id and send order.
    fn insert(&mut self, o: InFlight) {
        self.by_id.insert(o.id, o.seq);
        self.inflight.insert(o.seq, o);
    }

    fn get_mut(&mut self, id: u16) -> Option<&mut InFlight> {
        let seq = self.by_id.get(&id)?;
        self.inflight.get_mut(seq)
    }

    /// Ends the exchange under `id` and frees the id.
    fn remove(&mut self, id: u16, ids: &mut PacketIds) -> Option<InFlight> {
        let seq = self.by_id.remove(&id)?;
        ids.release(id);
        self.journal.done(seq);
        self.inflight.remove(&seq)
    }

    /// PUBACK: ends a QoS 1 exchange; the token to complete.
    pub(super) fn puback(&mut self, id: u16, ids: &mut PacketIds) -> Option<Token> {
        let o = self.get_mut(id)?;
        if o.publish.qos != QoS::AtLeastOnce {
            return None;
        }
        self.remove(id, ids).map(|o| o.token)
    }

    /// PUBREC with `reason_code`: the QoS 2 exchange moves on to PUBREL, or ends.
    pub(super) fn pubrec(&mut self, id: u16, reason_code: u8, ids: &mut PacketIds) -> PubRec {
        let Some(o) = self
            .by_id
            .get(&id)
            .and_then(|seq| self.inflight.get_mut(seq))
        else {
            return PubRec::Unknown;
        };
        if o.publish.qos != QoS::ExactlyOnce {
            return PubRec::Ignored;
        }
        if !ReasonCode::is_failure_code(reason_code) {
            o.stage = Stage::AwaitComp;
            self.journal.received(o.seq, id);
            // The payload stays until PUBCOMP: should the session be lost before then, the
            // message goes again as a new publish (see `take_for_replay`).
            return PubRec::Release;
        }
        match self.remove(id, ids) {
            Some(o) => PubRec::Failed(o.token),
            None => PubRec::Unknown,
        }
    }

    /// PUBCOMP: ends a QoS 2 exchange past PUBREC; the token to complete.
    pub(super) fn pubcomp(&mut self, id: u16, ids: &mut PacketIds) -> Option<Token> {
        if self.get_mut(id)?.stage != Stage::AwaitComp {
            return None;
        }
        self.remove(id, ids).map(|o| o.token)
    }

    /// After CONNACK, the one replay path. With `session_present` the in-flight publishes
    /// are returned in send order, to be resent (PUBLISH with DUP, or PUBREL) and handed
    /// back with [`Outgoing::resent`] [MQTT-4.4.0-1]. Without, the client discards its
    /// session state [MQTT-3.2.2-5] (packet ids, stages) but not the messages: every one
    /// not completely acknowledged goes back to the front of the queue, in send order, as a
    /// new publish (new packet id, DUP 0), and nothing is returned. That includes a QoS 2
    /// message past PUBREC: a broker may forward it only on PUBREL (Mosquitto does, the
    /// spec's "Method A"), so one whose PUBREL it never processed is lost with the session
    /// unless sent again. At least once, then; exactly once cannot hold across a session
    /// the broker no longer has.
    pub(super) fn take_for_replay(
        &mut self,
        session_present: bool,
        ids: &mut PacketIds,
    ) -> Vec<InFlight> {
        self.by_id.clear();
        let inflight = std::mem::take(&mut self.inflight).into_values();
        if session_present {
            return inflight.collect();
        }
        for o in inflight.rev() {
            ids.release(o.id);
            self.journal.requeued(o.seq);
            let mut publish = o.publish;
            publish.packet_id = None;
            let q = Queued::new(o.token, o.seq, publish);
            self.queued_bytes += q.bytes;
            self.queue.push_front(q);
        }
        Vec::new()
    }

    /// A publish from [`Outgoing::next_ready`] or [`Outgoing::take_for_replay`] could not be
    /// written: its id is free again and its event is the caller's to send.
    pub(super) fn unsent(&mut self, id: Option<u16>, seq: u64, ids: &mut PacketIds) {
        if let Some(id) = id {
            ids.release(id);
        }
        self.journal.done(seq);
    }

    /// A publish from [`Outgoing::take_for_replay`] was resent: it keeps its place.
    pub(super) fn resent(&mut self, o: InFlight) {
        self.insert(o);
    }

    /// Fails every publish with `error`: those in flight in send order, then the queue.
    /// Their packet ids are the caller's to clear.
    pub(super) fn fail_all(&mut self, error: &SessionError) -> Vec<Event> {
        self.by_id.clear();
        self.queued_bytes = 0;
        let inflight = std::mem::take(&mut self.inflight)
            .into_values()
            .map(|o| (o.token, o.seq));
        let queued = std::mem::take(&mut self.queue)
            .into_iter()
            .map(|q| (q.token, q.seq));
        let journal = &mut self.journal;
        inflight
            .chain(queued)
            .map(|(token, seq)| {
                journal.done(seq);
                Event::PublishDone {
                    token,
                    result: Err(error.clone()),
                }
            })
            .collect()
    }

    /// Takes back the publishes a store kept, before the first connect: each gets a token
    /// from `token` (no caller waits for it) and keeps its place and packet id.
    pub(super) fn restore(
        &mut self,
        restored: Vec<(u64, Restored)>,
        ids: &mut PacketIds,
        mut token: impl FnMut() -> Token,
    ) {
        for (seq, r) in restored {
            self.next_seq = self.next_seq.max(seq + 1);
            let (id, publish, stage) = match r {
                Restored::Queued(publish) => {
                    let q = Queued::new(token(), seq, publish);
                    self.queued_bytes += q.bytes;
                    self.queue.push_back(q);
                    continue;
                }
                Restored::AwaitAck(id, publish) => (id, publish, Stage::AwaitAck),
                Restored::AwaitComp(id, publish) => (id, publish, Stage::AwaitComp),
            };
            if !ids.mark(id) {
                // Two records under one id: the store was not written by this session.
                self.journal.done(seq);
                continue;
            }
            let mut publish = publish;
            publish.packet_id = Some(id);
            let token = token();
            self.insert(InFlight {
                token,
                id,
                publish,
                stage,
                seq,
            });
        }
    }
}
