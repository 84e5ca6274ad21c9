// A fault-injecting TCP proxy for the delivery tests: it sits on loopback between the
// browser's WebSocket and the broker's WebSocket listener and, on a seeded random schedule,
// cuts connections at arbitrary byte offsets in either direction (inside a WebSocket frame
// or between frames, whichever the offset hits), stalls them (forwards nothing for a while,
// then resumes or cuts), and refuses new connections for a while (closes accepted sockets
// at once, or stops listening). One instance per faulty path; the same seed gives the same
// sequence of decisions (the moments they land on depend on the traffic), so a failing run
// is replayed with its seed. Node.js only, no npm dependencies; it never reads or changes
// what it forwards, it only counts it.
import net from 'node:net';

/** A small seeded PRNG (mulberry32): `next()` in [0, 1), `int(lo, hi)` inclusive, `pick(weights)`. */
export function prng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    /** A key of `weights` ({ name: weight }), drawn in proportion to its weight. */
    pick(weights) {
      const entries = Object.entries(weights);
      let r = next() * entries.reduce((a, [, w]) => a + w, 0);
      for (const [k, w] of entries) {
        if ((r -= w) < 0) return k;
      }
      return entries[entries.length - 1][0];
    },
  };
}

/** The seed of this run: MQTT_RTC_FAULT_SEED (to replay one) or a fresh one. */
export function faultSeed() {
  const fixed = process.env.MQTT_RTC_FAULT_SEED;
  if (fixed !== undefined && fixed !== '') {
    const n = Number(fixed);
    if (!Number.isInteger(n)) throw new Error(`MQTT_RTC_FAULT_SEED=${fixed}: expected an integer`);
    return n >>> 0;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/**
 * Where a byte stream stands relative to WebSocket frames: after the HTTP upgrade (the
 * header ends with an empty line) it walks the frame headers (RFC 6455 section 5.2), so a
 * cut can say whether it fell inside a frame.
 */
class FrameTracker {
  constructor() {
    this.http = '';        // upgrade bytes until the blank line
    this.upgraded = false;
    this.header = [];      // bytes of a frame header read so far
    this.remaining = 0;    // payload bytes left in the current frame
  }

  /** True when the next byte is not the first byte of a frame. */
  get inFrame() { return !this.upgraded || this.header.length > 0 || this.remaining > 0; }

  feed(buf) {
    let i = 0;
    while (i < buf.length) {
      if (!this.upgraded) {
        this.http += String.fromCharCode(buf[i++]);
        if (this.http.endsWith('\r\n\r\n')) this.upgraded = true;
      } else if (this.remaining > 0) {
        const n = Math.min(this.remaining, buf.length - i);
        this.remaining -= n;
        i += n;
      } else {
        this.header.push(buf[i++]);
        this.headerStep();
      }
    }
  }

  headerStep() {
    const h = this.header;
    if (h.length < 2) return;
    const len7 = h[1] & 0x7f;
    const masked = (h[1] & 0x80) !== 0;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const need = 2 + ext + (masked ? 4 : 0);
    if (h.length < need) return;
    let len = len7;
    if (ext) {
      len = 0;
      for (let k = 2; k < 2 + ext; k++) len = len * 256 + h[k];
    }
    this.header = [];
    this.remaining = len;
  }
}

const DEFAULTS = {
  /** Relative weights of the fault kinds chosen for each connection (and after a stall). */
  weights: { cut: 5, stall: 3, refuse: 2 },
  /** A cut comes after this many more bytes in the chosen direction. */
  cutBytes: [200, 8_000],
  /** Stalls and refusals start this long after the connection (or the last stall) began. */
  delayMs: [50, 600],
  /** How long a stall forwards nothing. */
  stallMs: [100, 700],
  /** How long new connections are refused. */
  refuseMs: [100, 600],
};

/**
 * Starts a proxy to `target` (ws://host:port of the broker) on 127.0.0.1, port chosen by
 * the system. Returns { url, port, seed, counters, calm(), close() }; `counters` counts
 * faults by kind: cuts by direction and whether they fell inside a WebSocket frame,
 * stalls (resumed or ended with a cut), refusal windows by mode and the connections they
 * turned away. `calm()` stops injecting faults (for the end of a test: what is in flight
 * can then drain); `close()` stops listening and drops every connection.
 */
export async function startFaultProxy({ target, seed = faultSeed(), name = 'proxy', ...options }) {
  const cfg = { ...DEFAULTS, ...options };
  const rng = prng(seed);
  const { hostname, port: targetPort } = new URL(target);
  const counters = {
    connections: 0,
    cutToBroker: 0, cutToClient: 0, cutInFrame: 0, cutBetweenFrames: 0,
    stallResumed: 0, stallCut: 0,
    refuseClose: 0, refuseUnlisten: 0, refusedConnections: 0,
  };
  const live = new Set();
  const state = { calm: false, closed: false, refuseUntil: 0, refuseMode: null, unlistened: false, port: 0 };
  const server = net.createServer((client) => accept(client));

  function listen(port) {
    return new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => { server.off('error', fail); ok(server.address().port); });
    });
  }

  function accept(client) {
    client.setNoDelay(true);
    if (!state.calm && Date.now() < state.refuseUntil) {
      counters.refusedConnections += 1;
      client.destroy();
      return;
    }
    counters.connections += 1;
    const upstream = net.connect({ host: hostname, port: Number(targetPort) });
    upstream.setNoDelay(true);
    const conn = new Connection(client, upstream);
    live.add(conn);
    upstream.once('connect', () => conn.plan());
  }

  /** One proxied connection: two directions, each with its byte count and frame tracker. */
  class Connection {
    constructor(client, upstream) {
      this.dead = false;
      this.stalled = false;
      this.timer = null;
      this.cut = null; // { dir, at }
      // 'up': browser to broker; 'down': broker to browser.
      this.dirs = {
        up: { src: client, dst: upstream, bytes: 0, frames: new FrameTracker(), blocked: false },
        down: { src: upstream, dst: client, bytes: 0, frames: new FrameTracker(), blocked: false },
      };
      for (const d of Object.values(this.dirs)) {
        d.src.on('data', (chunk) => this.forward(d, chunk));
        d.src.on('error', () => this.drop());
        d.src.on('close', () => this.drop());
        d.dst.on('drain', () => { d.blocked = false; this.flow(); });
      }
    }

    /** Chooses this connection's next fault. */
    plan() {
      if (this.dead || state.calm) return;
      const kind = rng.pick(cfg.weights);
      if (kind === 'cut') {
        const dir = rng.next() < 0.5 ? 'up' : 'down';
        this.cut = { dir, at: this.dirs[dir].bytes + rng.int(...cfg.cutBytes) };
        return;
      }
      const delay = rng.int(...cfg.delayMs);
      const length = rng.int(...(kind === 'stall' ? cfg.stallMs : cfg.refuseMs));
      const thenCut = rng.next() < 0.5;
      const mode = rng.next() < 0.5 ? 'close' : 'unlisten';
      this.timer = setTimeout(() => (kind === 'stall' ? this.stall(length, thenCut) : refuse(length, mode, this)), delay);
    }

    forward(d, chunk) {
      if (this.dead) return;
      let out = chunk;
      const cutHere = this.cut && this.cut.dir === (d === this.dirs.up ? 'up' : 'down')
        && !state.calm && d.bytes + chunk.length >= this.cut.at;
      if (cutHere) out = chunk.subarray(0, this.cut.at - d.bytes);
      d.bytes += out.length;
      d.frames.feed(out);
      if (cutHere) {
        counters[d === this.dirs.up ? 'cutToBroker' : 'cutToClient'] += 1;
        counters[d.frames.inFrame ? 'cutInFrame' : 'cutBetweenFrames'] += 1;
        // The bytes before the offset reach the peer; then both sides go.
        this.drop(out);
        return;
      }
      if (!d.dst.write(out)) {
        d.blocked = true;
        d.src.pause();
      }
    }

    /** Resumes reading where neither a stall nor a full socket holds it back. */
    flow() {
      if (this.dead || this.stalled) return;
      for (const d of Object.values(this.dirs)) if (!d.blocked) d.src.resume();
    }

    stall(ms, thenCut) {
      if (this.dead || state.calm) return;
      this.stalled = true;
      for (const d of Object.values(this.dirs)) d.src.pause();
      this.timer = setTimeout(() => {
        this.stalled = false;
        if (thenCut && !state.calm) {
          counters.stallCut += 1;
          this.drop();
          return;
        }
        counters.stallResumed += 1;
        this.flow();
        this.plan();
      }, ms);
    }

    /** Ends the connection at once; `last` (the bytes up to a cut) is written first. */
    drop(last) {
      if (this.dead) return;
      this.dead = true;
      clearTimeout(this.timer);
      live.delete(this);
      const { up, down } = this.dirs;
      if (last && last.length) {
        const d = this.cut.dir === 'up' ? up : down;
        d.src.destroy();
        d.dst.write(last, () => d.dst.destroy());
        return;
      }
      up.src.destroy();
      down.src.destroy();
    }

    /** Stops a stall or a pending fault: the connection just forwards from now on. */
    calm() {
      clearTimeout(this.timer);
      this.cut = null;
      if (this.stalled) {
        this.stalled = false;
        this.flow();
      }
    }
  }

  /** Cuts `conn` and turns new connections away for `ms`, by `mode`. */
  function refuse(ms, mode, conn) {
    if (state.calm || state.closed) return;
    conn.drop();
    state.refuseUntil = Date.now() + ms;
    if (mode === 'close') {
      counters.refuseClose += 1;
      return;
    }
    counters.refuseUnlisten += 1;
    // Not listening: the browser's connection attempt is refused by the system (RST).
    state.unlistened = true;
    server.close();
    setTimeout(() => relisten(), ms);
  }

  function relisten() {
    if (!state.unlistened || state.closed) return;
    state.unlistened = false;
    listen(state.port).catch((e) => {
      // Should never happen on loopback; a proxy that cannot listen again fails the test.
      counters.relistenError = String(e);
    });
  }

  state.port = await listen(0);
  return {
    url: `ws://127.0.0.1:${state.port}`,
    port: state.port,
    seed,
    name,
    counters,
    /** Faults injected so far: cuts, stalls and refusal windows. */
    get faults() {
      const c = counters;
      return c.cutToBroker + c.cutToClient + c.stallResumed + c.stallCut + c.refuseClose + c.refuseUnlisten;
    },
    /** No more faults; a stalled connection resumes, a refused listener listens again. */
    calm() {
      state.calm = true;
      state.refuseUntil = 0;
      for (const c of live) c.calm();
      relisten();
    },
    async close() {
      state.closed = true;
      for (const c of [...live]) c.drop();
      if (server.listening) await new Promise((ok) => server.close(() => ok()));
    },
  };
}
