// What the README promises about dropped connections, each shown in a browser: a
// persistent session survives a broker restart, unacknowledged QoS 1/2 publishes are sent
// again after a drop (QoS 2 delivered exactly once), and publishes made while offline are
// flushed in order, within the queue's bounds.
//
// Order is checked per QoS level: MQTT keeps the order of one publisher's messages of the
// same QoS on a topic, and Mosquitto forwards a QoS 2 message only once PUBREL completes
// it, after QoS 0/1 messages sent behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { netGate } from '../lib/inits.js';

const browser = useBrowser();

/** Texts ending in q<n>, grouped by n in arrival order. */
function perQos(texts) {
  const out = {};
  for (const x of texts) (out[x.at(-1)] ??= []).push(x);
  return out;
}
const T = { timeout: 90_000 };

test('persistent session across a broker restart: messages published while the broker was down, and while the subscriber was away, arrive once (v5 and v4)', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const out = {};
      for (const protocolVersion of [5, 4]) {
        const base = t.uid(`restart${protocolVersion}`);
        const reconnect = { initialDelay: 100, maxDelay: 300 };
        // The subscriber uses the anonymous listener (which the page can block), the
        // publisher the authenticated one (never blocked). resubscribe: false, so the
        // messages can only come from the session the broker kept on disk.
        const sub = await MqttClient.connect(env.ws, { clientId: t.uid('rs'), clean: false, protocolVersion, resubscribe: false, reconnect });
        const pub = await MqttClient.connect(env.wsAuth, { clientId: t.uid('rp'), username: env.user, password: env.pass, reconnect });
        const got = t.sink();
        const connects = [];
        try {
          await sub.subscribe(`${base}/#`, { qos: 2 }, got.fn);
          sub.on('connect', (i) => connects.push(i.sessionPresent));
          net.block(env.ws);
          const down = Promise.all([t.once(sub, 'offline'), t.once(pub, 'offline')]);
          await t.control(env.control, 'stop');
          await down;
          // Published while the broker is down: queued by the publisher.
          const whileDown = [1, 2, 1, 2].map((qos, i) => pub.publish(`${base}/t`, `down-${i}-q${qos}`, { qos }));
          const pubBack = t.once(pub, 'connect', 15_000);
          await t.control(env.control, 'start');
          await pubBack;
          await t.within(Promise.all(whileDown), 10_000, 'the publishes made while the broker was down');
          // Published after the restart while the subscriber is still away.
          for (const [i, qos] of [1, 2].entries()) await pub.publish(`${base}/t`, `away-${i}-q${qos}`, { qos });
          const subBack = t.once(sub, 'connect', 15_000);
          net.unblock(env.ws);
          await subBack;
          await got.until(6, 10_000);
          await pub.publish(`${base}/t`, 'marker', { qos: 1 });
          await got.until(7, 5000);
          out[protocolVersion] = { got: got.items.map((m) => [m.text(), m.qos]), connects };
        } finally {
          net.unblock(env.ws);
          await t.control(env.control, 'start').catch(() => {});
          await t.endAll(sub, pub);
          const clean = await MqttClient.connect(env.ws, { clientId: sub.clientId, clean: true, protocolVersion });
          await clean.end();
        }
      }
      return out;
    }, browser.env);
    for (const v of [5, 4]) {
      assert.deepEqual(r[v].connects, [true], `v${v}: the session was on the broker after its restart`);
      const got = r[v].got.filter(([x]) => x !== 'marker');
      assert.deepEqual(got.map(([x]) => x).sort(), ['away-0-q1', 'away-1-q2', 'down-0-q1', 'down-1-q2', 'down-2-q1', 'down-3-q2'], `v${v}: each once: ${JSON.stringify(got)}`);
      assert.ok(got.every(([x, qos]) => x.endsWith(`q${qos}`)), `v${v}: each with its QoS`);
      assert.deepEqual(perQos(got.map(([x]) => x)), {
        1: ['down-0-q1', 'down-2-q1', 'away-0-q1'], 2: ['down-1-q2', 'down-3-q2', 'away-1-q2'],
      }, `v${v}: in order per QoS`);
    }
  }, { init: netGate }));

