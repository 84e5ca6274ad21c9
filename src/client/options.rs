//! Reads the JavaScript option objects of the API (`ConnectOptions`, `PublishOptions`,
//! `SubscribeOptions`, properties) into the core's types. Every bad value is an
//! `INVALID_ARGUMENT` (or `INVALID_TOPIC`) error naming the option, never a panic.

use js_sys::{Array, Function, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::names;
use crate::error_code::ErrorCode;
use crate::mqtt::backoff::BackoffConfig;
use crate::mqtt::codec::{Properties, ProtocolVersion, Publish, QoS, SubscribeFilter, Will};
use crate::mqtt::session::{Overflow, QueueConfig, SessionConfig};
use crate::web::{self as js, get, is_absent, LogLevel, MqttError};

pub type Res<T> = Result<T, MqttError>;

fn invalid(what: &str) -> MqttError {
    MqttError::from_code(
        ErrorCode::InvalidArgument,
        format!("invalid option: {what}"),
    )
}

/// The error of a number option outside its range. Every bound in this module is a whole
/// number, so it is printed as an integer: formatting an `f64` would pull float printing
/// (about 20 KB) into the `.wasm` for one message.
fn out_of_range(key: &str, what: &str, min: f64, max: f64) -> MqttError {
    let (min, max) = (min as u64, max as u64);
    invalid(&format!("{key} must be {what} from {min} to {max}"))
}

/// A number option within `[min, max]`, whole.
pub fn int(obj: &JsValue, key: &'static str, min: f64, max: f64) -> Res<Option<f64>> {
    let v = get(obj, key);
    if is_absent(&v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= min && n <= max => Ok(Some(n)),
        _ => Err(out_of_range(key, "a whole number", min, max)),
    }
}

fn float(obj: &JsValue, key: &'static str, min: f64, max: f64) -> Res<Option<f64>> {
    let v = get(obj, key);
    if is_absent(&v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n >= min && n <= max => Ok(Some(n)),
        _ => Err(out_of_range(key, "a number", min, max)),
    }
}

pub fn boolean(obj: &JsValue, key: &'static str) -> Res<Option<bool>> {
    let v = get(obj, key);
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| invalid(&format!("{key} must be a boolean")))
}

pub fn string(obj: &JsValue, key: &'static str) -> Res<Option<String>> {
    let v = get(obj, key);
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| invalid(&format!("{key} must be a string")))
}

fn bytes(obj: &JsValue, key: &'static str) -> Res<Option<Vec<u8>>> {
    let v = get(obj, key);
    if is_absent(&v) {
        return Ok(None);
    }
    js::bytes_of(&v)
        .map(Some)
        .ok_or_else(|| invalid(&format!("{key} must be a string or a Uint8Array")))
}

/// A QoS option: 0, 1 or 2; anything else is `INVALID_QOS`.
pub fn qos(obj: &JsValue, key: &'static str) -> Res<QoS> {
    let v = get(obj, key);
    if is_absent(&v) {
        return Ok(QoS::AtMostOnce);
    }
    v.as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=2.0).contains(n))
        .and_then(|n| QoS::from_u8(n as u8))
        .ok_or_else(|| {
            MqttError::from_code(ErrorCode::InvalidQos, format!("{key} must be 0, 1 or 2"))
        })
}

/// A payload: string (UTF-8) or Uint8Array / ArrayBuffer / typed array.
pub fn payload(v: &JsValue) -> Res<Vec<u8>> {
    if is_absent(v) {
        return Ok(Vec::new());
    }
    js::bytes_of(v).ok_or_else(|| invalid("payload must be a string or a Uint8Array"))
}

