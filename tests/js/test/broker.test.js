// Broker outages through the control endpoint: restart (reconnect, resubscribe, publish
// made during the outage, state sequence) and freeze (keepalive timeout).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

test('broker restart: reconnects by itself, restores subscriptions, delivers a publish made during the outage', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('restart');
      const events = [];
      const states = [];
      const reconnect = { initialDelay: 200, maxDelay: 1000 };
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('rs'), reconnect });
      const initialState = c.state;
      for (const e of ['offline', 'reconnecting', 'connect', 'close']) c.on(e, () => events.push(e));
      c.on('state', (s) => states.push(s));
      const got = t.sink();
      await c.subscribe(`${base}/#`, { qos: 1 }, got.fn);
      try {
        await t.control(env.control, 'stop');
        await t.within(new Promise((ok) => { const l = () => { c.off('offline', l); ok(); }; c.on('offline', l); }), 5000, 'offline')
          .catch(() => {});
        const stateOffline = c.state;
        const during = c.publish(`${base}/during`, 'queued while offline', { qos: 1 });
        await t.sleep(800);
        await t.control(env.control, 'start');
        await t.once(c, 'connect', 10_000).catch(() => {});
        const res = await t.within(during, 10_000, 'publish made during the outage');
        const [m] = await got.until(1, 10_000);
        // The subscription is back: a fresh publish from another client arrives too.
        const other = await MqttClient.connect(env.ws, { clientId: t.uid('rso') });
        await other.publish(`${base}/after`, 'after', { qos: 1 });
        await got.until(2, 5000);
        await other.end();
        const stateAfter = c.state;
        await c.end();
        return {
          initialState, stateOffline, stateAfter, finalState: c.state, events, states,
          delivered: got.items.map((x) => x.text()), packetId: res.packetId, reconnects: c.stats().reconnects,
        };
      } finally {
        await t.control(env.control, 'start').catch(() => {});
        await t.endAll(c);
      }
    }, browser.env);
    assert.equal(r.initialState, 'connected');
    assert.ok(['offline', 'reconnecting'].includes(r.stateOffline), `state while the broker is down: ${r.stateOffline}`);
    assert.equal(r.stateAfter, 'connected');
    assert.equal(r.finalState, 'closed');
    assert.deepEqual(r.delivered, ['queued while offline', 'after']);
    assert.ok(r.packetId > 0);
    assert.ok(r.reconnects >= 1, `stats().reconnects ${r.reconnects}`);
    const firstOffline = r.events.indexOf('offline');
    const firstReconnecting = r.events.indexOf('reconnecting');
    const lastConnect = r.events.lastIndexOf('connect');
    assert.ok(firstOffline >= 0 && firstReconnecting > firstOffline && lastConnect > firstReconnecting,
      `offline, reconnecting, then connect: ${r.events}`);
    assert.equal(r.events.at(-1), 'close', `close last: ${r.events}`);
    // States: connected → offline/reconnecting … → connected → closed.
    const s = r.states;
    assert.ok(s.length >= 3, `state events: ${s}`);
    assert.ok(['offline', 'reconnecting'].includes(s[0]), `first state change: ${s}`);
    assert.equal(s.at(-2), 'connected', `connected again before closing: ${s}`);
    assert.equal(s.at(-1), 'closed', `closed last: ${s}`);
    assert.ok(s.slice(0, -2).every((x) => ['offline', 'reconnecting', 'connecting'].includes(x)), `outage states: ${s}`);
  }));

test('state events from the start: connecting → connected, and the state getter follows', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      // Listeners can only be added once connect() resolves, so watch the getter instead:
      // a failed-over first URL keeps the client connecting for a while.
      const states = [];
      const p = MqttClient.connect(['ws://127.0.0.1:9', env.ws], { reconnect: { initialDelay: 300, maxDelay: 300 } });
      const c = await t.within(p, 10_000, 'connect via the second URL');
      states.push(c.state);
      const seen = [];
      c.on('state', (s) => seen.push(s));
      c.reconnect();
      await t.once(c, 'connect', 5000);
      await c.end();
      return { states, seen, final: c.state };
    }, browser.env);
    assert.deepEqual(r.states, ['connected']);
    assert.equal(r.seen.at(-1), 'closed');
    assert.equal(r.seen.at(-2), 'connected');
    assert.ok(r.seen.slice(0, -2).length >= 1, `reconnect() goes through another state first: ${r.seen}`);
    assert.equal(r.final, 'closed');
  }));

test('keepalive: a frozen broker gives KEEPALIVE_TIMEOUT within 1.5x keepalive, then reconnects after thaw', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, {
        clientId: t.uid('ka'), keepalive: 2, reconnect: { initialDelay: 200, maxDelay: 1000 },
      });
      const errors = t.record(c, 'error');
      try {
        await t.control(env.control, 'freeze');
        const t0 = performance.now();
        const first = await t.within(new Promise((ok) => {
          const poll = setInterval(() => { if (errors.items.length) { clearInterval(poll); ok(errors.items[0]); } }, 20);
        }), 10_000, 'an error event');
        const elapsed = performance.now() - t0;
        await t.control(env.control, 'thaw');
        await t.once(c, 'connect', 15_000);
        const state = c.state;
        return { code: first.code, elapsed, state };
      } finally {
        await t.control(env.control, 'thaw').catch(() => {});
        await t.endAll(c);
      }
    }, browser.env);
    assert.equal(r.code, 'KEEPALIVE_TIMEOUT');
    // The last packet may have been sent up to one keepalive before the freeze.
    assert.ok(r.elapsed <= 1.5 * 2000 + 1000, `timeout after ${Math.round(r.elapsed)} ms`);
    assert.equal(r.state, 'connected');
  }));
