//! The WebSocket of the current connection attempt and the broker URL it goes to. Owns:
//! the socket and its three listeners (removed when the socket is dropped), the serial
//! number that tells a live socket's callbacks from those of a replaced one, URL failover,
//! what became of the attempt (for an error that names the URL and the close code), the
//! `bufferedAmount` watermarks publishes wait on, the count of output held back for the
//! next batched flush and whether a receive step is due (see the driver). It never
//! interprets the bytes it carries (a text message is reported as such, not as bytes) and
//! never calls user code: events go to the sink the driver gives [`Transport::open`]; the
//! only JavaScript it constructs is the WebSocket.

use std::rc::Rc;

use js_sys::{Array, Function};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::error_code::ErrorCode;
use crate::mqtt::session::{Millis, SessionError};
use crate::web::{self as js, EventListener, LogLevel, MqttError};

/// Above this many bytes buffered in the WebSocket, publishes wait (in order) for it to drain.
const HIGH_WATER: u32 = 4 * 1024 * 1024;
/// Publishing resumes when the buffer is below this.
const LOW_WATER: u32 = 1024 * 1024;
/// Output held back for a batched flush is sent at once when it reaches this many bytes:
/// one WebSocket message per batch, not one huge one.
const BATCH_CAP: usize = 64 * 1024;

/// What a socket reports, tagged by the driver with the socket's serial number.
pub(super) enum SocketEvent {
    Open,
    Bytes(Vec<u8>),
    /// A text message: MQTT over WebSocket is binary only [MQTT-6.0.0-1].
    Text,
    /// The close code and reason of the `close` event.
    Closed(u16, String),
}

/// What became of the current attempt, for the error that reports its failure.
#[derive(Default)]
struct Attempt {
    url: String,
    /// The socket opened (so a failure came after the WebSocket handshake).
    opened: bool,
    /// The `close` event's code and reason.
    closed: Option<(u16, String)>,
    /// Why no socket could be made (a bad URL, a failed credentials callback).
    failure: Option<String>,
}

/// One WebSocket and its listeners; dropping it removes the listeners, then closes it.
struct Socket {
    ws: WebSocket,
    _listeners: [EventListener; 4],
}

impl Drop for Socket {
    fn drop(&mut self) {
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}

pub(super) struct Transport {
    urls: Vec<String>,
    /// Which URL the next attempt uses (modulo the list's length).
    url_index: usize,
    /// Whether the current attempt reached CONNACK (a failed one fails over to the next URL).
    attempt_connected: bool,
    attempt: Attempt,
    /// `ConnectOptions.WebSocket`, else the global `WebSocket`.
    websocket: Option<Function>,
    socket: Option<Socket>,
    /// Bumped per socket, so callbacks of a replaced socket are ignored.
    serial: u64,
    log: LogLevel,
    /// About how many bytes the session holds for the next flush (estimated from the
    /// publishes handed to it since the last one); counted as buffered by the watermarks.
    unflushed: usize,
    /// A batched flush is scheduled (one at a time).
    flush_scheduled: bool,
    /// A flush in a later task is scheduled (one at a time; see the driver's `Output`).
    later_flush_scheduled: bool,
    /// The clock as the batch's first publish read it (see [`Transport::batch_time`]).
    batch_time: Option<Millis>,
    /// A receive step (the next batch of received packets) is scheduled (one at a time).
    receive_scheduled: bool,
}

impl Transport {
    pub fn new(urls: Vec<String>, websocket: Option<Function>, log: LogLevel) -> Self {
        Transport {
            urls,
            url_index: 0,
            attempt_connected: false,
            attempt: Attempt::default(),
            websocket,
            socket: None,
            serial: 0,
            log,
            unflushed: 0,
            flush_scheduled: false,
            later_flush_scheduled: false,
            batch_time: None,
            receive_scheduled: false,
        }
    }

    /// The serial number of the newest socket (or of the one about to be opened).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    pub fn is_current(&self, serial: u64) -> bool {
        self.serial == serial
    }

    pub fn has_socket(&self) -> bool {
        self.socket.is_some()
    }

    /// A new attempt starts: it has not reached CONNACK yet.
    pub fn new_attempt(&mut self) {
        self.attempt_connected = false;
        self.attempt = Attempt {
            url: self.current_url(),
            ..Attempt::default()
        };
    }

    /// The URL the next attempt goes to (unless a credentials callback gives another).
    fn current_url(&self) -> String {
        let i = self.url_index % self.urls.len().max(1);
        self.urls.get(i).cloned().unwrap_or_default()
    }

    /// The URL of the current (or last) attempt.
    pub fn attempt_url(&self) -> &str {
        &self.attempt.url
    }

    pub fn opened(&mut self) {
        self.attempt.opened = true;
    }

    pub fn closed(&mut self, code: u16, reason: String) {
        self.attempt.closed = Some((code, reason));
    }

