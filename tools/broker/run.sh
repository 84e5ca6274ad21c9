#!/usr/bin/env bash
# tools/broker/run.sh — run the test broker by hand, for working on browser tests.
#
# Starts Mosquitto and the control endpoint exactly as tools/test.sh does (config
# template tools/broker/mosquitto.conf, free loopback ports, temporary data dir) and
# prints the MQTT_RTC_* variables; the TURN server of the relay tests (coturn) starts
# with it. With a command after `--`, runs it with those
# variables set and stops the broker when it ends, passing on its exit status; e.g.
#   tools/broker/run.sh -- wasm-pack test --headless --chrome --mode no-install
# Without a command it stays in the foreground until Ctrl-C. Logs: .test-run/broker/.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

trap 'turn_down; broker_down' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

broker_up "$MQTT_RTC_ROOT/.test-run/broker" || die "the broker did not start (logs in .test-run/broker/)"
# Without it only the relay tests (tests/js/test/turn.test.js) fail, saying so.
turn_up "$MQTT_RTC_ROOT/.test-run/broker" || warn "the TURN server did not start (logs in .test-run/broker/)"
env | grep '^MQTT_RTC_' | grep -v '^MQTT_RTC_ROOT=' | sort | sed 's/^/export /'

if [[ "${1:-}" == "--" ]]; then
  shift
fi
if (($#)); then
  set +e
  "$@"
  status=$?
  set -e
  exit "$status"
fi
log "broker running; Ctrl-C to stop"
wait "$_broker_control_pid" || true
die "the broker supervisor exited (see .test-run/broker/control.log)"
