//! JavaScript interop shared by the browser layers (`client` and `rtc`): the `MqttError`
//! type JavaScript sees, promises settled from Rust, listener lists, deferred calls and
//! drops, DOM listeners removed on drop, timers, reading option objects, logging. Holds no
//! protocol logic.
//!
//! # Re-entrancy
//! Every browser object (client, peer, channel, signaling) keeps its state in one
//! `Rc<RefCell<_>>`. The one rule: **no JavaScript that can run user code is called while
//! that state is borrowed.** Listener calls and promise settlements are collected in a
//! [`Deferred`] while the borrow is held and run by [`Deferred::run`] after it is dropped,
//! so a listener may call straight back into the object. State is borrowed through
//! [`borrow`] (or [`with_state`], which also runs the `Deferred`), which turns a busy
//! `RefCell` (a broken rule, never a normal path) into an `MqttError` with code `BUSY`
//! instead of a panic; public methods return it (a rejected promise or a thrown error),
//! browser callbacks [`report`] it.

mod error;
mod js;
mod listener;
mod timer;

pub(crate) use error::js_error;
pub use error::MqttError;
pub(crate) use js::*;
pub(crate) use listener::EventListener;
pub(crate) use timer::Timer;