/// `PublishProperties` (also the Will's, which may add `willDelayInterval`).
pub fn publish_properties(v: &JsValue) -> Res<Properties> {
    let mut p = Properties::default();
    if is_absent(v) {
        return Ok(p);
    }
    p.payload_format_indicator = boolean(v, "payloadFormatIndicator")?.map(u8::from);
    p.message_expiry_interval =
        int(v, "messageExpiryInterval", 0.0, u32::MAX as f64)?.map(|n| n as u32);
    p.content_type = string(v, "contentType")?;
    p.response_topic = string(v, "responseTopic")?;
    p.correlation_data = bytes(v, "correlationData")?;
    p.will_delay_interval = int(v, "willDelayInterval", 0.0, u32::MAX as f64)?.map(|n| n as u32);
    p.user_properties = user_properties(&get(v, "userProperties"))?;
    Ok(p)
}

fn user_properties(v: &JsValue) -> Res<Vec<(String, String)>> {
    let mut out = Vec::new();
    if is_absent(v) {
        return Ok(out);
    }
    if !v.is_object() {
        return Err(invalid("userProperties must be an object"));
    }
    for entry in Object::entries(v.unchecked_ref()).iter() {
        let pair: Array = entry.unchecked_into();
        let key = pair.get(0).as_string().unwrap_or_default();
        let value = pair.get(1);
        if let Some(s) = value.as_string() {
            out.push((key, s));
        } else if Array::is_array(&value) {
            for item in Array::from(&value).iter() {
                let s = item
                    .as_string()
                    .ok_or_else(|| invalid("userProperties values must be strings"))?;
                out.push((key.clone(), s));
            }
        } else {
            return Err(invalid(
                "userProperties values must be strings or arrays of strings",
            ));
        }
    }
    Ok(out)
}

/// Builds the `properties` object of a received message (undefined when empty).
pub fn message_properties(p: &Properties) -> JsValue {
    if p.is_empty() {
        return JsValue::UNDEFINED;
    }
    let o = Object::new();
    if let Some(f) = p.payload_format_indicator {
        js::set(&o, "payloadFormatIndicator", f == 1);
    }
    if let Some(e) = p.message_expiry_interval {
        js::set(&o, "messageExpiryInterval", e);
    }
    if let Some(c) = &p.content_type {
        js::set(&o, "contentType", c.as_str());
    }
    if let Some(r) = &p.response_topic {
        js::set(&o, "responseTopic", r.as_str());
    }
    if let Some(c) = &p.correlation_data {
        js::set(&o, "correlationData", js::uint8(c));
    }
    if !p.user_properties.is_empty() {
        js::set(
            &o,
            "userProperties",
            user_properties_object(&p.user_properties),
        );
    }
    if !p.subscription_identifiers.is_empty() {
        let ids: Array = p
            .subscription_identifiers
            .iter()
            .map(|&i| JsValue::from(i))
            .collect();
        js::set(&o, "subscriptionIdentifiers", ids);
    }
    o.into()
}

/// User properties as `Record<string, string | string[]>` (repeated keys become arrays).
pub fn user_properties_object(props: &[(String, String)]) -> Object {
    let o = Object::new();
    for (k, v) in props {
        let existing = js::get_str(&o, k);
        if is_absent(&existing) {
            js::set_str(&o, k, v.as_str());
        } else if Array::is_array(&existing) {
            Array::from(&existing).push(&JsValue::from_str(v));
        } else {
            let arr = Array::of2(&existing, &JsValue::from_str(v));
            js::set_str(&o, k, arr);
        }
    }
    o
}

/// CONNACK properties for the `connect` event.
pub fn connack_properties(p: &Properties) -> JsValue {
    if p.is_empty() {
        return JsValue::UNDEFINED;
    }
    let o = Object::new();
    let nums: [(&str, Option<u32>); 7] = [
        ("sessionExpiryInterval", p.session_expiry_interval),
        ("receiveMaximum", p.receive_maximum.map(u32::from)),
        ("maximumPacketSize", p.maximum_packet_size),
        ("topicAliasMaximum", p.topic_alias_maximum.map(u32::from)),
        ("serverKeepAlive", p.server_keep_alive.map(u32::from)),
        ("maximumQoS", p.maximum_qos.map(u32::from)),
        ("retainAvailable", p.retain_available.map(u32::from)),
    ];
    for (k, v) in nums {
        if let Some(v) = v {
            js::set(&o, k, v);
        }
    }
    let strs: [(&str, &Option<String>); 4] = [
        ("assignedClientIdentifier", &p.assigned_client_identifier),
        ("responseInformation", &p.response_information),
        ("serverReference", &p.server_reference),
        ("reasonString", &p.reason_string),
    ];
    for (k, v) in strs {
        if let Some(v) = v {
            js::set(&o, k, v.as_str());
        }
    }
    if !p.user_properties.is_empty() {
        js::set(
            &o,
            "userProperties",
            user_properties_object(&p.user_properties),
        );
    }
    o.into()
}

