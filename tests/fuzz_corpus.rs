#![cfg(not(target_arch = "wasm32"))]
//! Replays the decode fuzz target's corpus (`fuzz/corpus/decode/`) through the same check
//! the fuzzer runs (`fuzz/check.rs`), so every input the fuzzer ever kept is checked by a
//! plain `cargo test`, without a fuzzing toolchain.

use mqtt_rtc::mqtt::codec::{decode, ProtocolVersion};
use std::fs;
use std::path::PathBuf;

include!("../fuzz/check.rs");

/// Fewer files than this means the corpus went missing, not that it was minimized.
const MIN_CORPUS_FILES: usize = 30;

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode");
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus at {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes =
                fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_decode_corpus_holds_at_least_thirty_inputs() {
    let count = corpus().len();
    assert!(
        count >= MIN_CORPUS_FILES,
        "fuzz/corpus/decode has {count} files, expected at least {MIN_CORPUS_FILES}"
    );
}

#[test]
fn every_corpus_input_decodes_without_panic_and_round_trips() {
    let mut failures = Vec::new();
    for (path, bytes) in corpus() {
        if let Err(panic) = std::panic::catch_unwind(|| check_input(&bytes)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "corpus inputs failed:\n{}",
        failures.join("\n")
    );
}

/// The hand-written seeds say in their names what they are, and were encoded byte by byte
/// from the spec rather than by the codec, so they also check the codec against the spec:
/// `v311-*` and `v5-*` are one whole packet of that version, `ping*` one whole packet of
/// either, `two-packets` two packets back to back, `truncated-*` a proper prefix of a
/// packet, and `bad-*` malformed for both versions. Names the fuzzer gave are not checked.
#[test]
fn every_named_seed_decodes_or_is_refused_as_its_name_says() {
    const BOTH: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];
    let mut checked = 0;
    for (path, bytes) in corpus() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let (versions, whole, expect): (&[ProtocolVersion], _, &str) = if name.starts_with("v311-")
        {
            (&[ProtocolVersion::V311], true, "one whole packet")
        } else if name.starts_with("v5-") {
            (&[ProtocolVersion::V5], true, "one whole packet")
        } else if name.starts_with("ping") {
            (&BOTH, true, "one whole packet")
        } else if name == "two-packets" {
            (&BOTH, false, "a packet followed by more bytes")
        } else if name.starts_with("truncated-") {
            (&BOTH, false, "a request for more bytes")
        } else if name.starts_with("bad-") {
            (&BOTH, false, "an error")
        } else {
            continue;
        };
        for &version in versions {
            let result = decode(&bytes, version, u32::MAX);
            let as_named = match &result {
                Ok(Some((_, used))) if whole => *used == bytes.len(),
                Ok(Some((_, used))) => name == "two-packets" && *used < bytes.len(),
                Ok(None) => name.starts_with("truncated-"),
                Err(_) => name.starts_with("bad-"),
            };
            assert!(
                as_named,
                "{name} as {version:?}: expected {expect}, got {result:?} from {bytes:02x?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= MIN_CORPUS_FILES, "only {checked} named seeds");
}
