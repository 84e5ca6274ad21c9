//! The driver's two timers, as RAII [`Timer`]s on the page's shared timer worker (hidden
//! tabs do not throttle it, so keepalive and reconnect keep their timing there): the
//! session timer (armed for the session's `poll_timeout`, re-armed only when that deadline
//! comes sooner) and the drain poll (while publishes wait for the socket buffer, which has
//! no drain event). Dropping a timer cancels it, so no handle is ever cleared by hand; once
//! [`Timers::stop`] ran nothing is armed again. It never decides when the session needs
//! waking: the session does.

use crate::mqtt::session::Millis;
use crate::web::{self as js, Timer};

/// How often a full socket buffer is checked (WebSocket has no drain event).
const DRAIN_POLL_MS: u32 = 10;

/// The session timer and the deadline it is armed for.
struct Armed {
    at: Millis,
    _timer: Timer,
}

#[derive(Default)]
pub(super) struct Timers {
    session: Option<Armed>,
    drain: Option<Timer>,
    stopped: bool,
}

impl Timers {
    /// Arms the session timer for `at` (`None`: disarms it). A timer armed for the same or
    /// an earlier deadline keeps running: the session ignores a wake-up with nothing due
    /// and the timer is re-armed then, which spares a re-arm for every packet that moves
    /// the keepalive deadline. `fire` builds the callback, and the clock is read, only when
    /// a new timer is set (not for every publish).
    pub fn arm_session<F: FnOnce() + 'static>(
        &mut self,
        at: Option<Millis>,
        fire: impl FnOnce() -> F,
    ) {
        let armed = self.session.as_ref().map(|a| a.at);
        if self.stopped || matches!((armed, at), (Some(a), Some(b)) if a <= b) {
            return;
        }
        self.session = at.map(|at| Armed {
            at,
            _timer: Timer::new(at.saturating_sub(js::now()), fire()),
        });
    }

    /// The session timer fired: it is no longer armed.
    pub fn session_fired(&mut self) {
        self.session = None;
    }

    /// Starts the drain poll unless it is already waiting.
    pub fn poll_drain<F: FnOnce() + 'static>(&mut self, fire: impl FnOnce() -> F) {
        if !self.stopped && self.drain.is_none() {
            self.drain = Some(Timer::new(DRAIN_POLL_MS.into(), fire()));
        }
    }

    /// The drain poll fired: it is no longer waiting.
    pub fn drain_fired(&mut self) {
        self.drain = None;
    }

    /// Cancels both timers for good (the client is closed).
    pub fn stop(&mut self) {
        self.stopped = true;
        self.session = None;
        self.drain = None;
    }
}
