// Will messages and persistent sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { netGate } from '../lib/inits.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

/**
 * A watcher subscribes to `<base>/#`, a client with a Will on `<base>/will` ends with
 * `end`, then the watcher publishes a marker on `<base>/marker`: the broker handles the
 * ended connection before the marker (end() resolves once the socket is closed), so
 * everything the Will would send is in by the time the marker arrives.
 */
async function willScenario(page, end) {
  return page.evaluate(async ({ env, end }) => {
    const { MqttClient } = window.mqtt;
    const base = t.uid('will');
    const watcher = await MqttClient.connect(env.ws, { clientId: t.uid('watch') });
    try {
      const got = t.sink();
      await watcher.subscribe(`${base}/#`, { qos: 1 }, got.fn);
      const c = await MqttClient.connect(env.ws, {
        clientId: t.uid('w'), will: { topic: `${base}/will`, payload: 'gone', qos: 1 },
      });
      await c.end(end);
      if (end?.force) await got.until(1, 5000);
      await watcher.publish(`${base}/marker`, 'marker', { qos: 1 });
      await t.waitFor(() => got.items.some((m) => m.topic === `${base}/marker`), 5000, 'the marker');
      return {
        items: got.items.filter((m) => m.topic !== `${base}/marker`).map((m) => [m.text(), m.qos]),
        state: c.state,
      };
    } finally {
      await t.endAll(watcher);
    }
  }, { env: browser.env, end });
}

test('the Will is published when the socket dies without DISCONNECT (end({force: true}))', T, () =>
  withPage(browser, async (page) => {
    const r = await willScenario(page, { force: true });
    assert.deepEqual(r, { items: [['gone', 1]], state: 'closed' });
  }));

test('no Will after a graceful end() (DISCONNECT sent)', T, () =>
  withPage(browser, async (page) => {
    const r = await willScenario(page, undefined);
    assert.deepEqual(r, { items: [], state: 'closed' });
  }));

test('persistent session: QoS 1/2 messages published while away arrive after reconnecting, QoS 2 exactly once', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('persist');
      const out = {};
      for (const protocolVersion of [4, 5]) {
        const clientId = t.uid(`p${protocolVersion}`);
        // The listeners are in place before the connection drops, so nothing the broker
        // sends after the new CONNACK can be missed. resubscribe: false, so the messages
        // can only come from the session the broker kept.
        const c = await MqttClient.connect(env.ws, {
          clientId, clean: false, protocolVersion, resubscribe: false,
          reconnect: { initialDelay: 100, maxDelay: 300 },
        });
        const got = t.sink();
        await c.subscribe(`${base}/${protocolVersion}/#`, { qos: 2 }, got.fn);
        const seen = [];
        const connects = [];
        c.on('message', (m) => seen.push({ text: m.text(), qos: m.qos, dup: m.dup }));
        c.on('connect', (i) => connects.push(i.sessionPresent));
        // Away: the socket is cut (no DISCONNECT) and new ones are refused until the
        // other client's messages are all stored by the broker.
        const offline = t.once(c, 'offline', 5000);
        net.block(env.ws);
        net.cut(env.ws);
        await offline;
        const pub = await MqttClient.connect(env.wsAuth, { clientId: t.uid('pub'), username: env.user, password: env.pass });
        const sent = [];
        for (let i = 0; i < 5; i++) {
          for (const qos of [1, 2]) {
            const text = `q${qos}-${i}`;
            await pub.publish(`${base}/${protocolVersion}/${qos}`, text, { qos });
            sent.push(text);
          }
        }
        await pub.end();
        net.unblock(env.ws);
        await got.until(sent.length, 15_000);
        // A marker after the backlog: any duplicate would have arrived before it.
        await c.publish(`${base}/${protocolVersion}/marker`, 'marker', { qos: 1 });
        await got.until(sent.length + 1, 5000);
        out[protocolVersion] = { sent, seen: seen.filter((m) => m.text !== 'marker'), connects, state: c.state };
        await c.end();
        // Drop the session so the broker forgets it.
        const clean = await MqttClient.connect(env.ws, { clientId, clean: true, protocolVersion });
        await clean.end();
      }
      return out;
    }, browser.env);
    for (const v of [4, 5]) {
      const { sent, seen, connects, state } = r[v];
      assert.deepEqual(seen.map((m) => m.text).sort(), [...sent].sort(), `v${v}: every message once: ${JSON.stringify(seen)}`);
      for (const m of seen) assert.equal(m.qos, Number(m.text[1]), `v${v}: ${m.text} keeps its QoS`);
      // Queued by the broker while away, so sent for the first time after the reconnect.
      assert.ok(seen.every((m) => m.dup === false), `v${v}: first deliveries are not dup: ${JSON.stringify(seen)}`);
      assert.deepEqual(connects, [true], `v${v}: the reconnect found the session (sessionPresent)`);
      assert.equal(state, 'connected');
    }
  }, { init: netGate }));
