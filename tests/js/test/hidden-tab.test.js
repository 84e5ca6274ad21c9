// Hidden tabs: browsers throttle a background page's timers (Chrome: after 5 minutes hidden,
// chained timers run about once a minute), which would starve keepalives and reconnect
// delays shorter than that. The client runs its timers in a dedicated worker, whose timers
// are not throttled so, and falls back to the page's timers when no worker can be made.
//
// Throttling is simulated: before the package loads, the page's setTimeout and setInterval
// are replaced by ones that wait 60 s more than asked, as intensive throttling does. A
// client with a 1 s keepalive must then still send PINGREQs every second, get PINGRESPs
// (lastPingRtt) and stay connected, and must reconnect after a cut within its reconnect
// delay, not a minute later. The test page's helpers (window.t) use setTimeout too, so the
// waiting is done from Node.js. The fallback cases (no Worker, a Worker constructor that
// throws, a worker that fails to load and reports an error event, a page whose CSP forbids
// workers) run on the page's own, unthrottled timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { useBrowser, withPage } from '../lib/harness.js';
import { netGate } from '../lib/inits.js';

const browser = useBrowser();
const T = { timeout: 90_000 };
// How long a step may take here; the throttled page timers wait 60 s, so anything that
// still depended on them cannot make it.
const WAIT_MS = 20_000;

/** Page timers that fire 60 s late (intensive throttling); the originals stay reachable. */
function throttle() {
  const st = window.setTimeout;
  const si = window.setInterval;
  window.__pageTimers = { setTimeout: st, setInterval: si, calls: 0 };
  window.setTimeout = (fn, ms = 0, ...a) => { window.__pageTimers.calls += 1; return st(fn, Number(ms) + 60_000, ...a); };
  window.setInterval = (fn, ms = 0, ...a) => si(fn, Number(ms) + 60_000, ...a);
}

/** Counts workers made and ended (window.__workers), wrapping the constructor if there is one. */
function countWorkers() {
  const live = { tried: 0, made: 0, ended: 0 };
  window.__workers = live;
  const W = window.Worker;
  if (!W) return;
  window.Worker = class extends W {
    constructor(...a) { live.tried += 1; super(...a); live.made += 1; }
    terminate() { live.ended += 1; super.terminate(); }
  };
}

/** No Worker at all (an old or a restricted environment). */
function noWorker() {
  delete window.Worker;
}

/** A Worker constructor that throws (a SecurityError, as for a URL the page may not load). */
function throwingWorker() {
  window.Worker = class {
    constructor() { throw new DOMException('worker-src forbids it', 'SecurityError'); }
  };
}

/** A worker whose script fails to load: constructed fine, then an error event. */
function failingWorker() {
  const W = window.Worker;
  window.Worker = class extends W {
    constructor(url, ...a) { super('/no-such-worker.js', ...a); }
  };
}

const inits = (...fns) => new Function(fns.map((f) => `(${f})();`).join('\n'));

/** Polls `fn` in the page until it gives a truthy value (from Node.js: page timers may be throttled). */
async function until(page, fn, arg, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > deadline) {
      const s = await page.evaluate(() => JSON.stringify({ ...window.ka?.summary(), workers: window.__workers }));
      throw new Error(`not within ${ms} ms: ${what} (${s})`);
    }
    await sleep(50);
  }
}

/**
 * Connects a client with keepalive 1 s whose socket records the PINGREQs it sends and the
 * connects, errors and states it goes through (window.ka).
 */
function connect(page, env, options = {}) {
  return page.evaluate(async ({ env, options }) => {
    const { MqttClient } = window.mqtt;
    // connects: the reconnects (listened to after the first CONNACK).
    const s = { pings: [], connects: [], errors: [] };
    const Ws = window.WebSocket;
    class Recorded extends Ws {
      send(data) {
        // A PINGREQ alone, or first in a batch.
        const first = new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, 1)[0];
        if (first === 0xc0) s.pings.push(performance.now());
        return super.send(data);
      }
    }
    const c = await MqttClient.connect(env.ws, {
      clientId: `hidden-${Math.random().toString(36).slice(2, 10)}`, keepalive: 1,
      reconnect: { initialDelay: 300, maxDelay: 600 }, WebSocket: Recorded, ...options,
    });
    s.c = c;
    c.on('connect', () => s.connects.push(performance.now()));
    c.on('error', (e) => s.errors.push(e.code));
    s.summary = () => ({
      pings: s.pings.length, connects: s.connects.length, errors: s.errors, state: c.state,
      stats: c.stats(),
    });
    window.ka = s;
  }, { env, options });
}

