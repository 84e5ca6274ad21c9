// The clustered broker of test/cluster.test.js, started by the test itself: a Redis server
// (Debian's redis-server, on a free loopback port, in a temporary directory, nothing saved
// to disk) and nodes of tools/cluster/node.js (aedes sharing sessions and messages through
// that Redis), each with a WebSocket and a TCP listener on loopback. Every process started
// here is killed by `close()`, and by a process 'exit' hook if the test dies first; a node
// also exits when its standard input (a pipe from this process) closes.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './server.js';

const CLUSTER_DIR = join(REPO_ROOT, 'tools', 'cluster');
const REDIS = process.env.MQTT_RTC_REDIS_SERVER || 'redis-server';

// Processes alive now, killed on exit whatever happens to the test: on a normal exit, and
// on a signal that would end this process without its 'exit' event (then re-raised).
const live = new Set();
const dirs = new Set();
function killAll() {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

function track(proc) {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return proc;
}

/** A loopback TCP port that was free a moment ago. */
function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/**
 * Waits for `proc` to print a line on stdout for which `parse(line)` returns something,
 * and resolves with that; rejects if it exits first or after `ms`. `log` collects its output.
 */
function awaitLine(proc, parse, ms, what, log) {
  return new Promise((ok, fail) => {
    let buffered = '';
    const timer = setTimeout(() => fail(new Error(`${what}: not ready after ${ms} ms\n${log.join('')}`)), ms);
    const onData = (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const got = parse(line);
        if (got !== undefined) {
          clearTimeout(timer);
          proc.stdout.off('data', onData);
          ok(got);
          return;
        }
      }
    };
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited (${signal || code}) before it was ready\n${log.join('')}`));
    });
  });
}

/** Keeps the last lines a process wrote (both streams), for error messages. */
function capture(proc, log) {
  const keep = (d) => {
    log.push(String(d));
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
}

async function startRedis(dir) {
  // The port is picked free and then given to Redis: another process may take it in
  // between, so a failed start is tried again on another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = [];
    const proc = track(spawn(REDIS, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }));
    capture(proc, log);
    try {
      await awaitLine(proc, (l) => (l.includes('Ready to accept connections') ? true : undefined), 10_000, 'redis-server', log);
      return { proc, port, log };
    } catch (e) {
      proc.kill('SIGKILL');
      if (attempt >= 3) throw e;
    }
  }
}

/** Starts one aedes node on Redis port `redisPort`; resolves with its endpoints. */
async function startNode(id, redisPort) {
  const log = [];
  const proc = track(spawn(process.execPath, [join(CLUSTER_DIR, 'node.js'), '--id', id, '--redis-port', String(redisPort)],
    { cwd: CLUSTER_DIR, stdio: ['pipe', 'pipe', 'pipe'] }));
  capture(proc, log);
  const info = await awaitLine(proc, (l) => {
    try {
      const j = JSON.parse(l);
      return j.ws ? j : undefined;
    } catch {
      return undefined;
    }
  }, 15_000, `cluster node ${id}`, log);
  const exited = new Promise((ok) => {
    if (proc.exitCode !== null || proc.signalCode !== null) ok();
    else proc.once('exit', () => ok());
  });
  return {
    id,
    ws: info.ws,
    tcpPort: info.tcp,
    log,
    /** Kills the node with `signal` (SIGKILL: no goodbye to anyone) and waits for it to be gone. */
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    get alive() { return proc.exitCode === null && proc.signalCode === null; },
  };
}

/**
 * Starts Redis and `count` aedes nodes on it (ids "node-a", "node-b", ...). Resolves with
 * { nodes, redisPort, close() }; close() kills everything and removes the temporary directory.
 */
export async function startCluster({ count = 2 } = {}) {
  if (!existsSync(join(CLUSTER_DIR, 'node_modules', 'aedes'))) {
    throw new Error('tools/cluster/node_modules is missing: run tools/setup.sh');
  }
  const dir = await mkdtemp(join(tmpdir(), 'mqtt-rtc-cluster-'));
  dirs.add(dir);
  const nodes = [];
  let redis;
  const close = async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    if (redis) {
      redis.proc.kill('SIGKILL');
      if (redis.proc.exitCode === null && redis.proc.signalCode === null) await new Promise((ok) => redis.proc.once('exit', ok));
    }
    await rm(dir, { recursive: true, force: true });
    dirs.delete(dir);
  };
  try {
    redis = await startRedis(dir);
    for (let i = 0; i < count; i++) nodes.push(await startNode(`node-${String.fromCharCode(97 + i)}`, redis.port));
  } catch (e) {
    await close();
    throw e;
  }
  return { nodes, redisPort: redis.port, redisLog: redis.log, close };
}

/**
 * In the page (pass to page.evaluate, with `{ match }`): records every MQTT packet of the
 * PUBLISH family (PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP) crossing the page's WebSockets,
 * as [socket, direction, type, packetId, dup, payload, qos] in `window.clWire` (socket: the index
 * of the WebSocket in order of creation, with its URL in `window.clSockets`; direction "tx"
 * for sent, "rx" for received; payload for a PUBLISH whose payload contains `match`, else
 * ''). Complete packets only, reassembled per socket. It is what tells, for a message lost
 * or duplicated across a failover, which node said what.
 */
export function recordMqttWire({ match }) {
  window.clWire = [];
  window.clSockets = [];
  const NAMES = { 3: 'PUBLISH', 4: 'PUBACK', 5: 'PUBREC', 6: 'PUBREL', 7: 'PUBCOMP' };
  const parse = (ws, dir, bytes) => {
    const key = dir === 'tx' ? 'clTxBuf' : 'clRxBuf';
    const buf = ws[key] ? new Uint8Array([...ws[key], ...bytes]) : bytes;
    let at = 0;
    for (;;) {
      // Fixed header: type and flags, then the remaining length (a variable byte integer).
      let len = 0;
      let mul = 1;
      let i = at + 1;
      for (; i < buf.length && i < at + 5; i++) {
        len += (buf[i] & 0x7f) * mul;
        mul *= 128;
        if (!(buf[i] & 0x80)) break;
      }
      if (i >= buf.length || i + 1 + len > buf.length) break;
      const start = i + 1;
      const end = start + len;
      const type = buf[at] >> 4;
      if (type === 3) {
        const qos = (buf[at] >> 1) & 3;
        const dup = (buf[at] >> 3) & 1;
        const topicLen = (buf[start] << 8) | buf[start + 1];
        let p = start + 2 + topicLen;
        const id = qos > 0 ? (buf[p] << 8) | buf[p + 1] : 0;
        if (qos > 0) p += 2;
        const text = new TextDecoder().decode(buf.subarray(p, end));
        window.clWire.push([ws.clIndex, dir, 'PUBLISH', id, dup, text.includes(match) ? text : '', qos]);
      } else if (NAMES[type]) {
        window.clWire.push([ws.clIndex, dir, NAMES[type], (buf[start] << 8) | buf[start + 1], 0, '', 0]);
      }
      at = end;
    }
    ws[key] = at < buf.length ? buf.slice(at) : null;
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    parse(this, 'tx', bytes);
    return send.call(this, data);
  };
  const Ws = window.WebSocket;
  window.WebSocket = class extends Ws {
    constructor(url, ...rest) {
      super(url, ...rest);
      this.clIndex = window.clSockets.length;
      window.clSockets.push(String(url));
      // Registered before the library's own listener, so it sees each message first.
      this.addEventListener('message', (e) => {
        if (e.data instanceof ArrayBuffer) parse(this, 'rx', new Uint8Array(e.data));
      });
    }
  };
}

/**
 * The wire history of the messages named by `texts` (payloads), from recordMqttWire's
 * records: for each, every PUBLISH carrying it (socket, direction, packet id, DUP) and the
 * acknowledgements of that packet id on that socket which follow it, as one line each.
 */
export function wireHistory(wire, sockets, texts) {
  const lines = [];
  for (const text of texts) {
    const parts = [];
    wire.forEach(([sock, dir, type, id, dup, payload], i) => {
      if (type !== 'PUBLISH' || payload !== text) return;
      const acks = [];
      for (let k = i + 1; k < wire.length; k++) {
        const [s2, d2, t2, id2] = wire[k];
        if (s2 !== sock || id2 !== id) continue;
        if (t2 === 'PUBLISH') break; // the id is reused for another message
        acks.push(`${d2} ${t2}`);
      }
      parts.push(`[socket ${sock} ${sockets[sock]}] ${dir} PUBLISH id ${id}${dup ? ' DUP' : ''} then ${acks.join(', ') || 'nothing'}`);
    });
    lines.push(`${text}: ${parts.join(' | ') || 'never on the wire'}`);
  }
  return lines.join('\n');
}

/**
 * What aedes did with an outgoing message `text` that never reached a subscriber, from the
 * publisher's wire records (recordMqttWire), given the URL of the node that was killed
 * (`killedUrl`) and of the one that survived (`survivorUrl`). Returns the name of one of
 * the two aedes windows documented in test/cluster.test.js, or null when the wire shows
 * neither (then the loss is not explained by aedes, and is a defect):
 * - "qos1-puback-before-forward": the killed node sent PUBACK for it;
 * - "qos2-stored-before-forward": the killed node never answered it, the client resent it
 *   to the survivor with DUP and the same packet id, and the survivor answered PUBREC.
 */
export function lossCause(wire, sockets, text, qos, killedUrl, survivorUrl) {
  const sends = [];
  wire.forEach(([sock, dir, type, id, dup, payload], i) => {
    if (dir === 'tx' && type === 'PUBLISH' && payload === text) sends.push({ sock, id, dup, i });
  });
  const acks = (send) => {
    const out = [];
    for (let k = send.i + 1; k < wire.length; k++) {
      const [sock, dir, type, id] = wire[k];
      if (sock !== send.sock || id !== send.id) continue;
      if (type === 'PUBLISH') break;
      if (dir === 'rx') out.push(type);
    }
    return out;
  };
  const onKilled = sends.filter((s) => sockets[s.sock] === killedUrl);
  const onSurvivor = sends.filter((s) => sockets[s.sock] === survivorUrl);
  if (qos === 1) {
    return onKilled.some((s) => acks(s).includes('PUBACK')) ? 'qos1-puback-before-forward' : null;
  }
  const first = onKilled[0];
  if (!first || onKilled.some((s) => acks(s).length > 0)) return null;
  const resent = onSurvivor.find((s) => s.id === first.id && s.dup === 1);
  return resent && acks(resent).includes('PUBREC') ? 'qos2-stored-before-forward' : null;
}

/**
 * How many times a correct client delivers each QoS 2 message that its sockets `mine`
 * received, by the protocol alone: a PUBLISH is a new message unless its packet id is one
 * the session received and has not yet released with PUBCOMP (the session, and so that
 * state, carries over from one socket to the next). Returns Map(payload -> { flows, copies })
 * where `copies` lists each received copy as { sock, id, dup, fresh, heldBy }: `heldBy` is
 * the payload of another message that held the id when a copy that is not fresh arrived
 * (the broker reused a packet id still in use, [MQTT-2.3.1-2]).
 */
export function qos2Flows(wire, mine) {
  const held = new Map();
  const out = new Map();
  for (const [sock, dir, type, id, dup, payload, qos] of wire) {
    if (!mine.has(sock)) continue;
    if (dir === 'rx' && type === 'PUBLISH' && payload && qos === 2) {
      const holder = held.get(id);
      const fresh = holder === undefined;
      if (fresh) held.set(id, payload);
      const entry = out.get(payload) || { flows: 0, copies: [] };
      if (fresh) entry.flows += 1;
      entry.copies.push({ sock, id, dup, fresh, ...(!fresh && holder !== payload ? { heldBy: holder } : {}) });
      out.set(payload, entry);
    } else if (dir === 'tx' && type === 'PUBCOMP') {
      held.delete(id);
    }
  }
  return out;
}
