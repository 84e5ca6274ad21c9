//! The data-channel chunk framing on the host: split/reassemble round trips at every
//! chunk size around the boundaries, and every malformed-frame path.

use mqtt_rtc::error_code::ErrorCode;
use mqtt_rtc::rtc_core::chunk::{
    header, next_chunk, split, FrameError, Message, Reassembler, FLAG_MORE, FLAG_TEXT,
};

fn reassemble(chunks: &[Vec<u8>]) -> Vec<Message> {
    let mut r = Reassembler::default();
    chunks
        .iter()
        .filter_map(|c| r.push(c).expect("well-formed frame"))
        .collect()
}

#[test]
fn header_bits_say_text_and_more() {
    assert_eq!(header(false, true), 0);
    assert_eq!(header(true, true), FLAG_TEXT);
    assert_eq!(header(false, false), FLAG_MORE);
    assert_eq!(header(true, false), FLAG_TEXT | FLAG_MORE);
}

#[test]
fn a_message_that_fits_is_one_chunk() {
    let chunks = split(b"hello", true, 16);
    assert_eq!(chunks, vec![b"\x01hello".to_vec()]);
}

#[test]
fn an_empty_message_is_one_empty_chunk() {
    assert_eq!(split(b"", false, 16), vec![vec![0u8]]);
    assert_eq!(
        reassemble(&split(b"", true, 16)),
        vec![Message {
            text: true,
            bytes: vec![]
        }]
    );
}

#[test]
fn split_then_reassemble_round_trips_at_every_boundary() {
    for len in [0usize, 1, 2, 7, 8, 9, 15, 16, 17, 64, 100] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        for max_body in [1usize, 2, 3, 8, 16, 200] {
            for text in [false, true] {
                let chunks = split(&payload, text, max_body);
                assert_eq!(
                    chunks.len(),
                    len.div_ceil(max_body).max(1),
                    "{len}/{max_body}"
                );
                for (i, c) in chunks.iter().enumerate() {
                    assert!(c.len() <= max_body + 1);
                    let last = i + 1 == chunks.len();
                    assert_eq!(c[0], header(text, last));
                }
                let got = reassemble(&chunks);
                assert_eq!(
                    got,
                    vec![Message {
                        text,
                        bytes: payload.clone()
                    }]
                );
            }
        }
    }
}

#[test]
fn next_chunk_never_takes_an_empty_body_from_a_non_empty_message() {
    assert_eq!(next_chunk(10, 0, false, 0), (1, FLAG_MORE));
    assert_eq!(next_chunk(10, 9, true, 4), (1, FLAG_TEXT));
    assert_eq!(next_chunk(10, 4, false, 4), (4, FLAG_MORE));
}

#[test]
fn messages_follow_each_other_on_one_reassembler() {
    let mut chunks = split(b"first message", true, 4);
    chunks.extend(split(&[1, 2, 3], false, 2));
    let got = reassemble(&chunks);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].bytes, b"first message");
    assert_eq!(
        got[1],
        Message {
            text: false,
            bytes: vec![1, 2, 3]
        }
    );
}

#[test]
fn an_empty_frame_is_invalid_and_keeps_the_partial_message() {
    let mut r = Reassembler::default();
    assert_eq!(r.push(&[FLAG_MORE, 1]), Ok(None));
    let e = r.push(&[]).unwrap_err();
    assert_eq!(e, FrameError::Empty);
    assert_eq!(e.code(), ErrorCode::InvalidFrame);
    assert!(r.in_progress());
    assert_eq!(
        r.push(&[0, 2]),
        Ok(Some(Message {
            text: false,
            bytes: vec![1, 2]
        }))
    );
}

#[test]
fn unknown_flags_are_invalid_and_drop_the_partial_message() {
    let mut r = Reassembler::default();
    assert_eq!(r.push(&[FLAG_MORE, 1]), Ok(None));
    let e = r.push(&[0x04, 2]).unwrap_err();
    assert_eq!(e, FrameError::UnknownFlags(0x04));
    assert_eq!(e.code(), ErrorCode::InvalidFrame);
    assert_eq!(e.message(), "unknown frame flags 0x4");
    assert!(!r.in_progress());
    // The next frame starts a new message.
    assert_eq!(
        r.push(&[0, 9]),
        Ok(Some(Message {
            text: false,
            bytes: vec![9]
        }))
    );
}

#[test]
fn a_chunk_that_changes_the_message_type_is_invalid() {
    let mut r = Reassembler::default();
    assert_eq!(r.push(&[FLAG_TEXT | FLAG_MORE, b'a']), Ok(None));
    let e = r.push(&[0, 1]).unwrap_err();
    assert_eq!(e, FrameError::TypeChanged);
    assert_eq!(e.code(), ErrorCode::InvalidFrame);
    assert!(!r.in_progress());
}

#[test]
fn a_message_above_the_bound_is_too_large_and_dropped() {
    let mut r = Reassembler::new(4);
    assert_eq!(r.push(&[FLAG_MORE, 1, 2, 3]), Ok(None));
    let e = r.push(&[FLAG_MORE, 4, 5]).unwrap_err();
    assert_eq!(e, FrameError::TooLarge { limit: 4 });
    assert_eq!(e.code(), ErrorCode::MessageTooLarge);
    assert!(!r.in_progress());
    // Exactly at the bound is fine.
    assert_eq!(r.push(&[FLAG_MORE, 1, 2]), Ok(None));
    assert_eq!(
        r.push(&[0, 3, 4]),
        Ok(Some(Message {
            text: false,
            bytes: vec![1, 2, 3, 4]
        }))
    );
}

#[test]
fn a_single_chunk_message_is_not_held_so_not_bounded() {
    // One frame is bounded by the channel's own message size, not by reassembly.
    let mut r = Reassembler::new(2);
    assert_eq!(
        r.push(&[0, 1, 2, 3]),
        Ok(Some(Message {
            text: false,
            bytes: vec![1, 2, 3]
        }))
    );
}

#[test]
fn reset_forgets_a_partial_message() {
    let mut r = Reassembler::default();
    assert_eq!(r.push(&[FLAG_MORE, 1]), Ok(None));
    r.reset();
    assert!(!r.in_progress());
    assert_eq!(
        r.push(&[0, 2]),
        Ok(Some(Message {
            text: false,
            bytes: vec![2]
        }))
    );
}