/// What the driver itself needs beyond the session's configuration.
pub struct DriverOptions {
    pub urls: Vec<String>,
    pub credentials: Option<Function>,
    pub signal: JsValue,
    pub log: LogLevel,
    pub patience: Patience,
    /// `onAttempt`: told of each failed attempt of the first connect that is retried.
    pub on_attempt: Option<Function>,
    /// `WebSocket`: the constructor to open sockets with (else the global one).
    pub websocket: Option<Function>,
    /// The backend of a durable session store.
    pub store: Option<JsValue>,
}

/// How long the first `connect()` keeps trying (`ConnectOptions.waitForBroker`).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Patience {
    /// The default: every URL once, then reject with why each failed.
    Bounded,
    /// Retry per the reconnect policy until connected, aborted, or `max_attempts` failed.
    Wait { max_attempts: Option<u32> },
}

fn patience(v: &JsValue) -> Res<Patience> {
    if is_absent(v) || v.as_bool() == Some(false) {
        return Ok(Patience::Bounded);
    }
    if v.as_bool() == Some(true) {
        return Ok(Patience::Wait { max_attempts: None });
    }
    if !v.is_object() {
        return Err(invalid(
            "waitForBroker must be a boolean or { maxAttempts }",
        ));
    }
    names::check(v, names::WAIT, "waitForBroker.")?;
    let max_attempts = int(v, "maxAttempts", 1.0, u32::MAX as f64)?.map(|n| n as u32);
    Ok(Patience::Wait { max_attempts })
}

/// A function option, or nothing.
fn function(o: &JsValue, key: &'static str) -> Res<Option<Function>> {
    let v = get(o, key);
    if is_absent(&v) {
        return Ok(None);
    }
    v.dyn_into::<Function>()
        .map(Some)
        .map_err(|_| invalid(&format!("{key} must be a function")))
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| {
            let d = (js_sys::Math::random() * 16.0) as u32;
            char::from_digit(d.min(15), 16).unwrap_or('0')
        })
        .collect()
}

/// Reads `MqttClient.connect(url, options)`.
pub fn connect_options(url: &JsValue, o: &JsValue) -> Res<(SessionConfig, DriverOptions)> {
    let urls = urls(url)?;
    if !is_absent(o) && !o.is_object() {
        return Err(invalid("options must be an object"));
    }
    names::check(o, names::CONNECT, "")?;
    let mut c = SessionConfig {
        client_id: string(o, "clientId")?.unwrap_or_else(|| format!("mqttrtc_{}", random_hex(12))),
        ..SessionConfig::default()
    };
    match int(o, "protocolVersion", 4.0, 5.0)? {
        Some(4.0) => {
            c.protocol = ProtocolVersion::V311;
            c.fallback_to_v311 = false;
        }
        Some(_) => {
            c.protocol = ProtocolVersion::V5;
            c.fallback_to_v311 = false;
        }
        None => {}
    }
    c.username = string(o, "username")?;
    c.password = bytes(o, "password")?;
    c.keep_alive = int(o, "keepalive", 0.0, 65_535.0)?.unwrap_or(60.0) as u16;
    c.clean_start = boolean(o, "clean")?.unwrap_or(true);
    let expiry = int(o, "sessionExpiry", 0.0, u32::MAX as f64)?.map(|n| n as u32);
    c.session_expiry = Some(expiry.unwrap_or(if c.clean_start { 0 } else { u32::MAX }));
    c.connect_timeout = int(o, "connectTimeout", 1.0, 3_600_000.0)?.unwrap_or(30_000.0) as u64;
    c.resubscribe = boolean(o, "resubscribe")?.unwrap_or(true);
    c.will = will(&get(o, "will"))?;
    reconnect(&get(o, "reconnect"), &mut c)?;
    queue(&get(o, "queue"), &mut c)?;
    c.max_inflight = int(o, "maxInflight", 1.0, 65_535.0)?.map(|n| n as u16);
    connect_properties(&get(o, "properties"), &mut c)?;
    let store = store(o, &c)?;
    c.durable = store.is_some();
    c.seed = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
    let mut d = driver_options(urls, o)?;
    d.store = store;
    Ok((c, d))
}

