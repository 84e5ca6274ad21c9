#!/usr/bin/env bash
# tools/faults/run.sh — the fault-injection proof at full size, with a table of its figures.
#
#   tools/faults/run.sh                      # 100,000 QoS 1 + 100,000 QoS 2 per version, Chromium
#   tools/faults/run.sh --messages 20000     # per QoS and protocol version
#   tools/faults/run.sh --seed 1234 --rate 300 --firefox --out /tmp/faults.json
#
# Runs tests/js/test/fault-injection.test.js, the test the test command runs at 5,000 per
# QoS, with the same assertions at the size given: a page publisher sends QoS 1 and QoS 2
# messages through a seeded fault proxy (cuts mid-frame and between frames, stalls,
# refused reconnects) to Mosquitto, for MQTT 3.1.1 and 5.0, while a page receiver behind its
# own fault proxy and a mosquitto_sub on the broker's TCP port record everything. It builds
# pkg/ when needed (tools/build-pkg.sh), starts the test broker (tools/broker/run.sh), then
# prints per version and direction: messages, faults by kind, reconnects, lost, duplicated,
# order breaks, publish promises settled and rejected, and time; the figures go to JSON
# (.faults-run/results.json unless --out), the test's output to .faults-run/test.log. The
# publisher is paced (400 messages/s in Chromium, 200 in Firefox; see the test), so the run
# takes about (2 x messages x 2 versions / rate) plus a minute. Exit status: the test's.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$MQTT_RTC_ROOT"

messages=100000
rate=""
seed=""
browser=chromium
out="$MQTT_RTC_ROOT/.faults-run/results.json"
while (($#)); do
  case "$1" in
    --messages) messages="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --firefox) browser=firefox; shift ;;
    --out) out="$(realpath -m "$2")"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see tools/faults/run.sh --help)" ;;
  esac
done
[[ "$messages" =~ ^[1-9][0-9]*$ ]] || die "--messages $messages: expected a positive integer"
[[ -z "$rate" || "$rate" =~ ^[1-9][0-9]*$ ]] || die "--rate $rate: expected a positive integer"
[[ -z "$seed" || "$seed" =~ ^[0-9]+$ ]] || die "--seed $seed: expected a non-negative integer"
# The seed is fixed here, not by the test, so that the table and the JSON can name it.
seed="${seed:-$(node -e 'console.log(((Date.now() ^ (process.pid << 16)) >>> 0))')}"

for cmd in node npm mosquitto mosquitto_sub; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found: run tools/setup.sh"
done
[[ -d tests/js/node_modules ]] || die "tests/js/node_modules is missing: run tools/setup.sh"

"$MQTT_RTC_ROOT/tools/build-pkg.sh"

run_dir="$MQTT_RTC_ROOT/.faults-run"
mkdir -p "$run_dir" "$(dirname "$out")"
# Two runs in one checkout would write one figures file and share the machine's 2 cores.
exec 9>"$run_dir/lock"
flock -n 9 || die "another tools/faults/run.sh is running in this checkout"
figures="$run_dir/figures.jsonl"
rm -f "$figures"
log "fault-injection proof: $messages QoS 1 + $messages QoS 2 messages per version, $browser, seed $seed"
started_ms="$(node -e 'console.log(Date.now())')"
set +e
MQTT_RTC_BROWSER="$browser" MQTT_RTC_FAULT_MESSAGES="$messages" MQTT_RTC_FAULT_SEED="$seed" \
  MQTT_RTC_FAULT_FIGURES="$figures" ${rate:+MQTT_RTC_FAULT_RATE="$rate"} \
  "$MQTT_RTC_ROOT/tools/broker/run.sh" -- bash -c \
  'cd tests/js && node --test --test-concurrency=1 --test-reporter=spec test/fault-injection.test.js' \
  2>&1 | tee "$run_dir/test.log"
status=${PIPESTATUS[0]}
set -e
node "$MQTT_RTC_ROOT/tools/faults/report.js" --figures "$figures" --out "$out" \
  --started "$started_ms" --status "$status" --seed "$seed" --messages "$messages" --browser "$browser"
exit "$status"
