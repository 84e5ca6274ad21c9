//! mqtt-rtc: MQTT 5.0 / 3.1.1 over WebSocket and WebRTC signaled over MQTT, for web pages.
//!
//! The protocol core lives in [`mqtt`] and is pure (no I/O, no clock, no randomness), so it
//! builds and is tested on the host as well as on `wasm32-unknown-unknown`. The browser
//! driver, WebRTC and storage layers sit on top of it and are only built for wasm32.

pub mod error_code;
pub mod mqtt;
pub mod rtc_core;

#[cfg(target_arch = "wasm32")]
pub(crate) mod web;

#[cfg(target_arch = "wasm32")]
pub mod client;

#[cfg(target_arch = "wasm32")]
pub mod rtc;
