//! A scripted broker and a virtual clock around one [`Session`], in the spirit of
//! quinn-proto's `tests/util.rs::Pair`: the test owns time, the network and the broker.
//!
//! [`Pair::drive`] plays the driver of the session's module doc: it writes what
//! `poll_transmit` returns to the broker, records what `poll_event` returns (opening and
//! closing the transport as asked), and delivers the broker's automatic answers, until
//! nothing moves. [`Pair::advance`] moves the clock and fires the session's timer at
//! exactly the instants `poll_timeout` names. Nothing here sleeps or reads a clock.

// Each test crate that includes this module uses a different subset of it.
#![allow(dead_code)]

use mqtt_rtc::mqtt::codec::{
    self, Ack, ConnAck, Packet, Properties, ProtocolVersion, Publish, QoS, SubAck, UnsubAck,
};
use mqtt_rtc::mqtt::session::{Event, Session, SessionConfig, State, Token};

/// How bytes from the broker are cut into `handle_bytes` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One call per packet (one WebSocket message per packet).
    PerPacket,
    /// All packets coalesced into one call.
    OneChunk,
    /// One call per byte.
    ByteByByte,
}

/// The broker end of the link: decodes what the client writes, records it, and answers
/// automatically where the test lets it.
pub struct ScriptedBroker {
    /// The version of the current connection, as its CONNECT said.
    pub version: ProtocolVersion,
    /// Every packet that reached the broker, across connections, in order.
    pub received: Vec<Packet>,
    /// Packets the client wrote that the network lost (see `drop_to_broker`).
    pub dropped: Vec<Packet>,
    /// Every byte the client wrote, lost packets included.
    pub bytes_received: usize,
    /// Every byte handed to the session (lost packets excluded).
    pub bytes_sent: usize,

    /// Answer every CONNECT with this CONNACK (`None`: the test answers by hand).
    pub auto_connack: Option<ConnAck>,
    /// PUBACK for every QoS 1 PUBLISH.
    pub auto_puback: bool,
    /// PUBREC for every QoS 2 PUBLISH.
    pub auto_pubrec: bool,
    /// PUBCOMP for every PUBREL.
    pub auto_pubcomp: bool,
    /// SUBACK granting every filter its QoS, UNSUBACK with success for every filter.
    pub auto_suback: bool,
    /// PINGRESP for every PINGREQ.
    pub auto_pingresp: bool,
    /// Lose the next N packets from the client to the broker.
    pub drop_to_broker: usize,
    /// Lose the next N packets from the broker to the client (automatic answers included).
    pub drop_to_client: usize,

    rx: Vec<u8>,
    outbox: Vec<Packet>,
}

impl Default for ScriptedBroker {
    fn default() -> Self {
        ScriptedBroker {
            version: ProtocolVersion::V5,
            received: Vec::new(),
            dropped: Vec::new(),
            bytes_received: 0,
            bytes_sent: 0,
            auto_connack: Some(ConnAck::default()),
            auto_puback: true,
            auto_pubrec: true,
            auto_pubcomp: true,
            auto_suback: true,
            auto_pingresp: true,
            drop_to_broker: 0,
            drop_to_client: 0,
            rx: Vec::new(),
            outbox: Vec::new(),
        }
    }
}

impl ScriptedBroker {
    /// Bytes written by the client on the current connection.
    fn receive(&mut self, bytes: &[u8]) {
        self.bytes_received += bytes.len();
        self.rx.extend_from_slice(bytes);
        let mut at = 0;
        // CONNECT is decoded by its own protocol level, whatever `version` says.
        while let Some((packet, used)) = codec::decode(&self.rx[at..], self.version, u32::MAX)
            .unwrap_or_else(|e| {
                panic!(
                    "the client wrote bytes the broker cannot decode ({e}): {:02x?}",
                    &self.rx[at..]
                )
            })
        {
            at += used;
            if let Packet::Connect(c) = &packet {
                self.version = c.protocol;
            }
            if self.drop_to_broker > 0 {
                self.drop_to_broker -= 1;
                self.dropped.push(packet);
                continue;
            }
            self.answer(&packet);
            self.received.push(packet);
        }
        self.rx.drain(..at);
    }

