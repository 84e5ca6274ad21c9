//! The stable error codes of the whole library: what JavaScript sees as `MqttError.code`.
//! One enum for the protocol core and the browser layers alike; it must stay free of any
//! browser type so the core can use it on the host.

/// The stable error codes of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The broker refused the credentials or the client (CONNACK 0x86/0x87, 3.1.1 codes 4/5).
    NotAuthorized,
    /// No CONNACK within the connect timeout.
    ConnectTimeout,
    /// No answer to PINGREQ in time: the connection is considered dead.
    KeepaliveTimeout,
    /// A topic name or filter that MQTT does not allow.
    InvalidTopic,
    /// The packet exceeds the maximum packet size of the side that would receive it.
    PacketTooLarge,
    /// The offline queue is at its message or byte bound.
    QueueFull,
    /// The peer broke the protocol (malformed packet, unexpected packet, bad alias, ...).
    ProtocolError,
    /// The client was ended; the operation cannot complete.
    Closed,
    /// The broker refused the connection for a reason other than authorisation.
    Refused,
    /// The transport closed without a DISCONNECT.
    ConnectionLost,
    /// The broker sent DISCONNECT.
    ServerDisconnect,
    /// The broker answered a publish with a failure reason code.
    PublishFailed,
    /// Not connected, and the request may not wait in the offline queue.
    NotConnected,
    /// The broker does not support this QoS (CONNACK Maximum QoS).
    QosNotSupported,
    /// The broker does not support retained messages (CONNACK Retain Available 0).
    RetainNotSupported,
    /// A value outside what the API accepts.
    InvalidArgument,
    /// A QoS other than 0, 1 or 2.
    InvalidQos,
    /// The operation was cancelled through its `AbortSignal`.
    Aborted,
    /// `MqttSignaling` was used before `start()`.
    NotStarted,
    /// A WebRTC signal (or presence message) that is malformed.
    InvalidSignal,
    /// Applying an offer, answer or candidate failed.
    NegotiationFailed,
    /// The data channel reported an error.
    ChannelError,
    /// A data-channel frame that does not follow the chunk framing.
    InvalidFrame,
    /// A message larger than the channel (or the reassembly bound) allows.
    MessageTooLarge,
    /// `getStats()` failed.
    StatsFailed,
    /// The object is in the middle of another call from the same turn of the event loop.
    Busy,
    /// ICE found no way to connect: no usable local candidate (a TURN server refused the
    /// credentials or cannot be reached), or every candidate pair failed.
    IceFailed,
    /// The called peer refused the call (its `onIncoming` hook said no).
    CallRejected,
    /// The session store cannot be used here: no IndexedDB (or it refuses to open, as in
    /// some private modes), or no Web Locks to guard it.
    StoreUnavailable,
    /// Another client (another tab, or this page) holds the store of this broker and
    /// client id.
    StoreLocked,
    /// The session store is full (the browser's storage quota).
    StoreQuota,
    /// Reading or writing the session store failed, or a stored record is unreadable.
    StoreFailed,
}

impl ErrorCode {
    /// The code string of `MqttError.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotAuthorized => "NOT_AUTHORIZED",
            ErrorCode::ConnectTimeout => "CONNECT_TIMEOUT",
            ErrorCode::KeepaliveTimeout => "KEEPALIVE_TIMEOUT",
            ErrorCode::InvalidTopic => "INVALID_TOPIC",
            ErrorCode::PacketTooLarge => "PACKET_TOO_LARGE",
            ErrorCode::QueueFull => "QUEUE_FULL",
            ErrorCode::ProtocolError => "PROTOCOL_ERROR",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Refused => "REFUSED",
            ErrorCode::ConnectionLost => "CONNECTION_LOST",
            ErrorCode::ServerDisconnect => "SERVER_DISCONNECT",
            ErrorCode::PublishFailed => "PUBLISH_FAILED",
            ErrorCode::NotConnected => "NOT_CONNECTED",
            ErrorCode::QosNotSupported => "QOS_NOT_SUPPORTED",
            ErrorCode::RetainNotSupported => "RETAIN_NOT_SUPPORTED",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::InvalidQos => "INVALID_QOS",
            ErrorCode::Aborted => "ABORTED",
            ErrorCode::NotStarted => "NOT_STARTED",
            ErrorCode::InvalidSignal => "INVALID_SIGNAL",
            ErrorCode::NegotiationFailed => "NEGOTIATION_FAILED",
            ErrorCode::ChannelError => "CHANNEL_ERROR",
            ErrorCode::InvalidFrame => "INVALID_FRAME",
            ErrorCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorCode::StatsFailed => "STATS_FAILED",
            ErrorCode::Busy => "BUSY",
            ErrorCode::IceFailed => "ICE_FAILED",
            ErrorCode::CallRejected => "CALL_REJECTED",
            ErrorCode::StoreUnavailable => "STORE_UNAVAILABLE",
            ErrorCode::StoreLocked => "STORE_LOCKED",
            ErrorCode::StoreQuota => "STORE_QUOTA",
            ErrorCode::StoreFailed => "STORE_FAILED",
        }
    }

    /// Every code, in declaration order (the TypeScript `ErrorCode` union lists the same).
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::NotAuthorized,
        ErrorCode::ConnectTimeout,
        ErrorCode::KeepaliveTimeout,
        ErrorCode::InvalidTopic,
        ErrorCode::PacketTooLarge,
        ErrorCode::QueueFull,
        ErrorCode::ProtocolError,
        ErrorCode::Closed,
        ErrorCode::Refused,
        ErrorCode::ConnectionLost,
        ErrorCode::ServerDisconnect,
        ErrorCode::PublishFailed,
        ErrorCode::NotConnected,
        ErrorCode::QosNotSupported,
        ErrorCode::RetainNotSupported,
        ErrorCode::InvalidArgument,
        ErrorCode::InvalidQos,
        ErrorCode::Aborted,
        ErrorCode::NotStarted,
        ErrorCode::InvalidSignal,
        ErrorCode::NegotiationFailed,
        ErrorCode::ChannelError,
        ErrorCode::InvalidFrame,
        ErrorCode::MessageTooLarge,
        ErrorCode::StatsFailed,
        ErrorCode::Busy,
        ErrorCode::IceFailed,
        ErrorCode::CallRejected,
        ErrorCode::StoreUnavailable,
        ErrorCode::StoreLocked,
        ErrorCode::StoreQuota,
        ErrorCode::StoreFailed,
    ];
}
