#!/usr/bin/env bash
# tools/demo.sh — build mqtt-rtc for the web and run the demo; the project's demo command.
#
# Runs setup's demo profile (tools/setup.sh --demo: no browser, driver or test packages),
# builds the npm package into pkg/ (tools/build-pkg.sh),
# starts the local Mosquitto broker (same config and control endpoint as the tests, on
# loopback only, with a password made for this run),
# starts the device simulator (tools/devsim: thermostats, air-quality sensors and door
# locks publishing under sensors/; MQTT_RTC_DEVSIM_DEVICES overrides the fleet) and,
# once the dashboard exists in www/, serves it on loopback. Prints the URLs, then
# stays in the foreground until Ctrl-C, when it stops everything it started. Each step
# is a function below; add new ones (device simulator, camera page...) to main().
#
#   MQTT_RTC_BROKER_URL=ws://host:port ./tools/demo.sh   # a broker you already run: no
#       Mosquitto is started; the simulator then needs MQTT_RTC_BROKER_TCP=host:port (MQTT
#       over TCP) and is skipped without it
#   MQTT_RTC_TLS=1 ./tools/demo.sh   # the dashboard connects over wss:// (test CA made now)
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MQTT_RTC_ROOT"

RUN_DIR="$MQTT_RTC_ROOT/.test-run/demo"
_web_pid=''
_devsim_pid=''

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  # The simulator goes first, so its devices can publish `offline` before the broker stops.
  if [[ -n "$_devsim_pid" ]]; then
    kill -TERM "$_devsim_pid" 2>/dev/null || true
    wait "$_devsim_pid" 2>/dev/null || true
  fi
  if [[ -n "$_web_pid" ]]; then
    kill -TERM "$_web_pid" 2>/dev/null || true
    wait "$_web_pid" 2>/dev/null || true
  fi
  broker_down
}

build_package() {
  "$MQTT_RTC_ROOT/tools/build-pkg.sh"
}

