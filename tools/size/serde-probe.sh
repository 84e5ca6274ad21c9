#!/usr/bin/env bash
# tools/size/serde-probe.sh — what serde-wasm-bindgen would cost the package: builds
# tools/size/serde-probe twice (options read by hand with js-sys, and with
# serde-wasm-bindgen), each through wasm-bindgen and wasm-opt -Oz as tools/build-pkg.sh
# does, and prints the .wasm and glue sizes, raw and gzip -9.
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$MQTT_RTC_ROOT/tools/size/serde-probe"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MQTT_RTC_ROOT/target}/serde-probe"
export PATH="$MQTT_RTC_ROOT/tools/pkg-tools/node_modules/.bin:$PATH"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for variant in by-hand serde; do
  features=()
  [[ $variant == serde ]] && features=(--features serde)
  cargo build -q --release --target wasm32-unknown-unknown "${features[@]}"
  wasm-bindgen --target web --out-dir "$out/$variant" --out-name probe \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/serde_probe.wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --strip-debug --strip-producers \
    "$out/$variant/probe_bg.wasm" -o "$out/$variant/opt.wasm"
  printf '%-8s wasm %7d raw %7d gzip   glue %6d raw %6d gzip\n' "$variant" \
    "$(wc -c <"$out/$variant/opt.wasm")" "$(gzip -9 -c "$out/$variant/opt.wasm" | wc -c)" \
    "$(wc -c <"$out/$variant/probe.js")" "$(gzip -9 -c "$out/$variant/probe.js" | wc -c)"
done
