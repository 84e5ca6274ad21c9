//! The ICE part of `RtcPeerOptions`: the `RTCConfiguration` a peer connection is made
//! with (`iceServers` with TURN credentials, `iceTransportPolicy`, `bundlePolicy`,
//! `iceCandidatePoolSize`), read and checked before anything is created so a bad value is
//! an `INVALID_ARGUMENT` error rather than a value the browser silently ignores. An
//! `iceServers` given as a function (short-lived TURN credentials) is resolved here once
//! per peer, before the connection exists: the connection is never made with a partial
//! configuration, and the synchronous `RtcPeer` constructor never waits.

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::{describe, error, get, is_absent, set};
use crate::error_code::ErrorCode;
use crate::web::MqttError;

/// The pool size used when none is given: none. With a pool, Chromium sometimes gathers
/// no candidate at all for a new connection, and both peers stay "new": 4 in 2,600 fresh
/// pairs on loopback with a pool of 1, against 0 in 3,400 without; about one call in
/// three under the relay policy with a pooled TURN allocation still in flight. A pool
/// saves a few milliseconds of the first offer; it stays available as an option.
const DEFAULT_POOL_SIZE: u8 = 0;

fn invalid(message: impl Into<String>) -> MqttError {
    error(ErrorCode::InvalidArgument, message)
}

/// The checked `RTCConfiguration` of one peer.
pub(crate) struct IceConfig {
    /// Copies of the given servers holding only the keys read here.
    servers: Array,
    transport_policy: Option<String>,
    bundle_policy: Option<String>,
    pool_size: u8,
}

