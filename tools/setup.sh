#!/usr/bin/env bash
# tools/setup.sh — install what building and testing mqtt-rtc needs, when missing.
#
#   tools/setup.sh           # the test profile (default): everything ./tools/test.sh needs
#   tools/setup.sh --demo    # the demo profile: only what ./tools/demo.sh needs
#
# Tools are found with `command -v`, never through a package manager's database, so a
# tool installed any way (distribution package, Homebrew, a binary on PATH) counts.
# Whatever is missing is installed with apt-get only on Debian-like systems
# (/etc/debian_version, or "debian" in ID/ID_LIKE of /etc/os-release) and only the
# missing packages; elsewhere the script names the packages for the platform's package
# manager (dnf, pacman, zypper, apk, brew) and stops with exit status 2.
#
# Demo profile: Mosquitto and its clients, Python 3, OpenSSL (the broker's TLS
# certificates), a C compiler (the broker's loopback-only shim, tools/broker/loopback_bind.c),
# Node.js/npm, the rustup target wasm32-unknown-unknown, wasm-bindgen (its CLI only, at
# exactly the version pinned with `=` in Cargo.toml), wasm-pack and the npm wasm-opt and terser of
# tools/pkg-tools. The test profile adds Chromium and ChromeDriver (headless browser
# tests), coturn (TURN relay tests), Debian's binaryen, Redis (the clustered broker's shared
# store), wasm-bindgen-test-runner, and the npm packages of tests/js, tests/fixtures/*
# (Playwright, Vite, TypeScript) and tools/cluster (aedes, the clustered broker's nodes).
# Idempotent; well under a second when everything is present. Nothing is downloaded at
# test time. The functions are sourced by tests/setup/setup_test.sh (main runs only when
# the file is executed).
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Overridable for tests/setup/setup_test.sh: where the OS is described.
SETUP_OS_RELEASE="${SETUP_OS_RELEASE:-/etc/os-release}"
SETUP_DEBIAN_VERSION="${SETUP_DEBIAN_VERSION:-/etc/debian_version}"

# have CMD — CMD is on PATH (the tests replace this function to fake a machine).
have() { command -v "$1" >/dev/null 2>&1; }

# Commands each profile needs, each with a "key" naming its package below.
demo_commands=(mosquitto:mosquitto mosquitto_passwd:mosquitto-clients mosquitto_sub:mosquitto-clients
  python3:python3 openssl:openssl node:nodejs npm:npm cc:gcc)
test_commands=("${demo_commands[@]}" chromium:chromium chromedriver:chromedriver
  turnserver:coturn wasm-opt:binaryen firefox-esr:firefox-esr redis-server:redis-server)

# os_family — debian | fedora | arch | suse | alpine | macos | unknown.
os_family() {
  if [[ -f "$SETUP_DEBIAN_VERSION" ]]; then
    echo debian
    return
  fi
  if [[ "$(uname -s 2>/dev/null || true)" == Darwin ]]; then
    echo macos
    return
  fi
  local ids=''
  if [[ -f "$SETUP_OS_RELEASE" ]]; then
    ids="$(sed -nE 's/^(ID|ID_LIKE)=//p' "$SETUP_OS_RELEASE" | tr -d '"' | tr '\n' ' ')"
  fi
  case " $ids " in
    *" debian "* | *" ubuntu "*) echo debian ;;
    *" fedora "* | *" rhel "* | *" centos "*) echo fedora ;;
    *" arch "*) echo arch ;;
    *" suse "* | *" opensuse "*) echo suse ;;
    *" alpine "*) echo alpine ;;
    *) echo unknown ;;
  esac
}

# package_name FAMILY KEY — the package that provides KEY on FAMILY ('' if it comes with
# another one already listed).
package_name() {
  case "$1:$2" in
    debian:chromedriver) echo chromium-driver ;;
    fedora:redis-server | arch:redis-server | suse:redis-server | alpine:redis-server | macos:redis-server) echo redis ;;
    fedora:firefox-esr | arch:firefox-esr) echo firefox ;;
    suse:firefox-esr) echo MozillaFirefox ;;
    macos:firefox-esr) echo cask:firefox ;;
    debian:*) echo "$2" ;;
    fedora:mosquitto-clients | arch:mosquitto-clients | suse:mosquitto-clients) echo '' ;;
    fedora:*) echo "$2" ;;
    arch:chromedriver) echo '' ;; # in Arch's chromium package
    arch:python3) echo python ;;
    arch:*) echo "$2" ;;
    suse:chromedriver) echo chromedriver ;;
    suse:*) echo "$2" ;;
    alpine:chromedriver) echo chromium-chromedriver ;;
    alpine:*) echo "$2" ;;
    macos:mosquitto-clients | macos:npm | macos:gcc) echo '' ;; # cc: Xcode's tools
    macos:chromium | macos:chromedriver) echo "cask:$2" ;; # Homebrew casks, not formulae
    macos:nodejs) echo node ;;
    macos:python3) echo python ;;
    macos:*) echo "$2" ;;
    *) echo "$2" ;;
  esac
}