/** Waits for `n` more PINGREQs each answered (lastPingRtt set); their spacing in ms. */
async function pings(page, n) {
  const from = await page.evaluate(() => window.ka.pings.length);
  await until(page, ({ from, n }) => window.ka.pings.length >= from + n && window.ka.c.stats().lastPingRtt !== undefined,
    { from, n }, `${n} PINGREQs`);
  return page.evaluate(({ from, n }) => {
    const p = window.ka.pings.slice(from, from + n);
    return p.slice(1).map((x, i) => Math.round(x - p[i]));
  }, { from, n });
}

/** Cuts the connection and waits for the client to be back; ms from the cut to CONNACK. */
async function cutAndReconnect(page, env) {
  const before = await page.evaluate(({ ws }) => {
    window.ka.cutAt = performance.now();
    const n = window.ka.connects.length;
    window.net.cut(ws);
    return n;
  }, env);
  await until(page, (n) => window.ka.connects.length > n && window.ka.c.state === 'connected', before, 'a reconnect after the cut');
  return page.evaluate(() => Math.round(window.ka.connects.at(-1) - window.ka.cutAt));
}

async function end(page) {
  await page.evaluate(() => window.ka?.c.end({ force: true }));
}

test('throttled page timers: a 1 s keepalive still pings every second and stays connected on the worker\'s timers', T, () =>
  withPage(browser, async (page) => {
    const { env } = browser;
    await connect(page, env);
    try {
      const gaps = await pings(page, 6);
      const s = await page.evaluate(() => window.ka.summary());
      console.log(`PINGREQ every ${gaps.join(', ')} ms (keepalive 1000 ms); lastPingRtt ${s.stats.lastPingRtt} ms`);
      assert.equal(s.state, 'connected');
      assert.equal(s.connects, 0, 'no reconnect while pinging');
      assert.deepEqual(s.errors, []);
      assert.equal(s.stats.reconnects, 0);
      const w = await page.evaluate(() => window.__workers);
      assert.deepEqual(w, { tried: 1, made: 1, ended: 0 }, 'one timer worker');
    } finally {
      await end(page);
    }
  }, { init: inits(countWorkers, throttle) }));

test('throttled page timers: a dropped connection is reconnected after the reconnect delay, and pings go on', T, () =>
  withPage(browser, async (page) => {
    const { env } = browser;
    await connect(page, env);
    try {
      await pings(page, 2);
      const first = await cutAndReconnect(page, env);
      const second = await cutAndReconnect(page, env);
      const gaps = await pings(page, 3);
      console.log(`reconnected ${first} ms and ${second} ms after a cut (reconnect initialDelay 300 ms, maxDelay 600 ms); PINGREQ every ${gaps.join(', ')} ms after`);
      const s = await page.evaluate(() => window.ka.summary());
      assert.equal(s.state, 'connected');
      assert.equal(s.connects, 2);
    } finally {
      await end(page);
    }
  }, { init: inits(netGate, throttle) }));

// The signaling announces its presence every 15 s (HEARTBEAT_MS) and others drop a peer
// silent for 45 s. On throttled page timers a hidden tab would announce once a minute and
// flicker out of every room; on the worker's timers it stays on time.
test('throttled page timers: a signaling peer still announces its presence every 15 s', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(async ({ env }) => {
      const { MqttClient, MqttSignaling } = await import('/pkg/mqtt_rtc.js');
      const room = `hb-${Math.random().toString(36).slice(2, 10)}`;
      const watcher = await MqttClient.connect(env.ws, { clientId: `${room}-w`, reconnect: false });
      const seen = [];
      await watcher.subscribe(`mqtt-rtc/${room}/presence/+`, {}, (m) => seen.push({ at: performance.now(), bytes: m.payload.length }));
      const client = await MqttClient.connect(env.ws, { clientId: `${room}-c`, reconnect: false });
      const s = new MqttSignaling(client, { room, peerId: 'hidden' });
      await s.start();
      window.hb = { seen, watcher, client, s };
    }, { env: browser.env });
    try {
      // The announcement at start(), then the first heartbeat 15 s later (75 s on the page's timers).
      await until(page, () => window.hb.seen.length >= 2, undefined, 'the first heartbeat', 30_000);
      const seen = await page.evaluate(() => window.hb.seen);
      const gap = Math.round(seen[1].at - seen[0].at);
      console.log(`presence announced at start() and again ${gap} ms later (heartbeat 15000 ms)`);
      assert.ok(seen[0].bytes > 0 && seen[1].bytes > 0, 'both announce the peer (not an empty retained message)');
      assert.ok(gap >= 14_000 && gap < 25_000, `heartbeat after ${gap} ms`);
    } finally {
      await page.evaluate(async () => {
        await window.hb.s.stop().catch(() => {});
        await window.hb.client.end({ force: true });
        await window.hb.watcher.end({ force: true });
      });
    }
  }, { init: inits(countWorkers, throttle), entry: 'main' }));

