//! `RtcChannel`: one `RTCDataChannel` with messages of any size and backpressure.
//!
//! Framing (`rtc_core::chunk`, pure and host-tested): every message goes out as one or
//! more binary chunks, each starting with one header byte: bit 0 set = the message is
//! text (UTF-8), bit 1 set = more chunks follow. A chunk is at most the connection's SCTP max message size (`pc.sctp.maxMessageSize`,
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

use super::{
    borrow, bury, describe, error, get, read, rejected, report, Deferred, Listeners, Pending,
};
use crate::error_code::ErrorCode;
use crate::rtc_core::chunk::{self, Reassembler};
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

struct Outgoing {
    payload: Uint8Array,
    text: bool,
    offset: u32,
    pending: Pending,
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
    incoming: Reassembler,
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

    /// Hands queued chunks to the channel while it is open and has room; the sends it
    /// settles are collected in `deferred`, to run once the borrow is released.
    fn pump(&mut self, deferred: &mut Deferred) {
        if self.dc.ready_state() != RtcDataChannelState::Open {
            return;
        }
        let body = self.chunk_limit() - 1;
        while let Some(front) = self.queue.front_mut() {
            if self.dc.buffered_amount() >= HIGH_WATER {
                break; // `bufferedamountlow` resumes
            }
            let len = front.payload.length();
            let (n, flags) = chunk::next_chunk(
                len as usize,
                front.offset as usize,
                front.text,
                body as usize,
            );
            // invariant: `n` is at most `len - offset`, a u32.
            let n = n as u32;
            let frame = Uint8Array::new_with_length(n + 1);
            frame.set_index(0, flags);
            frame.set(&front.payload.subarray(front.offset, front.offset + n), 1);
            let sent = self.dc.send_with_js_u8_array(&frame);
            front.offset += n;
            let last = front.offset >= len;
            match sent {
                Err(e) => {
                    if let Some(o) = self.queue.pop_front() {
                        let e = error(
                            ErrorCode::ChannelError,
                            format!("cannot send: {}", describe(&e)),
                        );
                        deferred.reject(o.pending, e);
                    }
                }
                Ok(()) if last => {
                    if let Some(o) = self.queue.pop_front() {
                        deferred.resolve(o.pending, &JsValue::UNDEFINED);
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
        let frame = Uint8Array::new(buf).to_vec();
        let message = self
            .incoming
            .push(&frame)
            .map_err(|e| error(e.code(), e.message()))?;
        Ok(message.map(|m| {
            if m.text {
                JsValue::from_str(&String::from_utf8_lossy(&m.bytes))
            } else {
                Uint8Array::from(m.bytes.as_slice()).into()
            }
        }))
    }
}

/// Calls the listeners of `event` with no borrow held.
fn emit(rc: &Rc<RefCell<ChannelInner>>, event: &str, args: &[JsValue]) {
    let mut deferred = Deferred::new();
    match borrow(rc) {
        Ok(inner) => deferred.emit(&inner.listeners, event, args),
        Err(e) => return report(&e),
    }
    deferred.run();
}

fn with(weak: &Weak<RefCell<ChannelInner>>, f: impl FnOnce(&Rc<RefCell<ChannelInner>>)) {
    if let Some(rc) = weak.upgrade() {
        f(&rc);
    }
}

fn pump(rc: &Rc<RefCell<ChannelInner>>) {
    let mut deferred = Deferred::new();
    match borrow(rc) {
        Ok(mut inner) => inner.pump(&mut deferred),
        Err(e) => return report(&e),
    }
    deferred.run();
}

/// Closes the channel (if `close_dc`) and releases everything; emits `close` once.
pub(crate) fn shutdown(rc: &Rc<RefCell<ChannelInner>>, close_dc: bool) -> Result<(), MqttError> {
    let mut deferred = Deferred::new();
    let buried = {
        let mut inner = borrow(rc)?;
        if inner.closed {
            return Ok(());
        }
        inner.closed = true;
        if close_dc {
            inner.dc.close();
        }
        let closed = error(
            ErrorCode::Closed,
            "the data channel closed before the message was sent",
        );
        // The sends are rejected before the close listeners run.
        for o in inner.queue.drain(..) {
            deferred.reject(o.pending, closed.clone());
        }
        deferred.emit(&inner.listeners, "close", &[]);
        inner.listeners.clear();
        inner.incoming.reset();
        (inner.handlers.take(), inner.keep_alive.take())
    };
    bury(Box::new(buried));
    deferred.run();
    Ok(())
}

/// `error` on the browser channel: reported to the `error` listeners.
fn on_error(rc: &Rc<RefCell<ChannelInner>>, e: &JsValue) {
    let detail = get(e, "error");
    let text = if detail.is_object() {
        describe(&detail)
    } else {
        "data channel error".into()
    };
    emit(
        rc,
        "error",
        &[error(ErrorCode::ChannelError, text).into_js()],
    );
}

/// `message` on the browser channel: one frame, maybe completing a message.
fn on_message(rc: &Rc<RefCell<ChannelInner>>, e: &MessageEvent) {
    let mut deferred = Deferred::new();
    match borrow(rc) {
        Ok(mut inner) => match inner.receive(e.data()) {
            Ok(Some(m)) => deferred.emit(&inner.listeners, "message", &[m]),
            Ok(None) => {}
            Err(e) => deferred.emit(&inner.listeners, "error", &[e.into_js()]),
        },
        Err(e) => return report(&e),
    }
    deferred.run();
}

/// Sets the browser channel's handlers, each holding a weak reference.
fn install_handlers(rc: &Rc<RefCell<ChannelInner>>, dc: RtcDataChannel) -> Handlers {
    let weak = Rc::downgrade(rc);
    let w = weak.clone();
    let open = Closure::<dyn FnMut()>::new(move || {
        with(&w, |rc| {
            pump(rc);
            emit(rc, "open", &[]);
        })
    });
    let w = weak.clone();
    let close = Closure::<dyn FnMut()>::new(move || {
        with(&w, |rc| {
            if let Err(e) = shutdown(rc, false) {
                report(&e);
            }
        })
    });
    let w = weak.clone();
    let error =
        Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| with(&w, |rc| on_error(rc, &e)));
    let w = weak.clone();
    let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        with(&w, |rc| on_message(rc, &e))
    });
    let low = Closure::<dyn FnMut()>::new(move || with(&weak, pump));
    dc.set_onopen(Some(open.as_ref().unchecked_ref()));
    dc.set_onclose(Some(close.as_ref().unchecked_ref()));
    dc.set_onerror(Some(error.as_ref().unchecked_ref()));
    dc.set_onmessage(Some(message.as_ref().unchecked_ref()));
    dc.set_onbufferedamountlow(Some(low.as_ref().unchecked_ref()));
    Handlers {
        dc,
        _open: open,
        _close: close,
        _error: error,
        _message: message,
        _low: low,
    }
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
            incoming: Reassembler::default(),
            chunkable,
            closed: false,
            keep_alive: None,
        }));
        let handlers = install_handlers(&rc, dc);
        {
            // invariant: `rc` was created above and is borrowed nowhere else yet.
            let mut inner = rc.borrow_mut();
            inner.handlers = Some(handlers);
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

    /// Whether the channel closed (a busy channel counts as open: it is in use).
    pub(crate) fn is_closed(inner: &Rc<RefCell<ChannelInner>>) -> bool {
        inner.try_borrow().is_ok_and(|i| i.closed)
    }
}

