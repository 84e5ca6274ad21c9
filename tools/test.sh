#!/usr/bin/env bash
# tools/test.sh — run every mqtt-rtc check and test; this is the project's test command.
#
# Stages, in order: setup (tools/setup.sh; a failure here stops the run), setup-logic
# (tests/setup/setup_test.sh: setup's detection on faked non-Debian machines), rustfmt,
# the test broker (Mosquitto + control endpoint on free loopback ports), host tests
# (unit, integration, doc), clippy for the host and for wasm32, browser tests in
# headless Chromium (wasm-bindgen-test-runner, with the broker URLs baked in at build
# time through MQTT_RTC_WS_URL, MQTT_RTC_WS_AUTH_URL, MQTT_RTC_TCP_PORT and
# MQTT_RTC_CONTROL_URL), and npm-based tests when tests/js/package.json exists (after
# tools/build-pkg.sh builds the npm package into pkg/), in Chromium and then in Firefox ESR. Every stage runs even when an
# earlier one failed; output is shown and kept in .test-run/<stage>.log. Passed/failed
# counts come from the "test result:" lines (cargo and wasm-bindgen-test print the same
# format) and node's test runner summary; a failed check (fmt, clippy) or a stage that
# fails without reporting a failed test counts as 1 failed. The last line is exactly
# "N passed, M failed"; the exit status is non-zero when M > 0. The broker is stopped on
# every exit path (success, failure, Ctrl-C), and so is the TURN server (coturn on loopback,
# exporting MQTT_RTC_TURN_URL, _USER, _PASS and _REALM) that starts after it.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MQTT_RTC_ROOT"

