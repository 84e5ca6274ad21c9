#!/usr/bin/env python3
"""Broker supervisor and control endpoint for mqtt-rtc's tests and demo.

Starts Mosquitto from the template tools/broker/mosquitto.conf on free loopback ports
(scanning upwards from MQTT_RTC_PORT_BASE, default 18830), with a temporary data dir and
a password file for the authenticated listeners, and keeps it as a child process. It
then serves a tiny HTTP API on 127.0.0.1 that browser tests can `fetch` (CORS allowed):
GET /health, and POST /broker/stop, /broker/start, /broker/restart, /broker/freeze
(SIGSTOP), /broker/thaw (SIGCONT) and /broker/kill (SIGKILL, a crash: no final save).
Every call answers once the change is complete (a started broker accepts connections
on all its ports) with a JSON body such as {"ok": true, "state": "running"}. Restarts
reuse the same ports and data dir, so persistent sessions and retained messages survive.
When everything is up, the ports and URLs are written as KEY=value lines to --env-file.
Two WebSocket-over-TLS listeners use certificates made at start with openssl in the run
dir: WSS_PORT's from a test CA whose key hash (base64 SHA-256 of the certificate's
SubjectPublicKeyInfo) is exported as MQTT_RTC_TLS_SPKI for Chromium's
--ignore-certificate-errors-spki-list, WSS_UNTRUSTED_PORT's from another CA no browser
trusts (the tests of a rejected certificate). The password of the authenticated
listeners is --auth-pass (the demo passes a fresh one per run; the tests use the
constant below). On SIGTERM or SIGINT it stops the broker and exits; if it dies abruptly the kernel sends
Mosquitto SIGTERM (PR_SET_PDEATHSIG). Every listener is on loopback: Mosquitto runs with the LD_PRELOAD shim
tools/broker/loopback_bind.c (built with cc), since 2.0.11 binds its WebSocket listeners
to every interface. Standard library only.
"""

import argparse
import base64
import ctypes
import hashlib
import errno
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

HOST = "127.0.0.1"
AUTH_USER = "mqttrtc"
AUTH_PASS = "secret-pass"
PORT_NAMES = ("TCP_PORT", "WS_PORT", "AUTH_TCP_PORT", "AUTH_WS_PORT", "WSS_PORT", "WSS_UNTRUSTED_PORT")


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} control: {msg}", file=sys.stderr, flush=True)


def port_is_free(port):
    """True when a listening socket could bind HOST:port (SO_REUSEADDR, as Mosquitto)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(start, count, avoid=()):
    ports, port = [], start
    while len(ports) < count:
        if port > 65535:
            raise RuntimeError(f"no {count} free ports at or above {start}")
        if port not in avoid and port_is_free(port):
            ports.append(port)
        port += 1
    return ports


def accepts(port, timeout=0.2):
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def die_with_parent():
    """Runs in the child before exec: SIGTERM it when this supervisor dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the shell's cleanup still kills it by pid
        pass


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def make_cert(dir_path, name):
    """A CA and a server certificate for 127.0.0.1/localhost it signed, in dir_path.
    Returns (cert, key, ca_cert, spki): spki is the base64 SHA-256 of the server key's
    SubjectPublicKeyInfo, what Chromium's --ignore-certificate-errors-spki-list takes."""
    p = lambda f: os.path.join(dir_path, f"{name}-{f}")  # noqa: E731
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN=mqtt-rtc {name} test CA",
            "-keyout", p("ca.key"), "-out", p("ca.pem"))
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", p("server.key"), "-out", p("server.csr"))
    with open(p("ext.cnf"), "w", encoding="utf-8") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", p("ext.cnf"), "-out", p("server.pem"))
    der = openssl("pkey", "-in", p("server.key"), "-pubout", "-outform", "DER")
    spki = base64.b64encode(hashlib.sha256(der).digest()).decode()
    return p("server.pem"), p("server.key"), p("ca.pem"), spki