#[wasm_bindgen(js_class = RtcChannel)]
impl RtcChannel {
    #[wasm_bindgen(getter)]
    pub fn label(&self) -> Result<String, JsValue> {
        read(&self.inner, |i| i.dc.label())
    }

    /// "connecting" | "open" | "closing" | "closed".
    #[wasm_bindgen(getter, js_name = readyState)]
    pub fn ready_state(&self) -> Result<String, JsValue> {
        read(&self.inner, |i| {
            if i.closed {
                return "closed".into();
            }
            get(&i.dc, "readyState")
                .as_string()
                .unwrap_or_else(|| "closed".into())
        })
    }

    /// Whether the channel is ordered and reliable (and so carries messages of any size).
    #[wasm_bindgen(getter)]
    pub fn reliable(&self) -> Result<bool, JsValue> {
        read(&self.inner, |i| i.chunkable)
    }

    /// Bytes handed to the channel and not yet sent, plus those still queued here.
    #[wasm_bindgen(getter, js_name = bufferedAmount)]
    pub fn buffered_amount(&self) -> Result<f64, JsValue> {
        read(&self.inner, |i| {
            let queued: f64 = i
                .queue
                .iter()
                .map(|o| f64::from(o.payload.length() - o.offset))
                .sum();
            f64::from(i.dc.buffered_amount()) + queued
        })
    }