LOG_DIR="$MQTT_RTC_ROOT/.test-run"
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/*.log

# Whole-run budget for one browser test binary (wasm-bindgen-test-runner's default: 20 s).
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-180}"
# Headless Chromium comes from Debian; point the runner at Debian's ChromeDriver.
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || echo /usr/bin/chromedriver)}"
if [[ -t 1 ]]; then
  export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-always}"
fi

total_passed=0
total_failed=0
summary=()

trap 'turn_down; broker_down' EXIT
trap 'echo; warn "interrupted"; exit 130' INT
trap 'exit 143' TERM

# count_results LOG — print "PASSED FAILED" summed over the log's summary lines.
count_results() {
  sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" | awk '
    /test result: (ok|FAILED)\. [0-9]+ passed; [0-9]+ failed/ {
      for (i = 1; i <= NF; i++) {
        if ($(i) ~ /^passed;?$/) p += $(i - 1)
        if ($(i) ~ /^failed;?$/) f += $(i - 1)
      }
    }
    # node --test (spec and tap reporters): "ℹ pass 3" / "# pass 3"
    /^(ℹ|#) pass [0-9]+$/ { p += $3 }
    /^(ℹ|#) fail [0-9]+$/ { f += $3 }
    END { printf "%d %d\n", p, f }'
}

# record NAME STATUS PASSED FAILED SECONDS
record() {
  local name="$1" status="$2" p="$3" f="$4" secs="$5" verdict=ok
  if ((status != 0 && f == 0)); then
    f=1 # a failed check, a build error or a crash: count it
  fi
  ((f == 0)) || verdict=FAILED
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  summary+=("$(printf '%-14s %-7s %4d passed %4d failed %5ss' "$name" "$verdict" "$p" "$f" "$secs")")
}

# stage NAME KIND CMD... — run CMD, tee its output to .test-run/NAME.log, count.
# KIND "tests" counts the test summary lines; KIND "check" counts only a failure.
stage() {
  local name="$1" kind="$2" status p=0 f=0 t0=$SECONDS
  shift 2
  log "[$name] $*"
  set +e
  "$@" 2>&1 | tee "$LOG_DIR/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  if [[ $kind == tests ]]; then
    read -r p f < <(count_results "$LOG_DIR/$name.log")
  fi
  record "$name" "$status" "$p" "$f" $((SECONDS - t0))
  if ((status != 0)); then
    warn "[$name] failed (exit $status); log: .test-run/$name.log"
  fi
}

skip() { # skip NAME REASON
  log "[$1] skipped: $2"
  summary+=("$(printf '%-14s %-7s %s' "$1" skipped "$2")")
}

# --- setup (fatal) --------------------------------------------------------------
t0=$SECONDS
log "[setup] tools/setup.sh"
if ! "$MQTT_RTC_ROOT/tools/setup.sh" 2>&1 | tee "$LOG_DIR/setup.log"; then
  warn "setup failed; nothing was tested (log: .test-run/setup.log)"
  echo "0 passed, 1 failed"
  exit 1
fi
summary+=("$(printf '%-14s %-7s %25s %5ss' setup ok '' $((SECONDS - t0)))")

# --- static checks and host tests ---------------------------------------------------
# tools/setup.sh's detection on machines without apt (Fedora, Arch, macOS, ...), faked.
stage setup-logic tests bash tests/setup/setup_test.sh
stage fmt check cargo fmt --all --check

# The broker starts early so host integration tests can reach it over TCP as well. The
# test command always runs its own: the tests stop, freeze, kill and restart it through
# the control endpoint and read its logs. (MQTT_RTC_BROKER_URL is the demo's variable.)
if [[ -n "${MQTT_RTC_BROKER_URL:-}" ]]; then
  log "MQTT_RTC_BROKER_URL is ignored here: the tests need a broker they can stop and restart (see README)"
fi
t0=$SECONDS
log "[broker] starting Mosquitto and the control endpoint"
broker_ok=1
broker_up "$LOG_DIR" || broker_ok=0
record broker $((1 - broker_ok)) 0 0 $((SECONDS - t0))
# The TURN server of the relay tests (tests/js/test/turn.test.js): coturn on loopback.
t0=$SECONDS
turn_ok=1
turn_up "$LOG_DIR" || turn_ok=0
record turn $((1 - turn_ok)) 0 0 $((SECONDS - t0))

# --workspace: the device simulator (tools/devsim) is tested and linted with the library;
# the wasm32 stages select the library alone (-p mqtt-rtc): the simulator is host-only.
stage host-tests tests cargo test --workspace --all-targets --no-fail-fast
stage doc-tests tests cargo test --doc
stage clippy-host check cargo clippy --workspace --all-targets -- -D warnings
stage clippy-wasm check cargo clippy -p mqtt-rtc --all-targets --target wasm32-unknown-unknown -- -D warnings
# The package's build adds the allocator feature (tools/build-pkg.sh); its code is linted too.
stage clippy-wasm-pkg check cargo clippy -p mqtt-rtc --lib --features talc --target wasm32-unknown-unknown -- -D warnings

# --- browser tests ----------------------------------------------------------------
# What `wasm-pack test --headless --chrome` does, run through cargo directly so that
# --no-fail-fast applies (wasm-pack hands extra options to `cargo build` as well, which
# rejects it). Doc tests run on the host only. Cargo runs each wasm test binary with wasm-bindgen-test-runner, which
# drives headless Chromium through $CHROMEDRIVER. Nothing is downloaded.
browser_tests() {
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    WASM_BINDGEN_TEST_ONLY_WEB=1 \
    cargo test -p mqtt-rtc --target wasm32-unknown-unknown --tests --no-fail-fast
}
if ((broker_ok)); then
  stage browser-tests tests browser_tests
else
  record browser-tests 1 0 1 0
  warn "[browser-tests] not run: the broker did not start"
fi

# --- npm-based tests (tests/js) ---------------------------------------------------------
# The JS suite drives the npm package (pkg/, built here by tools/build-pkg.sh exactly as
# it is published) in headless Chromium through playwright-core; package.test.js also
# packs it and uses it from the fixtures in tests/fixtures/. Their node_modules are
# installed by tools/setup.sh.
if [[ -f tests/js/package.json ]]; then
  js_tests() {
    set -e
    command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js (Debian: apt-get install nodejs npm)"
    tools/build-pkg.sh
    cd tests/js
    # A test file that never exits must not eat the CI budget: 45 minutes is ~7x a run.
    timeout --kill-after=30 2700 npm test
  }
  if ((broker_ok)); then
    stage js-tests tests js_tests
  else
    record js-tests 1 0 1 0
    warn "[js-tests] not run: the broker did not start"
  fi
  # The MQTT test files again, on the package's MQTT-only entry (mqtt-rtc/mqtt, built
  # without the WebRTC layer), which must behave as the main one does.
  js_mqtt_entry() {
    set -e
    cd tests/js
    timeout --kill-after=30 1200 npm run -s test:mqtt-entry
  }
  if ((broker_ok)); then
    stage js-mqtt-entry tests js_mqtt_entry
  else
    record js-mqtt-entry 1 0 1 0
    warn "[js-mqtt-entry] not run: the broker did not start"
  fi
  # The same client and WebRTC test files in Debian's Firefox ESR (puppeteer-core over
  # WebDriver BiDi; tests/js/lib/firefox.js lists the files that stay Chromium-only and
  # why), on the pkg/ js-tests built. A shorter leak loop keeps the stage to minutes: a
  # batch of 20 connects takes Firefox 2.5 to 12.5 s against Mosquitto (Chromium 4 to 5 s;
  # a lone WebSocket handshake there takes 200 ms in either browser), and 200 clients came
  # within seconds of the 120 s a page call may take (tests/js/lib/firefox.js).
  js_firefox() {
    set -e
    cd tests/js
    MQTT_RTC_LEAK_CLIENTS="${MQTT_RTC_FIREFOX_LEAK_CLIENTS:-100}" \
      timeout --kill-after=30 1200 npm run -s test:firefox
  }
  if ((broker_ok)); then
    stage js-firefox tests js_firefox
  else
    record js-firefox 1 0 1 0
    warn "[js-firefox] not run: the broker did not start"
  fi
else
  skip js-tests "no tests/js/package.json"
fi

# --- summary ----------------------------------------------------------------------
echo
log "summary (logs in .test-run/)"
printf '  %s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