test('unacknowledged QoS 1/2 publishes are sent again after a drop: every promise resolves, QoS 2 arrives exactly once', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('resend');
      const reconnect = { initialDelay: 100, maxDelay: 300 };
      const sub = await MqttClient.connect(env.wsAuth, { clientId: t.uid('rss'), username: env.user, password: env.pass, reconnect });
      const pub = await MqttClient.connect(env.ws, { clientId: t.uid('rsp'), clean: false, reconnect });
      const got = t.sink();
      try {
        await sub.subscribe(`${base}/#`, { qos: 2 }, got.fn);
        // The broker stops reading: the publishes are written and never acknowledged.
        await t.control(env.control, 'freeze');
        const sent = [];
        const results = [];
        for (let i = 0; i < 6; i++) {
          const qos = 1 + (i % 2);
          sent.push(`m${i}-q${qos}`);
          results.push(pub.publish(`${base}/t`, `m${i}-q${qos}`, { qos }).then((x) => ({ ok: x }), (e) => ({ code: e.code })));
        }
        await t.waitFor(() => pub.stats().inflight === 6, 5000, 'six publishes in flight');
        // The drop: the broker dies with them unread, and comes back. The publisher may
        // reconnect only once the subscriber has its subscription back.
        net.block(env.ws);
        const subBack = t.once(sub, 'connect', 20_000);
        await t.control(env.control, 'kill');
        await t.control(env.control, 'start');
        await subBack;
        await sub.publish(`${base}/probe`, 'probe', { qos: 1 });
        await got.until(1, 5000);
        const pubBack = t.once(pub, 'connect', 15_000);
        net.unblock(env.ws);
        const info = await pubBack;
        const settled = await t.within(Promise.all(results), 15_000, 'every publish settles');
        await got.until(1 + sent.length, 10_000);
        await pub.publish(`${base}/t`, 'marker', { qos: 1 });
        await t.waitFor(() => got.items.some((m) => m.text() === 'marker'), 5000, 'the marker');
        return {
          sent, settled, sessionPresent: info.sessionPresent, inflight: pub.stats().inflight,
          got: got.items.map((m) => m.text()).filter((x) => x !== 'probe' && x !== 'marker'),
        };
      } finally {
        net.unblock(env.ws);
        await t.control(env.control, 'thaw').catch(() => {});
        await t.control(env.control, 'start').catch(() => {});
        await t.endAll(sub, pub);
      }
    }, browser.env);
    assert.ok(r.settled.every((x) => x.ok && x.ok.reasonCode < 0x80), `every publish resolved: ${JSON.stringify(r.settled)}`);
    assert.equal(r.inflight, 0);
    for (const m of r.sent) {
      const n = r.got.filter((x) => x === m).length;
      if (m.endsWith('q2')) assert.equal(n, 1, `${m} exactly once: ${r.got}`);
      else assert.ok(n >= 1, `${m} at least once: ${r.got}`);
    }
  }, { init: netGate }));

/**
 * Takes a client offline (socket cut, new ones refused), runs `whileOffline(c)`, lets it
 * back and returns what a subscriber on the other listener got, in order.
 */
