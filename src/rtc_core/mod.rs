//! The pure half of the WebRTC layer: signal values, the presence and call state machine
//! of `MqttSignaling`, and the data-channel chunk framing of `RtcChannel`. Like
//! [`crate::mqtt`] it must never touch the browser, a clock or randomness (no
//! wasm-bindgen, js-sys or web-sys; time comes in as milliseconds), so it builds and is
//! tested on the host; `src/rtc` only carries its inputs and outputs to and from JS.

pub mod chunk;
pub mod room;
pub mod signal;
