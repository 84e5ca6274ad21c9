//! `RtcChannel`: one `RTCDataChannel` with messages of any size and backpressure.
//!
//! Framing: every message goes out as one or more binary chunks, each starting with one
//! header byte: bit 0 set = the message is text (UTF-8), bit 1 set = more chunks follow.
//! A chunk is at most the connection's SCTP max message size (`pc.sctp.maxMessageSize`,
//! 64 KiB when unknown, capped at 256 KiB so one message never hogs the association).
//! Chunked messages need an ordered, reliable channel; on others a message must fit one
//! chunk. A plain string message (from a peer not using this framing) is delivered as is.
//!
//! Backpressure: chunks are handed to the channel while its `bufferedAmount` is below
//! [`HIGH_WATER`]; above it, sending waits for `bufferedamountlow` (threshold
//! [`LOW_WATER`]), so the browser's send queue never overflows. `send` resolves once the
//! last chunk of its message has been handed to the channel.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{ArrayBuffer, Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, RtcDataChannel, RtcDataChannelState, RtcDataChannelType};

use super::{bury, call_all, describe, error, get, rejected, Listeners, Pending};
use crate::error_code::ErrorCode;
use crate::web::MqttError;

/// Stop handing chunks to the channel while this much is buffered (the browser refuses
/// sends above 16 MiB).
const HIGH_WATER: u32 = 4 * 1024 * 1024;
/// `bufferedamountlow` fires when the buffer drains below this.
const LOW_WATER: u32 = 1024 * 1024;
/// Chunk size when the connection does not say (the SCTP default every browser accepts).
const FALLBACK_MESSAGE_SIZE: f64 = 64.0 * 1024.0;
/// Chunks are never larger than this, whatever the connection allows.
const MAX_CHUNK: f64 = 256.0 * 1024.0;
/// A reassembled message larger than this is dropped (bounds what a peer can make us hold).
const MAX_MESSAGE: u32 = 256 * 1024 * 1024;

const FLAG_TEXT: u8 = 0x01;
const FLAG_MORE: u8 = 0x02;

struct Outgoing {
    payload: Uint8Array,
    text: bool,
    offset: u32,
    pending: Pending,
}

struct Reassembly {
    text: bool,
    parts: Vec<Uint8Array>,
    len: u32,
}

struct Handlers {
    dc: RtcDataChannel,
    _open: Closure<dyn FnMut()>,
    _close: Closure<dyn FnMut()>,
    _error: Closure<dyn FnMut(JsValue)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _low: Closure<dyn FnMut()>,
}

impl Drop for Handlers {
    fn drop(&mut self) {
        self.dc.set_onopen(None);
        self.dc.set_onclose(None);
        self.dc.set_onerror(None);
        self.dc.set_onmessage(None);
        self.dc.set_onbufferedamountlow(None);
    }
}

pub(crate) struct ChannelInner {
    dc: RtcDataChannel,
    /// The connection, for its SCTP max message size.
    pc: web_sys::RtcPeerConnection,
    listeners: Listeners,
    handlers: Option<Handlers>,
    queue: VecDeque<Outgoing>,
    incoming: Option<Reassembly>,
    /// Ordered and reliable: large messages may be split.
    chunkable: bool,
    closed: bool,
    /// A channel keeps itself alive until it closes, like the browser's own channel.
    keep_alive: Option<Rc<RefCell<ChannelInner>>>,
}

/// A data channel of an `RtcPeer`.
#[wasm_bindgen(skip_typescript)]
pub struct RtcChannel {
    inner: Rc<RefCell<ChannelInner>>,
}

impl ChannelInner {
    /// The largest chunk (header included) the connection takes.
    fn chunk_limit(&self) -> u32 {
        let size = get(&get(&self.pc, "sctp"), "maxMessageSize")
            .as_f64()
            .filter(|n| *n > 1.0)
            .unwrap_or(FALLBACK_MESSAGE_SIZE);
        size.min(MAX_CHUNK) as u32
    }