/// `store`: the backend of a durable one (`"indexeddb"`, or a `SessionStore` object with
/// `get`, `put` and `delete`), `None` for `"memory"`.
fn store(o: &JsValue, c: &SessionConfig) -> Res<Option<JsValue>> {
    let v = get(o, "store");
    let backend = if is_absent(&v) || v.as_string().as_deref() == Some("memory") {
        return Ok(None);
    } else if v.as_string().as_deref() == Some("indexeddb") {
        super::store::idb_store()
    } else if v.is_object() {
        for method in ["get", "put", "delete"] {
            if !get(&v, method).is_function() {
                return Err(invalid(&format!("store.{method} must be a function")));
            }
        }
        v
    } else {
        return Err(invalid(
            "store must be \"memory\", \"indexeddb\" or an object with get, put and delete",
        ));
    };
    // A generated id is new on every page: nothing stored under it would ever be found.
    if get(o, "clientId").is_undefined() || c.client_id.is_empty() {
        return Err(invalid("a durable store needs a clientId"));
    }
    Ok(Some(backend))
}

/// The broker URL, or the list of them to fail over between.
fn urls(url: &JsValue) -> Res<Vec<String>> {
    let urls: Vec<String> = if let Some(s) = url.as_string() {
        vec![s]
    } else if Array::is_array(url) {
        Array::from(url)
            .iter()
            .filter_map(|u| u.as_string())
            .collect()
    } else {
        Vec::new()
    };
    if urls.is_empty() {
        return Err(invalid(
            "url must be a ws:// or wss:// URL or a non-empty array of them",
        ));
    }
    for u in &urls {
        if !(u.starts_with("ws://") || u.starts_with("wss://")) {
            return Err(invalid(&format!("url '{u}' is not a ws:// or wss:// URL")));
        }
    }
    Ok(urls)
}

/// `ConnectOptions.will`.
fn will(will: &JsValue) -> Res<Option<Will>> {
    if is_absent(will) {
        return Ok(None);
    }
    names::check(will, names::WILL, "will.")?;
    let properties = get(will, "properties");
    names::check(&properties, names::WILL_PROPERTIES, "will.properties.")?;
    let topic = string(will, "topic")?.ok_or_else(|| invalid("will.topic is required"))?;
    crate::mqtt::topic::validate_topic_name(&topic)
        .map_err(|e| MqttError::from_code(ErrorCode::InvalidTopic, format!("will topic: {e}")))?;
    Ok(Some(Will {
        topic,
        payload: payload(&get(will, "payload"))?,
        qos: qos(will, "qos")?,
        retain: boolean(will, "retain")?.unwrap_or(false),
        properties: publish_properties(&properties)?,
    }))
}

