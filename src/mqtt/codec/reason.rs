//! MQTT 5.0 reason codes as a typed enum, the codes each packet may carry, and how 3.1.1
//! CONNACK return codes map onto them. Converting a byte never panics: an undefined byte
//! is an error value.

/// The reason codes of MQTT 5.0 section 2.4. Where the spec gives one byte several names
/// (0x00 is Success, Normal disconnection and Granted QoS 0), the variant has the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonCode {
    Success = 0x00,
    GrantedQoS1 = 0x01,
    GrantedQoS2 = 0x02,
    DisconnectWithWill = 0x04,
    NoMatchingSubscribers = 0x10,
    NoSubscriptionExisted = 0x11,
    ContinueAuthentication = 0x18,
    ReAuthenticate = 0x19,
    UnspecifiedError = 0x80,
    MalformedPacket = 0x81,
    ProtocolError = 0x82,
    ImplementationSpecificError = 0x83,
    UnsupportedProtocolVersion = 0x84,
    ClientIdentifierNotValid = 0x85,
    BadUserNameOrPassword = 0x86,
    NotAuthorized = 0x87,
    ServerUnavailable = 0x88,
    ServerBusy = 0x89,
    Banned = 0x8A,
    ServerShuttingDown = 0x8B,
    BadAuthenticationMethod = 0x8C,
    KeepAliveTimeout = 0x8D,
    SessionTakenOver = 0x8E,
    TopicFilterInvalid = 0x8F,
    TopicNameInvalid = 0x90,
    PacketIdentifierInUse = 0x91,
    PacketIdentifierNotFound = 0x92,
    ReceiveMaximumExceeded = 0x93,
    TopicAliasInvalid = 0x94,
    PacketTooLarge = 0x95,
    MessageRateTooHigh = 0x96,
    QuotaExceeded = 0x97,
    AdministrativeAction = 0x98,
    PayloadFormatInvalid = 0x99,
    RetainNotSupported = 0x9A,
    QoSNotSupported = 0x9B,
    UseAnotherServer = 0x9C,
    ServerMoved = 0x9D,
    SharedSubscriptionsNotSupported = 0x9E,
    ConnectionRateExceeded = 0x9F,
    MaximumConnectTime = 0xA0,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl ReasonCode {
    /// Every reason code of MQTT 5.0 section 2.4 (table 2-6), in byte order.
    pub const ALL: [ReasonCode; 43] = {
        use ReasonCode::*;
        [
            Success,
            GrantedQoS1,
            GrantedQoS2,
            DisconnectWithWill,
            NoMatchingSubscribers,
            NoSubscriptionExisted,
            ContinueAuthentication,
            ReAuthenticate,
            UnspecifiedError,
            MalformedPacket,
            ProtocolError,
            ImplementationSpecificError,
            UnsupportedProtocolVersion,
            ClientIdentifierNotValid,
            BadUserNameOrPassword,
            NotAuthorized,
            ServerUnavailable,
            ServerBusy,
            Banned,
            ServerShuttingDown,
            BadAuthenticationMethod,
            KeepAliveTimeout,
            SessionTakenOver,
            TopicFilterInvalid,
            TopicNameInvalid,
            PacketIdentifierInUse,
            PacketIdentifierNotFound,
            ReceiveMaximumExceeded,
            TopicAliasInvalid,
            PacketTooLarge,
            MessageRateTooHigh,
            QuotaExceeded,
            AdministrativeAction,
            PayloadFormatInvalid,
            RetainNotSupported,
            QoSNotSupported,
            UseAnotherServer,
            ServerMoved,
            SharedSubscriptionsNotSupported,
            ConnectionRateExceeded,
            MaximumConnectTime,
            SubscriptionIdentifiersNotSupported,
            WildcardSubscriptionsNotSupported,
        ]
    };

    /// The byte on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason code whose byte is `code`, `None` for a byte MQTT 5.0 does not define.
    pub fn from_u8(code: u8) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|rc| *rc as u8 == code)
    }

    /// True for 0x80 and above: "Reason Code values of 0x80 or greater indicate failure"
    /// (MQTT 5.0 section 2.4).
    pub fn is_failure(self) -> bool {
        Self::is_failure_code(self as u8)
    }

    /// [`ReasonCode::is_failure`] for a code as it is kept in a packet: 0x80 and above
    /// (MQTT 5.0 section 2.4), which also covers the one 3.1.1 SUBACK failure code, 0x80.
    pub const fn is_failure_code(code: u8) -> bool {
        code >= 0x80
    }

    /// True below 0x80: the operation completed (possibly with a remark such as
    /// [`ReasonCode::NoMatchingSubscribers`]).
    pub fn is_success(self) -> bool {
        !self.is_failure()
    }

    /// The MQTT 5 reason code equivalent to a 3.1.1 CONNACK return code.
    pub fn from_v311_connack(rc: u8) -> u8 {
        match rc {
            0 => 0x00,
            1 => ReasonCode::UnsupportedProtocolVersion as u8,
            2 => ReasonCode::ClientIdentifierNotValid as u8,
            3 => ReasonCode::ServerUnavailable as u8,
            4 => ReasonCode::BadUserNameOrPassword as u8,
            5 => ReasonCode::NotAuthorized as u8,
            _ => ReasonCode::UnspecifiedError as u8,
        }
    }
}