    /// Hands queued chunks to the channel while it is open and has room; returns the
    /// sends to settle once the borrow is released.
    fn pump(&mut self, done: &mut Vec<(Pending, Option<MqttError>)>) {
        if self.dc.ready_state() != RtcDataChannelState::Open {
            return;
        }
        let body = self.chunk_limit() - 1;
        while let Some(front) = self.queue.front_mut() {
            if self.dc.buffered_amount() >= HIGH_WATER {
                break; // `bufferedamountlow` resumes
            }
            let len = front.payload.length();
            let n = (len - front.offset).min(body);
            let last = front.offset + n == len;
            let frame = Uint8Array::new_with_length(n + 1);
            let mut flags = if front.text { FLAG_TEXT } else { 0 };
            if !last {
                flags |= FLAG_MORE;
            }
            frame.set_index(0, flags);
            frame.set(&front.payload.subarray(front.offset, front.offset + n), 1);
            let sent = self.dc.send_with_js_u8_array(&frame);
            front.offset += n;
            match sent {
                Err(e) => {
                    if let Some(o) = self.queue.pop_front() {
                        done.push((
                            o.pending,
                            Some(error(
                                ErrorCode::ChannelError,
                                format!("cannot send: {}", describe(&e)),
                            )),
                        ));
                    }
                }
                Ok(()) if last => {
                    if let Some(o) = self.queue.pop_front() {
                        done.push((o.pending, None));
                    }
                }
                Ok(()) => {}
            }
        }
    }

    /// Reads one received frame; returns a complete message, if this frame ends one.
    fn receive(&mut self, data: JsValue) -> Result<Option<JsValue>, MqttError> {
        if data.is_string() {
            return Ok(Some(data));
        }
        let Some(buf) = data.dyn_ref::<ArrayBuffer>() else {
            return Err(error(
                ErrorCode::InvalidFrame,
                "unexpected data channel message type",
            ));
        };
        let frame = Uint8Array::new(buf);
        if frame.length() == 0 {
            return Err(error(ErrorCode::InvalidFrame, "empty frame"));
        }
        let flags = frame.get_index(0);
        if flags & !(FLAG_TEXT | FLAG_MORE) != 0 {
            self.incoming = None;
            return Err(error(
                ErrorCode::InvalidFrame,
                format!("unknown frame flags {flags:#x}"),
            ));
        }
        let text = flags & FLAG_TEXT != 0;
        let body = frame.slice(1, frame.length());
        let (text, bytes) = match self.incoming.take() {
            None if flags & FLAG_MORE == 0 => (text, body),
            partial => {
                let mut r = partial.unwrap_or(Reassembly {
                    text,
                    parts: Vec::new(),
                    len: 0,
                });
                if r.text != text {
                    return Err(error(
                        ErrorCode::InvalidFrame,
                        "a chunk changed the message type",
                    ));
                }
                r.len = r.len.saturating_add(body.length());
                if r.len > MAX_MESSAGE {
                    return Err(error(
                        ErrorCode::MessageTooLarge,
                        format!("a received message exceeds {MAX_MESSAGE} bytes; dropped"),
                    ));
                }
                r.parts.push(body);
                if flags & FLAG_MORE != 0 {
                    self.incoming = Some(r);
                    return Ok(None);
                }
                let whole = Uint8Array::new_with_length(r.len);
                let mut at = 0;
                for p in &r.parts {
                    whole.set(p, at);
                    at += p.length();
                }
                (r.text, whole)
            }
        };
        Ok(Some(if text {
            JsValue::from_str(&String::from_utf8_lossy(&bytes.to_vec()))
        } else {
            bytes.into()
        }))
    }
}

fn settle(done: Vec<(Pending, Option<MqttError>)>) {
    for (p, e) in done {
        match e {
            None => p.resolve(&JsValue::UNDEFINED),
            Some(e) => p.reject(e),
        }
    }
}

fn with(weak: &Weak<RefCell<ChannelInner>>, f: impl FnOnce(&Rc<RefCell<ChannelInner>>)) {
    if let Some(rc) = weak.upgrade() {
        f(&rc);
    }
}

fn pump(rc: &Rc<RefCell<ChannelInner>>) {
    let mut done = Vec::new();
    if let Ok(mut inner) = rc.try_borrow_mut() {
        inner.pump(&mut done);
    }
    settle(done);
}