/// One of `allowed` (or absent), for a string-valued enum option.
fn enum_option(
    options: &JsValue,
    key: &'static str,
    allowed: &[&str],
) -> Result<Option<String>, MqttError> {
    let v = get(options, key);
    if is_absent(&v) {
        return Ok(None);
    }
    match v.as_string() {
        Some(s) if allowed.contains(&s.as_str()) => Ok(Some(s)),
        _ => Err(invalid(format!(
            "{key} must be one of {}",
            allowed
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// An optional string field of an ICE server.
fn server_string(
    server: &JsValue,
    key: &'static str,
    at: usize,
) -> Result<Option<String>, MqttError> {
    let v = get(server, key);
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| invalid(format!("iceServers[{at}].{key} must be a string")))
}

/// The `urls` of an ICE server as a list, each a STUN or TURN URL.
fn server_urls(server: &JsValue, at: usize) -> Result<Vec<String>, MqttError> {
    let urls = get(server, "urls");
    let list: Vec<JsValue> = if Array::is_array(&urls) {
        Array::from(&urls).iter().collect()
    } else {
        vec![urls]
    };
    if list.is_empty() {
        return Err(invalid(format!("iceServers[{at}].urls is empty")));
    }
    list.iter()
        .map(|u| {
            let u = u.as_string().ok_or_else(|| {
                invalid(format!("iceServers[{at}].urls must be a string or strings"))
            })?;
            let scheme = u.split(':').next().unwrap_or_default().to_ascii_lowercase();
            if !["stun", "stuns", "turn", "turns"].contains(&scheme.as_str()) || !u.contains(':') {
                return Err(invalid(format!(
                    "iceServers[{at}].urls: \"{u}\" is not a stun:, stuns:, turn: or turns: URL"
                )));
            }
            Ok(u)
        })
        .collect()
}

/// One `RTCIceServer`, checked and copied.
fn parse_server(server: &JsValue, at: usize) -> Result<JsValue, MqttError> {
    if !server.is_object() {
        return Err(invalid(format!("iceServers[{at}] must be an object")));
    }
    let urls = server_urls(server, at)?;
    let username = server_string(server, "username", at)?;
    let credential = server_string(server, "credential", at)?;
    let turn = urls
        .iter()
        .any(|u| u.to_ascii_lowercase().starts_with("turn"));
    if turn && (username.is_none() || credential.is_none()) {
        return Err(invalid(format!(
            "iceServers[{at}]: a TURN server needs a username and a credential"
        )));
    }
    let out = Object::new();
    let list: Array = urls.iter().map(|u| JsValue::from_str(u)).collect();
    set(&out, "urls", list);
    if let Some(u) = username {
        set(&out, "username", u);
    }
    if let Some(c) = credential {
        set(&out, "credential", c);
    }
    Ok(out.into())
}

/// The `iceServers` value: absent (none) or an array of `RTCIceServer`.
fn parse_servers(v: &JsValue) -> Result<Array, MqttError> {
    if is_absent(v) {
        return Ok(Array::new());
    }
    if v.is_function() {
        return Err(invalid(
            "iceServers is a function: create the peer with `await RtcPeer.create(options)` \
             (or through MqttSignaling), which calls it first",
        ));
    }
    if !Array::is_array(v) {
        return Err(invalid("iceServers must be an array of RTCIceServer"));
    }
    Array::from(v)
        .iter()
        .enumerate()
        .map(|(at, s)| parse_server(&s, at))
        .collect()
}

/// Whether one of the (checked) servers is a TURN server.
fn has_turn(servers: &Array) -> bool {
    servers.iter().any(|s| {
        Array::from(&get(&s, "urls")).iter().any(|u| {
            u.as_string()
                .is_some_and(|u| u.to_ascii_lowercase().starts_with("turn"))
        })
    })
}

impl IceConfig {
    /// Reads the ICE keys of `RtcPeerOptions` (an object or absent).
    pub fn parse(options: &JsValue) -> Result<IceConfig, MqttError> {
        let servers = parse_servers(&get(options, "iceServers"))?;
        let pool = get(options, "iceCandidatePoolSize");
        let pool_size = if !is_absent(&pool) {
            match pool.as_f64() {
                Some(n) if n.fract() == 0.0 && (0.0..=255.0).contains(&n) => n as u8,
                _ => return Err(invalid("iceCandidatePoolSize must be an integer 0..255")),
            }
        } else {
            DEFAULT_POOL_SIZE
        };
        Ok(IceConfig {
            servers,
            transport_policy: enum_option(options, "iceTransportPolicy", &["all", "relay"])?,
            bundle_policy: enum_option(
                options,
                "bundlePolicy",
                &["balanced", "max-compat", "max-bundle"],
            )?,
            pool_size,
        })
    }

    /// Only relay candidates are used (`iceTransportPolicy: "relay"`).
    pub fn relay_only(&self) -> bool {
        self.transport_policy.as_deref() == Some("relay")
    }

    /// The relay policy with no TURN server: no candidate can ever be gathered (and a
    /// STUN server that does not answer would keep gathering going for long).
    pub fn relay_impossible(&self) -> bool {
        self.relay_only() && !has_turn(&self.servers)
    }

    /// The `RTCConfiguration` object for `new RTCPeerConnection`.
    pub fn to_js(&self) -> JsValue {
        let config = Object::new();
        set(&config, "iceServers", self.servers.clone());
        set(&config, "iceCandidatePoolSize", self.pool_size);
        if let Some(p) = &self.transport_policy {
            set(&config, "iceTransportPolicy", p.as_str());
        }
        if let Some(p) = &self.bundle_policy {
            set(&config, "bundlePolicy", p.as_str());
        }
        config.into()
    }
}

/// A copy of `options` whose `iceServers` function (if any) was called and awaited: what
/// `RtcPeer::create` accepts. Called once per peer, so each gets fresh credentials.
pub(crate) async fn resolve(options: &JsValue) -> Result<JsValue, MqttError> {
    let servers = get(options, "iceServers");
    let Some(f) = servers.dyn_ref::<Function>() else {
        return Ok(options.clone());
    };
    let failed = |e: JsValue| invalid(format!("the iceServers function failed: {}", describe(&e)));
    let mut value = f.call0(&JsValue::UNDEFINED).map_err(failed)?;
    if value.has_type::<Promise>() || get(&value, "then").is_function() {
        value = JsFuture::from(Promise::resolve(&value))
            .await
            .map_err(failed)?;
    }
    if !Array::is_array(&value) {
        return Err(invalid(
            "the iceServers function must return (or resolve to) an array of RTCIceServer",
        ));
    }
    let copy = Object::assign(&Object::new(), options.unchecked_ref());
    set(&copy, "iceServers", value);
    Ok(copy.into())
}

/// One `icecandidateerror` as text: which server failed and how (401: wrong TURN
/// credentials; 701: the server could not be reached).
pub(crate) fn candidate_error_text(e: &JsValue) -> String {
    let url = get(e, "url").as_string().unwrap_or_default();
    // A whole number by the spec (an STUN error code or 701); kept integral so no float
    // formatting reaches the `.wasm`.
    let code = get(e, "errorCode").as_f64().unwrap_or(0.0) as u32;
    let text = get(e, "errorText").as_string().unwrap_or_default();
    let hint = match code {
        401 => " (wrong TURN username or credential)",
        701 => " (server not reachable)",
        _ => "",
    };
    format!("{url}: {code} {text}{hint}").trim().to_string()
}