test('clients share one timer worker, ended once no client needs it and made again for the next', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async ({ env }) => {
      const { MqttClient } = window.mqtt;
      const w = window.__workers;
      const open = () => MqttClient.connect(env.ws, { clientId: t.uid('hw'), keepalive: 5 });
      const cs = await Promise.all([open(), open(), open()]);
      const during = { ...w };
      await Promise.all(cs.map((c) => c.end()));
      await t.waitFor(() => w.ended === w.made, 5000, 'the worker ended');
      const after = { ...w };
      const again = await open();
      const reopened = { ...w };
      await again.end();
      await t.waitFor(() => w.ended === w.made, 5000, 'the worker ended again');
      return { during, after, reopened, last: { ...w } };
    }, { env: browser.env });
    assert.deepEqual(r.during, { tried: 1, made: 1, ended: 0 }, 'three clients, one worker');
    assert.deepEqual(r.after, { tried: 1, made: 1, ended: 1 }, 'no client left, no worker');
    assert.deepEqual(r.reopened, { tried: 2, made: 2, ended: 1 }, 'a new client, a new worker');
    assert.deepEqual(r.last, { tried: 2, made: 2, ended: 2 });
  }, { init: countWorkers }));

/** Keepalive and a reconnect on the page's timers; what became of the workers tried. */
async function onPageTimers(page, name) {
  const { env } = browser;
  await connect(page, env);
  try {
    const gaps = await pings(page, 3);
    const back = await cutAndReconnect(page, env);
    await pings(page, 2);
    const s = await page.evaluate(() => window.ka.summary());
    const w = await page.evaluate(() => window.__workers);
    console.log(`${name}: PINGREQ every ${gaps.join(', ')} ms; reconnected ${back} ms after a cut; workers ${JSON.stringify(w)}`);
    assert.equal(s.state, 'connected');
    assert.equal(s.connects, 1);
    return w;
  } finally {
    await end(page);
  }
}

// The fallback: the page's own timers, unthrottled here (the throttled case needs a worker).
for (const [name, init, workers] of [
  ['no Worker', noWorker, { tried: 0, made: 0, ended: 0 }],
  ['a Worker constructor that throws', throwingWorker, { tried: 0, made: 0, ended: 0 }],
  ['a worker that fails to load (error event)', failingWorker, { tried: 1, made: 1, ended: 1 }],
]) {
  test(`${name}: the client keeps alive and reconnects on the page's timers`, T, () =>
    withPage(browser, async (page) => {
      const w = await onPageTimers(page, name);
      assert.deepEqual(w, workers, 'a worker that failed was ended, and no other tried');
    }, { init: inits(netGate, countWorkers, init) }));
}

test('a page whose CSP forbids workers: the client keeps alive and reconnects on the page\'s timers', T, () =>
  withPage(browser, async (page) => {
    // Served again under `worker-src 'none'`: the browser refuses the worker, by throwing
    // in the constructor or (Chromium and Firefox here) with an error event.
    const origin = await page.evaluate(() => location.origin);
    await page.goto(`${origin}/index.html?csp=${encodeURIComponent("worker-src 'none'")}`);
    await until(page, () => window.mqttReady || window.mqttLoadError, undefined, 'the package loaded');
    const w = await onPageTimers(page, 'CSP worker-src \'none\'');
    assert.equal(w.tried, 1, 'one worker tried');
    assert.equal(w.ended, w.made, 'a worker made was ended');
  }, { init: inits(netGate, countWorkers) }));