/// Closes the channel (if `close_dc`) and releases everything; emits `close` once.
pub(crate) fn shutdown(rc: &Rc<RefCell<ChannelInner>>, close_dc: bool) {
    let (listeners, queue, buried) = {
        let Ok(mut inner) = rc.try_borrow_mut() else {
            return;
        };
        if inner.closed {
            return;
        }
        inner.closed = true;
        if close_dc {
            inner.dc.close();
        }
        let listeners = inner.listeners.of("close");
        inner.listeners.clear();
        inner.incoming = None;
        let queue: Vec<Outgoing> = inner.queue.drain(..).collect();
        let buried = (inner.handlers.take(), inner.keep_alive.take());
        (listeners, queue, buried)
    };
    bury(Box::new(buried));
    for o in queue {
        o.pending.reject(error(
            ErrorCode::Closed,
            "the data channel closed before the message was sent",
        ));
    }
    call_all(&listeners, &[]);
}

impl RtcChannel {
    /// Wraps a browser channel (created here or announced by the remote side).
    pub(crate) fn wrap(dc: RtcDataChannel, pc: web_sys::RtcPeerConnection) -> RtcChannel {
        dc.set_binary_type(RtcDataChannelType::Arraybuffer);
        dc.set_buffered_amount_low_threshold(LOW_WATER);
        let chunkable = get(&dc, "ordered").as_bool().unwrap_or(true)
            && dc.max_retransmits().is_none()
            && dc.max_packet_life_time().is_none();
        let rc = Rc::new(RefCell::new(ChannelInner {
            dc: dc.clone(),
            pc,
            listeners: Listeners::default(),
            handlers: None,
            queue: VecDeque::new(),
            incoming: None,
            chunkable,
            closed: false,
            keep_alive: None,
        }));
        let weak = Rc::downgrade(&rc);
        let w = weak.clone();
        let open = Closure::<dyn FnMut()>::new(move || {
            with(&w, |rc| {
                pump(rc);
                let listeners = rc.borrow().listeners.of("open");
                call_all(&listeners, &[]);
            })
        });
        let w = weak.clone();
        let close = Closure::<dyn FnMut()>::new(move || with(&w, |rc| shutdown(rc, false)));
        let w = weak.clone();
        let on_error = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            with(&w, |rc| {
                let detail = get(&e, "error");
                let text = if detail.is_object() {
                    describe(&detail)
                } else {
                    "data channel error".into()
                };
                let listeners = rc.borrow().listeners.of("error");
                call_all(
                    &listeners,
                    &[error(ErrorCode::ChannelError, text).into_js()],
                );
            })
        });
        let w = weak.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            with(&w, |rc| {
                let (result, listeners) = {
                    let Ok(mut inner) = rc.try_borrow_mut() else {
                        return;
                    };
                    let result = inner.receive(e.data());
                    let event = if result.is_ok() { "message" } else { "error" };
                    (result, inner.listeners.of(event))
                };
                match result {
                    Ok(Some(m)) => call_all(&listeners, &[m]),
                    Ok(None) => {}
                    Err(e) => call_all(&listeners, &[e.into_js()]),
                }
            })
        });
        let w = weak;
        let low = Closure::<dyn FnMut()>::new(move || with(&w, pump));
        dc.set_onopen(Some(open.as_ref().unchecked_ref()));
        dc.set_onclose(Some(close.as_ref().unchecked_ref()));
        dc.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        dc.set_onmessage(Some(message.as_ref().unchecked_ref()));
        dc.set_onbufferedamountlow(Some(low.as_ref().unchecked_ref()));
        {
            let mut inner = rc.borrow_mut();
            inner.handlers = Some(Handlers {
                dc,
                _open: open,
                _close: close,
                _error: on_error,
                _message: message,
                _low: low,
            });
            inner.keep_alive = Some(rc.clone());
        }
        RtcChannel { inner: rc }
    }

    pub(crate) fn handle(&self) -> Rc<RefCell<ChannelInner>> {
        self.inner.clone()
    }

    pub(crate) fn from_handle(inner: Rc<RefCell<ChannelInner>>) -> RtcChannel {
        RtcChannel { inner }
    }

    pub(crate) fn is_closed(inner: &Rc<RefCell<ChannelInner>>) -> bool {
        inner.try_borrow().is_ok_and(|i| i.closed)
    }
}