impl TryFrom<u8> for ReasonCode {
    /// The byte, when MQTT 5.0 does not define it.
    type Error = u8;

    fn try_from(code: u8) -> Result<Self, u8> {
        ReasonCode::from_u8(code).ok_or(code)
    }
}

impl From<ReasonCode> for u8 {
    fn from(rc: ReasonCode) -> u8 {
        rc as u8
    }
}

/// The reason codes each packet may carry (MQTT 5.0 sections 3.2.2.2, 3.4.2.1, 3.5.2.1,
/// 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1 and 3.15.2.1), and the 3.1.1 return codes.
pub(crate) mod valid {
    /// CONNACK (MQTT 5.0 table 3-1).
    pub const CONNACK: &[u8] = &[
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    /// 3.1.1 CONNACK connect return codes 0..=5 (MQTT 3.1.1 table 3.1).
    pub const CONNACK_V311_MAX: u8 = 5;
    /// PUBACK and PUBREC (MQTT 5.0 sections 3.4.2.1 and 3.5.2.1).
    pub const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    /// PUBREL and PUBCOMP (MQTT 5.0 sections 3.6.2.1 and 3.7.2.1).
    pub const PUBREL: &[u8] = &[0x00, 0x92];
    /// SUBACK (MQTT 5.0 section 3.9.3).
    pub const SUBACK: &[u8] = &[
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    /// 3.1.1 SUBACK return codes (MQTT 3.1.1 section 3.9.3) [MQTT-3.9.3-2].
    pub const SUBACK_V311: &[u8] = &[0x00, 0x01, 0x02, 0x80];
    /// UNSUBACK (MQTT 5.0 section 3.11.3).
    pub const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    /// DISCONNECT (MQTT 5.0 section 3.14.2.1).
    pub const DISCONNECT: &[u8] = &[
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    /// AUTH (MQTT 5.0 section 3.15.2.1).
    pub const AUTH: &[u8] = &[0x00, 0x18, 0x19];
}

/// Checks a decoded reason code against the codes `table` allows for `packet_type`.
pub(crate) fn check(packet_type: u8, table: &[u8], code: u8) -> Result<u8, super::DecodeError> {
    if table.contains(&code) {
        Ok(code)
    } else {
        Err(super::DecodeError::InvalidReasonCode { packet_type, code })
    }
}

/// Checks a reason code about to be encoded, so that what is encoded decodes.
pub(crate) fn check_encode(table: &[u8], code: u8) -> Result<(), super::EncodeError> {
    if table.contains(&code) {
        Ok(())
    } else {
        Err(super::EncodeError::InvalidValue(
            "reason code not valid for this packet",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::ReasonCode;

    /// The bytes of MQTT 5.0 section 2.4, table 2-6.
    fn defined(code: u8) -> bool {
        matches!(code, 0x00..=0x02 | 0x04 | 0x10 | 0x11 | 0x18 | 0x19 | 0x80..=0xA2)
    }

    #[test]
    fn every_byte_of_the_spec_and_only_those_is_a_reason_code_that_converts_back() {
        for code in 0..=u8::MAX {
            let rc = ReasonCode::try_from(code);
            assert_eq!(rc.is_ok(), defined(code), "{code:#04x}");
            assert_eq!(
                rc.map(u8::from),
                if defined(code) { Ok(code) } else { Err(code) }
            );
            assert_eq!(ReasonCode::from_u8(code), rc.ok());
        }
        assert!(ReasonCode::ALL
            .windows(2)
            .all(|w| w[0].code() < w[1].code()));
    }

    #[test]
    fn codes_from_0x80_are_failures_and_the_others_successes() {
        for rc in ReasonCode::ALL {
            assert_eq!(rc.is_failure(), rc.code() >= 0x80, "{rc:?}");
            assert_eq!(rc.is_success(), !rc.is_failure(), "{rc:?}");
        }
        assert!(ReasonCode::NoMatchingSubscribers.is_success());
        assert!(ReasonCode::UnspecifiedError.is_failure());
    }
}