    /// The attempt failed before a socket existed, for `why`.
    pub fn failed(&mut self, why: String) {
        self.attempt.failure = Some(why);
    }

    /// `e` (why the session lost the attempt or the connection) with the URL and what the
    /// socket said. Chromium reports a refused connection, a rejected certificate and an
    /// unreachable host alike, as close code 1006 with no reason, before `open`; Firefox
    /// reports a failed TLS handshake (a rejected certificate) as 1015.
    pub fn describe(&self, e: &SessionError) -> MqttError {
        let a = &self.attempt;
        let url = &a.url;
        let text = match (e.code, a.opened, &a.closed) {
            _ if a.failure.is_some() => {
                format!(
                    "could not open {url}: {}",
                    a.failure.as_deref().unwrap_or("")
                )
            }
            (ErrorCode::ConnectionLost, false, Some((1006, r))) if r.is_empty() => format!(
                "could not open {url}: connection refused or TLS rejected (close code 1006, \
                 which carries no detail)"
            ),
            (ErrorCode::ConnectionLost, false, Some((1015, _))) => format!(
                "could not open {url}: the TLS handshake failed, e.g. a certificate the \
                 browser rejects (close code 1015)"
            ),
            (ErrorCode::ConnectionLost, false, Some((c, r))) => {
                format!(
                    "could not open {url}: closed before open ({})",
                    close(*c, r)
                )
            }
            (ErrorCode::ConnectTimeout, false, _) => {
                format!("could not open {url} within the connect timeout")
            }
            (ErrorCode::ConnectionLost, true, Some((c, r))) if !self.attempt_connected => {
                format!(
                    "{url} closed the connection before CONNACK ({})",
                    close(*c, r)
                )
            }
            (ErrorCode::ConnectionLost, true, Some((c, r))) => {
                format!("{url}: {} ({})", e.message, close(*c, r))
            }
            _ => format!("{url}: {}", e.message),
        };
        MqttError::new(e.code.as_str().into(), text, e.reason_code)
    }

    /// The current attempt reached CONNACK: the next one stays on this URL.
    pub fn connected(&mut self) {
        self.attempt_connected = true;
    }

    /// The connection went down; if it never got as far as CONNACK, the next attempt
    /// tries the next URL in the list.
    pub fn went_offline(&mut self) {
        if !self.attempt_connected {
            self.url_index = self.url_index.wrapping_add(1);
        }
    }