start_broker() {
  if [[ -n "${MQTT_RTC_BROKER_URL:-}" ]]; then
    [[ "$MQTT_RTC_BROKER_URL" =~ ^wss?:// ]] || die "MQTT_RTC_BROKER_URL must be a ws:// or wss:// URL"
    export MQTT_RTC_WS_URL="$MQTT_RTC_BROKER_URL"
    log "using your broker at $MQTT_RTC_WS_URL (no Mosquitto started)"
    return
  fi
  # A fresh password per run for the authenticated listeners: nothing fixed to leak.
  MQTT_RTC_BROKER_AUTH_PASS="$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')"
  export MQTT_RTC_BROKER_AUTH_PASS
  broker_up "$RUN_DIR" || die "the broker did not start (logs in $RUN_DIR)"
  if [[ "${MQTT_RTC_TLS:-}" == 1 ]]; then
    export MQTT_RTC_WS_URL="$MQTT_RTC_WSS_URL"
  fi
}

# Simulated devices on the broker's TCP listener; their log is $RUN_DIR/devsim.log.
start_devices() {
  local devices="${MQTT_RTC_DEVSIM_DEVICES:-thermostat:3,air:2,lock:1,camera:1}"
  local host=127.0.0.1 port="${MQTT_RTC_TCP_PORT:-}"
  if [[ -n "${MQTT_RTC_BROKER_URL:-}" ]]; then
    if [[ -z "${MQTT_RTC_BROKER_TCP:-}" ]]; then
      log "no device simulator: set MQTT_RTC_BROKER_TCP=host:port (your broker's MQTT over TCP) to run it"
      return
    fi
    host="${MQTT_RTC_BROKER_TCP%:*}" port="${MQTT_RTC_BROKER_TCP##*:}"
  fi
  log "device simulator (tools/devsim): $devices"
  cargo build --quiet -p mqtt-rtc-devsim
  "${CARGO_TARGET_DIR:-$MQTT_RTC_ROOT/target}/debug/devsim" \
    --host "$host" --port "$port" --devices "$devices" \
    >"$RUN_DIR/devsim.log" 2>&1 &
  _devsim_pid=$!
}

# Serve the repository root (www/ and pkg/) over plain HTTP on loopback, when the
# dashboard exists.
start_web() {
  if [[ ! -f www/index.html ]]; then
    log "the dashboard (www/) arrives in a later release; the built package is in pkg/"
    return
  fi
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  python3 -m http.server --bind 127.0.0.1 "$port" >"$RUN_DIR/web.log" 2>&1 &
  _web_pid=$!
  # The dashboard and the camera page take the broker's WebSocket URL from ?broker=.
  local broker
  broker="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=":/"))' "$MQTT_RTC_WS_URL")"
  export MQTT_RTC_DEMO_URL="http://127.0.0.1:$port/www/?broker=$broker"
  export MQTT_RTC_CAMERA_URL="http://127.0.0.1:$port/www/camera.html?broker=$broker"
  log "dashboard: $MQTT_RTC_DEMO_URL"
}

print_urls() {
  cat <<MSG

  dashboard:                   ${MQTT_RTC_DEMO_URL:-(no www/ yet)}
  camera page (another tab):   ${MQTT_RTC_CAMERA_URL:-}
  MQTT over WebSocket:         $MQTT_RTC_WS_URL
MSG
  if [[ -n "${MQTT_RTC_BROKER_URL:-}" ]]; then
    echo "  simulated devices:           ${MQTT_RTC_BROKER_TCP:+on $MQTT_RTC_BROKER_TCP (log: $RUN_DIR/devsim.log)}${MQTT_RTC_BROKER_TCP:-none (MQTT_RTC_BROKER_TCP unset)}"
  else
    cat <<MSG
  with password:               $MQTT_RTC_WS_AUTH_URL  (user $MQTT_RTC_AUTH_USER, password $MQTT_RTC_AUTH_PASS: made for this run)
  MQTT over TLS (wss):         $MQTT_RTC_WSS_URL
  MQTT over TCP:               127.0.0.1:$MQTT_RTC_TCP_PORT  (e.g. mosquitto_sub -p $MQTT_RTC_TCP_PORT -t '#' -v)
  broker control endpoint:     $MQTT_RTC_CONTROL_URL/health
  simulated devices:           sensors/<id>/{status,meta,<metric>,cmd}  (log: $RUN_DIR/devsim.log)
  every socket listens on loopback only
MSG
    if [[ "${MQTT_RTC_TLS:-}" == 1 ]]; then
      cat <<MSG

  TLS: the certificate comes from a CA made for this run ($MQTT_RTC_TLS_CA).
  Trust it one of these ways before opening the dashboard:
    - open https://${MQTT_RTC_WSS_URL#wss://}/ once and accept the warning, or
    - start Chromium with --ignore-certificate-errors-spki-list=$MQTT_RTC_TLS_SPKI, or
    - import $MQTT_RTC_TLS_CA as a trusted authority (for this run only: a new one is made each time).
MSG
    fi
  fi
  printf '\n  Press Ctrl-C to stop.\n'
}

main() {
  mkdir -p "$RUN_DIR"
  trap cleanup EXIT
  trap 'echo; log "stopping"; exit 0' INT TERM
  "$MQTT_RTC_ROOT/tools/setup.sh" --demo
  build_package
  start_broker
  start_devices
  start_web
  print_urls
  if [[ -n "${MQTT_RTC_BROKER_URL:-}" ]]; then
    # Nothing of ours supervises the broker: stay while the page server runs, until Ctrl-C
    # or SIGTERM (`wait` lets the trap run at once).
    [[ -n "$_web_pid" ]] || die "nothing to serve without www/ when the broker is yours"
    wait "$_web_pid" || true
    die "the page server exited (see $RUN_DIR/web.log)"
  fi
  # Stay in the foreground while the broker supervisor runs; Ctrl-C ends the wait.
  wait "$_broker_control_pid" || true
  warn "the broker supervisor exited (see $RUN_DIR/control.log)"
  exit 1
}

main "$@"
