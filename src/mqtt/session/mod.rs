//! The MQTT client session as a sans-IO state machine.
//!
//! A driver owns the transport (a WebSocket in the browser, a TCP stream in the device
//! simulator, a scripted broker in tests) and calls, after every outside event:
//!
//! 1. one input: [`Session::handle_transport_open`], [`Session::handle_bytes`] (or
//!    [`Session::handle_message`] then [`Session::decode_batch`], for a driver that bounds
//!    the work and the memory of one step), [`Session::handle_connection_lost`],
//!    [`Session::handle_timeout`] or a command ([`Session::connect`], [`Session::publish`],
//!    [`Session::subscribe`], ...);
//! 2. [`Session::poll_transmit`] until `None`, writing each buffer to the transport (all
//!    that is ready comes in one buffer, so one WebSocket message can carry many packets);
//! 3. [`Session::poll_event`] until `None`, acting on [`Event::OpenTransport`] and
//!    [`Event::CloseTransport`] and handing the rest to the application;
//! 4. [`Session::poll_timeout`], arming its single timer for that instant.
//!
//! Time is a parameter (`now`, milliseconds on any monotonic scale) and randomness comes
//! from the configured seed: this module never reads a clock, never touches a socket and
//! never panics on bytes from the network.
//!
//! [`Session`] is a facade in the manner of quinn-proto's `Connection`: it owns the
//! connection's phase and routes every input to the owner of the concern, each keeping its
//! own invariants: `outgoing` (offline queue, in-flight publishes, flow control, replay),
//! `inbound` (delivery and inbound QoS 2), `subscriptions` (granted filters and pending
//! requests), `aliases` (topic aliases of one connection), `handshake` (CONNECT and the
//! verdict on CONNACK), `timer` (the one table of deadlines), `transmit` (packets that
//! cannot fail to encode) and `ids` (the packet id space that publishes and requests share).

mod aliases;
mod config;
mod error;
mod handshake;
mod ids;
mod inbound;
mod journal;
mod outgoing;
mod subscriptions;
mod timer;
mod transmit;

pub use config::{Overflow, QueueConfig, SessionConfig, DEFAULT_MAX_INFLIGHT_V311};
pub use error::{ErrorCode, SessionError};
pub use journal::StoreOp;

use std::collections::VecDeque;

use crate::mqtt::backoff::{Backoff, SplitMix64};
use crate::mqtt::codec::{
    self, Ack, ConnAck, Disconnect, Packet, Properties, ProtocolVersion, Publish, QoS, ReasonCode,
    SendAs, SubAck, Subscribe, SubscribeFilter, UnsubAck, Unsubscribe,
};
use crate::mqtt::topic;
use aliases::{Aliases, Outbound};
use handshake::Verdict;
use ids::PacketIds;
use inbound::Inbound;
use outgoing::{InFlight, Outgoing, PubRec, Stage};
use subscriptions::{Acked, Subscriptions};
use timer::{Timer, TimerTable};
use transmit::{encode_into, Reply};

/// Milliseconds on the driver's monotonic clock.
pub type Millis = u64;

/// Identifies one publish, subscribe or unsubscribe request in completion events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

/// The connection state as the application sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started yet, or the first attempt is under way.
    Connecting,
    Connected,
    /// An attempt after a lost connection is under way.
    Reconnecting,
    /// Connection lost; waiting for the next attempt.
    Offline,
    /// Ended by the application, or reconnecting gave up. Final.
    Closed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Connected => "connected",
            State::Reconnecting => "reconnecting",
            State::Offline => "offline",
            State::Closed => "closed",
        }
    }
}

/// How a publish ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishOutcome {
    /// `None` for QoS 0.
    pub packet_id: Option<u16>,
    /// 0 for QoS 0; the PUBACK or PUBCOMP reason code otherwise (0x10: no subscribers).
    pub reason_code: u8,
}

/// What the session asks of the driver or tells the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Open a new transport now and call `handle_transport_open` when it is open.
    OpenTransport,
    /// Close the current transport after writing what `poll_transmit` returns.
    CloseTransport,
    StateChanged(State),
    /// CONNACK accepted.
    Connected {
        session_present: bool,
        reason_code: u8,
        properties: Properties,
    },
    /// An application message (topic aliases already resolved).
    Message(Publish),
    PublishDone {
        token: Token,
        result: Result<PublishOutcome, SessionError>,
    },
    SubscribeDone {
        token: Token,
        result: Result<SubAck, SessionError>,
    },
    UnsubscribeDone {
        token: Token,
        result: Result<UnsubAck, SessionError>,
    },
    /// The connection was lost (or an attempt failed); `Reconnecting` or `Closed` follows.
    Offline {
        error: SessionError,
    },
    /// The next attempt is scheduled in `delay` ms; `attempt` counts from 1.
    Reconnecting {
        attempt: u32,
        delay: Millis,
    },
    /// Something worth reporting that does not end the session by itself.
    Error(SessionError),
    /// Final: after `disconnect`/`close`, or when reconnecting gave up (`error` says why).
    Closed {
        error: Option<SessionError>,
    },
}

/// Counters for `MqttClient.stats()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub messages_sent: u64,
    pub messages_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub inflight: usize,
    pub queued: usize,
    pub reconnects: u64,
    pub last_ping_rtt: Option<Millis>,
}

/// What the broker said about itself in CONNACK (defaults where it said nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    pub receive_maximum: u16,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: u16,
    pub maximum_qos: QoS,
    pub retain_available: bool,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            receive_maximum: 65_535,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `connect` not called yet.
    Idle,
    /// Transport requested, not open yet.
    Opening,
    /// CONNECT written, waiting for CONNACK.
    AwaitingConnAck,
    Connected,
    /// Between attempts.
    Waiting,
    Closed,
}

