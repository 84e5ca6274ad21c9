// Broker outages through the control endpoint: restart (reconnect, resubscribe, publish
// made during the outage, state sequence) and freeze (keepalive timeout).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { netGate } from '../lib/inits.js';

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
        await t.waitFor(() => events.includes('offline'), 5000, 'offline');
        const stateOffline = c.state;
        const during = c.publish(`${base}/during`, 'queued while offline', { qos: 1 });
        const queuedOffline = c.stats().queued;
        const reconnected = t.once(c, 'connect', 15_000);
        await t.control(env.control, 'start');
        await reconnected;
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
          initialState, stateOffline, queuedOffline, stateAfter, finalState: c.state, events, states,
          delivered: got.items.map((x) => x.text()), packetId: res.packetId, reconnects: c.stats().reconnects,
        };
      } finally {
        await t.control(env.control, 'start').catch(() => {});
        await t.endAll(c);
      }
    }, browser.env);
    assert.equal(r.initialState, 'connected');
    assert.ok(['offline', 'reconnecting'].includes(r.stateOffline), `state while the broker is down: ${r.stateOffline}`);
    assert.equal(r.queuedOffline, 1, 'the publish made while offline is queued');
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

// `connecting` is the state of the first attempt only, which ends before connect() resolves
// and so before any listener can exist: what a listener can see is every later attempt.
test('state events: a listener added when connect() resolves sees reconnect() go reconnecting → (offline → reconnecting)* → connected → closed; the getter follows', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('st'), reconnect: { initialDelay: 200, maxDelay: 200, jitter: 0 } });
      const initial = c.state;
      const seen = t.states(c);
      // New sockets are refused for two attempts, then let through.
      net.block(env.ws);
      c.reconnect();
      await t.waitFor(() => seen.filter(([s]) => s === 'offline').length >= 2, 10_000, () => `two refused attempts: ${JSON.stringify(seen)}`);
      const connected = t.once(c, 'connect', 10_000);
      net.unblock(env.ws);
      await connected;
      await c.end();
      return { initial, seen, final: c.state };
    }, browser.env);
    assert.equal(r.initial, 'connected');
    assert.ok(r.seen.every(([event, getter]) => event === getter), `the getter equals each event: ${JSON.stringify(r.seen)}`);
    const s = r.seen.map(([x]) => x);
    const outage = s.slice(0, -2);
    assert.ok(outage.length >= 5, `reconnecting, then at least two offline → reconnecting rounds: ${s}`);
    outage.forEach((x, i) => assert.equal(x, i % 2 ? 'offline' : 'reconnecting', `state #${i}: ${s}`));
    assert.equal(outage.at(-1), 'reconnecting', `the last attempt: ${s}`);
    assert.deepEqual(s.slice(-2), ['connected', 'closed'], `the last attempt connects, end() closes: ${s}`);
    assert.equal(r.final, 'closed');
  }, { init: netGate }));

test('keepalive: a frozen broker gives KEEPALIVE_TIMEOUT between 1x and 2x keepalive after the last packet received, then reconnects after thaw', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const keepalive = 2;
      const c = await MqttClient.connect(env.ws, {
        clientId: t.uid('ka'), keepalive, reconnect: { initialDelay: 200, maxDelay: 1000 },
      });
      const errors = [];
      c.on('error', (e) => errors.push({ code: e.code, at: performance.now() }));
      try {
        // Pings answered while the broker runs: no timeout before the freeze.
        await t.waitFor(() => c.stats().lastPingRtt !== undefined, 3 * keepalive * 1000, 'a PINGRESP');
        const errorsBeforeFreeze = errors.length;
        await t.control(env.control, 'freeze');
        const frozenAt = performance.now();
        const lastRx = net.lastRx(env.ws);
        await t.waitFor(() => errors.length > errorsBeforeFreeze, 4 * keepalive * 1000, 'an error event');
        const first = errors[errorsBeforeFreeze];
        const reconnected = t.once(c, 'connect', 15_000);
        await t.control(env.control, 'thaw');
        await reconnected;
        return { code: first.code, sinceRx: first.at - lastRx, sinceFreeze: first.at - frozenAt, errorsBeforeFreeze, state: c.state, keepalive };
      } finally {
        await t.control(env.control, 'thaw').catch(() => {});
        await t.endAll(c);
      }
    }, browser.env);
    assert.equal(r.errorsBeforeFreeze, 0);
    assert.equal(r.code, 'KEEPALIVE_TIMEOUT');
    const k = r.keepalive * 1000;
    // The ping goes out at most 1x keepalive after the last packet received (after the last
    // PINGRESP: 1x keepalive after the ping it answered) and its reply gets a full
    // keepalive: the timeout comes 1x to 2x keepalive after that packet. A busy machine may
    // run the timer a little late (the 600 ms margin).
    assert.ok(r.sinceRx >= k - 50, `timeout ${Math.round(r.sinceRx)} ms after the last packet received: earlier than 1x keepalive`);
    assert.ok(r.sinceRx <= 2 * k + 600, `timeout ${Math.round(r.sinceRx)} ms after the last packet received: later than 2x keepalive`);
    assert.ok(r.sinceFreeze > 0);
    assert.equal(r.state, 'connected');
  }, { init: netGate }));