const OFFLINE = async () => {
  window.offline = async (env, queue, whileOffline) => {
    const { MqttClient } = window.mqtt;
    const base = t.uid('queue');
    const sub = await MqttClient.connect(env.wsAuth, { clientId: t.uid('qs'), username: env.user, password: env.pass });
    const c = await MqttClient.connect(env.ws, { clientId: t.uid('qc'), queue, reconnect: { initialDelay: 100, maxDelay: 200 } });
    const got = t.sink();
    try {
      await sub.subscribe(`${base}/#`, { qos: 2 }, got.fn);
      net.block(env.ws);
      const offline = t.once(c, 'offline');
      net.cut(env.ws);
      await offline;
      const topic = `${base}/t`;
      const publish = (text, qos = 1) => c.publish(topic, text, { qos }).then(() => 'ok', (e) => e.code);
      const results = await whileOffline(publish, topic);
      const queued = c.stats().queued;
      const back = t.once(c, 'connect', 10_000);
      net.unblock(env.ws);
      await back;
      const settled = await t.within(Promise.all(results.promises), 10_000, 'the queued publishes');
      await c.publish(topic, 'marker', { qos: 1 });
      await t.waitFor(() => got.items.some((m) => m.text() === 'marker'), 5000, 'the marker');
      return { immediate: results.immediate, settled, queued, got: got.items.map((m) => m.text()).filter((x) => x !== 'marker') };
    } finally {
      net.unblock(env.ws);
      await t.endAll(sub, c);
    }
  };
};

test('offline queue, overflow "reject": publishes beyond maxMessages fail with QUEUE_FULL at once; the rest are flushed in order', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(OFFLINE);
    const r = await page.evaluate((env) => offline(env, { maxMessages: 5 }, async (publish) => {
      const promises = ['q0', 'q1', 'q2', 'q1b', 'q0b'].map((x) => publish(x, Number(x[1])));
      const immediate = await Promise.all([publish('over-1'), publish('over-2', 0)]);
      return { promises, immediate };
    }), browser.env);
    assert.deepEqual(r.immediate, ['QUEUE_FULL', 'QUEUE_FULL']);
    assert.equal(r.queued, 5);
    assert.deepEqual(r.settled, ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.deepEqual([...r.got].sort(), ['q0', 'q0b', 'q1', 'q1b', 'q2'], 'each flushed once, nothing over the bound');
    const byQos = { 0: r.got.filter((x) => x[1] === '0'), 1: r.got.filter((x) => x[1] === '1') };
    assert.deepEqual(byQos, { 0: ['q0', 'q0b'], 1: ['q1', 'q1b'] }, 'in order per QoS');
  }, { init: netGate }));

test('offline queue, overflow "drop-oldest": the oldest publishes fail with QUEUE_FULL; the newest are flushed in order', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(OFFLINE);
    const r = await page.evaluate((env) => offline(env, { maxMessages: 3, overflow: 'drop-oldest' }, async (publish) => {
      const promises = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].map((x) => publish(x));
      // The three dropped ones settle while still offline.
      const immediate = await Promise.all(promises.slice(0, 3));
      return { promises: promises.slice(3), immediate };
    }), browser.env);
    assert.deepEqual(r.immediate, ['QUEUE_FULL', 'QUEUE_FULL', 'QUEUE_FULL']);
    assert.equal(r.queued, 3);
    assert.deepEqual(r.settled, ['ok', 'ok', 'ok']);
    assert.deepEqual(r.got, ['m3', 'm4', 'm5']);
  }, { init: netGate }));

test('offline queue, maxBytes: a publish that would pass the byte bound fails with QUEUE_FULL; qos0: false refuses QoS 0 while offline', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(OFFLINE);
    const r = await page.evaluate((env) => offline(env, { maxBytes: 200, qos0: false }, async (publish, topic) => {
      // Bytes counted: topic + payload.
      const fits = 'a'.repeat(120 - topic.length);
      const promises = [publish(fits)];
      const immediate = await Promise.all([publish('b'.repeat(100)), publish('qos 0', 0)]);
      promises.push(publish('c'.repeat(20)));
      return { promises, immediate };
    }), browser.env);
    assert.deepEqual(r.immediate, ['QUEUE_FULL', 'NOT_CONNECTED']);
    assert.equal(r.queued, 2);
    assert.deepEqual(r.settled, ['ok', 'ok']);
    assert.deepEqual(r.got.map((x) => x[0]), ['a', 'c']);
  }, { init: netGate }));
