//! The chunk framing of `RtcChannel`: every message goes out as one or more binary
//! chunks, each starting with one header byte (bit 0 set = the message is text, bit 1
//! set = more chunks follow), and a [`Reassembler`] puts received chunks back together
//! within a size bound. Pure bytes in, bytes out: it must never hold more than
//! [`MAX_MESSAGE`] bytes of one message, and never panic on what a remote peer sends.

use crate::error_code::ErrorCode;

/// Header bit: the message is UTF-8 text.
pub const FLAG_TEXT: u8 = 0x01;
/// Header bit: more chunks of this message follow.
pub const FLAG_MORE: u8 = 0x02;
/// A reassembled message larger than this is dropped (bounds what a peer can make us hold).
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Why a received frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A frame without even the header byte.
    Empty,
    /// A header with bits other than [`FLAG_TEXT`] and [`FLAG_MORE`].
    UnknownFlags(u8),
    /// A continuation chunk whose text bit differs from the first chunk's.
    TypeChanged,
    /// The message being reassembled grew above the bound.
    TooLarge { limit: usize },
}

impl FrameError {
    /// The `MqttError` code this error is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { .. } => ErrorCode::MessageTooLarge,
            _ => ErrorCode::InvalidFrame,
        }
    }

    pub fn message(&self) -> String {
        match self {
            FrameError::Empty => "empty frame".into(),
            FrameError::UnknownFlags(flags) => format!("unknown frame flags {flags:#x}"),
            FrameError::TypeChanged => "a chunk changed the message type".into(),
            FrameError::TooLarge { limit } => {
                format!("a received message exceeds {limit} bytes; dropped")
            }
        }
    }
}

/// The header byte of a chunk.
pub fn header(text: bool, last: bool) -> u8 {
    let mut flags = if text { FLAG_TEXT } else { 0 };
    if !last {
        flags |= FLAG_MORE;
    }
    flags
}

/// The next chunk of a message of `total` bytes of which `offset` are sent, with at most
/// `max_body` payload bytes per chunk (at least 1): `(body length, header)`. An empty
/// message is one chunk with an empty body.
pub fn next_chunk(total: usize, offset: usize, text: bool, max_body: usize) -> (usize, u8) {
    let n = total.saturating_sub(offset).min(max_body.max(1));
    (n, header(text, offset + n >= total))
}

/// Splits a message into framed chunks of at most `max_body + 1` bytes each.
pub fn split(payload: &[u8], text: bool, max_body: usize) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut offset = 0;
    loop {
        let (n, flags) = next_chunk(payload.len(), offset, text, max_body);
        let mut frame = Vec::with_capacity(n + 1);
        frame.push(flags);
        frame.extend_from_slice(&payload[offset..offset + n]);
        chunks.push(frame);
        offset += n;
        if flags & FLAG_MORE == 0 {
            return chunks;
        }
    }
}

/// A complete received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Sent as text: the bytes are meant to be UTF-8.
    pub text: bool,
    pub bytes: Vec<u8>,
}

struct Partial {
    text: bool,
    bytes: Vec<u8>,
}

/// Puts received chunks back into messages; one per channel.
pub struct Reassembler {
    partial: Option<Partial>,
    limit: usize,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(MAX_MESSAGE)
    }
}

impl Reassembler {
    /// A reassembler that refuses messages above `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Reassembler {
            partial: None,
            limit,
        }
    }

    /// Whether a message is partly received.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Forgets a partly received message (the channel closed).
    pub fn reset(&mut self) {
        self.partial = None;
    }

    /// Reads one frame; returns the message it completes, if any. After an error the
    /// partial message is dropped (except for an empty frame, which carries no header to
    /// judge it by and is skipped).
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Message>, FrameError> {
        let Some((&flags, body)) = frame.split_first() else {
            return Err(FrameError::Empty);
        };
        if flags & !(FLAG_TEXT | FLAG_MORE) != 0 {
            self.partial = None;
            return Err(FrameError::UnknownFlags(flags));
        }
        let text = flags & FLAG_TEXT != 0;
        let more = flags & FLAG_MORE != 0;
        let mut partial = match self.partial.take() {
            None if !more => {
                return Ok(Some(Message {
                    text,
                    bytes: body.to_vec(),
                }))
            }
            None => Partial {
                text,
                bytes: Vec::new(),
            },
            Some(p) if p.text != text => return Err(FrameError::TypeChanged),
            Some(p) => p,
        };
        if partial.bytes.len().saturating_add(body.len()) > self.limit {
            return Err(FrameError::TooLarge { limit: self.limit });
        }
        partial.bytes.extend_from_slice(body);
        if more {
            self.partial = Some(partial);
            return Ok(None);
        }
        Ok(Some(Message {
            text: partial.text,
            bytes: partial.bytes,
        }))
    }
}
