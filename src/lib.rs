//! mqtt-rtc: MQTT 5.0 / 3.1.1 over WebSocket and WebRTC signaled over MQTT, for web pages.
//!
//! The pure parts build and are tested on the host as well as on `wasm32-unknown-unknown`
//! (no I/O, no clock, no randomness): the MQTT protocol core in [`mqtt`], the signaling
//! state machine and data-channel framing in [`rtc_core`], the error codes in
//! [`error_code`] and the one map type in [`map`]. The browser layers sit on top and are
//! only built for wasm32: `web` (JS interop both share, and the re-entrancy rule), `client`
//! (`MqttClient`) and `rtc` (`RtcPeer`, `RtcChannel`, `MqttSignaling`).

pub mod error_code;
pub mod map;
pub mod mqtt;
pub mod rtc_core;

#[cfg(target_arch = "wasm32")]
pub(crate) mod web;

#[cfg(target_arch = "wasm32")]
pub mod client;

#[cfg(all(target_arch = "wasm32", feature = "rtc"))]
pub mod rtc;
