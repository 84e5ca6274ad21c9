#![cfg(not(target_arch = "wasm32"))]
//! Replays the decode fuzz target's corpus (`fuzz/corpus/decode/`) through the same check
//! the fuzzer runs (`fuzz/check.rs`), so every input the fuzzer ever kept is checked by a
//! plain `cargo test`, without a fuzzing toolchain.

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
