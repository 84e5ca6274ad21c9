//! Errors the session reports: a stable code (what JavaScript sees as `MqttError.code`),
//! the MQTT reason code where the broker gave one, and a lower-case message.

use std::fmt;

use crate::mqtt::codec::{DecodeError, EncodeError, ReasonCode};
use crate::mqtt::topic::TopicError;

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
        }
    }
}

/// An error with its code, the MQTT reason code where there is one, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    pub code: ErrorCode,
    pub reason_code: Option<u8>,
    pub message: String,
}

impl SessionError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SessionError {
            code,
            reason_code: None,
            message: message.into(),
        }
    }

    pub fn with_reason(code: ErrorCode, reason_code: u8, message: impl Into<String>) -> Self {
        SessionError {
            code,
            reason_code: Some(reason_code),
            message: message.into(),
        }
    }

    pub(crate) fn closed() -> Self {
        SessionError::new(ErrorCode::Closed, "client ended")
    }

    /// The error for a CONNACK refusal, given the v5-style reason code.
    pub(crate) fn refused(reason_code: u8) -> Self {
        let code = if reason_code == ReasonCode::NotAuthorized as u8
            || reason_code == ReasonCode::BadUserNameOrPassword as u8
        {
            ErrorCode::NotAuthorized
        } else {
            ErrorCode::Refused
        };
        SessionError::with_reason(
            code,
            reason_code,
            format!("connection refused by the broker (reason code {reason_code:#04x})"),
        )
    }

    pub(crate) fn protocol(reason: ReasonCode, message: impl Into<String>) -> Self {
        SessionError::with_reason(ErrorCode::ProtocolError, reason as u8, message)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for SessionError {}

impl From<DecodeError> for SessionError {
    fn from(e: DecodeError) -> Self {
        let reason = e.reason_code();
        let code = if reason == ReasonCode::PacketTooLarge {
            ErrorCode::PacketTooLarge
        } else {
            ErrorCode::ProtocolError
        };
        SessionError::with_reason(
            code,
            reason as u8,
            format!("bad packet from the broker: {e}"),
        )
    }
}

impl From<EncodeError> for SessionError {
    fn from(e: EncodeError) -> Self {
        let code = match e {
            EncodeError::PacketTooLarge => ErrorCode::PacketTooLarge,
            _ => ErrorCode::InvalidArgument,
        };
        SessionError::new(code, e.to_string())
    }
}

impl From<TopicError> for SessionError {
    fn from(e: TopicError) -> Self {
        SessionError::new(ErrorCode::InvalidTopic, e.to_string())
    }
}
