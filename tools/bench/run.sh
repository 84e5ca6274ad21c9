#!/usr/bin/env bash
# tools/bench/run.sh — measure mqtt-rtc against MQTT.js in headless Chromium.
#
#   tools/bench/run.sh            # full run (5 rounds, a few minutes)
#   tools/bench/run.sh --quick    # 2 rounds, a fifth of the messages
#   tools/bench/run.sh --rounds 3 --out /tmp/r.json
#   tools/bench/run.sh --only qos2,recv   # some workloads (qos0 qos0ff qos1 qos2 recv rtt subs)
#
# Installs tools/bench's pinned npm packages when missing or stale (`npm ci`: MQTT.js and
# playwright-core; no browser is downloaded), builds the release package (tools/build-pkg.sh),
# starts Mosquitto as the tests do (tools/lib.sh broker_up), then runs tools/bench/bench.js:
# each workload for both libraries alternately, a table on stdout, JSON in .bench/results.json.
# A measurement tool, not a test: it fails only when a run cannot complete.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$MQTT_RTC_ROOT"
BENCH_DIR="$MQTT_RTC_ROOT/tools/bench"

for cmd in node npm mosquitto /usr/bin/chromium; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found: run tools/setup.sh"
done

# npm ci when node_modules is missing or older than the lock file.
stamp="$BENCH_DIR/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$BENCH_DIR/package-lock.json" -nt "$stamp" ]]; then
  log "npm ci in tools/bench"
  (cd "$BENCH_DIR" && npm ci --no-audit --no-fund)
fi

"$MQTT_RTC_ROOT/tools/build-pkg.sh"

trap broker_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The receive workloads measure how fast a client takes what the broker has for it: with
# Mosquitto's default max_queued_messages (1,000) the broker drops QoS 0 messages once
# that many wait for a slow subscriber's socket, and a run's rate then depends on how many
# it happened to drop. A million here: every client receives every message. (Not 0, "no
# maximum": Mosquitto then also holds QoS 2 publishes past a client's Receive Maximum
# without answering them, where it otherwise refuses them with 0x97, and MQTT.js, which
# sends past it, never saw any of its QoS 2 publishes settle.)
mkdir -p "$MQTT_RTC_ROOT/.bench"
MQTT_RTC_BROKER_TEMPLATE="$MQTT_RTC_ROOT/.bench/mosquitto.conf"
{
  cat "$MQTT_RTC_ROOT/tools/broker/mosquitto.conf"
  printf '\n# Added by tools/bench/run.sh: no QoS 0 message is dropped for a slow subscriber.\nmax_queued_messages 1000000\n'
} >"$MQTT_RTC_BROKER_TEMPLATE"
export MQTT_RTC_BROKER_TEMPLATE
broker_up "$MQTT_RTC_ROOT/.bench/broker" || die "the broker did not start (logs in .bench/broker/)"

node "$BENCH_DIR/bench.js" "$@"
