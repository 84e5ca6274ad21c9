#!/usr/bin/env bash
# tools/coverage.sh — line coverage of the library's src/ from the host tests.
#
# Runs the mqtt-rtc package's host tests (unit and integration tests, not doc tests:
# what `cargo test -p mqtt-rtc --all-targets` runs) under cargo-llvm-cov and prints the
# line coverage (lines with code, as LLVM counts them) per directory of src/ and in
# total. The browser layers (src/client, src/rtc, src/web) are built only for wasm32, so
# the host tests cannot reach them: they are listed with their size as "wasm32 only"
# (the browser tests in tests/web_*.rs and tests/js cover them). Not part of
# tools/test.sh.
#
# Installs what it needs when missing (skipped when present): `rustup component add
# llvm-tools-preview` and `cargo install cargo-llvm-cov --locked` (from crates.io).
#
#   tools/coverage.sh           # the summary
#   tools/coverage.sh --html    # also an HTML report in target/llvm-cov/html/
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MQTT_RTC_ROOT"

html=0
for arg in "$@"; do
  case "$arg" in
    --html) html=1 ;;
    *) die "unknown argument: $arg (usage: tools/coverage.sh [--html])" ;;
  esac
done

if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
  log "rustup component add llvm-tools-preview"
  rustup component add llvm-tools-preview
fi
if ! command -v cargo-llvm-cov >/dev/null 2>&1; then
  log "cargo install cargo-llvm-cov --locked"
  cargo install cargo-llvm-cov --locked
fi

target_dir="${CARGO_TARGET_DIR:-$MQTT_RTC_ROOT/target}"
json="$target_dir/llvm-cov/summary.json"
mkdir -p "$(dirname "$json")"

log "host tests under cargo-llvm-cov"
cargo llvm-cov --package mqtt-rtc --all-targets --json --summary-only --output-path "$json"
if ((html)); then
  cargo llvm-cov report --package mqtt-rtc --html
  log "HTML report: $target_dir/llvm-cov/html/index.html"
fi

python3 - "$json" "$MQTT_RTC_ROOT" <<'EOF'
import json, os, sys
from collections import defaultdict

summary, root = sys.argv[1], sys.argv[2]
src = os.path.join(root, "src") + os.sep
dirs = defaultdict(lambda: [0, 0])  # directory -> [covered, count]
seen = set()
for f in json.load(open(summary))["data"][0]["files"]:
    name = f["filename"]
    if not name.startswith(src):
        continue
    rel = name[len(src):]
    seen.add(rel)
    key = "src/" + (rel.rsplit("/", 1)[0] + "/" if "/" in rel else "")
    lines = f["summary"]["lines"]
    dirs[key][0] += lines["covered"]
    dirs[key][1] += lines["count"]

# Directories of which the host build has no file: the wasm32-only browser layers. (Other
# files missing from the report hold no code of their own: module declarations, or the
# unit tests in tests.rs, which cargo-llvm-cov leaves out.)
covered_dirs = set(dirs)
absent = defaultdict(int)
for base, _, files in os.walk(os.path.join(root, "src")):
    rel_dir = os.path.relpath(base, os.path.join(root, "src"))
    key = "src/" if rel_dir == "." else "src/" + rel_dir + "/"
    if key in covered_dirs:
        continue
    for n in files:
        if n.endswith(".rs"):
            absent[key] += sum(1 for _ in open(os.path.join(base, n), encoding="utf-8"))

w = 28
print(f"\n{'directory':<{w}}{'lines':>8}{'covered':>9}{'cover':>8}")
total = [0, 0]
for key in sorted(dirs):
    cov, cnt = dirs[key]
    total[0] += cov
    total[1] += cnt
    print(f"{key:<{w}}{cnt:>8}{cov:>9}{100.0 * cov / max(cnt, 1):>7.1f}%")
for key in sorted(absent):
    print(f"{key:<{w}}  wasm32 only, not in the host build ({absent[key]} source lines)")
pct = 100.0 * total[0] / max(total[1], 1)
print(f"{'total (host build)':<{w}}{total[1]:>8}{total[0]:>9}{pct:>7.1f}%")
EOF