install_hint() { # install_hint FAMILY PACKAGES...
  local family="$1"
  shift
  case "$family" in
    fedora) echo "sudo dnf install $*" ;;
    arch) echo "sudo pacman -S $*" ;;
    suse) echo "sudo zypper install $*" ;;
    alpine) echo "apk add $*" ;;
    macos)
      local formulae=() casks=() p
      for p in "$@"; do
        if [[ $p == cask:* ]]; then casks+=("${p#cask:}"); else formulae+=("$p"); fi
      done
      echo "${formulae[*]:+brew install ${formulae[*]}}${formulae[*]:+${casks[*]:+ && }}${casks[*]:+brew install --cask ${casks[*]}}"
      ;;
    *) echo "install with your package manager: $* (Debian names)" ;;
  esac
}

# missing_packages PROFILE FAMILY — print the packages to install (one a line, no repeats).
missing_packages() {
  local -n cmds="${1}_commands"
  local entry cmd key pkg seen=' '
  for entry in "${cmds[@]}"; do
    cmd="${entry%%:*}" key="${entry#*:}"
    have "$cmd" && continue
    # Ubuntu and others name Chromium's binary chromium-browser.
    [[ $cmd == chromium ]] && have chromium-browser && continue
    # Debian ships Firefox ESR as firefox-esr; other systems as firefox.
    [[ $cmd == firefox-esr ]] && have firefox && continue
    pkg="$(package_name "$2" "$key")"
    [[ -n "$pkg" && "$seen" != *" $pkg "* ]] || continue
    seen+="$pkg "
    echo "$pkg"
  done
}

# system_packages PROFILE — install (Debian-like, root) or name what is missing.
# Returns 0 when nothing is missing or it was installed; exits 2 otherwise.
system_packages() {
  local family missing
  family="$(os_family)"
  mapfile -t missing < <(missing_packages "$1" "$family")
  ((${#missing[@]})) || return 0
  if [[ $family != debian ]]; then
    printf '%serror:%s missing tools for the %s profile; install: %s\n' "$_c_red" "$_c_off" "$1" \
      "$(install_hint "$family" "${missing[@]}")" >&2
    exit 2
  fi
  if ! have apt-get; then
    printf '%serror:%s missing Debian packages: %s, and apt-get is not on PATH\n' "$_c_red" "$_c_off" "${missing[*]}" >&2
    exit 2
  fi
  if [[ $(id -u) -ne 0 ]]; then
    printf '%serror:%s missing Debian packages: %s; run: sudo apt-get update && sudo apt-get install -y %s\n' \
      "$_c_red" "$_c_off" "${missing[*]}" "${missing[*]}" >&2
    exit 2
  fi
  log "apt-get update"
  apt-get update -q
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

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

have_version() { # have_version CMD VERSION — CMD --version prints VERSION
  have "$1" && [[ "$("$1" --version 2>/dev/null)" == *" $2"* ]]
}

rust_tools() { # rust_tools PROFILE
  have cargo || die "cargo not found: install Rust (https://rustup.rs) first"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    have rustup || die "the Rust target wasm32-unknown-unknown is missing and rustup is not available to add it"
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  local wb_version
  wb_version="$(wasm_bindgen_pin)"
  [[ -n "$wb_version" ]] || die "no exact (=) wasm-bindgen pin found in Cargo.toml"
  if [[ $1 == demo ]]; then
    # The demo builds the package only: the CLI, not the browser test runner.
    have_version wasm-bindgen "$wb_version" ||
      cargo_install wasm-bindgen-cli --version "$wb_version" --force --bin wasm-bindgen
  elif ! have_version wasm-bindgen "$wb_version" || ! have_version wasm-bindgen-test-runner "$wb_version"; then
    cargo_install wasm-bindgen-cli --version "$wb_version" --force
  fi
  have_version wasm-bindgen "$wb_version" ||
    die "wasm-bindgen $wb_version is not the one on PATH ($(command -v wasm-bindgen || echo none))"
  have wasm-pack || cargo_install wasm-pack
}

# `npm ci` in each directory whose node_modules is missing or older than its lock file
# (npm records the installed tree in node_modules/.package-lock.json).
npm_packages() { # npm_packages PROFILE
  local dirs=("$MQTT_RTC_ROOT/tools/pkg-tools") js_dir
  if [[ $1 == test ]]; then
    dirs+=("$MQTT_RTC_ROOT/tests/js" "$MQTT_RTC_ROOT"/tests/fixtures/*/ "$MQTT_RTC_ROOT/tools/cluster")
  fi
  for js_dir in "${dirs[@]}"; do
    js_dir="${js_dir%/}"
    [[ -f "$js_dir/package-lock.json" ]] || continue
    if [[ ! -f "$js_dir/node_modules/.package-lock.json" ||
      "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]]; then
      log "npm ci (${js_dir#"$MQTT_RTC_ROOT"/})"
      (cd "$js_dir" && npm ci --no-audit --no-fund)
    fi
  done
}

main() {
  local profile=test started=$SECONDS
  case "${1:-}" in
    --demo) profile=demo ;;
    --test | '') profile=test ;;
    *) die "usage: tools/setup.sh [--demo|--test]" ;;
  esac
  system_packages "$profile"
  local entry
  for entry in "${demo_commands[@]}"; do
    have "${entry%%:*}" || die "'${entry%%:*}' not found on PATH after installing packages"
  done
  rust_tools "$profile"
  npm_packages "$profile"
  log "setup ($profile) ok in $((SECONDS - started)) s: $(wasm-bindgen --version), $(wasm-pack --version), $(mosquitto -h 2>/dev/null | sed -n '1s/.*version //p' | sed 's/^/mosquitto /')"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
