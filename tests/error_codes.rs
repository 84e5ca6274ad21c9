//! The TypeScript declarations users compile against list exactly the error codes the
//! library can produce: the `ErrorCode` union in the `.d.ts` text (the
//! `typescript_custom_section` of `src/client/types.rs`, plus any `.d.ts` in
//! `pkg-template/`) must equal `ErrorCode::ALL`, in order, and `MqttError.code` must be
//! typed with it rather than as a bare `string`.

use std::fs;
use std::path::{Path, PathBuf};

use mqtt_rtc::error_code::ErrorCode;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every source of declaration text: the Rust file holding the custom section, and the
/// package template's `.d.ts` files.
fn declaration_sources() -> Vec<(PathBuf, String)> {
    let mut paths = vec![Path::new(ROOT).join("src/client/types.rs")];
    if let Ok(entries) = fs::read_dir(Path::new(ROOT).join("pkg-template")) {
        for e in entries.flatten() {
            if e.path().to_string_lossy().ends_with(".d.ts") {
                paths.push(e.path());
            }
        }
    }
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, text)
        })
        .collect()
}

/// The string literals of `export type ErrorCode = ...;` in `text`, if it declares it.
fn union_members(text: &str) -> Option<Vec<String>> {
    let start = text.find("export type ErrorCode =")?;
    let body = &text[start..];
    let body = &body[..body.find(';').expect("the ErrorCode union ends with ';'")];
    Some(
        body.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// The body of `export class MqttError ... { ... }` in `text`, if it declares it.
fn mqtt_error_class(text: &str) -> Option<&str> {
    let start = text.find("export class MqttError")?;
    let body = &text[start..];
    Some(&body[..body.find("\n}").expect("the MqttError class is closed")])
}

#[test]
fn typescript_error_code_union_lists_exactly_error_code_all() {
    let expected: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let unions: Vec<(PathBuf, Vec<String>)> = declaration_sources()
        .into_iter()
        .filter_map(|(p, text)| union_members(&text).map(|u| (p, u)))
        .collect();
    assert_eq!(
        unions.len(),
        1,
        "exactly one declaration of the ErrorCode union: {unions:?}"
    );
    let (path, members) = &unions[0];
    assert_eq!(
        members,
        &expected,
        "the ErrorCode union in {} differs from ErrorCode::ALL",
        path.display()
    );
}

#[test]
fn error_code_all_has_no_duplicates() {
    let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ErrorCode::ALL.len());
}

#[test]
fn mqtt_error_code_is_typed_with_the_union() {
    let classes: Vec<(PathBuf, String)> = declaration_sources()
        .into_iter()
        .filter_map(|(p, text)| mqtt_error_class(&text).map(|c| (p, c.to_owned())))
        .collect();
    assert_eq!(
        classes.len(),
        1,
        "exactly one declaration of class MqttError"
    );
    let class = &classes[0].1;
    assert!(class.contains("readonly code: ErrorCode;"), "{class}");
    assert!(class.contains("constructor(code: ErrorCode,"), "{class}");
}