#[wasm_bindgen(js_class = RtcChannel)]
impl RtcChannel {
    #[wasm_bindgen(getter)]
    pub fn label(&self) -> String {
        self.inner.borrow().dc.label()
    }

    /// "connecting" | "open" | "closing" | "closed".
    #[wasm_bindgen(getter, js_name = readyState)]
    pub fn ready_state(&self) -> String {
        let inner = self.inner.borrow();
        if inner.closed {
            return "closed".into();
        }
        get(&inner.dc, "readyState")
            .as_string()
            .unwrap_or_else(|| "closed".into())
    }

    /// Whether the channel is ordered and reliable (and so carries messages of any size).
    #[wasm_bindgen(getter)]
    pub fn reliable(&self) -> bool {
        self.inner.borrow().chunkable
    }

    /// Bytes handed to the channel and not yet sent, plus those still queued here.
    #[wasm_bindgen(getter, js_name = bufferedAmount)]
    pub fn buffered_amount(&self) -> f64 {
        let inner = self.inner.borrow();
        let queued: f64 = inner
            .queue
            .iter()
            .map(|o| f64::from(o.payload.length() - o.offset))
            .sum();
        f64::from(inner.dc.buffered_amount()) + queued
    }

    /// Sends a string or bytes; resolves once the whole message is handed to the channel.
    pub fn send(&self, data: JsValue) -> Promise {
        let (payload, text) = if let Some(s) = data.as_string() {
            (Uint8Array::from(s.as_bytes()), true)
        } else if let Some(a) = data.dyn_ref::<Uint8Array>() {
            (a.clone(), false)
        } else if let Some(b) = data.dyn_ref::<ArrayBuffer>() {
            (Uint8Array::new(b), false)
        } else if ArrayBuffer::is_view(&data) {
            let buffer = get(&data, "buffer");
            let offset = get(&data, "byteOffset").as_f64().unwrap_or(0.0);
            let len = get(&data, "byteLength").as_f64().unwrap_or(0.0);
            match buffer.dyn_ref::<ArrayBuffer>() {
                Some(b) => (
                    Uint8Array::new_with_byte_offset_and_length(b, offset as u32, len as u32),
                    false,
                ),
                None => {
                    return rejected(error(
                        ErrorCode::InvalidArgument,
                        "cannot read this buffer view",
                    ))
                }
            }
        } else {
            return rejected(error(
                ErrorCode::InvalidArgument,
                "data must be a string, a Uint8Array or an ArrayBuffer",
            ));
        };
        let (promise, pending) = Pending::new();
        let mut done = Vec::new();
        {
            let mut inner = self.inner.borrow_mut();
            let state = inner.dc.ready_state();
            if inner.closed
                || state == RtcDataChannelState::Closing
                || state == RtcDataChannelState::Closed
            {
                return rejected(error(ErrorCode::Closed, "the data channel is closed"));
            }
            let limit = inner.chunk_limit() - 1;
            if !inner.chunkable && payload.length() > limit {
                return rejected(error(
                    ErrorCode::MessageTooLarge,
                    format!(
                        "{} bytes do not fit one message of {limit} bytes, and an unordered or \
                         unreliable channel cannot split them",
                        payload.length()
                    ),
                ));
            }
            inner.queue.push_back(Outgoing {
                payload,
                text,
                offset: 0,
                pending,
            });
            inner.pump(&mut done);
        }
        settle(done);
        promise
    }

    /// Adds a listener: "message" (string | Uint8Array), "open", "close", "error".
    pub fn on(&self, event: String, listener: Function) -> RtcChannel {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            if !inner.closed {
                inner.listeners.add(event, listener);
            }
        }
        RtcChannel {
            inner: self.inner.clone(),
        }
    }

    pub fn off(&self, event: String, listener: Function) -> RtcChannel {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.listeners.remove(&event, &listener);
        }
        RtcChannel {
            inner: self.inner.clone(),
        }
    }

    /// Closes the channel; messages not yet handed to it are rejected with CLOSED.
    pub fn close(&self) {
        shutdown(&self.inner, true);
    }
}
