//! Errors the session reports: a stable code (what JavaScript sees as `MqttError.code`),
//! the MQTT reason code where the broker gave one, and a lower-case message.

use std::fmt;

pub use crate::error_code::ErrorCode;

use crate::mqtt::codec::{DecodeError, Disconnect, EncodeError, ReasonCode};
use crate::mqtt::topic::TopicError;

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
        let code = if reason_code == ReasonCode::NotAuthorized.code()
            || reason_code == ReasonCode::BadUserNameOrPassword.code()
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

    /// The error for a DISCONNECT from the broker.
    pub(crate) fn server_disconnect(d: Disconnect) -> Self {
        let mut message = format!(
            "the broker disconnected (reason code {:#04x})",
            d.reason_code
        );
        if let Some(reason) = d.properties.reason_string {
            message = format!("{message}: {reason}");
        }
        SessionError::with_reason(ErrorCode::ServerDisconnect, d.reason_code, message)
    }

    pub(crate) fn protocol(reason: ReasonCode, message: impl Into<String>) -> Self {
        SessionError::with_reason(ErrorCode::ProtocolError, reason.code(), message)
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
            reason.code(),
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