/// `ConnectOptions.reconnect`: `false` or `ReconnectOptions`.
fn reconnect(reconnect: &JsValue, c: &mut SessionConfig) -> Res<()> {
    if reconnect.as_bool() == Some(false) {
        c.reconnect = None;
        return Ok(());
    }
    if is_absent(reconnect) {
        return Ok(());
    }
    if !reconnect.is_object() {
        return Err(invalid("reconnect must be false or an object"));
    }
    names::check(reconnect, names::RECONNECT, "reconnect.")?;
    let d = BackoffConfig::default();
    let initial =
        int(reconnect, "initialDelay", 0.0, 86_400_000.0)?.map_or(d.initial_delay, |n| n as u64);
    let max = int(reconnect, "maxDelay", 0.0, 86_400_000.0)?.map_or(d.max_delay, |n| n as u64);
    c.reconnect = Some(BackoffConfig {
        initial_delay: initial,
        max_delay: max.max(initial),
        multiplier: float(reconnect, "multiplier", 1.0, 100.0)?.unwrap_or(d.multiplier),
        jitter: float(reconnect, "jitter", 0.0, 1.0)?.unwrap_or(d.jitter),
        max_attempts: int(reconnect, "maxAttempts", 0.0, u32::MAX as f64)?.map(|n| n as u32),
    });
    Ok(())
}

/// `ConnectOptions.queue`: the offline queue's bounds.
fn queue(queue: &JsValue, c: &mut SessionConfig) -> Res<()> {
    if is_absent(queue) {
        return Ok(());
    }
    names::check(queue, names::QUEUE, "queue.")?;
    let d = QueueConfig::default();
    c.queue = QueueConfig {
        max_messages: int(queue, "maxMessages", 0.0, 1e9)?.map_or(d.max_messages, |n| n as usize),
        max_bytes: int(queue, "maxBytes", 0.0, 1e12)?.map_or(d.max_bytes, |n| n as usize),
        qos0: boolean(queue, "qos0")?.unwrap_or(d.qos0),
        overflow: match string(queue, "overflow")?.as_deref() {
            None | Some("reject") => Overflow::Reject,
            Some("drop-oldest") => Overflow::DropOldest,
            Some(_) => {
                return Err(invalid(
                    "queue.overflow must be \"reject\" or \"drop-oldest\"",
                ))
            }
        },
    };
    Ok(())
}

/// `ConnectOptions.properties` (MQTT 5 CONNECT properties).
fn connect_properties(props: &JsValue, c: &mut SessionConfig) -> Res<()> {
    if is_absent(props) {
        return Ok(());
    }
    names::check(props, names::CONNECT_PROPERTIES, "properties.")?;
    if let Some(n) = int(props, "receiveMaximum", 1.0, 65_535.0)? {
        c.receive_maximum = n as u16;
    }
    if let Some(n) = int(props, "maximumPacketSize", 1.0, u32::MAX as f64)? {
        c.maximum_packet_size = n as u32;
    }
    if let Some(n) = int(props, "topicAliasMaximum", 0.0, 65_535.0)? {
        c.topic_alias_maximum = n as u16;
    }
    let cp = &mut c.connect_properties;
    cp.user_properties = user_properties(&get(props, "userProperties"))?;
    cp.request_response_information = boolean(props, "requestResponseInformation")?.map(u8::from);
    cp.request_problem_information = boolean(props, "requestProblemInformation")?.map(u8::from);
    Ok(())
}

/// What the driver itself reads from `ConnectOptions`.
fn driver_options(urls: Vec<String>, o: &JsValue) -> Res<DriverOptions> {
    let log = match string(o, "logLevel")? {
        None => LogLevel::Warn,
        Some(s) => LogLevel::parse(&s).ok_or_else(|| invalid("logLevel"))?,
    };
    Ok(DriverOptions {
        urls,
        credentials: function(o, "credentials")?,
        signal: get(o, "signal"),
        log,
        patience: patience(&get(o, "waitForBroker"))?,
        on_attempt: function(o, "onAttempt")?,
        websocket: function(o, "WebSocket")?,
        store: None,
    })
}

