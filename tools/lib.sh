# shellcheck shell=bash
# tools/lib.sh — shared bash helpers for the mqtt-rtc developer scripts.
#
# Sourced (never run) by tools/setup.sh, tools/test.sh, tools/demo.sh and
# tools/broker/run.sh. It finds the repository root, puts cargo's bin directory on
# PATH, and provides logging plus the broker life cycle: `broker_up` starts the
# control endpoint (tools/broker/control.py), which in turn starts Mosquitto on free
# loopback ports and writes them to an env file; `broker_up` then exports
# MQTT_RTC_WS_URL, MQTT_RTC_WS_AUTH_URL, MQTT_RTC_TCP_PORT, MQTT_RTC_CONTROL_URL (and
# a few more: MQTT_RTC_WSS_URL, MQTT_RTC_TLS_SPKI, MQTT_RTC_TLS_CA for TLS) for the
# caller; MQTT_RTC_BROKER_AUTH_PASS, when set, is the password of the authenticated
# listeners (the demo makes one per run; the tests use control.py's constant). `broker_down` stops both and removes the temporary
# data dir; callers install it in an EXIT/INT/TERM trap so nothing is left running.
# `turn_up`/`turn_down` do the same for the TURN server (coturn) of the relay tests.

# Repository root: the parent of the directory holding this file.
MQTT_RTC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MQTT_RTC_ROOT

# Tools installed by `cargo install` live here; make sure they are found.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [[ -t 1 ]]; then
  _c_bold=$'\e[1m' _c_red=$'\e[31m' _c_off=$'\e[0m'
else
  _c_bold='' _c_red='' _c_off=''
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
# MQTT_RTC_BROKER_TEMPLATE, when set, is the configuration template used instead of
# tools/broker/mosquitto.conf (the benchmark adds a line to it).
broker_up() {
  local log_dir="$1"
  mkdir -p "$log_dir"
  _broker_dir="$(mktemp -d /tmp/mqtt-rtc-broker.XXXXXX)"
  # Mosquitto drops privileges to user `mosquitto` when started as root; let it write
  # its persistence file there.
  chmod 0755 "$_broker_dir"
  local env_file="$_broker_dir/broker.env"
  python3 "$MQTT_RTC_ROOT/tools/broker/control.py" \
    --config-template "${MQTT_RTC_BROKER_TEMPLATE:-$MQTT_RTC_ROOT/tools/broker/mosquitto.conf}" \
    --run-dir "$_broker_dir" \
    --env-file "$env_file" \
    --log "$log_dir/broker.log" \
    ${MQTT_RTC_BROKER_AUTH_PASS:+--auth-pass "$MQTT_RTC_BROKER_AUTH_PASS"} \
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

# ---------------------------------------------------------------------------
# TURN server (coturn), beside the broker
# ---------------------------------------------------------------------------
_turn_pid=''
_turn_dir=''

# _turn_ports — print "PORT MIN MAX": a loopback port free for both UDP and TCP, and a
# range of 200 UDP ports free for relay allocations.
_turn_ports() {
  python3 - <<'PY'
import random, socket
def free(port, kinds=(socket.SOCK_DGRAM, socket.SOCK_STREAM)):
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True
while True:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if free(port):
        break
for _ in range(200):
    base = random.randrange(20000, 29800)
    if all(free(p, (socket.SOCK_DGRAM,)) for p in range(base, base + 200)):
        print(port, base, base + 199)
        break
else:
    raise SystemExit("no free relay port range")
PY
}

# turn_up LOG_DIR — start coturn on 127.0.0.1 from tools/turn/turnserver.conf and export
# MQTT_RTC_TURN_URL (turn:127.0.0.1:PORT), MQTT_RTC_TURN_USER, MQTT_RTC_TURN_PASS and
# MQTT_RTC_TURN_REALM. Safe to call when it is up already.
turn_up() {
  local log_dir="$1" port min max i
  [[ -z "$_turn_pid" ]] || return 0
  command -v turnserver >/dev/null 2>&1 ||
    { warn "turnserver not found (Debian: apt-get install coturn; tools/setup.sh does)"; return 1; }
  mkdir -p "$log_dir"
  read -r port min max < <(_turn_ports) || { warn "no free ports for the TURN server"; return 1; }
  _turn_dir="$(mktemp -d /tmp/mqtt-rtc-turn.XXXXXX)"
  export MQTT_RTC_TURN_URL="turn:127.0.0.1:$port" MQTT_RTC_TURN_USER=mqttrtc \
    MQTT_RTC_TURN_PASS=turn-secret MQTT_RTC_TURN_REALM=mqtt-rtc.test
  sed -e "s|@PORT@|$port|; s|@MIN_PORT@|$min|; s|@MAX_PORT@|$max|; s|@DIR@|$_turn_dir|g" \
    -e "s|@LOG@|$log_dir/turnserver.log|; s|@REALM@|$MQTT_RTC_TURN_REALM|" \
    -e "s|@USER@|$MQTT_RTC_TURN_USER|; s|@PASS@|$MQTT_RTC_TURN_PASS|" \
    "$MQTT_RTC_ROOT/tools/turn/turnserver.conf" >"$_turn_dir/turnserver.conf"
  turnserver -c "$_turn_dir/turnserver.conf" >>"$log_dir/turnserver.out" 2>&1 &
  _turn_pid=$!
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$_turn_pid" 2>/dev/null; then
      _turn_pid=''
      warn "the TURN server did not start; last lines of $log_dir/turnserver.log:"
      tail -n 20 "$log_dir/turnserver.log" "$log_dir/turnserver.out" >&2 2>/dev/null || true
      return 1
    fi
    # Up once its TCP listener accepts a connection.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "TURN server up: $MQTT_RTC_TURN_URL (udp+tcp), realm $MQTT_RTC_TURN_REALM, relay ports $min-$max"
      return 0
    fi
    sleep 0.1
  done
  warn "the TURN server did not listen within 10 s (see $log_dir/turnserver.log)"
  return 1
}

# turn_down — stop coturn and remove its run dir; safe to call more than once.
turn_down() {
  local pid="$_turn_pid" i
  _turn_pid=''
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ -n "$_turn_dir" ]]; then
    rm -rf "$_turn_dir"
    _turn_dir=''
  fi
}