    fn answer(&mut self, packet: &Packet) {
        let reply = match packet {
            Packet::Connect(_) => self.auto_connack.clone().map(Packet::ConnAck),
            Packet::Publish(p) => match (p.qos, p.packet_id) {
                (QoS::AtLeastOnce, Some(id)) if self.auto_puback => Some(Packet::PubAck(ack(id))),
                (QoS::ExactlyOnce, Some(id)) if self.auto_pubrec => Some(Packet::PubRec(ack(id))),
                _ => None,
            },
            Packet::PubRel(a) if self.auto_pubcomp => Some(Packet::PubComp(ack(a.packet_id))),
            Packet::Subscribe(s) if self.auto_suback => Some(Packet::SubAck(SubAck {
                packet_id: s.packet_id,
                reason_codes: s.filters.iter().map(|f| f.qos as u8).collect(),
                properties: Properties::default(),
            })),
            Packet::Unsubscribe(u) if self.auto_suback => Some(Packet::UnsubAck(UnsubAck {
                packet_id: u.packet_id,
                // 3.1.1 UNSUBACK carries no reason codes.
                reason_codes: match self.version {
                    ProtocolVersion::V5 => vec![0; u.filters.len()],
                    ProtocolVersion::V311 => Vec::new(),
                },
                properties: Properties::default(),
            })),
            Packet::PingReq if self.auto_pingresp => Some(Packet::PingResp),
            _ => None,
        };
        self.outbox.extend(reply);
    }

    /// The connection ended: half-read bytes and unsent answers die with it.
    fn link_down(&mut self) {
        self.rx.clear();
        self.outbox.clear();
    }

    /// `packet` as the broker puts it on the wire for the current connection.
    pub fn encode(&self, packet: &Packet) -> Vec<u8> {
        let mut out = Vec::new();
        codec::encode(packet, self.version, &mut out)
            .unwrap_or_else(|e| panic!("the broker cannot encode {packet:?}: {e}"));
        out
    }
}

/// One session and its broker on a virtual clock.
pub struct Pair {
    pub session: Session,
    pub broker: ScriptedBroker,
    /// Milliseconds on the virtual clock.
    pub now: u64,
    /// Every event the session emitted, in order (see [`Pair::take_events`]).
    pub events: Vec<Event>,
    /// Whether a transport is open.
    pub link_up: bool,
    /// Honour `OpenTransport` at once (false: the transport hangs until `open_transport`).
    pub open_transports: bool,
    /// How many of the next transports fail to open.
    pub fail_opens: usize,
    /// How many transports the session asked for.
    pub opens_requested: usize,
    pending_open: bool,
    /// Counts transports opened and closed, so bytes of a dead one are never delivered.
    connection: u64,
}

impl Pair {
    pub fn new(config: SessionConfig) -> Pair {
        Pair {
            session: Session::new(config),
            broker: ScriptedBroker::default(),
            now: 0,
            events: Vec::new(),
            link_up: false,
            open_transports: true,
            fail_opens: 0,
            opens_requested: 0,
            pending_open: false,
            connection: 0,
        }
    }

    /// A session that has connected to a broker answering CONNACK with no properties;
    /// events and packets so far are forgotten.
    pub fn connected(config: SessionConfig) -> Pair {
        Pair::connected_with(config, ConnAck::default())
    }

    /// Like [`Pair::connected`], with the broker's CONNACK given.
    pub fn connected_with(config: SessionConfig, connack: ConnAck) -> Pair {
        let mut pair = Pair::new(config);
        pair.broker.auto_connack = Some(connack);
        pair.connect();
        assert_eq!(
            pair.session.state(),
            State::Connected,
            "events: {:#?}",
            pair.events
        );
        pair.take_events();
        pair.take_received();
        pair
    }

    /// Starts the session's first attempt and drives it as far as it goes.
    pub fn connect(&mut self) {
        self.session.connect(self.now);
        self.drive();
    }

    /// Plays the driver until the session has nothing more to say and the broker has
    /// nothing more to answer.
    pub fn drive(&mut self) {
        self.settle(true);
    }

    /// One driver pass per round, as the session's module doc orders it: transmit, then
    /// events; then the transport the session asked for, then the broker's answers.
    fn settle(&mut self, answer: bool) {
        for _ in 0..100_000 {
            let mut busy = false;
            while let Some(bytes) = self.session.poll_transmit() {
                busy = true;
                assert!(
                    self.link_up,
                    "the session wrote with no transport open: {bytes:02x?}"
                );
                self.broker.receive(&bytes);
            }
            while let Some(event) = self.session.poll_event() {
                busy = true;
                match event {
                    Event::OpenTransport => {
                        self.opens_requested += 1;
                        self.pending_open = true;
                    }
                    Event::CloseTransport => {
                        // Also abandons a transport still being opened.
                        self.pending_open = false;
                        self.link_down();
                    }
                    _ => {}
                }
                self.events.push(event);
            }
            if self.pending_open && self.open_transports {
                busy = true;
                self.open_pending();
            }
            if answer && self.link_up {
                for packet in std::mem::take(&mut self.broker.outbox) {
                    busy = true;
                    self.deliver_packet(&packet);
                }
            }
            if !busy {
                return;
            }
        }
        panic!("the session never settled; events: {:#?}", self.events);
    }

    fn link_down(&mut self) {
        if self.link_up {
            self.link_up = false;
            self.connection += 1;
        }
        self.broker.link_down();
    }

