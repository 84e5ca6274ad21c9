//! Feeds arbitrary bytes to the packet decoder, as both protocol versions and under several
//! maximum sizes: it must never panic, and whatever it decodes must survive a round trip.
//! The check itself is shared with `tests/fuzz_corpus.rs`, which replays the corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../check.rs");

fuzz_target!(|data: &[u8]| check_input(data));