    /// Opens a socket to `url` (or to the current URL of the list), replacing any other;
    /// its events go to `sink` with its serial number. `Err` names the URL that could not
    /// be opened.
    pub fn open(
        &mut self,
        url: Option<String>,
        sink: impl Fn(u64, SocketEvent) + 'static,
    ) -> Result<(), String> {
        self.serial += 1;
        let serial = self.serial;
        let url = url.unwrap_or_else(|| self.current_url());
        self.log.log(LogLevel::Info, &format!("opening {url}"));
        self.attempt.url.clone_from(&url);
        let ws = match self.new_socket(&url) {
            Ok(ws) => ws,
            Err(e) => {
                let why = js::get(&e, "message").as_string();
                self.attempt.failure =
                    Some(why.unwrap_or_else(|| "the WebSocket constructor threw".into()));
                return Err(url);
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let sink = Rc::new(sink);
        let (s1, s2, s3, s4) = (sink.clone(), sink.clone(), sink.clone(), sink);
        let w = ws.clone();
        let listeners = (|| -> Result<[EventListener; 4], wasm_bindgen::JsValue> {
            Ok([
                EventListener::new(&ws, "open", move |_| s1(serial, SocketEvent::Open))?,
                EventListener::new(&ws, "message", move |e| {
                    if let Some(event) = message(e.unchecked_ref()) {
                        s2(serial, event);
                    }
                })?,
                EventListener::new(&ws, "close", move |e| {
                    let e = e.unchecked_ref::<CloseEvent>();
                    s3(serial, SocketEvent::Closed(e.code(), e.reason()));
                })?,
                // Browsers follow `error` with `close`. Node 20's WebSocket does not when
                // the connection is refused: it stays CONNECTING, so that is the close.
                EventListener::new(&ws, "error", move |_| {
                    if w.ready_state() == WebSocket::CONNECTING {
                        s4(serial, SocketEvent::Closed(1006, String::new()));
                    }
                })?,
            ])
        })();
        let Ok(listeners) = listeners else {
            // A fresh WebSocket always accepts listeners; should it not, it is useless.
            let _ = ws.close();
            return Err(url);
        };
        let old = self.socket.replace(Socket {
            ws,
            _listeners: listeners,
        });
        if let Some(old) = old {
            js::bury(Box::new(old));
        }
        Ok(())
    }

    /// A WebSocket from the constructor given in the options (Node's `ws`, a wrapper), or
    /// the global one. Either may throw (a malformed URL).
    fn new_socket(&self, url: &str) -> Result<WebSocket, JsValue> {
        match &self.websocket {
            Some(ctor) => {
                let args = Array::of2(&url.into(), &"mqtt".into());
                Ok(js_sys::Reflect::construct(ctor, &args)?.unchecked_into())
            }
            None => WebSocket::new_with_str(url, "mqtt"),
        }
    }

    /// Sends one frame on the open socket; output for a socket that is gone is dropped
    /// (the session resends what matters after reconnecting).
    pub fn send(&self, buf: &[u8]) {
        match &self.socket {
            Some(s) if s.ws.ready_state() == WebSocket::OPEN => {
                if let Err(e) = s.ws.send_with_u8_array(buf) {
                    self.log.log(
                        LogLevel::Warn,
                        &format!("send failed: {}", crate::web::text(&e)),
                    );
                }
            }
            _ => self
                .log
                .log(LogLevel::Debug, "dropping output for a socket that is gone"),
        }
    }

    /// Closes and drops the socket, on a later turn: this may run inside its own listener.
    pub fn close(&mut self) {
        if let Some(s) = self.socket.take() {
            js::bury(Box::new(s));
        }
    }

    /// The socket's buffer plus what waits for the next flush, so backpressure sees a
    /// batch before it is sent.
    fn buffered(&self) -> u32 {
        let unflushed = u32::try_from(self.unflushed).unwrap_or(u32::MAX);
        let socket = self.socket.as_ref().map_or(0, |s| s.ws.buffered_amount());
        socket.saturating_add(unflushed)
    }

    /// About `bytes` more wait for the next flush; `true` when the batch is full and must
    /// go out now.
    pub fn held(&mut self, bytes: usize) -> bool {
        self.unflushed = self.unflushed.saturating_add(bytes);
        self.unflushed >= BATCH_CAP
    }

    /// Everything the session held was sent (or dropped with its socket).
    pub fn flushed(&mut self) {
        self.unflushed = 0;
        self.batch_time = None;
    }

    /// The time of a publish that joins the batch: the clock is read once per batch, not
    /// per publish (`performance.now()` took 5% of a burst of QoS 0 publishes, more than
    /// the session's bookkeeping). A batch ends with its task's flush or at 64 KB, so the
    /// time is at most that old; an older time of sending only brings the keepalive ping
    /// forward.
    pub fn batch_time(&mut self) -> Millis {
        match self.batch_time {
            Some(t) if self.flush_scheduled => t,
            _ => *self.batch_time.insert(js::now()),
        }
    }

    /// `true` when a flush must be scheduled: none is yet.
    pub fn schedule_flush(&mut self) -> bool {
        !std::mem::replace(&mut self.flush_scheduled, true)
    }

    /// The scheduled flush runs.
    pub fn flush_ran(&mut self) {
        self.flush_scheduled = false;
    }

    /// `true` when a flush in a later task must be scheduled: none is yet.
    pub fn schedule_later_flush(&mut self) -> bool {
        !std::mem::replace(&mut self.later_flush_scheduled, true)
    }

    /// The flush in a later task runs.
    pub fn later_flush_ran(&mut self) {
        self.later_flush_scheduled = false;
    }

    /// `true` when a receive step must be scheduled: none is yet.
    pub fn schedule_receive(&mut self) -> bool {
        !std::mem::replace(&mut self.receive_scheduled, true)
    }

    /// Whether a receive step is scheduled: bytes that arrive meanwhile wait for it.
    pub fn receive_scheduled(&self) -> bool {
        self.receive_scheduled
    }

    /// The scheduled receive step runs.
    pub fn receive_ran(&mut self) {
        self.receive_scheduled = false;
    }

    /// Whether new publishes must wait for the socket buffer to drain.
    pub fn above_high_water(&self) -> bool {
        self.buffered() > HIGH_WATER
    }

    /// Whether waiting publishes may go out.
    pub fn below_low_water(&self) -> bool {
        self.buffered() < LOW_WATER
    }
}

/// What a `message` event carries: the bytes of a binary message (one copy, into wasm
/// memory, made in one call), or the fact of a text message, whose content is never read
/// as MQTT.
fn message(e: &MessageEvent) -> Option<SocketEvent> {
    if let Some(bytes) = js::message_bytes(e) {
        Some(SocketEvent::Bytes(bytes))
    } else if e.data().is_string() {
        Some(SocketEvent::Text)
    } else {
        // With binaryType "arraybuffer" nothing else arrives.
        None
    }
}

/// `code 1000: reason`, or `close code 1000` when there is no reason.
fn close(code: u16, reason: &str) -> String {
    if reason.is_empty() {
        format!("close code {code}")
    } else {
        format!("close code {code}: {reason}")
    }
}
