// Resource hygiene: clients connected and ended in a loop leave no open WebSocket and no
// pending timer. The page's WebSocket and timer functions are wrapped (before the
// package loads) to count what is live.
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
}

test(`${CLIENTS} clients connected and ended leave no open sockets and no pending timers`, { timeout: 60_000 + CLIENTS * 400 }, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async ({ env, N }) => {
      const { MqttClient } = window.mqtt;
      const live = window.__live;
      const settle = async () => { for (let i = 0; i < 20 && (live.sockets || live.timers.size); i++) await new Promise((ok) => requestAnimationFrame(() => ok())); };
      await settle();
      const baseline = { sockets: live.sockets, timers: live.timers.size };
      const t0 = performance.now();
      const batch = 20;
      for (let i = 0; i < N; i += batch) {
        const clients = await Promise.all(Array.from({ length: batch }, (_, k) =>
          MqttClient.connect(env.ws, { clientId: `leak-${i + k}-${Math.random().toString(36).slice(2, 8)}`, keepalive: 30 })));
        await Promise.all(clients.map((c, k) => ((i + k) % 2 ? c.end() : c.end({ force: true }))));
      }
      // Sockets close asynchronously, and ended clients release their resources on a
      // later turn: wait (bounded) for both to drain.
      const deadline = performance.now() + 15_000;
      while (performance.now() < deadline && (live.sockets > baseline.sockets || live.timers.size > baseline.timers)) {
        await new Promise((ok) => requestAnimationFrame(() => ok()));
      }
      return { baseline, sockets: live.sockets, timers: live.timers.size, opened: live.opened, ms: performance.now() - t0 };
    }, { env: browser.env, N: CLIENTS });
    assert.equal(r.opened, CLIENTS, 'one socket per client');
    assert.equal(r.sockets, r.baseline.sockets, `open sockets: ${JSON.stringify(r)}`);
    assert.equal(r.timers, r.baseline.timers, `pending timers: ${JSON.stringify(r)}`);
  }, { init: instrument }));
