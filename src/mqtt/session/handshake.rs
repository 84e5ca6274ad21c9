//! The opening exchange of a connection: the CONNECT built from the configuration, and the
//! verdict on the CONNACK that answers it (accept, fall back to 3.1.1, refused, or a
//! protocol error) with the broker's limits read from its properties. Pure functions of
//! their inputs: the session applies the verdict, this module changes no state.

use super::config::SessionConfig;
use super::{ServerLimits, SessionError};
use crate::mqtt::codec::{ConnAck, Connect, Properties, ProtocolVersion, QoS, ReasonCode};

/// What the session does with a CONNACK.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Connected.
    Accept,
    /// The broker speaks 3.1.1 only: the same attempt again with 3.1.1.
    FallBack,
    /// Refused with a failure reason code; retried per the reconnect policy.
    Refused(SessionError),
    /// The CONNACK breaks the protocol.
    Invalid(SessionError),
}

/// The CONNECT for the next attempt with `version`.
pub(super) fn connect_packet(config: &SessionConfig, version: ProtocolVersion) -> Connect {
    let mut properties = Properties::default();
    let mut will = config.will.clone();
    match version {
        ProtocolVersion::V5 => {
            properties = config.connect_properties.clone();
            properties.session_expiry_interval = config.session_expiry.filter(|&s| s > 0);
            // Limits equal to the protocol defaults are left out.
            if config.receive_maximum != 65_535 {
                properties.receive_maximum = Some(config.receive_maximum.max(1));
            }
            if config.maximum_packet_size > 0 && config.maximum_packet_size < u32::MAX {
                properties.maximum_packet_size = Some(config.maximum_packet_size);
            }
            properties.topic_alias_maximum = Some(config.topic_alias_maximum).filter(|&m| m > 0);
        }
        ProtocolVersion::V311 => {
            if let Some(w) = will.as_mut() {
                w.properties = Properties::default();
            }
        }
    }
    Connect {
        protocol: version,
        client_id: config.client_id.clone(),
        clean_start: config.clean_start,
        keep_alive: config.keep_alive,
        username: config.username.clone(),
        password: config.password.clone(),
        will,
        properties,
    }
}

/// Judges `connack`, decoded as `decoded_as`, in answer to a CONNECT with `version`.
pub(super) fn judge(
    connack: &ConnAck,
    decoded_as: ProtocolVersion,
    version: ProtocolVersion,
    config: &SessionConfig,
) -> Verdict {
    let reason = match decoded_as {
        ProtocolVersion::V311 => ReasonCode::from_v311_connack(connack.reason_code),
        ProtocolVersion::V5 => connack.reason_code,
    };
    if reason == ReasonCode::UnsupportedProtocolVersion.code()
        && version == ProtocolVersion::V5
        && config.fallback_to_v311
    {
        return Verdict::FallBack;
    }
    if reason != ReasonCode::Success.code() {
        return Verdict::Refused(SessionError::refused(reason));
    }
    if decoded_as != version {
        // Only a 3.1.1 broker refusing protocol level 5 may answer a v5 CONNECT with a
        // 3.1.1 CONNACK (return code 1, above). One that accepts is a v5 CONNACK without
        // its property length: malformed [MQTT-3.2.2.3].
        return Verdict::Invalid(SessionError::protocol(
            ReasonCode::MalformedPacket,
            "a 3.1.1 connack accepted an mqtt 5 connect",
        ));
    }
    if connack.session_present && config.clean_start {
        // [MQTT-3.2.2-2] [MQTT-3.2.2-4]: the broker cannot have kept a session we asked it
        // to discard.
        return Verdict::Invalid(SessionError::protocol(
            ReasonCode::ProtocolError,
            "session present in answer to clean start",
        ));
    }
    Verdict::Accept
}

impl ServerLimits {
    /// What CONNACK properties say, with the protocol's defaults for what they leave out.
    pub(super) fn from_connack(p: &Properties) -> Self {
        ServerLimits {
            receive_maximum: p.receive_maximum.unwrap_or(65_535).max(1),
            maximum_packet_size: p.maximum_packet_size,
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            maximum_qos: match p.maximum_qos {
                Some(0) => QoS::AtMostOnce,
                Some(1) => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            },
            retain_available: p.retain_available != Some(0),
        }
    }
}