/// `publish(topic, payload, options)`.
pub fn publish(topic: &JsValue, payload: &JsValue, options: &JsValue) -> Res<Publish> {
    let topic = topic
        .as_string()
        .ok_or_else(|| MqttError::from_code(ErrorCode::InvalidTopic, "topic must be a string"))?;
    // The usual options, read in one call; anything else is read and checked below.
    let flags = js::publish_flags(options);
    if let Some(qos) = (flags >= 0)
        .then(|| QoS::from_u8((flags & 3) as u8))
        .flatten()
    {
        return Ok(Publish {
            topic,
            payload: self::payload(payload)?,
            qos,
            retain: flags & 4 != 0,
            ..Publish::default()
        });
    }
    names::check(options, names::PUBLISH, "")?;
    let properties = get(options, "properties");
    names::check(&properties, names::PUBLISH_PROPERTIES, "properties.")?;
    Ok(Publish {
        topic,
        payload: self::payload(payload)?,
        qos: qos(options, "qos")?,
        retain: boolean(options, "retain")?.unwrap_or(false),
        properties: publish_properties(&properties)?,
        ..Publish::default()
    })
}

/// The `onMessage` argument of `subscribe`: a function or nothing.
pub fn listener(on_message: JsValue) -> Res<Option<Function>> {
    match on_message.dyn_into::<Function>() {
        Ok(f) => Ok(Some(f)),
        Err(v) if is_absent(&v) => Ok(None),
        Err(_) => Err(MqttError::from_code(
            ErrorCode::InvalidArgument,
            "onMessage must be a function",
        )),
    }
}

/// The options of `end()`.
pub struct EndOptions {
    pub force: bool,
    pub reason_code: u8,
    pub timeout: u64,
}

/// Reads `end(options)`; a bad value falls back to its default, as `end` cannot fail.
pub fn end_options(o: &JsValue) -> EndOptions {
    EndOptions {
        force: boolean(o, "force").ok().flatten().unwrap_or(false),
        reason_code: int(o, "reasonCode", 0.0, 255.0)
            .ok()
            .flatten()
            .unwrap_or(0.0) as u8,
        timeout: int(o, "timeout", 0.0, 3_600_000.0)
            .ok()
            .flatten()
            .unwrap_or(10_000.0) as u64,
    }
}

/// One or more filters plus `SubscribeOptions`.
pub fn subscribe_filters(filter: &JsValue, o: &JsValue) -> Res<(Vec<SubscribeFilter>, Properties)> {
    let names: Vec<String> = if let Some(s) = filter.as_string() {
        vec![s]
    } else if Array::is_array(filter) {
        Array::from(filter)
            .iter()
            .map(|f| {
                f.as_string()
                    .ok_or_else(|| invalid("filters must be strings"))
            })
            .collect::<Res<_>>()?
    } else {
        return Err(invalid("filter must be a string or an array of strings"));
    };
    names::check(o, names::SUBSCRIBE, "")?;
    let retain_handling = int(o, "retainHandling", 0.0, 2.0)?.unwrap_or(0.0) as u8;
    let q = qos(o, "qos")?;
    let no_local = boolean(o, "noLocal")?.unwrap_or(false);
    let rap = boolean(o, "retainAsPublished")?.unwrap_or(false);
    let filters = names
        .into_iter()
        .map(|filter| SubscribeFilter {
            filter,
            qos: q,
            no_local,
            retain_as_published: rap,
            retain_handling,
        })
        .collect();
    let mut p = Properties::default();
    if let Some(id) = int(o, "subscriptionIdentifier", 1.0, 268_435_455.0)? {
        p.subscription_identifiers.push(id as u32);
    }
    Ok((filters, p))
}

pub fn filter_list(filter: &JsValue) -> Res<Vec<String>> {
    if let Some(s) = filter.as_string() {
        return Ok(vec![s]);
    }
    if Array::is_array(filter) {
        return Array::from(filter)
            .iter()
            .map(|f| {
                f.as_string()
                    .ok_or_else(|| invalid("filters must be strings"))
            })
            .collect();
    }
    Err(invalid("filter must be a string or an array of strings"))
}
