//! CONNECT (MQTT 3.1.1 section 3.1, MQTT 5.0 section 3.1): the first packet a client
//! sends. Its layout depends on the protocol level it carries, not on the negotiated
//! version, since nothing is negotiated yet: decoding reads the level from the packet and
//! encoding writes [`Connect::protocol`].

use super::primitives::{bin_len, put_bin, put_str, put_u16, str_len, Reader};
use super::properties::{Properties, PropertyContext};
use super::{Connect, DecodeError, EncodeError, ProtocolVersion, QoS, Will};

/// The protocol name, as a length-prefixed UTF-8 string [MQTT-3.1.2-1].
const PROTOCOL_NAME: &[u8] = &[0x00, 0x04, b'M', b'Q', b'T', b'T'];

/// Connect flag bits (MQTT 3.1.1 section 3.1.2.3, MQTT 5.0 section 3.1.2.3).
const RESERVED: u8 = 0x01;
const CLEAN_START: u8 = 0x02;
const WILL_FLAG: u8 = 0x04;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

/// Decodes the body of a CONNECT.
pub(super) fn decode(body: &[u8]) -> Result<Connect, DecodeError> {
    let mut r = Reader::new(body);
    // Compared as bytes: "MQIsdp" (3.1) or anything that is not "MQTT" is refused
    // [MQTT-3.1.2-1].
    let name = r.binary()?;
    if name != b"MQTT" {
        return Err(DecodeError::InvalidProtocolName);
    }
    let protocol = match r.u8()? {
        4 => ProtocolVersion::V311,
        5 => ProtocolVersion::V5,
        level => return Err(DecodeError::UnsupportedProtocolLevel(level)), // [MQTT-3.1.2-2]
    };
    let v5 = protocol == ProtocolVersion::V5;
    let flags = r.u8()?;
    // The reserved flag must be 0 [MQTT-3.1.2-3].
    if flags & RESERVED != 0 {
        return Err(DecodeError::InvalidConnectFlags);
    }
    let will_flag = flags & WILL_FLAG != 0;
    let will_retain = flags & WILL_RETAIN != 0;
    let will_qos = (flags >> WILL_QOS_SHIFT) & 0x03;
    // Without a will, will QoS and will retain must be 0: 3.1.1 [MQTT-3.1.2-13]
    // [MQTT-3.1.2-15], 5.0 [MQTT-3.1.2-11] [MQTT-3.1.2-13].
    if !will_flag && (will_qos != 0 || will_retain) {
        return Err(DecodeError::InvalidConnectFlags);
    }
    // Will QoS 3: 3.1.1 [MQTT-3.1.2-14], 5.0 [MQTT-3.1.2-12].
    let will_qos = QoS::from_u8(will_qos).ok_or(DecodeError::InvalidConnectFlags)?;
    let has_username = flags & USERNAME != 0;
    let has_password = flags & PASSWORD != 0;
    // 3.1.1 only: no password without a user name [MQTT-3.1.2-22]; 5.0 allows it.
    if !v5 && has_password && !has_username {
        return Err(DecodeError::InvalidConnectFlags);
    }
    let keep_alive = r.u16()?;
    let properties = if v5 {
        Properties::decode(&mut r, PropertyContext::Connect)?
    } else {
        Properties::default()
    };
    // Payload order: client id, will, user name, password [MQTT-3.1.3-1].
    let client_id = r.string()?;
    let will = if will_flag {
        let properties = if v5 {
            Properties::decode(&mut r, PropertyContext::Will)?
        } else {
            Properties::default()
        };
        let topic = r.string()?;
        let payload = r.binary()?.to_vec();
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string()?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary()?.to_vec())
    } else {
        None
    };
    r.finish()?;
    Ok(Connect {
        protocol,
        client_id,
        clean_start: flags & CLEAN_START != 0,
        keep_alive,
        username,
        password,
        will,
        properties,
    })
}

/// The encoded size of the body of `c`, after checking it can be encoded.
pub(super) fn body_len(c: &Connect) -> Result<usize, EncodeError> {
    let v5 = c.protocol == ProtocolVersion::V5;
    // 3.1.1: a password needs a user name [MQTT-3.1.2-22].
    if !v5 && c.password.is_some() && c.username.is_none() {
        return Err(EncodeError::InvalidValue(
            "password without user name in MQTT 3.1.1",
        ));
    }
    // Protocol name, level, flags, keep alive.
    let mut len = PROTOCOL_NAME.len() + 1 + 1 + 2;
    if v5 {
        len += c.properties.encoded_len(PropertyContext::Connect)?;
    }
    len += str_len(&c.client_id)?;
    if let Some(will) = &c.will {
        if v5 {
            len += will.properties.encoded_len(PropertyContext::Will)?;
        }
        len += str_len(&will.topic)?;
        len += bin_len(&will.payload)?;
    }
    if let Some(username) = &c.username {
        len += str_len(username)?;
    }
    if let Some(password) = &c.password {
        len += bin_len(password)?;
    }
    Ok(len)
}

/// Writes the body of `c`, which [`body_len`] accepted.
pub(super) fn write_body(c: &Connect, out: &mut Vec<u8>) {
    let v5 = c.protocol == ProtocolVersion::V5;
    out.extend_from_slice(PROTOCOL_NAME);
    out.push(c.protocol.level());
    let mut flags = 0;
    if c.clean_start {
        flags |= CLEAN_START;
    }
    if let Some(will) = &c.will {
        flags |= WILL_FLAG | ((will.qos as u8) << WILL_QOS_SHIFT);
        if will.retain {
            flags |= WILL_RETAIN;
        }
    }
    if c.username.is_some() {
        flags |= USERNAME;
    }
    if c.password.is_some() {
        flags |= PASSWORD;
    }
    out.push(flags);
    put_u16(out, c.keep_alive);
    if v5 {
        c.properties.write(out);
    }
    put_str(out, &c.client_id);
    if let Some(will) = &c.will {
        if v5 {
            will.properties.write(out);
        }
        put_str(out, &will.topic);
        put_bin(out, &will.payload);
    }
    if let Some(username) = &c.username {
        put_str(out, username);
    }
    if let Some(password) = &c.password {
        put_bin(out, password);
    }
}
