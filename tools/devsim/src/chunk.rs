//! The data-channel framing of the library's `RtcChannel`, for the native camera: every
//! message travels as one or more binary chunks, each starting with one header byte (bit 0
//! set = the message is text, bit 1 set = more chunks follow). A dashboard's `RtcChannel`
//! reassembles what this module splits, and this module reassembles what it sends. Pure
//! bytes in, bytes out: it must never hold more than its limit of one message, and never
//! panic on what a remote peer sends.

/// Header bit: the message is UTF-8 text.
pub const FLAG_TEXT: u8 = 0x01;
/// Header bit: more chunks of this message follow.
pub const FLAG_MORE: u8 = 0x02;

/// Splits a message into framed chunks of at most `max_body + 1` bytes each (`max_body` at
/// least 1). An empty message is one chunk holding only its header.
pub fn split(payload: &[u8], text: bool, max_body: usize) -> Vec<Vec<u8>> {
    let max_body = max_body.max(1);
    let mut chunks = Vec::new();
    let mut offset = 0;
    loop {
        let n = (payload.len() - offset).min(max_body);
        let last = offset + n == payload.len();
        let mut flags = if text { FLAG_TEXT } else { 0 };
        if !last {
            flags |= FLAG_MORE;
        }
        let mut frame = Vec::with_capacity(n + 1);
        frame.push(flags);
        frame.extend_from_slice(&payload[offset..offset + n]);
        chunks.push(frame);
        offset += n;
        if last {
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

/// Why a received frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A frame without even the header byte.
    Empty,
    /// A header with bits other than [`FLAG_TEXT`] and [`FLAG_MORE`].
    UnknownFlags(u8),
    /// A continuation chunk whose text bit differs from the first chunk's.
    TypeChanged,
    /// The message being reassembled grew above the limit.
    TooLarge,
}

/// Puts received chunks back into messages; one per channel.
pub struct Reassembler {
    partial: Option<Message>,
    limit: usize,
}

impl Reassembler {
    /// A reassembler that refuses messages above `limit` bytes.
    pub fn new(limit: usize) -> Reassembler {
        Reassembler {
            partial: None,
            limit,
        }
    }

    /// Reads one frame; returns the message it completes, if any. After an error the
    /// partial message is dropped.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Message>, FrameError> {
        let Some((&flags, body)) = frame.split_first() else {
            return Err(FrameError::Empty);
        };
        let partial = self.partial.take();
        if flags & !(FLAG_TEXT | FLAG_MORE) != 0 {
            return Err(FrameError::UnknownFlags(flags));
        }
        let text = flags & FLAG_TEXT != 0;
        let mut message = match partial {
            Some(p) if p.text != text => return Err(FrameError::TypeChanged),
            Some(p) => p,
            None => Message {
                text,
                bytes: Vec::new(),
            },
        };
        if message.bytes.len().saturating_add(body.len()) > self.limit {
            return Err(FrameError::TooLarge);
        }
        message.bytes.extend_from_slice(body);
        if flags & FLAG_MORE != 0 {
            self.partial = Some(message);
            return Ok(None);
        }
        Ok(Some(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_reassembles() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let chunks = split(&payload, false, 300);
        assert_eq!(chunks.len(), 4);
        assert_eq!(
            chunks.iter().map(|c| c[0]).collect::<Vec<_>>(),
            [FLAG_MORE, FLAG_MORE, FLAG_MORE, 0]
        );
        assert!(chunks.iter().all(|c| c.len() <= 301));
        let mut r = Reassembler::new(4096);
        let mut out = None;
        for c in &chunks {
            out = r.push(c).unwrap();
        }
        assert_eq!(
            out,
            Some(Message {
                text: false,
                bytes: payload
            })
        );
        // Text, and the empty message.
        assert_eq!(split(b"hi", true, 100), vec![vec![FLAG_TEXT, b'h', b'i']]);
        assert_eq!(split(b"", true, 100), vec![vec![FLAG_TEXT]]);
        assert_eq!(
            r.push(&[FLAG_TEXT]).unwrap(),
            Some(Message {
                text: true,
                bytes: vec![]
            })
        );
    }

    #[test]
    fn refuses_bad_frames_without_panicking() {
        let mut r = Reassembler::new(4);
        assert_eq!(r.push(&[]), Err(FrameError::Empty));
        assert_eq!(r.push(&[0x04, 1]), Err(FrameError::UnknownFlags(0x04)));
        assert_eq!(r.push(&[FLAG_MORE | FLAG_TEXT, b'a']), Ok(None));
        assert_eq!(r.push(&[0, b'b']), Err(FrameError::TypeChanged));
        // The partial message is gone: the next frame starts a new one.
        assert_eq!(r.push(&[FLAG_MORE, 1, 2, 3]), Ok(None));
        assert_eq!(r.push(&[0, 4, 5]), Err(FrameError::TooLarge));
        assert_eq!(r.push(&[0, 9]).unwrap().map(|m| m.bytes), Some(vec![9]));
    }
}