    /// Sends a string or bytes; resolves once the whole message is handed to the channel.
    pub fn send(&self, data: JsValue) -> Promise {
        match payload_of(&data) {
            Ok((payload, text)) => self.enqueue(payload, text),
            Err(e) => rejected(e),
        }
    }

    /// Adds a listener: "message" (string | Uint8Array), "open", "close", "error".
    pub fn on(&self, event: String, listener: Function) -> Result<RtcChannel, JsValue> {
        let mut inner = borrow(&self.inner).map_err(MqttError::into_js)?;
        if !inner.closed {
            inner.listeners.add(event, listener);
        }
        Ok(RtcChannel {
            inner: self.inner.clone(),
        })
    }

    pub fn off(&self, event: String, listener: Function) -> Result<RtcChannel, JsValue> {
        let mut inner = borrow(&self.inner).map_err(MqttError::into_js)?;
        inner.listeners.remove(&event, &listener);
        Ok(RtcChannel {
            inner: self.inner.clone(),
        })
    }

    /// Closes the channel; messages not yet handed to it are rejected with CLOSED.
    pub fn close(&self) -> Result<(), JsValue> {
        shutdown(&self.inner, true).map_err(MqttError::into_js)
    }
}

impl RtcChannel {
    /// Queues one message and hands what fits to the channel.
    fn enqueue(&self, payload: Uint8Array, text: bool) -> Promise {
        let (promise, pending) = Pending::new();
        let mut deferred = Deferred::new();
        {
            let mut inner = match borrow(&self.inner) {
                Ok(inner) => inner,
                Err(e) => return rejected(e),
            };
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
                        "{} bytes do not fit one message of {} bytes, and an unordered or \
                         unreliable channel cannot split them",
                        payload.length(),
                        // Whatever its type, printed as an integer: no float formatting.
                        limit as u64
                    ),
                ));
            }
            inner.queue.push_back(Outgoing {
                payload,
                text,
                offset: 0,
                pending,
            });
            inner.pump(&mut deferred);
        }
        deferred.run();
        promise
    }
}

/// The bytes of a message to send, and whether it is text.
fn payload_of(data: &JsValue) -> Result<(Uint8Array, bool), MqttError> {
    if let Some(s) = data.as_string() {
        return Ok((Uint8Array::from(s.as_bytes()), true));
    }
    if let Some(a) = data.dyn_ref::<Uint8Array>() {
        return Ok((a.clone(), false));
    }
    if let Some(b) = data.dyn_ref::<ArrayBuffer>() {
        return Ok((Uint8Array::new(b), false));
    }
    if !ArrayBuffer::is_view(data) {
        return Err(error(
            ErrorCode::InvalidArgument,
            "data must be a string, a Uint8Array or an ArrayBuffer",
        ));
    }
    let buffer = get(data, "buffer");
    let offset = get(data, "byteOffset").as_f64().unwrap_or(0.0);
    let len = get(data, "byteLength").as_f64().unwrap_or(0.0);
    match buffer.dyn_ref::<ArrayBuffer>() {
        Some(b) => Ok((
            Uint8Array::new_with_byte_offset_and_length(b, offset as u32, len as u32),
            false,
        )),
        None => Err(error(
            ErrorCode::InvalidArgument,
            "cannot read this buffer view",
        )),
    }
}
