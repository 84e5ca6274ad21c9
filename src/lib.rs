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

/// The allocator of the package's `.wasm` (feature `talc`): talc, in place of the standard
/// library's dlmalloc, for size: the package is 1,969 bytes gzip smaller (the MQTT-only
/// entry 1,649). A burst of 200,000 QoS 0 publishes spends about 0.2 us more per publish in
/// the allocator (CPU profile), which the benchmark's rates do not show; wasm memory grows
/// as much in the receive-memory test (3.1 MiB) and less in the backlog test (31.6 MiB
/// against 32.1).
#[cfg(all(target_arch = "wasm32", feature = "talc"))]
#[global_allocator]
// SAFETY: `new_global` takes over `memory.grow`, and needs one thread: the crate is built
// for wasm32-unknown-unknown without the atomics feature, so it runs on one.
static ALLOC: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