/// The client side of one MQTT session, across any number of connections.
pub struct Session {
    config: SessionConfig,
    version: ProtocolVersion,
    phase: Phase,
    /// True once a CONNACK was accepted: later attempts are "reconnecting".
    ever_connected: bool,
    /// Bumped whenever a connection ends, so handlers can tell that theirs is gone.
    generation: u64,
    backoff: Option<Backoff>,
    rng: SplitMix64,

    /// Encoded packets waiting for `poll_transmit`.
    tx: Vec<u8>,
    /// `tx` holds a PUBLISH (see [`Session::transmit_has_publish`]).
    tx_publish: bool,
    /// Received bytes not decoded yet: whole transport messages in arrival order, the first
    /// read from `rx_at`. A message is kept as it came, not copied per batch, so a large one
    /// is decoded in place a batch at a time; only a packet cut between messages is joined.
    rx: VecDeque<Vec<u8>>,
    rx_at: usize,
    /// The transport broke MQTT's framing (see [`Session::handle_transport_error`]): the
    /// connection fails with this once the bytes received before it are handled.
    rx_error: Option<SessionError>,
    events: VecDeque<Event>,

    /// What the broker said in the last CONNACK.
    server: ServerLimits,
    keep_alive_ms: Millis,
    last_tx: Millis,
    last_rx: Millis,
    /// When the unanswered PINGREQ went out.
    ping_sent: Option<Millis>,
    timers: TimerTable,

    /// Packet ids in use by publishes in flight and by requests in flight.
    ids: PacketIds,
    next_token: u64,
    outgoing: Outgoing,
    inbound: Inbound,
    subscriptions: Subscriptions,
    aliases: Aliases,
    stats: Stats,
    /// Set by [`Session::end`]: DISCONNECT (with this reason) once nothing is pending, or at
    /// [`Timer::End`], whichever comes first.
    ending: Option<u8>,
}

impl Session {
    pub fn new(config: SessionConfig) -> Self {
        let backoff = config.reconnect.clone().map(Backoff::new);
        let durable = config.durable;
        let mut session = Session {
            version: config.protocol,
            rng: SplitMix64::new(config.seed),
            backoff,
            config,
            phase: Phase::Idle,
            ever_connected: false,
            generation: 0,
            tx: Vec::new(),
            tx_publish: false,
            rx: VecDeque::new(),
            rx_at: 0,
            rx_error: None,
            events: VecDeque::new(),
            server: ServerLimits::default(),
            keep_alive_ms: 0,
            last_tx: 0,
            last_rx: 0,
            ping_sent: None,
            timers: TimerTable::default(),
            ids: PacketIds::new(),
            next_token: 1,
            outgoing: Outgoing::default(),
            inbound: Inbound::default(),
            subscriptions: Subscriptions::default(),
            aliases: Aliases::default(),
            stats: Stats::default(),
            ending: None,
        };
        session.outgoing.journal = journal::Journal::new(durable);
        session.inbound.journal = journal::Journal::new(durable);
        session
    }

    // ----- getters -----

    pub fn state(&self) -> State {
        match self.phase {
            Phase::Idle => State::Connecting,
            Phase::Opening | Phase::AwaitingConnAck => {
                if self.ever_connected {
                    State::Reconnecting
                } else {
                    State::Connecting
                }
            }
            Phase::Connected => State::Connected,
            Phase::Waiting => State::Offline,
            Phase::Closed => State::Closed,
        }
    }

