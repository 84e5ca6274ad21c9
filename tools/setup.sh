#!/usr/bin/env bash
# tools/setup.sh — install what building and testing mqtt-rtc needs, when missing.
#
# Idempotent and quick when everything is present: Debian packages (Chromium and its
# ChromeDriver for headless browser tests, Mosquitto broker and clients, coturn's TURN
# server for the relay tests, binaryen's
# wasm-opt), the rustup target wasm32-unknown-unknown, wasm-bindgen-cli at exactly the
# version pinned with `=` in Cargo.toml (it provides wasm-bindgen-test-runner),
# wasm-pack, and the npm packages of tools/wasm-opt (the wasm-opt tools/build-pkg.sh
# uses), of the JS browser tests and of the npm package's consumer fixtures (npm ci in
# tools/wasm-opt, tests/js and tests/fixtures/*). Nothing
# is downloaded at test time: everything comes from the package registries here. Run it directly, or let tools/test.sh and tools/demo.sh call it.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS

# --- Debian packages --------------------------------------------------------
apt_packages=(chromium chromium-driver firefox-esr mosquitto mosquitto-clients binaryen coturn)
missing=()
for pkg in "${apt_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing system packages: ${missing[*]} (no apt-get here: install them with your package manager)"
  fi
  if [[ $(id -u) -ne 0 ]]; then
    die "missing Debian packages: ${missing[*]} — run as root: apt-get update && apt-get install -y ${missing[*]}"
  fi
  log "apt-get update"
  apt-get update -q
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
for cmd in chromium chromedriver mosquitto mosquitto_passwd turnserver wasm-opt python3; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found on PATH after installing packages"
done

# --- Rust target --------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  command -v rustup >/dev/null 2>&1 ||
    die "the Rust target wasm32-unknown-unknown is missing and rustup is not available to add it"
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# --- cargo-installed tools ----------------------------------------------------
# cargo_install CRATE [ARGS...] — `cargo install --locked`; if the crate's lock file
# names a version the registry no longer offers (yanked), resolve afresh instead.
cargo_install() {
  local crate="$1"
  shift
  log "cargo install $crate${*:+ $*} --locked"
  if ! cargo install "$crate" "$@" --locked; then
    warn "locked install of $crate failed; retrying without --locked (fresh dependency resolution)"
    cargo install "$crate" "$@"
  fi
}

wb_version="$(wasm_bindgen_pin)"
[[ -n "$wb_version" ]] || die "no exact (=) wasm-bindgen pin found in Cargo.toml"
have_version() { # have_version CMD VERSION — CMD --version prints VERSION
  command -v "$1" >/dev/null 2>&1 && [[ "$("$1" --version 2>/dev/null)" == *" $2"* ]]
}
if ! have_version wasm-bindgen "$wb_version" || ! have_version wasm-bindgen-test-runner "$wb_version"; then
  cargo_install wasm-bindgen-cli --version "$wb_version" --force
fi
have_version wasm-bindgen "$wb_version" ||
  die "wasm-bindgen $wb_version is not the one on PATH ($(command -v wasm-bindgen || echo none))"

if ! command -v wasm-pack >/dev/null 2>&1; then
  cargo_install wasm-pack
fi

# --- npm packages: Binaryen's wasm-opt for tools/build-pkg.sh, the JS browser tests ------
# and the npm package's consumer fixtures.
# `npm ci` in each directory whose node_modules is missing or older than its lock file
# (npm records the installed tree in node_modules/.package-lock.json).
for js_dir in "$MQTT_RTC_ROOT/tools/wasm-opt" "$MQTT_RTC_ROOT/tests/js" "$MQTT_RTC_ROOT"/tests/fixtures/*/; do
  js_dir="${js_dir%/}"
  [[ -f "$js_dir/package-lock.json" ]] || continue
  command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20.19+ (Debian: apt-get install nodejs npm)"
  if [[ ! -f "$js_dir/node_modules/.package-lock.json" ||
    "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]]; then
    log "npm ci (${js_dir#"$MQTT_RTC_ROOT"/})"
    (cd "$js_dir" && npm ci --no-audit --no-fund)
  fi
done

log "setup ok in $((SECONDS - started)) s: $(wasm-bindgen --version), $(wasm-pack --version), $(chromedriver --version | cut -d' ' -f1-2), mosquitto $(dpkg-query -W -f='${Version}' mosquitto), wasm-opt $(wasm-opt --version | awk '{print $3}')"
