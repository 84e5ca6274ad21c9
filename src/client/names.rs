//! The option names each option object accepts, and the check that rejects any other key
//! the way a compiler would: naming the nearest valid option (a typo) or ours for an
//! MQTT.js name. A silently ignored key (`reconnectPeriod: 0` still retrying) is the bug
//! this prevents. It only reads keys; it never interprets values.

use js_sys::Object;
use wasm_bindgen::{JsCast, JsValue};

use crate::error_code::ErrorCode;
use crate::web::MqttError;

pub const CONNECT: &[&str] = &[
    "clientId",
    "protocolVersion",
    "username",
    "password",
    "credentials",
    "keepalive",
    "clean",
    "sessionExpiry",
    "connectTimeout",
    "will",
    "reconnect",
    "waitForBroker",
    "onAttempt",
    "resubscribe",
    "queue",
    "maxInflight",
    "store",
    "properties",
    "signal",
    "logLevel",
    "WebSocket",
];
pub const WILL: &[&str] = &["topic", "payload", "qos", "retain", "properties"];
pub const RECONNECT: &[&str] = &[
    "initialDelay",
    "maxDelay",
    "multiplier",
    "jitter",
    "maxAttempts",
];
pub const WAIT: &[&str] = &["maxAttempts"];
pub const QUEUE: &[&str] = &["maxMessages", "maxBytes", "qos0", "overflow"];
pub const CONNECT_PROPERTIES: &[&str] = &[
    "receiveMaximum",
    "maximumPacketSize",
    "topicAliasMaximum",
    "requestResponseInformation",
    "requestProblemInformation",
    "userProperties",
];
pub const PUBLISH: &[&str] = &["qos", "retain", "properties"];
/// A Will's properties are a PUBLISH's plus willDelayInterval, kept last so that the
/// PUBLISH list is this one without it.
pub const WILL_PROPERTIES: &[&str] = &[
    "payloadFormatIndicator",
    "messageExpiryInterval",
    "contentType",
    "responseTopic",
    "correlationData",
    "userProperties",
    "willDelayInterval",
];
pub const PUBLISH_PROPERTIES: &[&str] = match WILL_PROPERTIES.split_last() {
    Some((_, publish)) => publish,
    None => &[],
};
pub const SUBSCRIBE: &[&str] = &[
    "qos",
    "noLocal",
    "retainAsPublished",
    "retainHandling",
    "subscriptionIdentifier",
];

/// MQTT.js option names and what to write here instead (README: "Coming from MQTT.js").
const MQTTJS: &[(&str, &str)] = &[
    (
        "reconnectPeriod",
        "use reconnect: { initialDelay } or reconnect: false",
    ),
    ("queueQoSZero", "use queue: { qos0 }"),
    ("protocolId", "use protocolVersion"),
    ("servers", URL),
    ("host", URL),
    ("port", URL),
    ("path", URL),
    ("transformWsUrl", "use credentials: () => ({ url })"),
    ("rejectUnauthorized", TLS),
    ("ca", TLS),
    ("wsOptions", "pass a WebSocket constructor as WebSocket"),
    ("manualConnect", "connect() connects at once"),
    ("reschedulePings", "pings go out only on an idle connection"),
    ("log", "use logLevel"),
    ("nl", "use noLocal"),
    ("rap", "use retainAsPublished"),
    ("rh", "use retainHandling"),
    ("dup", "DUP is set on resends"),
];
const URL: &str = "pass the URL (or an array of URLs) as the first argument";
const TLS: &str = "the browser decides which certificates to trust";

/// Rejects the first own key of `obj` that is not in `known`; `prefix` names the nested
/// object in the message (`"reconnect."`). Not an object: nothing to check.
pub fn check(obj: &JsValue, known: &[&str], prefix: &str) -> Result<(), MqttError> {
    if !obj.is_object() || obj.is_function() {
        return Ok(());
    }
    for key in Object::keys(obj.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            let text = unknown_option(&key, known, prefix);
            return Err(MqttError::from_code(ErrorCode::InvalidArgument, text));
        }
    }
    Ok(())
}

/// The message for an unknown key: a pointer for an MQTT.js name, else the nearest
/// option, else the list of options.
fn unknown_option(key: &str, known: &[&str], prefix: &str) -> String {
    let mut text = format!("unknown option '{prefix}{key}'");
    if let Some((_, hint)) = MQTTJS.iter().find(|(k, _)| *k == key) {
        text += " (an MQTT.js option): ";
        text += hint;
    } else if let Some(n) = nearest(key, known) {
        text = format!("{text}: did you mean '{prefix}{n}'?");
    } else {
        text += "; the options are: ";
        text += &known.join(", ");
    }
    text
}

/// The known name closest to `key` by edit distance (ignoring case), if close enough to
/// be a typo (at most one edit per three characters) or a shortening of it.
pub fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let mut best = None;
    let mut best_d = usize::MAX;
    for k in known {
        let d = distance(key.as_bytes(), k.as_bytes());
        let prefix = key.len() >= 3
            && k.len() > key.len()
            && k.as_bytes()[..key.len()].eq_ignore_ascii_case(key.as_bytes());
        if (prefix || d * 3 <= key.len().max(3)) && d < best_d {
            best = Some(*k);
            best_d = d;
        }
    }
    best
}

/// Levenshtein distance over bytes, ignoring ASCII case (option names are ASCII).
fn distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let same = ca.eq_ignore_ascii_case(cb);
            let next = (diag + usize::from(!same))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
