// The send window against the real broker with its default in-flight limit (Mosquitto's
// max_inflight_messages 20): 200 concurrent QoS 1 and 200 concurrent QoS 2 publishes on
// MQTT 3.1.1 and 5.0, recorded by mosquitto_sub over TCP. MQTT 3.1.1 has no Receive
// Maximum, and without the client's own window Mosquitto dropped the QoS 2 publishes beyond
// 20 in flight while every promise resolved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage, mosquittoSub } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 90_000 };
const N = 200;

/** Resolves once `fn()` is true, polling; fails naming `what` after `ms`. */
async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

/**
 * Publishes N messages at `qos` all at once (Promise.all) from a client on
 * `protocolVersion`, then one last message "end" once all settled; mosquitto_sub records
 * everything. The broker keeps one publisher's order on a topic, so once "end" is in,
 * anything sent before it (duplicates included) is in too.
 */
async function burst(protocolVersion, qos) {
  const topic = `inflight-${Date.now().toString(36)}-v${protocolVersion}-q${qos}`;
  const sub = await mosquittoSub({ topic, qos: 2 });
  try {
    const r = await withPage(browser, (page) => page.evaluate(async ({ env, topic, qos, protocolVersion, n }) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('inf'), protocolVersion });
      try {
        const all = [];
        for (let i = 0; i < n; i++) all.push(c.publish(topic, String(i), { qos }));
        const first = c.stats();
        const settled = await Promise.allSettled(all);
        const failures = settled.filter((s) => s.status === 'rejected').map((s) => `${s.reason.code}: ${s.reason.message}`);
        await c.publish(topic, 'end', { qos });
        return { failures, fulfilled: settled.length - failures.length, inflight: first.inflight, queued: first.queued };
      } finally {
        await t.endAll(c);
      }
    }, { env: browser.env, topic, qos, protocolVersion, n: N }));
    await until(() => sub.messages.some((m) => m.payload.toString() === 'end'), 15_000, `"end" on ${topic}`);
    const got = sub.messages.map((m) => m.payload.toString()).filter((p) => p !== 'end');
    const counts = new Map();
    for (const p of got) counts.set(p, (counts.get(p) || 0) + 1);
    console.log(`v${protocolVersion} QoS ${qos}: ${r.fulfilled}/${N} resolved, ${counts.size} distinct of ${got.length} received; in flight at first ${r.inflight}, queued ${r.queued}`);
    return { ...r, got, counts };
  } finally {
    await sub.stop();
  }
}

for (const protocolVersion of [4, 5]) {
  test(`v${protocolVersion}: ${N} concurrent QoS 2 publishes all resolve and each arrives exactly once`, T, async () => {
    const r = await burst(protocolVersion, 2);
    assert.deepEqual(r.failures, []);
    assert.equal(r.fulfilled, N);
    const missing = [];
    for (let i = 0; i < N; i++) if (!r.counts.has(String(i))) missing.push(i);
    assert.deepEqual(missing, [], `${r.counts.size}/${N} delivered (in flight at first: ${r.inflight}, queued: ${r.queued})`);
    const twice = [...r.counts].filter(([, n]) => n > 1).map(([p]) => p);
    assert.deepEqual(twice, [], 'delivered more than once');
    assert.equal(r.got.length, N);
    // The window held the rest back in order (20 on 3.1.1; the broker's Receive Maximum on 5.0).
    assert.ok(r.inflight <= 20, `in flight at first: ${r.inflight}`);
    assert.equal(r.inflight + r.queued, N);
  });

  test(`v${protocolVersion}: ${N} concurrent QoS 1 publishes all resolve and each arrives at least once`, T, async () => {
    const r = await burst(protocolVersion, 1);
    assert.deepEqual(r.failures, []);
    assert.equal(r.fulfilled, N);
    const missing = [];
    for (let i = 0; i < N; i++) if (!r.counts.has(String(i))) missing.push(i);
    assert.deepEqual(missing, [], `${r.counts.size}/${N} delivered (in flight at first: ${r.inflight}, queued: ${r.queued})`);
    assert.ok(r.inflight <= 20, `in flight at first: ${r.inflight}`);
  });
}

test('maxInflight is a whole number from 1 to 65535, checked like every option', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const out = {};
      for (const [name, value] of [['zero', 0], ['above', 65536], ['fraction', 2.5], ['string', '20']]) {
        out[name] = await t.rejection(MqttClient.connect(env.ws, { clientId: t.uid('mi'), maxInflight: value }));
      }
      out.typo = await t.rejection(MqttClient.connect(env.ws, { maxInFlight: 5 }));
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('mi'), maxInflight: 1 });
      try {
        // One at a time: the second waits for the first's PUBACK.
        const all = [c.publish('mi/a', '1', { qos: 1 }), c.publish('mi/a', '2', { qos: 1 })];
        out.window = { inflight: c.stats().inflight, queued: c.stats().queued };
        await Promise.all(all);
      } finally {
        await t.endAll(c);
      }
      return out;
    }, browser.env);
    for (const name of ['zero', 'above', 'fraction', 'string']) {
      assert.equal(r[name].code, 'INVALID_ARGUMENT', `${name}: ${JSON.stringify(r[name])}`);
      assert.match(r[name].message, /maxInflight must be a whole number from 1 to 65535/);
    }
    assert.equal(r.typo.code, 'INVALID_ARGUMENT');
    assert.match(r.typo.message, /did you mean 'maxInflight'/);
    assert.deepEqual(r.window, { inflight: 1, queued: 1 });
  }));
