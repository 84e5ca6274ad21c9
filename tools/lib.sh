# tools/lib.sh — shared bash helpers for the mqtt-rtc developer scripts.
#
# Sourced (never run) by tools/setup.sh, tools/test.sh, tools/demo.sh and
# tools/broker/run.sh. It finds the repository root, puts cargo's bin directory on
# PATH, and provides logging plus the broker life cycle: `broker_up` starts the
# control endpoint (tools/broker/control.py), which in turn starts Mosquitto on free
# loopback ports and writes them to an env file; `broker_up` then exports
# MQTT_RTC_WS_URL, MQTT_RTC_WS_AUTH_URL, MQTT_RTC_TCP_PORT, MQTT_RTC_CONTROL_URL (and
# a few more) for the caller. `broker_down` stops both and removes the temporary
# data dir; callers install it in an EXIT/INT/TERM trap so nothing is left running.

# Repository root: the parent of the directory holding this file.
MQTT_RTC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MQTT_RTC_ROOT

# Tools installed by `cargo install` live here; make sure they are found.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [[ -t 1 ]]; then
  _c_bold=$'\e[1m' _c_red=$'\e[31m' _c_green=$'\e[32m' _c_off=$'\e[0m'
else
  _c_bold='' _c_red='' _c_green='' _c_off=''
fi

log() { printf '%s==>%s %s\n' "$_c_bold" "$_c_off" "$*"; }
warn() { printf '%swarning:%s %s\n' "$_c_red" "$_c_off" "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2
  exit 1
}

# The wasm-bindgen version pinned with `=` in Cargo.toml (single source of truth for
# the wasm-bindgen-cli version).
wasm_bindgen_pin() {
  sed -nE 's/^wasm-bindgen[[:space:]]*=[[:space:]]*"=([0-9][^"]*)".*/\1/p' \
    "$MQTT_RTC_ROOT/Cargo.toml" | head -n 1
}

# ---------------------------------------------------------------------------
# Broker + control endpoint
# ---------------------------------------------------------------------------
_broker_control_pid=''
_broker_dir=''

# broker_up LOG_DIR — start control.py (which starts Mosquitto) and export the URLs.
broker_up() {
  local log_dir="$1"
  mkdir -p "$log_dir"
  _broker_dir="$(mktemp -d /tmp/mqtt-rtc-broker.XXXXXX)"
  # Mosquitto drops privileges to user `mosquitto` when started as root; let it write
  # its persistence file there.
  chmod 0755 "$_broker_dir"
  local env_file="$_broker_dir/broker.env"
  python3 "$MQTT_RTC_ROOT/tools/broker/control.py" \
    --config-template "$MQTT_RTC_ROOT/tools/broker/mosquitto.conf" \
    --run-dir "$_broker_dir" \
    --env-file "$env_file" \
    --log "$log_dir/broker.log" \
    >>"$log_dir/control.log" 2>&1 &
  _broker_control_pid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    if [[ -s "$env_file" ]]; then
      break
    fi
    if ! kill -0 "$_broker_control_pid" 2>/dev/null; then
      _broker_control_pid=''
      warn "the broker did not start; last lines of $log_dir/control.log and broker.log:"
      tail -n 20 "$log_dir/control.log" "$log_dir/broker.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  if [[ ! -s "$env_file" ]]; then
    warn "the broker did not come up within 30 s (see $log_dir/control.log)"
    return 1
  fi
  # shellcheck disable=SC1090
  set -a && source "$env_file" && set +a
  log "broker up: $MQTT_RTC_WS_URL (ws), $MQTT_RTC_WS_AUTH_URL (ws, auth), tcp $MQTT_RTC_TCP_PORT, control $MQTT_RTC_CONTROL_URL"
}

# broker_down — stop the control endpoint and the broker; safe to call more than once.
broker_down() {
  local pid="$_broker_control_pid" i
  _broker_control_pid=''
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ -n "$_broker_dir" ]]; then
    # Backstop: control.py records Mosquitto's pid; make sure it is gone too.
    local mpid
    mpid="$(cat "$_broker_dir/mosquitto.pid" 2>/dev/null || true)"
    if [[ -n "$mpid" ]] && kill -0 "$mpid" 2>/dev/null; then
      kill -CONT "$mpid" 2>/dev/null || true
      kill -KILL "$mpid" 2>/dev/null || true
    fi
    rm -rf "$_broker_dir"
    _broker_dir=''
  fi
}
