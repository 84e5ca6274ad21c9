//! Settings of a session: what goes into CONNECT, the limits we announce, the offline
//! queue bounds and the reconnect policy.

use crate::mqtt::backoff::BackoffConfig;
use crate::mqtt::codec::{Properties, ProtocolVersion, Will};

/// The in-flight window of a 3.1.1 session when none is configured. MQTT 3.1.1 has no
/// Receive Maximum, yet brokers cap what they accept in flight and may drop the excess
/// silently: a default Mosquitto (`max_inflight_messages 20`) discards QoS 2 publishes
/// beyond 20 while the client still completes them. 20 is that common default.
pub const DEFAULT_MAX_INFLIGHT_V311: u16 = 20;

/// What happens when a publish does not fit in the offline queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// The new publish fails with `QUEUE_FULL`.
    #[default]
    Reject,
    /// The oldest queued publish fails with `QUEUE_FULL` and the new one is queued.
    DropOldest,
}

/// Bounds of the queue of publishes waiting for a connection or for a flow-control slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub max_messages: usize,
    /// Sum of payload and topic bytes.
    pub max_bytes: usize,
    /// Whether QoS 0 publishes made while offline are queued (otherwise they fail with
    /// `NOT_CONNECTED`).
    pub qos0: bool,
    pub overflow: Overflow,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_messages: 10_000,
            max_bytes: 16 * 1024 * 1024,
            qos0: true,
            overflow: Overflow::Reject,
        }
    }
}

/// Everything a [`Session`](super::Session) needs to know before it connects.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// May be empty: a v5 broker then assigns one, which the session keeps for reconnects.
    pub client_id: String,
    /// The version tried first.
    pub protocol: ProtocolVersion,
    /// Retry with 3.1.1 when the broker refuses 5.0 (CONNACK 0x84 or 3.1.1 return code 1).
    pub fallback_to_v311: bool,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    /// Seconds; 0 disables keepalive.
    pub keep_alive: u16,
    pub clean_start: bool,
    /// v5 Session Expiry Interval in seconds; `None` sends none (0).
    pub session_expiry: Option<u32>,
    /// Milliseconds from the start of an attempt to CONNACK.
    pub connect_timeout: u64,
    pub will: Option<Will>,
    /// `None`: never reconnect; the first failure closes the session.
    pub reconnect: Option<BackoffConfig>,
    /// Restore subscriptions after reconnecting to a session the broker no longer has.
    pub resubscribe: bool,
    pub queue: QueueConfig,
    /// Announced in CONNECT (v5) and enforced on incoming QoS 2 publishes.
    pub receive_maximum: u16,
    /// Our own cap on outgoing QoS 1/2 publishes in flight. `None`: on 3.1.1
    /// [`DEFAULT_MAX_INFLIGHT_V311`], on 5.0 the broker's Receive Maximum; given, on 5.0 the
    /// smaller of the two.
    pub max_inflight: Option<u16>,
    /// Announced in CONNECT (v5) and enforced on every incoming packet.
    pub maximum_packet_size: u32,
    /// Announced in CONNECT (v5): how many topic aliases the broker may use towards us.
    pub topic_alias_maximum: u16,
    /// Extra CONNECT properties (user properties, request response information, ...).
    pub connect_properties: Properties,
    /// Seed of the jitter generator.
    pub seed: u64,
    /// A persistent store keeps the session: record store operations
    /// ([`Session::take_store_ops`](super::Session::take_store_ops)).
    pub durable: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            client_id: String::new(),
            protocol: ProtocolVersion::V5,
            fallback_to_v311: true,
            username: None,
            password: None,
            keep_alive: 60,
            clean_start: true,
            session_expiry: None,
            connect_timeout: 30_000,
            will: None,
            reconnect: Some(BackoffConfig::default()),
            resubscribe: true,
            queue: QueueConfig::default(),
            receive_maximum: 65_535,
            max_inflight: None,
            maximum_packet_size: 16 * 1024 * 1024,
            topic_alias_maximum: 32,
            connect_properties: Properties::default(),
            seed: 0,
            durable: false,
        }
    }
}
