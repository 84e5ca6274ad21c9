//! The first `connect()`: how long it keeps trying (`waitForBroker`), what it reports on
//! the way (`onAttempt`) and the error it rejects with. By default it settles once every
//! URL was tried, so a dead or wrong URL is an error naming it, not a promise that never
//! settles; waiting for a broker that is not up yet is the explicit option. It ends at the
//! first CONNACK: later drops belong to the reconnect policy alone. It decides and the
//! driver acts: it never touches the session or the socket, and calls user code only
//! through the caller's `Deferred`.

use js_sys::{Function, Object};

use super::options::Patience;
use crate::web::{self as js, Deferred, MqttError};

pub(super) struct FirstConnect {
    patience: Patience,
    on_attempt: Option<Function>,
    /// How many broker URLs there are: the default tries each once.
    urls: usize,
    /// Failed attempts so far.
    failed: u32,
    /// The last failures (at most one per URL), each naming its URL.
    errors: Vec<MqttError>,
    last_url: String,
}

/// What follows a failed attempt the session will retry.
pub(super) enum Next {
    /// Go on; `now`: skip the reconnect delay (the default moves straight to the next URL).
    Retry { now: bool },
    /// Stop: `connect()` rejects with this.
    GiveUp(MqttError),
}

impl FirstConnect {
    pub fn new(patience: Patience, on_attempt: Option<Function>, urls: usize) -> Self {
        FirstConnect {
            patience,
            on_attempt,
            urls: urls.max(1),
            failed: 0,
            errors: Vec::new(),
            last_url: String::new(),
        }
    }

    /// An attempt to `url` failed with `e` (which already names the URL and the cause).
    pub fn failed(&mut self, url: &str, e: MqttError) {
        self.failed += 1;
        if self.errors.len() == self.urls {
            self.errors.remove(0);
        }
        self.errors.push(e);
        self.last_url = url.into();
    }

    /// The session scheduled another attempt in `delay` ms: go on (telling `onAttempt`)
    /// or give up.
    pub fn retrying(&mut self, delay: u64, calls: &mut Deferred) -> Next {
        let give_up = match self.patience {
            Patience::Bounded => self.failed as usize >= self.urls,
            Patience::Wait { max_attempts } => max_attempts.is_some_and(|m| self.failed >= m),
        };
        if give_up {
            if let Some(e) = self.error() {
                return Next::GiveUp(e);
            }
        }
        let now = self.patience == Patience::Bounded;
        if let (Some(f), Some(e)) = (&self.on_attempt, self.errors.last()) {
            let info = Object::new();
            js::set(&info, "attempt", self.failed);
            js::set(&info, "url", self.last_url.as_str());
            js::set(&info, "error", e.clone().into_js());
            js::set(&info, "delay", if now { 0.0 } else { delay as f64 });
            calls.call(f, &[info.into()]);
        }
        Next::Retry { now }
    }

    /// What `connect()` rejects with: the last failure, with the others before it when
    /// several URLs failed; `None` before any attempt failed.
    pub fn error(&self) -> Option<MqttError> {
        let last = self.errors.last()?;
        let text = match self.patience {
            Patience::Wait { .. } if self.failed > 1 => {
                format!("gave up after {} attempts: {}", self.failed, last.text())
            }
            _ if self.errors.len() > 1 => {
                let all: Vec<&str> = self.errors.iter().map(MqttError::text).collect();
                format!("no broker URL answered: {}", all.join("; "))
            }
            _ => last.text().into(),
        };
        Some(MqttError::new(
            last.code_str().into(),
            text,
            last.reason_code(),
        ))
    }
}
