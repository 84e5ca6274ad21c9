#!/usr/bin/env bash
# tests/setup/setup_test.sh — tests tools/setup.sh's detection on machines it does not run on.
#
# Sources tools/setup.sh (its main does not run then) in a subshell whose PATH holds no
# apt-get and no dpkg, fakes `have` (setup's `command -v`) with a list of present
# commands and points it at a fake /etc/os-release, then checks the OS family, the
# packages named, the messages and the exit status. Prints "test result: ok. N passed;
# M failed" like cargo, which tools/test.sh counts.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# A PATH of only what the sourced functions use: no apt-get, no dpkg, no package manager.
mkdir -p "$TMP/bin"
for tool in bash sed tr uname id cat mktemp rm dirname head; do
  ln -s "$(command -v "$tool")" "$TMP/bin/$tool"
done
passed=0 failed=0

# run_setup OS_RELEASE_TEXT PRESENT_COMMANDS PROFILE — run system_packages PROFILE on a
# faked machine; prints its output (stdout+stderr) and "exit=N".
run_setup() {
  local osr="$TMP/os-release-$RANDOM"
  printf '%s\n' "$1" >"$osr"
  env -i PATH="$TMP/bin" HOME="$TMP" SETUP_OS_RELEASE="$osr" SETUP_DEBIAN_VERSION="$TMP/none" \
    PRESENT="$2" PROFILE="$3" bash -c '
      source "$0/tools/setup.sh"
      have() { [[ " $PRESENT " == *" $1 "* ]]; }
      system_packages "$PROFILE"
      echo "nothing missing"' "$ROOT" 2>&1
  echo "exit=$?"
}

check() { # check NAME OUTPUT PATTERN... — every extended regex PATTERN matches OUTPUT
  local name="$1" out="$2" pat
  shift 2
  for pat in "$@"; do
    if ! grep -qE -- "$pat" <<<"$out"; then
      echo "FAIL $name: no /$pat/ in:"
      sed 's/^/    /' <<<"$out"
      failed=$((failed + 1))
      return
    fi
  done
  echo "ok   $name"
  passed=$((passed + 1))
}

all_demo="mosquitto mosquitto_passwd mosquitto_sub python3 openssl node npm cc"
all_test="$all_demo chromium chromedriver turnserver wasm-opt firefox-esr redis-server"

check "fedora: names dnf packages, exit 2" \
  "$(run_setup 'ID=fedora' "python3 node npm cc" demo)" \
  'install: sudo dnf install mosquitto openssl$' 'exit=2$'
check "fedora: mosquitto-clients is not a package there" \
  "$(run_setup 'ID=fedora' "python3 node npm openssl cc" demo)" \
  'sudo dnf install mosquitto$'
check "ubuntu without apt-get: says apt-get is missing, exit 2" \
  "$(run_setup $'ID=ubuntu\nID_LIKE=debian' "$all_demo" test)" \
  'missing Debian packages: chromium chromium-driver coturn binaryen firefox-esr redis-server, and apt-get is not on PATH' 'exit=2$'
check "ubuntu: chromium-browser counts as chromium" \
  "$(run_setup $'ID=ubuntu\nID_LIKE=debian' "$all_demo chromium-browser chromedriver turnserver wasm-opt firefox redis-server" test)" \
  'nothing missing' 'exit=0$'
check "arch: python and chromium (with its driver)" \
  "$(run_setup 'ID=arch' "mosquitto mosquitto_passwd mosquitto_sub openssl node npm cc turnserver wasm-opt firefox redis-server" test)" \
  'sudo pacman -S python chromium$' 'exit=2$'
check "alpine: chromium-chromedriver" \
  "$(run_setup 'ID=alpine' "$all_demo chromium turnserver wasm-opt firefox-esr redis-server" test)" \
  'apk add chromium-chromedriver$'
check "unknown system: Debian names and a plain instruction" \
  "$(run_setup 'ID=plan9' "$all_demo" test)" \
  'install with your package manager: chromium chromedriver coturn binaryen' 'exit=2$'
check "debian: redis-server for the clustered broker's store" \
  "$(run_setup $'ID=debian' "$all_demo chromium chromedriver turnserver wasm-opt firefox-esr" test)" \
  'missing Debian packages: redis-server, and apt-get is not on PATH' 'exit=2$'
check "fedora: the redis package provides redis-server" \
  "$(run_setup 'ID=fedora' "$all_demo chromium chromedriver turnserver wasm-opt firefox" test)" \
  'install: sudo dnf install redis$' 'exit=2$'
check "demo profile needs no Redis" \
  "$(run_setup 'ID=debian' "$all_demo" demo)" \
  'nothing missing' 'exit=0$'
check "demo profile needs no browser, driver or TURN server" \
  "$(run_setup 'ID=fedora' "$all_demo" demo)" \
  'nothing missing' 'exit=0$'
check "test profile with everything present: nothing to do" \
  "$(run_setup 'ID=opensuse-tumbleweed ID_LIKE="suse opensuse"' "$all_test" test)" \
  'nothing missing' 'exit=0$'
printf 'ID=rocky\nID_LIKE="rhel centos fedora"\n' >"$TMP/rocky"
check "os family from ID_LIKE" \
  "$(env -i PATH="$TMP/bin" HOME="$TMP" SETUP_DEBIAN_VERSION="$TMP/none" SETUP_OS_RELEASE="$TMP/rocky" \
    bash -c 'source "$0/tools/setup.sh"; os_family' "$ROOT")" \
  '^fedora$'
check "debian_version makes it Debian-like" \
  "$(touch "$TMP/debian_version"; env -i PATH="$TMP/bin" HOME="$TMP" SETUP_DEBIAN_VERSION="$TMP/debian_version" SETUP_OS_RELEASE="$TMP/none" \
    bash -c 'source "$0/tools/setup.sh"; os_family' "$ROOT")" \
  '^debian$'
# macOS: a PATH whose uname says Darwin; Homebrew names, casks for the browser and driver,
# no separate clients package, and cc from Xcode's tools (never a package).
mkdir -p "$TMP/darwin"
cp -P "$TMP"/bin/* "$TMP/darwin/" && rm "$TMP/darwin/uname"
printf '#!/bin/sh\necho Darwin\n' >"$TMP/darwin/uname" && chmod +x "$TMP/darwin/uname"
check "macos: brew, casks, no mosquitto-clients or gcc" \
  "$(env -i PATH="$TMP/darwin" HOME="$TMP" SETUP_OS_RELEASE="$TMP/none" SETUP_DEBIAN_VERSION="$TMP/none" \
    bash -c 'source "$0/tools/setup.sh"; have() { false; }; system_packages test; echo "exit=$?"' "$ROOT" 2>&1; echo "exit=$?")" \
  'install: brew install mosquitto python openssl node coturn binaryen redis && brew install --cask chromium chromedriver firefox$' 'exit=2$'
check "bad option: usage, exit 1" \
  "$(env -i PATH="$TMP/bin" HOME="$TMP" bash "$ROOT/tools/setup.sh" --bogus 2>&1; echo "exit=$?")" \
  'usage: tools/setup.sh \[--demo\|--test\]' 'exit=1$'

verdict=ok
((failed == 0)) || verdict=FAILED
echo "test result: $verdict. $passed passed; $failed failed"
((failed == 0))
