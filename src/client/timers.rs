//! The driver's two timers, as RAII `gloo_timers` timeouts: the session timer (armed for
//! the session's `poll_timeout`, re-armed only when that deadline moves) and the drain
//! poll (while publishes wait for the socket buffer, which has no drain event). Dropping a
//! timeout cancels it, so no handle is ever cleared by hand; once [`Timers::stop`] ran
//! nothing is armed again. It never decides when the session needs waking: the session does.

use gloo_timers::callback::Timeout;

use crate::mqtt::session::Millis;
use crate::web as js;

/// How often a full socket buffer is checked (WebSocket has no drain event).
const DRAIN_POLL_MS: u32 = 10;

/// The session timer and the deadline it is armed for.
struct Armed {
    at: Millis,
    timeout: Timeout,
}

#[derive(Default)]
pub(super) struct Timers {
    session: Option<Armed>,
    drain: Option<Timeout>,
    stopped: bool,
}

impl Timers {
    /// Arms the session timer for `at` (`None`: disarms it). The same deadline keeps the
    /// timer running; `fire` builds the callback only when a new timeout is set.
    pub fn arm_session<F: FnOnce() + 'static>(
        &mut self,
        at: Option<Millis>,
        now: Millis,
        fire: impl FnOnce() -> F,
    ) {
        if self.stopped || self.session.as_ref().map(|a| a.at) == at {
            return;
        }
        self.session = at.map(|at| {
            // setTimeout takes a signed 32-bit delay; longer ones would fire at once.
            let delay = at.saturating_sub(now).min(i32::MAX as Millis) as u32;
            Armed {
                at,
                timeout: Timeout::new(delay, fire()),
            }
        });
    }

    /// The session timer fired: it is no longer armed.
    pub fn session_fired(&mut self) {
        if let Some(armed) = self.session.take() {
            bury(armed.timeout);
        }
    }

    /// Starts the drain poll unless it is already waiting.
    pub fn poll_drain<F: FnOnce() + 'static>(&mut self, fire: impl FnOnce() -> F) {
        if !self.stopped && self.drain.is_none() {
            self.drain = Some(Timeout::new(DRAIN_POLL_MS, fire()));
        }
    }

    /// The drain poll fired: it is no longer waiting.
    pub fn drain_fired(&mut self) {
        if let Some(t) = self.drain.take() {
            bury(t);
        }
    }

    /// Cancels both timers for good (the client is closed).
    pub fn stop(&mut self) {
        self.stopped = true;
        if let Some(armed) = self.session.take() {
            bury(armed.timeout);
        }
        if let Some(t) = self.drain.take() {
            bury(t);
        }
    }
}

/// Cancels `timeout` now and drops its callback on a later turn: the callback may be the
/// one running now.
fn bury(timeout: Timeout) {
    js::bury(Box::new(timeout.cancel()));
}
