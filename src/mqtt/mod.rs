//! The sans-IO MQTT protocol core: codec, topics, session state machine and reconnect policy.
//!
//! Nothing in here may touch the network, read a clock or draw random numbers: time and
//! randomness are parameters, bytes come in and go out as plain values. That keeps every
//! path testable on the host on a virtual clock.

pub mod backoff;
pub mod codec;
pub mod session;
pub mod topic;
