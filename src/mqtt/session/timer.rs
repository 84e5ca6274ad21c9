//! The session's timers: one table of instants that both [`Session::poll_timeout`] and
//! [`Session::handle_timeout`] read, so what the driver is asked to wake up for and what runs
//! when it does can never disagree. Whoever changes a deadline sets or stops its entry here;
//! no timer may be recomputed from phase flags anywhere else, and this module never reads a
//! clock.
//!
//! [`Session::poll_timeout`]: super::Session::poll_timeout
//! [`Session::handle_timeout`]: super::Session::handle_timeout

use super::Millis;

/// One deadline of the session. When several are due at once they fire in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The graceful end's deadline passed: DISCONNECT now and fail what is still open.
    End,
    /// No CONNACK within the connect timeout (opening the transport included): the attempt
    /// fails with `CONNECT_TIMEOUT`.
    Connect,
    /// The wait between attempts is over: the next attempt starts.
    Reconnect,
    /// No PINGRESP a full keepalive after PINGREQ (2 x keepalive of silence in all): the
    /// connection is dead.
    PingTimeout,
    /// A keepalive interval passed without traffic one way: PINGREQ goes out.
    KeepAlive,
}

impl Timer {
    const ALL: [Timer; 5] = [
        Timer::End,
        Timer::Connect,
        Timer::Reconnect,
        Timer::PingTimeout,
        Timer::KeepAlive,
    ];
}

/// The instant each [`Timer`] fires at, `None` while it is stopped.
#[derive(Debug, Clone, Default)]
pub(super) struct TimerTable {
    at: [Option<Millis>; Timer::ALL.len()],
}

impl TimerTable {
    pub(super) fn set(&mut self, timer: Timer, at: Millis) {
        self.at[timer as usize] = Some(at);
    }

    pub(super) fn get(&self, timer: Timer) -> Option<Millis> {
        self.at[timer as usize]
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.at[timer as usize] = None;
    }

    /// The earliest instant any timer fires at.
    pub(super) fn next_timeout(&self) -> Option<Millis> {
        self.at.iter().flatten().min().copied()
    }

    /// Stops and returns the first timer (in [`Timer`] order) due at `now`.
    pub(super) fn take_expired(&mut self, now: Millis) -> Option<Timer> {
        let timer = Timer::ALL
            .into_iter()
            .find(|&t| self.get(t).is_some_and(|at| at <= now))?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::{Timer, TimerTable};

    #[test]
    fn the_next_timeout_is_the_earliest_running_timer() {
        let mut t = TimerTable::default();
        assert_eq!(t.next_timeout(), None);
        t.set(Timer::KeepAlive, 50);
        t.set(Timer::End, 70);
        assert_eq!(t.next_timeout(), Some(50));
        t.stop(Timer::KeepAlive);
        assert_eq!(t.next_timeout(), Some(70));
    }

    #[test]
    fn expired_timers_come_out_once_each_in_timer_order() {
        let mut t = TimerTable::default();
        t.set(Timer::KeepAlive, 10);
        t.set(Timer::End, 20);
        t.set(Timer::Connect, 30);
        assert_eq!(t.take_expired(25), Some(Timer::End));
        assert_eq!(t.take_expired(25), Some(Timer::KeepAlive));
        assert_eq!(t.take_expired(25), None);
        assert_eq!(t.get(Timer::Connect), Some(30));
    }
}
