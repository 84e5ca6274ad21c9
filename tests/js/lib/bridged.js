// Two Mosquitto instances on loopback bridged to each other, the single-machine stand-in for
// a clustered broker in the failover test: "a" and "b" each have a TCP and a WebSocket
// listener on free ports, and b runs a bridge connection to a's TCP listener that carries
// every topic both ways. They share messages, not sessions: a client that moves from one to
// the other gets Session Present = 0. Each instance is started as tools/broker/control.py
// starts the test broker (the LD_PRELOAD shim tools/broker/loopback_bind.c keeps the
// WebSocket listeners, which Mosquitto 2.0.11 binds to every interface, on loopback; as root
// it runs as user `mosquitto` from the start, owning its data dir). `kill(name)` is a crash
// (SIGKILL). Every instance still running is killed by `stop()`, by a process exit hook
// should the test process end without calling it, and by the kernel (parent-death signal)
// should the process be killed outright. Node.js and util-linux's setpriv.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './server.js';

const HOST = '127.0.0.1';
const running = new Set();
// A failed or interrupted test must not leave brokers behind holding their ports.
process.on('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

/** `count` distinct loopback ports the kernel reports free (held together, then released). */
async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = net.createServer();
      await new Promise((ok, fail) => s.once('error', fail).listen(0, HOST, ok));
      servers.push(s);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  }
}

/** True once something accepts TCP connections on HOST:port. */
function accepts(port) {
  return new Promise((ok) => {
    const sock = net.connect(port, HOST);
    sock.once('connect', () => { sock.destroy(); ok(true); });
    sock.once('error', () => ok(false));
  });
}

/** The uid/gid of user `mosquitto` when running as root (Mosquitto would switch to it). */
function mosquittoUser() {
  if (process.getuid?.() !== 0) return null;
  const r = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return null;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** The configuration of one instance; `bridgeTo` (a TCP port) adds the bridge connection. */
function config({ tcpPort, wsPort, bridgeTo }) {
  const lines = [
    // No persistence: a killed instance takes its sessions with it, as a crashed node does.
    'persistence false',
    'log_dest stderr',
    'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
    'log_timestamp true', 'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    'connection_messages true',
    'set_tcp_nodelay true',
    'per_listener_settings false',
    'allow_anonymous true',
    // No in-flight cap towards the bridge: a message the instance acknowledged is written
    // to the bridge at once rather than queued inside an instance that may be killed next.
    'max_inflight_messages 0',
    'max_queued_messages 0',
    `listener ${tcpPort} ${HOST}`, 'protocol mqtt',
    `listener ${wsPort} ${HOST}`, 'protocol websockets',
  ];
  if (bridgeTo) {
    lines.push(
      'connection failover-bridge',
      `address ${HOST}:${bridgeTo}`,
      // Every topic both ways, delivered over the bridge at QoS 0. The bridge TCP stream is
      // lossless until a is killed; what decides whether a message a acknowledged reaches b
      // is how the kill closes that stream. Mosquitto writes a message to its TCP
      // subscribers (the bridge among them) before it sends the publisher its PUBACK
      // (QoS 1) or PUBCOMP (QoS 2), so it is in the stream already. At QoS 0 nothing flows
      // back from b, so a has nothing unread on that socket when it dies and the kernel
      // closes it with FIN: b reads everything first. At QoS 1 b's PUBACKs can be unread in
      // a's buffer at the kill, and the kernel then resets the connection instead; in one
      // run of four, b lacked 4 of 1,000 messages a had acknowledged. A bridged QoS 2 exchange has a worse gap still: b releases the message only
      // on a's PUBREL. No loop: Mosquitto marks the bridge as one (try_private) and never
      // sends a message back over the connection it came in on.
      'topic # both 0',
      'try_private true',
      'cleansession true',
      'notifications false',
      'restart_timeout 1',
      'start_type automatic',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Starts instances "a" and "b" (b bridged to a) and resolves once both accept connections
 * on all their ports. Returns { a, b, kill(name), alive(name), stop(), log(name) }, where
 * a and b are { tcpPort, wsPort, url }. The bridge may still be connecting: callers wait
 * for a message to cross it.
 */
export async function startBridgedPair() {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-rtc-failover-'));
  chmodSync(dir, 0o755);
  const shim = join(dir, 'loopback_bind.so');
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', shim, join(REPO_ROOT, 'tools/broker/loopback_bind.c'), '-ldl'], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`building the loopback shim failed: ${cc.stderr}`);
  const user = mosquittoUser();
  const [aTcp, aWs, bTcp, bWs] = await freePorts(4);
  const specs = { a: { tcpPort: aTcp, wsPort: aWs }, b: { tcpPort: bTcp, wsPort: bWs, bridgeTo: aTcp } };
  const procs = {};
  const pair = {
    dir,
    stop() {
      for (const proc of Object.values(procs)) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    /** SIGKILL, a crash; resolves once the process is gone. */
    async kill(name) {
      const proc = procs[name];
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((ok) => proc.once('exit', ok));
      proc.kill('SIGKILL');
      await gone;
    },
    alive: (name) => procs[name].exitCode === null && procs[name].signalCode === null,
    log: (name) => { try { return readFileSync(join(dir, `${name}.log`), 'utf8'); } catch { return ''; } },
  };
  try {
    for (const [name, spec] of Object.entries(specs)) {
      const data = join(dir, name);
      mkdirSync(data);
      if (user) chownSync(data, user.uid, user.gid);
      const conf = join(data, 'mosquitto.conf');
      writeFileSync(conf, config(spec));
      const out = join(dir, `${name}.log`);
      writeFileSync(out, '');
      const fd = openSync(out, 'a');
      // setpriv sets the parent-death signal after the switch of user (which would clear
      // it): should this process die without running its exit hook (a signal), the kernel
      // kills the broker.
      const proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'mosquitto', '-c', conf], {
        cwd: data,
        env: { ...process.env, LD_PRELOAD: shim },
        stdio: ['ignore', fd, fd],
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      });
      closeSync(fd);
      running.add(proc);
      proc.once('exit', () => running.delete(proc));
      procs[name] = proc;
      pair[name] = { tcpPort: spec.tcpPort, wsPort: spec.wsPort, url: `ws://${HOST}:${spec.wsPort}` };
    }
    const t0 = Date.now();
    for (const [name, spec] of Object.entries(specs)) {
      for (const port of [spec.tcpPort, spec.wsPort]) {
        while (!(await accepts(port))) {
          if (!pair.alive(name)) throw new Error(`mosquitto ${name} exited: ${pair.log(name).slice(-2000)}`);
          if (Date.now() - t0 > 10_000) throw new Error(`mosquitto ${name} does not listen on ${port} after 10 s`);
          await new Promise((ok) => setTimeout(ok, 50));
        }
      }
    }
  } catch (e) {
    pair.stop();
    throw e;
  }
  return pair;
}
