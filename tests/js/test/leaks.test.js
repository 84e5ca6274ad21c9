// Resource hygiene: clients connected and ended in a loop leave no open WebSocket, no
// pending timer, no running timer worker, no `online` listener on the window and no
// `abort` listener on the AbortSignal each was given. The page's WebSocket, timer, Worker
// and addEventListener / removeEventListener functions are wrapped (before the package
// loads) to count what is live.
//
// Each connection takes about 0.2 s here: Chromium opens one WebSocket to a host at a
// time and Mosquitto's WebSocket handshake is slow, so the 1,000 clients take over three
// minutes; MQTT_RTC_LEAK_CLIENTS=200 runs a shorter loop while working on this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const CLIENTS = Number(process.env.MQTT_RTC_LEAK_CLIENTS || 1000);

function instrument() {
  const live = { sockets: 0, timers: new Set(), opened: 0 };
  window.__live = live;
  const Ws = window.WebSocket;
  window.WebSocket = class extends Ws {
    constructor(...args) {
      super(...args);
      live.sockets += 1;
      live.opened += 1;
      this.addEventListener('close', () => { live.sockets -= 1; });
    }
  };
  const st = window.setTimeout.bind(window);
  const ct = window.clearTimeout.bind(window);
  window.setTimeout = (fn, ms, ...a) => {
    const id = st((...x) => { live.timers.delete(id); if (typeof fn === 'function') fn(...x); }, ms, ...a);
    live.timers.add(id);
    return id;
  };
  window.clearTimeout = (id) => { live.timers.delete(id); ct(id); };
  // The client's timers run in a worker shared by the page's clients: a worker left
  // running would hold a timer the wrappers above cannot see.
  const W = window.Worker;
  live.workers = 0;
  live.workersMade = 0;
  window.Worker = class extends W {
    constructor(...args) { super(...args); live.workers += 1; live.workersMade += 1; }
    terminate() { live.workers -= 1; super.terminate(); }
  };
  // Listeners by kind: `online` on the global object, `abort` on any AbortSignal.
  live.listeners = { online: new Set(), abort: new Set() };
  live.added = { online: 0, abort: 0 };
  const kindOf = (target, type) => (type === 'online' && target === window ? 'online'
    : type === 'abort' && target instanceof AbortSignal ? 'abort' : null);
  const keys = new WeakMap();
  const keyOf = (target, listener) => {
    let m = keys.get(target);
    if (!m) { m = new Map(); keys.set(target, m); }
    if (!m.has(listener)) m.set(listener, {});
    return m.get(listener);
  };
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, ...rest) {
    const kind = kindOf(this, type);
    if (kind && listener) {
      const key = keyOf(this, listener);
      if (!live.listeners[kind].has(key)) { live.listeners[kind].add(key); live.added[kind] += 1; }
    }
    return add.call(this, type, listener, ...rest);
  };
  EventTarget.prototype.removeEventListener = function (type, listener, ...rest) {
    const kind = kindOf(this, type);
    if (kind && listener) live.listeners[kind].delete(keyOf(this, listener));
    return remove.call(this, type, listener, ...rest);
  };
}

test(`${CLIENTS} clients connected and ended leave no open sockets, no pending timers, no running timer worker, no online or abort listeners`, { timeout: 60_000 + CLIENTS * 400 }, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async ({ env, N }) => {
      const { MqttClient } = window.mqtt;
      const live = window.__live;
      const settle = async () => { for (let i = 0; i < 20 && (live.sockets || live.timers.size); i++) await new Promise((ok) => requestAnimationFrame(() => ok())); };
      await settle();
      const counts = () => ({
        sockets: live.sockets, timers: live.timers.size, workers: live.workers,
        online: live.listeners.online.size, abort: live.listeners.abort.size,
      });
      const baseline = counts();
      const leaked = () => Object.entries(counts()).some(([k, v]) => v > baseline[k]);
      let peak = { online: 0, abort: 0 };
      const t0 = performance.now();
      const batch = 20;
      for (let i = 0; i < N; i += batch) {
        const clients = await Promise.all(Array.from({ length: batch }, (_, k) =>
          MqttClient.connect(env.ws, {
            clientId: `leak-${i + k}-${Math.random().toString(36).slice(2, 8)}`, keepalive: 30,
            signal: new AbortController().signal,
          })));
        peak = { online: Math.max(peak.online, live.listeners.online.size), abort: Math.max(peak.abort, live.listeners.abort.size) };
        await Promise.all(clients.map((c, k) => ((i + k) % 2 ? c.end() : c.end({ force: true }))));
      }
      // Sockets close asynchronously, and ended clients release their resources on a
      // later turn: wait (bounded) for both to drain.
      const deadline = performance.now() + 15_000;
      while (performance.now() < deadline && leaked()) {
        await new Promise((ok) => requestAnimationFrame(() => ok()));
      }
      return { baseline, ...counts(), peak, added: live.added, opened: live.opened, workersMade: live.workersMade, ms: performance.now() - t0 };
    }, { env: browser.env, N: CLIENTS });
    assert.ok(CLIENTS >= 20, `MQTT_RTC_LEAK_CLIENTS=${CLIENTS}: a leak test needs clients (at least one batch of 20)`);
    assert.equal(r.opened, CLIENTS, 'one socket per client');
    // The wrappers saw what each client adds, so the counts below can show a leak.
    assert.ok(r.added.abort >= CLIENTS, `an abort listener per client's signal: ${JSON.stringify(r)}`);
    assert.ok(r.added.online >= 1 && r.peak.online >= 1, `online listeners seen: ${JSON.stringify(r)}`);
    assert.ok(r.peak.abort >= 20, `a batch's abort listeners live at once: ${JSON.stringify(r)}`);
    assert.equal(r.sockets, r.baseline.sockets, `open sockets: ${JSON.stringify(r)}`);
    assert.equal(r.timers, r.baseline.timers, `pending timers: ${JSON.stringify(r)}`);
    assert.ok(r.workersMade >= 1, `the clients' timers ran in a worker: ${JSON.stringify(r)}`);
    assert.equal(r.workers, r.baseline.workers, `running timer workers: ${JSON.stringify(r)}`);
    assert.equal(r.online, r.baseline.online, `online listeners: ${JSON.stringify(r)}`);
    assert.equal(r.abort, r.baseline.abort, `abort listeners: ${JSON.stringify(r)}`);
  }, { init: instrument }));