def loopback_shim(run_dir):
    """Build tools/broker/loopback_bind.c (see there) into run_dir; its path for LD_PRELOAD.
    Mosquitto 2.0.11 binds WebSocket listeners to every interface whatever the config
    says; with the shim every wildcard bind becomes a loopback one."""
    if not sys.platform.startswith("linux"):
        log("warning: not Linux: WebSocket listeners may bind to every interface")
        return None
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loopback_bind.c")
    out = os.path.join(run_dir, "loopback_bind.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", out, src, "-ldl"], check=True)
    return out


class Broker:
    def __init__(self, template, run_dir, log_path, auth_pass=AUTH_PASS):
        self.run_dir = run_dir
        self.log_path = log_path
        self.data_dir = os.path.join(run_dir, "data")
        self.conf_path = os.path.join(run_dir, "mosquitto.conf")
        self.pid_path = os.path.join(run_dir, "mosquitto.pid")
        self.password_file = os.path.join(run_dir, "passwords")
        with open(template, encoding="utf-8") as f:
            self.template = f.read()
        self.ports = {}
        self.proc = None
        self.frozen = False
        os.makedirs(self.data_dir, exist_ok=True)
        subprocess.run(
            ["mosquitto_passwd", "-c", "-b", self.password_file, AUTH_USER, auth_pass],
            check=True,
        )
        tls_dir = os.path.join(run_dir, "tls")
        os.makedirs(tls_dir, exist_ok=True)
        self.tls = make_cert(tls_dir, "trusted")
        self.tls_untrusted = make_cert(tls_dir, "untrusted")
        self.shim = loopback_shim(run_dir)
        # As root, run Mosquitto as user `mosquitto` from the start (it would switch to
        # it by itself, and that switch would cancel the parent-death signal), and let
        # that user own its data dir and password file.
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("mosquitto")
            except KeyError:
                pass
            if self.user is not None:
                for path in (self.data_dir, self.password_file, self.tls[1], self.tls_untrusted[1]):
                    os.chown(path, self.user.pw_uid, self.user.pw_gid)
                os.chmod(self.password_file, 0o600)

    def state(self):
        if self.proc is None or self.proc.poll() is not None:
            return "stopped"
        return "frozen" if self.frozen else "running"

    def configure(self, ports):
        self.ports = dict(zip(PORT_NAMES, ports))
        text = self.template.replace("@DATA_DIR@", self.data_dir)
        text = text.replace("@PASSWORD_FILE@", self.password_file)
        text = text.replace("@TLS_CERT@", self.tls[0]).replace("@TLS_KEY@", self.tls[1])
        text = text.replace("@UNTRUSTED_CERT@", self.tls_untrusted[0])
        text = text.replace("@UNTRUSTED_KEY@", self.tls_untrusted[1])
        for name, port in self.ports.items():
            text = text.replace(f"@{name}@", str(port))
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(text)

    def start(self, timeout=10.0):
        """Start Mosquitto; True once every listener accepts connections."""
        if self.state() != "stopped":
            return True
        as_user = {}
        if self.user is not None:
            as_user = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        env = dict(os.environ)
        if self.shim:
            env["LD_PRELOAD"] = self.shim
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                ["mosquitto", "-c", self.conf_path],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # a Ctrl-C on the terminal reaches us, not it
                preexec_fn=die_with_parent,  # runs after the switch of user
                **as_user,
            )
        self.frozen = False
        with open(self.pid_path, "w", encoding="utf-8") as f:
            f.write(f"{self.proc.pid}\n")
        log(f"mosquitto pid {self.proc.pid} on ports {self.ports}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log(f"mosquitto exited with status {self.proc.returncode}")
                return False
            if all(accepts(p) for p in self.ports.values()):
                # A listener that failed to bind makes Mosquitto exit: make sure the
                # ports answering are its own, not another process's.
                time.sleep(0.1)
                if self.proc.poll() is None:
                    return True
            time.sleep(0.05)
        log("mosquitto did not accept connections in time")
        self.stop()
        return False

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        proc, self.proc = self.proc, None
        self.frozen = False
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.send_signal(signal.SIGCONT)  # a frozen broker must run to exit
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("mosquitto ignored SIGTERM; killing it")
                proc.kill()
                proc.wait()
        try:
            os.unlink(self.pid_path)
        except FileNotFoundError:
            pass

    def signal(self, sig):
        if self.state() == "stopped":
            return False
        self.proc.send_signal(sig)
        self.frozen = sig == signal.SIGSTOP
        return True


class ControlServer(HTTPServer):
    allow_reuse_address = True

    def __init__(self, port, broker):
        super().__init__((HOST, port), Handler)
        self.broker = broker


class Handler(BaseHTTPRequestHandler):
    server_version = "mqtt-rtc-control/1"

    def log_message(self, fmt, *args):
        log(fmt % args)

    def cors(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Cache-Control", "no-store")

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, ok=True, **extra):
        b = self.server.broker
        return {"ok": ok, "state": b.state(), "ports": b.ports, **extra}

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, self.status())
        elif self.path.startswith("/broker/"):
            self.reply(405, self.status(False, error="use POST"))
        else:
            self.reply(404, self.status(False, error="not found"))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        b = self.server.broker
        action = self.path.removeprefix("/broker/") if self.path.startswith("/broker/") else None
        ok = True
        if action == "stop":
            b.stop()
        elif action == "kill":
            b.stop(signal.SIGKILL)
        elif action == "start":
            ok = b.start()
        elif action == "restart":
            b.stop()
            ok = b.start()
        elif action == "freeze":
            ok = b.signal(signal.SIGSTOP)
        elif action == "thaw":
            ok = b.signal(signal.SIGCONT)
        elif self.path == "/health":
            self.reply(200, self.status())
            return
        else:
            self.reply(404, self.status(False, error="not found"))
            return
        self.reply(200 if ok else 409, self.status(ok))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config-template", required=True)
    ap.add_argument("--run-dir", required=True, help="temporary dir: config, data, passwords")
    ap.add_argument("--env-file", required=True, help="where to write the ports and URLs")
    ap.add_argument("--log", required=True, help="Mosquitto's log file (appended)")
    ap.add_argument(
        "--port-base", type=int, default=int(os.environ.get("MQTT_RTC_PORT_BASE", "18830"))
    )
    ap.add_argument("--auth-pass", default=AUTH_PASS, help="password of user mqttrtc")
    args = ap.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    broker = Broker(args.config_template, args.run_dir, args.log, args.auth_pass)
    server = None
    try:
        # Ports may be taken between the check and Mosquitto's bind (another test run
        # on this machine): then move on to the next free ones.
        tried = set()
        for _ in range(10):
            ports = free_ports(args.port_base, len(PORT_NAMES), avoid=tried)
            tried.update(ports)
            broker.configure(ports)
            if broker.start():
                break
            broker.stop()
        else:
            log("could not start mosquitto; see its log")
            return 1
        control_port = max(ports) + 1
        while True:
            try:
                server = ControlServer(control_port, broker)
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                control_port += 1
        p = broker.ports
        env = {
            "MQTT_RTC_WS_URL": f"ws://{HOST}:{p['WS_PORT']}",
            "MQTT_RTC_WS_AUTH_URL": f"ws://{HOST}:{p['AUTH_WS_PORT']}",
            "MQTT_RTC_TCP_PORT": p["TCP_PORT"],
            "MQTT_RTC_TCP_AUTH_PORT": p["AUTH_TCP_PORT"],
            "MQTT_RTC_AUTH_USER": AUTH_USER,
            "MQTT_RTC_AUTH_PASS": args.auth_pass,
            "MQTT_RTC_WSS_URL": f"wss://{HOST}:{p['WSS_PORT']}",
            "MQTT_RTC_WSS_UNTRUSTED_URL": f"wss://{HOST}:{p['WSS_UNTRUSTED_PORT']}",
            "MQTT_RTC_TLS_SPKI": broker.tls[3],
            "MQTT_RTC_TLS_CA": broker.tls[2],
            "MQTT_RTC_CONTROL_URL": f"http://{HOST}:{control_port}",
        }
        tmp = args.env_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(f"{k}={v}\n" for k, v in env.items())
        os.replace(tmp, args.env_file)
        log(f"control endpoint on http://{HOST}:{control_port}")
        server.serve_forever()
    finally:
        if server is not None:
            server.server_close()
        broker.stop()
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
