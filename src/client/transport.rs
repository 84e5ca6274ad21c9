//! The WebSocket of the current connection attempt and the broker URL it goes to. Owns:
//! the socket and its three listeners (removed when the socket is dropped), the serial
//! number that tells a live socket's callbacks from those of a replaced one, URL failover,
//! and the `bufferedAmount` watermarks publishes wait on. It never interprets the bytes it
//! carries and never calls user code: events go to the sink the driver gives [`Transport::open`].

use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::web::{self as js, EventListener, LogLevel};

/// Above this many bytes buffered in the WebSocket, publishes wait (in order) for it to drain.
const HIGH_WATER: u32 = 4 * 1024 * 1024;
/// Publishing resumes when the buffer is below this.
const LOW_WATER: u32 = 1024 * 1024;

/// What a socket reports, tagged by the driver with the socket's serial number.
pub(super) enum SocketEvent {
    Open,
    Bytes(Vec<u8>),
    /// The close code of the `close` event.
    Closed(u16),
}

/// One WebSocket and its listeners; dropping it removes the listeners, then closes it.
struct Socket {
    ws: WebSocket,
    _listeners: [EventListener; 3],
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
    socket: Option<Socket>,
    /// Bumped per socket, so callbacks of a replaced socket are ignored.
    serial: u64,
    log: LogLevel,
}

impl Transport {
    pub fn new(urls: Vec<String>, log: LogLevel) -> Self {
        Transport {
            urls,
            url_index: 0,
            attempt_connected: false,
            socket: None,
            serial: 0,
            log,
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
        let url = url.unwrap_or_else(|| {
            let i = self.url_index % self.urls.len().max(1);
            self.urls.get(i).cloned().unwrap_or_default()
        });
        self.log.log(LogLevel::Info, &format!("opening {url}"));
        let Ok(ws) = WebSocket::new_with_str(&url, "mqtt") else {
            return Err(url);
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let sink = Rc::new(sink);
        let (s1, s2, s3) = (sink.clone(), sink.clone(), sink);
        let listeners = (|| -> Result<[EventListener; 3], wasm_bindgen::JsValue> {
            Ok([
                EventListener::new(&ws, "open", move |_| s1(serial, SocketEvent::Open))?,
                EventListener::new(&ws, "message", move |e| {
                    if let Some(bytes) = message_bytes(e.unchecked_ref()) {
                        s2(serial, SocketEvent::Bytes(bytes));
                    }
                })?,
                EventListener::new(&ws, "close", move |e| {
                    let code = e.unchecked_ref::<CloseEvent>().code();
                    s3(serial, SocketEvent::Closed(code));
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

    /// Sends one frame on the open socket; output for a socket that is gone is dropped
    /// (the session resends what matters after reconnecting).
    pub fn send(&self, buf: &[u8]) {
        match &self.socket {
            Some(s) if s.ws.ready_state() == WebSocket::OPEN => {
                if let Err(e) = s.ws.send_with_u8_array(buf) {
                    self.log.log(LogLevel::Warn, &format!("send failed: {e:?}"));
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

    fn buffered(&self) -> u32 {
        self.socket.as_ref().map_or(0, |s| s.ws.buffered_amount())
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

/// The bytes of a `message` event.
fn message_bytes(e: &MessageEvent) -> Option<Vec<u8>> {
    let data = e.data();
    if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
        Some(Uint8Array::new(buf).to_vec())
    } else {
        // MQTT over WebSocket is binary only [MQTT-6.0.0-1]; text is passed on as bytes so
        // the codec reports the violation.
        data.as_string().map(String::into_bytes)
    }
}