    /// The version in use (after a fallback, 3.1.1).
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// The client id; the broker-assigned one once a v5 broker assigned it.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// How many QoS 1/2 publishes of the client are in flight (sent, not yet completed).
    pub fn inflight_len(&self) -> usize {
        self.outgoing.inflight_len()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            inflight: self.outgoing.inflight_len(),
            queued: self.outgoing.queued_len(),
            ..self.stats.clone()
        }
    }

    pub fn server_limits(&self) -> &ServerLimits {
        &self.server
    }

    /// Granted subscriptions and their subscription identifiers.
    pub fn subscriptions(&self) -> impl Iterator<Item = &(SubscribeFilter, Option<u32>)> {
        self.subscriptions.granted()
    }

    /// Replaces the credentials used from the next attempt on (token refresh).
    pub fn set_credentials(&mut self, username: Option<String>, password: Option<Vec<u8>>) {
        self.config.username = username;
        self.config.password = password;
    }

    // ----- inputs -----

    /// Starts the first attempt: asks the driver for a transport.
    pub fn connect(&mut self, now: Millis) {
        if self.phase == Phase::Idle {
            self.start_attempt(now);
        }
    }

    /// The transport asked for by [`Event::OpenTransport`] is open: CONNECT goes out.
    pub fn handle_transport_open(&mut self, now: Millis) {
        if self.phase != Phase::Opening {
            return;
        }
        // Nothing meant for an earlier transport may reach this one.
        self.tx.clear();
        self.tx_publish = false;
        self.rx.clear();
        self.rx_at = 0;
        self.rx_error = None;
        self.aliases.clear();
        self.ping_sent = None;
        self.last_rx = now;
        let connect = handshake::connect_packet(&self.config, self.version);
        // A CONNECT that cannot be encoded (a 70 kB username, say) can never succeed.
        if let Err(e) = self.write(now, &Packet::Connect(connect)) {
            self.fail_for_good(SessionError::from(e));
            return;
        }
        self.phase = Phase::AwaitingConnAck;
    }

    /// Bytes from the transport, in any framing, decoded and handled at once: every
    /// complete packet, however many. For drivers that need no bound on one step.
    pub fn handle_bytes(&mut self, now: Millis, data: &[u8]) {
        self.handle_message(now, data.to_vec());
        self.decode_batch(now, usize::MAX, usize::MAX);
    }

    /// One message from the transport (any framing), queued behind those not decoded yet;
    /// nothing is decoded until [`Session::decode_batch`]. Arrival is what counts as
    /// traffic for the keepalive, not decoding.
    pub fn handle_message(&mut self, now: Millis, data: Vec<u8>) {
        if !matches!(self.phase, Phase::AwaitingConnAck | Phase::Connected) {
            return;
        }
        self.stats.bytes_received += data.len() as u64;
        self.last_rx = now;
        self.arm_keepalive();
        // After a framing violation the connection is as good as gone: later bytes are void.
        if !data.is_empty() && self.rx_error.is_none() {
            self.rx.push_back(data);
        }
    }

    /// The transport saw input MQTT forbids below the packet level, such as a WebSocket
    /// text message [MQTT-6.0.0-1]. The connection fails with `error` (a protocol failure:
    /// DISCONNECT on v5, then the reconnect policy) once the bytes that arrived before it
    /// are decoded; call [`Session::decode_batch`] as after [`Session::handle_message`].
    pub fn handle_transport_error(&mut self, error: SessionError) {
        if matches!(self.phase, Phase::AwaitingConnAck | Phase::Connected) {
            self.rx_error.get_or_insert(error);
        }
    }

    /// Decodes and handles queued packets in arrival order until `max_packets` were
    /// decoded or at least `max_bytes` were used, so the events of one batch can be
    /// delivered before the next is decoded. Returns `true` when it stopped at a bound with
    /// bytes left: call again after polling the events. A connection torn down meanwhile
    /// voids the rest.
    pub fn decode_batch(&mut self, now: Millis, max_packets: usize, max_bytes: usize) -> bool {
        let more = self.decode_some(now, max_packets, max_bytes);
        if !more {
            // Everything before the violation was handled (a cut packet never completes).
            if let Some(error) = self.rx_error.take() {
                self.protocol_failure(now, error);
            }
        }
        self.check_ending(now);
        more
    }

    /// The transport closed or failed, or could not be opened.
    pub fn handle_connection_lost(&mut self, now: Millis) {
        if self.is_live() {
            let error = match self.phase {
                Phase::Connected => SessionError::new(ErrorCode::ConnectionLost, "connection lost"),
                _ => SessionError::new(ErrorCode::ConnectionLost, "could not connect"),
            };
            self.lost(now, error, false);
        }
    }

    /// The timer armed from [`Session::poll_timeout`] fired (early or late calls are fine).
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some(timer) = self.timers.take_expired(now) {
            self.fire(now, timer);
        }
    }

    /// Does what `timer` stands for (see [`Timer`]); the table already stopped it.
    fn fire(&mut self, now: Millis, timer: Timer) {
        match timer {
            Timer::End => {
                if let Some(reason_code) = self.ending {
                    self.disconnect(now, reason_code);
                }
            }
            Timer::Connect => {
                let e = SessionError::new(
                    ErrorCode::ConnectTimeout,
                    "no connack within the connect timeout",
                );
                self.lost(now, e, true);
            }
            Timer::Reconnect => self.start_attempt(now),
            Timer::PingTimeout => {
                let e =
                    SessionError::new(ErrorCode::KeepaliveTimeout, "no pingresp from the broker");
                self.lost(now, e, true);
            }
            Timer::KeepAlive => {
                // [MQTT-3.1.2-23]
                self.ping_sent = Some(now);
                self.reply(now, Reply::PingReq);
                // Dead after 2 x keepalive of silence: the ping went out at 1 x and the reply
                // gets a full period. A broker may queue the PINGRESP behind a large message
                // it sends slowly (Mosquitto's WebSocket listener takes about 1.6 s for
                // 64 KiB): half a period cut such a resume at the same place every time. A
                // longer wait would leave us silent for more than a keepalive, which the
                // broker may punish [MQTT-3.1.2-24].
                self.timers
                    .set(Timer::PingTimeout, now + self.keep_alive_ms);
            }
        }
    }

    /// Re-arms [`Timer::KeepAlive`] after traffic either way. While a PINGREQ is unanswered
    /// only [`Timer::PingTimeout`] runs.
    fn arm_keepalive(&mut self) {
        if self.phase == Phase::Connected && self.keep_alive_ms > 0 && self.ping_sent.is_none() {
            let at = self.last_tx.min(self.last_rx) + self.keep_alive_ms;
            self.timers.set(Timer::KeepAlive, at);
        }
    }

    /// Connectivity came back (the browser's `online` event): skip the rest of the wait.
    pub fn network_online(&mut self, now: Millis) {
        if let Phase::Waiting = self.phase {
            self.start_attempt(now);
        }
    }

    // ----- commands -----

    /// Publishes a message. Errors that can be known now are returned at once and nothing is
    /// sent; the outcome otherwise arrives as [`Event::PublishDone`] with the returned token.
    pub fn publish(&mut self, now: Millis, mut publish: Publish) -> Result<Token, SessionError> {
        self.check_open()?;
        topic::validate_topic_name(&publish.topic)?;
        // The session owns ids, aliases and DUP.
        publish.packet_id = None;
        publish.dup = false;
        publish.properties.topic_alias = None;
        publish.properties.subscription_identifiers.clear();
        if self.ever_connected {
            if let Some(e) = outgoing::refusal(&publish, &self.server) {
                return Err(e);
            }
        }
        let size = unaliased_len(&mut publish, self.version)?;
        if let Some(max) = self.server.maximum_packet_size {
            if size > max as usize {
                return Err(too_large(size, max));
            }
        }
        if self.phase != Phase::Connected
            && publish.qos == QoS::AtMostOnce
            && !self.config.queue.qos0
        {
            return Err(SessionError::new(
                ErrorCode::NotConnected,
                "not connected and qos 0 is not queued",
            ));
        }
        let token = self.token();
        // What cannot go out at once counts against the queue's bounds.
        let can_send_now = self.phase == Phase::Connected && self.outgoing.queued_len() == 0;
        let bounded = (!can_send_now).then_some(&self.config.queue);
        self.outgoing
            .enqueue(token, publish, bounded, &mut self.events)?;
        self.pump(now);
        Ok(token)
    }

    /// Subscribes to one or more filters; [`Event::SubscribeDone`] carries the SUBACK.
    pub fn subscribe(
        &mut self,
        now: Millis,
        filters: Vec<SubscribeFilter>,
        properties: Properties,
    ) -> Result<Token, SessionError> {
        self.check_open()?;
        subscriptions::check_subscribe(&filters, &properties)?;
        let packet = Packet::Subscribe(Subscribe {
            packet_id: 0,
            filters,
            properties,
        });
        self.enqueue_control(now, packet)
    }

    /// Unsubscribes; [`Event::UnsubscribeDone`] carries the UNSUBACK.
    pub fn unsubscribe(
        &mut self,
        now: Millis,
        filters: Vec<String>,
        properties: Properties,
    ) -> Result<Token, SessionError> {
        self.check_open()?;
        subscriptions::check_unsubscribe(&filters)?;
        let packet = Packet::Unsubscribe(Unsubscribe {
            packet_id: 0,
            filters,
            properties,
        });
        self.enqueue_control(now, packet)
    }

    /// Refuses new requests once the session is closed or ending.
    fn check_open(&self) -> Result<(), SessionError> {
        if self.phase == Phase::Closed || self.ending.is_some() {
            return Err(SessionError::closed());
        }
        Ok(())
    }

    /// Queues a validated SUBSCRIBE / UNSUBSCRIBE unless it can never fit the broker's
    /// maximum packet size, and sends it when the connection allows.
    fn enqueue_control(&mut self, now: Millis, mut packet: Packet) -> Result<Token, SessionError> {
        let size = subscriptions::request_len(&mut packet, self.version)?;
        if let Some(max) = self.server.maximum_packet_size {
            if size > max as usize {
                return Err(too_large(size, max));
            }
        }
        let token = self.token();
        self.subscriptions.push(token, packet);
        self.pump(now);
        Ok(token)
    }

    /// Ends the session gracefully after what is already requested has completed: queued
    /// publishes are sent and QoS 1/2 exchanges finish (within the flow-control limits as
    /// usual), then [`Session::disconnect`] runs. New requests fail `CLOSED` meanwhile. At
    /// `now + timeout`, or when the connection is lost, it disconnects at once and what is
    /// still open fails `CLOSED`. Not connected: the same as `disconnect`.
    pub fn end(&mut self, now: Millis, reason_code: u8, timeout: Millis) {
        if self.phase != Phase::Connected || self.ending.is_some() {
            if self.ending.is_none() {
                self.disconnect(now, reason_code);
            }
            return;
        }
        self.ending = Some(reason_code);
        self.timers.set(Timer::End, now.saturating_add(timeout));
        self.check_ending(now);
    }

    /// Disconnects an ending session once nothing is pending ([`Timer::End`] covers the
    /// deadline).
    fn check_ending(&mut self, now: Millis) {
        let Some(reason_code) = self.ending else {
            return;
        };
        let idle = self.outgoing.is_idle() && self.subscriptions.is_idle();
        if idle || self.phase != Phase::Connected {
            self.disconnect(now, reason_code);
        }
    }

    /// Ends the session now: what is ready is written, then DISCONNECT (so the broker
    /// discards the Will), then the transport closes. Requests still pending fail `CLOSED`.
    pub fn disconnect(&mut self, now: Millis, reason_code: u8) {
        if self.phase == Phase::Connected {
            self.write_disconnect(now, reason_code);
        }
        self.close(now);
    }

    /// Ends the session at once, without DISCONNECT: the broker publishes the Will.
    pub fn close(&mut self, _now: Millis) {
        if self.phase == Phase::Closed {
            return;
        }
        if matches!(
            self.phase,
            Phase::Opening | Phase::AwaitingConnAck | Phase::Connected
        ) {
            self.events.push_back(Event::CloseTransport);
        }
        self.finish(None);
    }

    /// Drops the current connection (if any) and attempts a new one at once, keeping the
    /// session state. Does nothing once closed.
    pub fn reconnect_now(&mut self, now: Millis) {
        match self.phase {
            Phase::Closed => {}
            Phase::Idle | Phase::Waiting => self.start_attempt(now),
            Phase::Opening | Phase::AwaitingConnAck | Phase::Connected => {
                self.events.push_back(Event::CloseTransport);
                self.reset_connection();
                self.events.push_back(Event::Offline {
                    error: SessionError::new(ErrorCode::ConnectionLost, "reconnect requested"),
                });
                self.start_attempt(now);
            }
        }
    }

    // ----- outputs -----

    /// Everything ready to send, as one buffer.
    /// Ends the session for good with `error`: a failure outside the protocol that no
    /// retry can fix (the driver's store broke). Every open request fails with it.
    pub fn fail(&mut self, error: SessionError) {
        if self.phase != Phase::Closed {
            self.fail_for_good(error);
        }
    }

    /// Store operations recorded since the last call (always none without
    /// [`SessionConfig::durable`]). A driver applies them in order and holds back what
    /// [`Session::poll_transmit`] and [`Session::poll_event`] give from now on until they are
    /// durable: the session counts on nothing going out before its record is kept.
    pub fn take_store_ops(&mut self) -> Vec<StoreOp> {
        let mut ops = self.outgoing.journal.take();
        ops.append(&mut self.inbound.journal.take());
        ops
    }

    /// Takes back what a store kept for this client id (records as
    /// [`Session::take_store_ops`] wrote them), before [`Session::connect`]: the publishes
    /// an earlier page left unacknowledged are resent (or re-queued, when the broker lost
    /// the session) and incoming QoS 2 messages it delivered are not delivered again. A
    /// record that cannot be read is removed and reported as an [`Event::Error`]
    /// (`STORE_FAILED`). Returns the number of outgoing publishes taken back.
    pub fn load_store(&mut self, records: Vec<(String, Vec<u8>)>) -> usize {
        let loaded = journal::load(records);
        let n = loaded.outgoing.len();
        let next_token = &mut self.next_token;
        let token = || {
            let t = Token(*next_token);
            *next_token += 1;
            t
        };
        self.outgoing.restore(loaded.outgoing, &mut self.ids, token);
        self.inbound.restore(loaded.incoming);
        for name in loaded.bad {
            self.outgoing.journal.forget(&name);
            self.events.push_back(Event::Error(SessionError::new(
                ErrorCode::StoreFailed,
                format!("unreadable store record {name} removed"),
            )));
        }
        n
    }

    /// Whether [`Session::poll_transmit`] has bytes to give.
    pub fn has_transmit(&self) -> bool {
        !self.tx.is_empty()
    }

    /// Whether what [`Session::poll_transmit`] would give holds a PUBLISH (not only
    /// acknowledgements and control packets).
    pub fn transmit_has_publish(&self) -> bool {
        self.tx_publish
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx_publish = false;
        if self.tx.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.tx))
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] wants to be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.timers.next_timeout()
    }

    // ----- internals: connection lifecycle -----

    fn is_live(&self) -> bool {
        matches!(
            self.phase,
            Phase::Opening | Phase::AwaitingConnAck | Phase::Connected
        )
    }

    fn token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    fn set_phase(&mut self, phase: Phase) {
        let before = self.state();
        self.phase = phase;
        let after = self.state();
        if before != after {
            self.events.push_back(Event::StateChanged(after));
        }
    }

    fn start_attempt(&mut self, now: Millis) {
        self.reset_connection();
        self.timers.stop(Timer::Reconnect);
        self.timers
            .set(Timer::Connect, now + self.config.connect_timeout);
        self.set_phase(Phase::Opening);
        self.events.push_back(Event::OpenTransport);
    }

    /// Forgets everything that belongs to one connection only.
    fn reset_connection(&mut self) {
        self.generation += 1;
        // `tx` is kept: a DISCONNECT written just before is for the transport being closed,
        // and the driver writes it before acting on CloseTransport.
        self.rx.clear();
        self.rx_at = 0;
        self.rx_error = None;
        self.aliases.clear();
        self.ping_sent = None;
        for timer in [Timer::Connect, Timer::KeepAlive, Timer::PingTimeout] {
            self.timers.stop(timer);
        }
    }

    /// The connection (or the attempt) ended. `close_transport`: we end it, so tell the driver.
    fn lost(&mut self, now: Millis, error: SessionError, close_transport: bool) {
        if self.ending.is_some() {
            // Ending anyway: no reconnect, what is open fails.
            if close_transport {
                self.events.push_back(Event::CloseTransport);
            }
            self.events.push_back(Event::Offline {
                error: error.clone(),
            });
            self.finish(Some(error));
            return;
        }
        if close_transport {
            self.events.push_back(Event::CloseTransport);
        }
        self.reset_connection();
        self.events.push_back(Event::Offline {
            error: error.clone(),
        });
        let next = match self.backoff.as_mut() {
            Some(b) => {
                let r = self.rng.next_f64();
                b.next_delay(r).map(|d| (b.attempt(), d))
            }
            None => None,
        };
        match next {
            Some((attempt, delay)) => {
                self.timers.set(Timer::Reconnect, now + delay);
                self.set_phase(Phase::Waiting);
                self.events
                    .push_back(Event::Reconnecting { attempt, delay });
            }
            None => self.finish(Some(error)),
        }
    }

    /// A failure no retry can fix.
    fn fail_for_good(&mut self, error: SessionError) {
        self.events.push_back(Event::CloseTransport);
        self.reset_connection();
        self.finish(Some(error));
    }

    /// Enters `Closed`, failing every request still open.
    fn finish(&mut self, error: Option<SessionError>) {
        self.ending = None;
        self.timers = TimerTable::default();
        self.reset_connection();
        let fail = error.clone().unwrap_or_else(SessionError::closed);
        let done = self.outgoing.fail_all(&fail);
        self.events.extend(done);
        let done = self.subscriptions.fail_all(&fail);
        self.events.extend(done);
        self.ids.clear();
        self.set_phase(Phase::Closed);
        self.events.push_back(Event::Closed { error });
    }

    // ----- internals: receiving -----

    /// [`Session::decode_batch`] without its epilogue: `true` when a bound stopped it with
    /// bytes left; `false` when all complete packets were handled or the connection ended.
    fn decode_some(&mut self, now: Millis, max_packets: usize, max_bytes: usize) -> bool {
        let generation = self.generation;
        let (mut packets, mut bytes) = (0, 0);
        loop {
            let Some(message) = self.rx.front() else {
                return false;
            };
            let rest = &message[self.rx_at..];
            if rest.is_empty() {
                self.rx.pop_front();
                self.rx_at = 0;
                continue;
            }
            if packets >= max_packets || bytes >= max_bytes {
                return true;
            }
            let version = self.decode_version(rest);
            match codec::decode_from_server(rest, version, self.config.maximum_packet_size) {
                // The rest of the packet is in the next message, or yet to come.
                Ok(None) if self.join_rx() => {}
                Ok(None) => return false,
                Ok(Some((packet, used))) => {
                    self.rx_at += used;
                    packets += 1;
                    bytes += used;
                    self.handle_packet(now, packet, version);
                    if self.generation != generation {
                        return false;
                    }
                }
                Err(e) => {
                    self.protocol_failure(now, SessionError::from(e));
                    return false;
                }
            }
        }
    }

    /// The version to decode `rest` with: a 3.1.1-only broker answers a v5 CONNECT with a
    /// 3.1.1 CONNACK (return code 1).
    fn decode_version(&self, rest: &[u8]) -> ProtocolVersion {
        if matches!(self.phase, Phase::AwaitingConnAck)
            && self.version == ProtocolVersion::V5
            && rest.len() >= 2
            && rest[0] == 0x20
            && rest[1] == 0x02
        {
            ProtocolVersion::V311
        } else {
            self.version
        }
    }

    /// The first queued message ends in part of a packet: joins that part with the next
    /// message (one copy of it). `false` when no message follows yet.
    fn join_rx(&mut self) -> bool {
        if self.rx.len() < 2 {
            return false;
        }
        let (Some(mut head), Some(next)) = (self.rx.pop_front(), self.rx.pop_front()) else {
            return false;
        };
        head.drain(..self.rx_at);
        self.rx_at = 0;
        head.extend_from_slice(&next);
        self.rx.push_front(head);
        true
    }

    /// The broker broke the protocol: say why (v5), drop the connection, retry per policy.
    fn protocol_failure(&mut self, now: Millis, error: SessionError) {
        if self.version == ProtocolVersion::V5 && self.phase == Phase::Connected {
            // Decode and protocol errors carry reason codes DISCONNECT may carry.
            let reason_code = error
                .reason_code
                .unwrap_or(ReasonCode::ProtocolError.code());
            self.write_disconnect(now, reason_code);
        }
        self.lost(now, error, true);
    }

    fn handle_packet(&mut self, now: Millis, packet: Packet, decoded_as: ProtocolVersion) {
        if self.phase != Phase::AwaitingConnAck {
            return self.handle_connected(now, packet);
        }
        match packet {
            Packet::ConnAck(connack) => self.handle_connack(now, connack, decoded_as),
            other => self.protocol_failure(
                now,
                SessionError::protocol(
                    ReasonCode::ProtocolError,
                    format!("packet type {} before connack", other.packet_type()),
                ),
            ),
        }
    }

    /// A packet on a connection past CONNACK.
    fn handle_connected(&mut self, now: Millis, packet: Packet) {
        match packet {
            Packet::Publish(p) => self.handle_publish(now, p),
            Packet::PubAck(ack) => self.handle_puback(now, ack),
            Packet::PubRec(ack) => self.handle_pubrec(now, ack),
            Packet::PubRel(ack) => self.handle_pubrel(now, ack),
            Packet::PubComp(ack) => self.handle_pubcomp(now, ack),
            Packet::SubAck(ack) => {
                let acked = self.subscriptions.suback(ack, &mut self.ids);
                self.handle_acked(now, acked);
            }
            Packet::UnsubAck(ack) => {
                let acked = self
                    .subscriptions
                    .unsuback(ack, &mut self.ids, self.version);
                self.handle_acked(now, acked);
            }
            Packet::PingResp => self.handle_pingresp(now),
            Packet::Disconnect(d) => self.lost(now, SessionError::server_disconnect(d), true),
            other => self.protocol_failure(
                now,
                SessionError::protocol(
                    ReasonCode::ProtocolError,
                    format!(
                        "unexpected packet type {} from the broker",
                        other.packet_type()
                    ),
                ),
            ),
        }
    }

    /// After a SUBACK or UNSUBACK: the request's event, then what waited for its packet id;
    /// or, when the ack broke the protocol, the failed request and the end of the connection.
    fn handle_acked(&mut self, now: Millis, acked: Acked) {
        match acked {
            Acked::Done(done) => {
                self.events.extend(done);
                self.pump(now);
            }
            Acked::Broken(failed, error) => {
                self.events.extend(failed);
                self.protocol_failure(now, error);
            }
        }
    }

    fn handle_pingresp(&mut self, now: Millis) {
        if let Some(sent) = self.ping_sent.take() {
            self.stats.last_ping_rtt = Some(now.saturating_sub(sent));
            self.timers.stop(Timer::PingTimeout);
            self.arm_keepalive();
        }
    }

    fn handle_connack(&mut self, now: Millis, connack: ConnAck, decoded_as: ProtocolVersion) {
        match handshake::judge(&connack, decoded_as, self.version, &self.config) {
            Verdict::Accept => self.accept(now, connack),
            Verdict::FallBack => {
                // Same attempt, older protocol: no backoff step, a fresh connect timeout.
                self.version = ProtocolVersion::V311;
                self.events.push_back(Event::CloseTransport);
                self.start_attempt(now);
            }
            Verdict::Refused(e) => self.lost(now, e, true),
            Verdict::Invalid(e) => self.protocol_failure(now, e),
        }
    }

    /// An accepted CONNACK: the broker's limits apply, and what the last connection left
    /// unfinished is replayed.
    fn accept(&mut self, now: Millis, connack: ConnAck) {
        let p = &connack.properties;
        self.server = ServerLimits::from_connack(p);
        if let Some(id) = &p.assigned_client_identifier {
            self.config.client_id = id.clone();
        }
        let keep_alive = p.server_keep_alive.unwrap_or(self.config.keep_alive);
        self.keep_alive_ms = u64::from(keep_alive) * 1000;
        if self.ever_connected {
            self.stats.reconnects += 1;
        }
        self.ever_connected = true;
        if let Some(b) = self.backoff.as_mut() {
            b.reset();
        }
        let session_present = connack.session_present;
        self.timers.stop(Timer::Connect);
        self.set_phase(Phase::Connected);
        self.arm_keepalive();
        self.events.push_back(Event::Connected {
            session_present,
            reason_code: connack.reason_code,
            properties: connack.properties,
        });
        self.restore(now, session_present);
    }

    /// After CONNACK: replay or re-queue what the last connection left unfinished.
    fn restore(&mut self, now: Millis, session_present: bool) {
        if !session_present {
            self.inbound.clear();
        }
        let replay = self
            .outgoing
            .take_for_replay(session_present, &mut self.ids);
        for o in replay {
            self.resend(now, o);
        }
        // Subscribe/unsubscribe requests that were on the wire go out again, first, behind
        // the restored subscriptions.
        let resubscribe = !session_present && self.config.resubscribe;
        self.subscriptions.replay(&mut self.ids, resubscribe);
        self.pump(now);
    }

    fn handle_publish(&mut self, now: Millis, mut p: Publish) {
        if self.version == ProtocolVersion::V5 {
            if let Err(e) = self
                .aliases
                .resolve(&mut p, self.config.topic_alias_maximum)
            {
                return self.protocol_failure(now, e);
            }
        }
        if p.topic.is_empty() || topic::validate_topic_name(&p.topic).is_err() {
            return self.protocol_failure(
                now,
                SessionError::protocol(
                    ReasonCode::TopicNameInvalid,
                    "invalid topic name from the broker",
                ),
            );
        }
        self.stats.messages_received += 1;
        match self.inbound.publish(&p, self.config.receive_maximum) {
            Ok(delivery) => {
                if delivery.deliver {
                    self.events.push_back(Event::Message(p));
                }
                if let Some(reply) = delivery.reply {
                    self.reply(now, reply);
                }
            }
            Err(e) => self.protocol_failure(now, e),
        }
    }

    fn handle_puback(&mut self, now: Millis, ack: Ack) {
        if let Some(token) = self.outgoing.puback(ack.packet_id, &mut self.ids) {
            self.complete_publish(now, token, ack);
        }
    }

    fn handle_pubrec(&mut self, now: Millis, ack: Ack) {
        let id = ack.packet_id;
        match self.outgoing.pubrec(id, ack.reason_code, &mut self.ids) {
            PubRec::Unknown if self.version == ProtocolVersion::V5 => {
                // Answer so the broker can free the id.
                self.reply(now, Reply::PubRel { id, found: false });
            }
            PubRec::Unknown | PubRec::Ignored => {}
            PubRec::Failed(token) => self.complete_publish(now, token, ack),
            PubRec::Release => self.reply(now, Reply::PubRel { id, found: true }),
        }
    }

    fn handle_pubrel(&mut self, now: Millis, ack: Ack) {
        let reply = self.inbound.pubrel(ack.packet_id);
        self.reply(now, reply);
    }

    fn handle_pubcomp(&mut self, now: Millis, ack: Ack) {
        if let Some(token) = self.outgoing.pubcomp(ack.packet_id, &mut self.ids) {
            self.complete_publish(now, token, ack);
        }
    }

    /// The last acknowledgement of an outgoing publish (PUBACK, PUBCOMP or a failing
    /// PUBREC) arrived: reports it and lets what waited for the id or the slot go.
    fn complete_publish(&mut self, now: Millis, token: Token, ack: Ack) {
        let result =
            outgoing::outcome(ack.packet_id, ack.reason_code, ack.properties.reason_string);
        self.events.push_back(Event::PublishDone { token, result });
        self.pump(now);
    }

    // ----- internals: sending -----

    /// Encodes `packet` onto the transmit buffer and books the bytes.
    fn write(&mut self, now: Millis, packet: &Packet) -> Result<usize, codec::EncodeError> {
        let n = encode_into(&mut self.tx, self.version, packet)?;
        self.book_tx(now, n);
        Ok(n)
    }

    /// Writes a packet the session answers with; see [`Reply`] for why it cannot fail.
    fn reply(&mut self, now: Millis, reply: Reply) {
        match encode_into(&mut self.tx, self.version, &reply.packet(self.version)) {
            Ok(n) => self.book_tx(now, n),
            // Unreachable by `Reply`'s invariant; reported rather than dropped, should the
            // codec's rules ever change.
            Err(e) => self.events.push_back(Event::Error(e.into())),
        }
    }

    /// Writes DISCONNECT. A reason code DISCONNECT cannot carry (one the application gave)
    /// leaves it out: the transport still closes, so the broker publishes the Will, and the
    /// application hears why.
    fn write_disconnect(&mut self, now: Millis, reason_code: u8) {
        let packet = Packet::Disconnect(Disconnect {
            reason_code,
            properties: Properties::default(),
        });
        if let Err(e) = self.write(now, &packet) {
            self.events.push_back(Event::Error(e.into()));
        }
    }

    /// Books `n` bytes just written to the transmit buffer.
    fn book_tx(&mut self, now: Millis, n: usize) {
        self.stats.bytes_sent += n as u64;
        self.last_tx = now;
        self.arm_keepalive();
    }

    /// Resends a publish in flight after a reconnect with the session present: the PUBLISH
    /// with DUP, or the PUBREL past PUBREC [MQTT-4.4.0-1].
    fn resend(&mut self, now: Millis, mut o: InFlight) {
        match o.stage {
            Stage::AwaitAck => {
                if let Err(e) = self.write_publish(now, &mut o.publish, true) {
                    // The new connection's broker takes smaller packets than the last one.
                    self.outgoing.unsent(Some(o.id), o.seq, &mut self.ids);
                    self.events.push_back(Event::PublishDone {
                        token: o.token,
                        result: Err(e),
                    });
                    return;
                }
            }
            Stage::AwaitComp => {
                let id = o.id;
                self.reply(now, Reply::PubRel { id, found: true });
            }
        }
        self.outgoing.resent(o);
    }

    /// Writes a PUBLISH (with DUP when `dup`), using a topic alias where the broker allows
    /// them. Fails, writing nothing, when it exceeds the broker's maximum packet size.
    fn write_publish(
        &mut self,
        now: Millis,
        p: &mut Publish,
        dup: bool,
    ) -> Result<(), SessionError> {
        let choice = match self.version {
            ProtocolVersion::V5 => self
                .aliases
                .outbound(&p.topic, self.server.topic_alias_maximum),
            ProtocolVersion::V311 => Outbound::None,
        };
        let max = self.server.maximum_packet_size.unwrap_or(u32::MAX) as usize;
        let mut send = SendAs {
            dup,
            alias_only: false,
        };
        let mut new_alias = None;
        p.properties.topic_alias = None;
        match choice {
            Outbound::Known(alias) => {
                p.properties.topic_alias = Some(alias);
                send.alias_only = true;
            }
            Outbound::New(alias) => {
                p.properties.topic_alias = Some(alias);
                // The alias's 3 bytes can be what does not fit: then the topic goes alone.
                if p.encoded_len(self.version, send)? <= max {
                    new_alias = Some(alias);
                } else {
                    p.properties.topic_alias = None;
                }
            }
            Outbound::None => {}
        }
        let written = match p.encoded_len(self.version, send) {
            Ok(n) if n > max => Err(too_large(n, max as u32)),
            Ok(_) => p
                .encode_to(self.version, send, &mut self.tx)
                .map_err(SessionError::from),
            Err(e) => Err(e.into()),
        };
        // The stored message keeps no alias: aliases belong to one connection.
        p.properties.topic_alias = None;
        let n = written?;
        self.tx_publish = true;
        // An alias counts as known to the broker only once it went out with its topic.
        if let Some(alias) = new_alias {
            self.aliases.confirm(&p.topic, alias);
        }
        self.stats.messages_sent += 1;
        self.book_tx(now, n);
        Ok(())
    }

    /// How many QoS 1/2 publishes may be in flight on this connection: the broker's Receive
    /// Maximum (v5) capped by `max_inflight`; on 3.1.1, which has no Receive Maximum,
    /// `max_inflight` or [`DEFAULT_MAX_INFLIGHT_V311`].
    fn send_window(&self) -> usize {
        let own = self.config.max_inflight;
        let window = match self.version {
            ProtocolVersion::V5 => own.map_or(self.server.receive_maximum, |n| {
                n.min(self.server.receive_maximum)
            }),
            ProtocolVersion::V311 => own.unwrap_or(DEFAULT_MAX_INFLIGHT_V311),
        };
        usize::from(window.max(1))
    }

    /// Sends what waits, as far as the connection, packet ids and flow control allow.
    fn pump(&mut self, now: Millis) {
        if self.phase != Phase::Connected {
            return;
        }
        while let Some((id, packet)) = self.subscriptions.send_next(&mut self.ids) {
            match encode_into(&mut self.tx, self.version, packet) {
                Ok(n) => self.book_tx(now, n),
                Err(e) => {
                    let done = self.subscriptions.write_failed(id, &mut self.ids, e.into());
                    self.events.extend(done);
                }
            }
        }
        let window = self.send_window();
        while let Some(mut ready) =
            self.outgoing
                .next_ready(&self.server, window, &mut self.ids, &mut self.events)
        {
            let token = ready.token;
            match (
                self.write_publish(now, &mut ready.publish, false),
                ready.publish.packet_id,
            ) {
                (Ok(()), None) => self.events.push_back(Event::PublishDone {
                    token,
                    result: Ok(PublishOutcome {
                        packet_id: None,
                        reason_code: ReasonCode::Success.code(),
                    }),
                }),
                (Ok(()), Some(_)) => self.outgoing.start(ready),
                (Err(e), id) => {
                    self.outgoing.unsent(id, ready.seq, &mut self.ids);
                    self.events.push_back(Event::PublishDone {
                        token,
                        result: Err(e),
                    });
                }
            }
        }
    }
}

/// The encoded size of `p` without a topic alias, before it has a packet id.
fn unaliased_len(p: &mut Publish, version: ProtocolVersion) -> Result<usize, SessionError> {
    // Any non-zero id takes the same two bytes.
    p.packet_id = (p.qos != QoS::AtMostOnce).then_some(1);
    let len = p.encoded_len(version, SendAs::default());
    p.packet_id = None;
    Ok(len?)
}

fn too_large(size: usize, max: u32) -> SessionError {
    SessionError::with_reason(
        ErrorCode::PacketTooLarge,
        ReasonCode::PacketTooLarge.code(),
        format!("packet of {size} bytes exceeds the broker's maximum packet size of {max}"),
    )
}