    /// Opens the transport the session asked for while `open_transports` was false.
    pub fn open_transport(&mut self) {
        assert!(self.pending_open, "the session asked for no transport");
        self.open_pending();
        self.drive();
    }

    /// Opens (or fails to open, see `fail_opens`) the transport the session asked for.
    fn open_pending(&mut self) {
        self.pending_open = false;
        if self.fail_opens > 0 {
            self.fail_opens -= 1;
            self.session.handle_connection_lost(self.now);
        } else {
            self.broker.link_down();
            self.link_up = true;
            self.connection += 1;
            self.session.handle_transport_open(self.now);
        }
    }

    /// Moves the clock `ms` forward, firing the session's timer at each instant it names.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        self.drive();
        let mut fired = 0;
        while let Some(at) = self.session.poll_timeout() {
            if at > until {
                break;
            }
            fired += 1;
            assert!(fired < 100_000, "the timer keeps firing at {at} ms");
            self.now = self.now.max(at);
            self.session.handle_timeout(self.now);
            self.drive();
        }
        self.now = until;
    }

    /// Moves the clock to `at` (absolute), firing timers on the way.
    pub fn advance_to(&mut self, at: u64) {
        assert!(at >= self.now, "time runs forward");
        self.advance(at - self.now);
    }

    /// The transport breaks under the session (no CloseTransport was asked for).
    pub fn break_link(&mut self) {
        assert!(self.link_up, "no link to break");
        self.link_down();
        self.session.handle_connection_lost(self.now);
        self.drive();
    }

    /// The broker sends `packet` now, in one `handle_bytes` call.
    pub fn broker_send(&mut self, packet: Packet) {
        self.broker_send_all(&[packet], Framing::PerPacket);
    }

    /// The broker sends `packets` now, cut into `handle_bytes` calls as `framing` says.
    pub fn broker_send_all(&mut self, packets: &[Packet], framing: Framing) {
        let mut chunks = Vec::new();
        for packet in packets {
            if self.broker.drop_to_client > 0 {
                self.broker.drop_to_client -= 1;
            } else {
                chunks.push(self.broker.encode(packet));
            }
        }
        let chunks = match framing {
            Framing::PerPacket => chunks,
            Framing::OneChunk => vec![chunks.concat()],
            Framing::ByteByByte => chunks.concat().into_iter().map(|b| vec![b]).collect(),
        };
        self.deliver(chunks);
    }

    /// Raw bytes from the broker, for what the codec would never produce.
    pub fn broker_send_raw(&mut self, bytes: &[u8], framing: Framing) {
        let chunks = match framing {
            Framing::PerPacket | Framing::OneChunk => vec![bytes.to_vec()],
            Framing::ByteByByte => bytes.iter().map(|&b| vec![b]).collect(),
        };
        self.deliver(chunks);
    }

    /// Bytes from the broker cut exactly as given, one `handle_bytes` call per chunk.
    pub fn broker_send_chunks(&mut self, chunks: Vec<Vec<u8>>) {
        self.deliver(chunks);
    }

    /// Hands `chunks` to the session one `handle_bytes` call each, as long as the
    /// connection they were sent on lasts; the broker answers once all are in.
    fn deliver(&mut self, chunks: Vec<Vec<u8>>) {
        assert!(self.link_up, "the broker has no connection to send on");
        let connection = self.connection;
        for chunk in chunks {
            if !self.link_up || self.connection != connection {
                break;
            }
            self.broker.bytes_sent += chunk.len();
            self.session.handle_bytes(self.now, &chunk);
            self.settle(false);
        }
        self.drive();
    }

    /// An automatic answer, in one `handle_bytes` call (unless the network loses it).
    fn deliver_packet(&mut self, packet: &Packet) {
        if self.broker.drop_to_client > 0 {
            self.broker.drop_to_client -= 1;
        } else {
            let bytes = self.broker.encode(packet);
            self.broker.bytes_sent += bytes.len();
            self.session.handle_bytes(self.now, &bytes);
        }
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Packets the broker received since the last call.
    pub fn take_received(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.broker.received)
    }

    /// Publishes and drives; panics when the session refuses at once.
    pub fn publish(&mut self, topic: &str, qos: QoS, payload: &[u8]) -> Token {
        let token = self
            .session
            .publish(self.now, publish(topic, qos, payload))
            .unwrap_or_else(|e| panic!("publish to {topic} refused: {e}"));
        self.drive();
        token
    }
}

/// A PUBLISH as the application hands it to the session.
pub fn publish(topic: &str, qos: QoS, payload: &[u8]) -> Publish {
    Publish {
        qos,
        topic: topic.to_string(),
        payload: payload.to_vec(),
        ..Publish::default()
    }
}

/// An acknowledgement with reason code 0 and no properties.
pub fn ack(packet_id: u16) -> Ack {
    Ack {
        packet_id,
        ..Ack::default()
    }
}
