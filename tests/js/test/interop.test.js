// Interop with Mosquitto's own command-line clients over TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage, mosquittoPub, mosquittoSub } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

test('browser -> mosquitto_sub at QoS 0/1/2, binary payloads intact', T, async () => {
  const base = `interop-${Date.now().toString(36)}`;
  const subs = {};
  for (const qos of [0, 1, 2]) subs[qos] = await mosquittoSub({ topic: `${base}/${qos}`, qos });
  try {
    await withPage(browser, async (page) => {
      await page.evaluate(async ({ env, base }) => {
        const { MqttClient } = window.mqtt;
        for (const protocolVersion of [4, 5]) {
          const c = await MqttClient.connect(env.ws, { clientId: t.uid('ip'), protocolVersion });
          for (const qos of [0, 1, 2]) await c.publish(`${base}/${qos}`, t.bytes(300, qos + 1), { qos });
          await c.end();
        }
      }, { env: browser.env, base });
    });
    for (const qos of [0, 1, 2]) {
      const msgs = await subs[qos].until(2);
      const want = Buffer.from(await withPage(browser, (page) => page.evaluate((q) => Array.from(t.bytes(300, q + 1)), qos)));
      assert.equal(msgs.length, 2, `qos ${qos}`);
      for (const m of msgs) assert.ok(m.payload.equals(want), `qos ${qos}: payload bytes`);
    }
  } finally {
    for (const s of Object.values(subs)) await s.stop();
  }
});

test('mosquitto_pub -> browser at QoS 0/1/2', T, () =>
  withPage(browser, async (page) => {
    const base = `interop-in-${Date.now().toString(36)}`;
    await page.evaluate(async ({ env, base }) => {
      const { MqttClient } = window.mqtt;
      window.sub = await MqttClient.connect(env.ws, { clientId: t.uid('is') });
      window.got = t.sink();
      await window.sub.subscribe(`${base}/#`, { qos: 2 }, window.got.fn);
    }, { env: browser.env, base });
    const payload = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
    for (const qos of [0, 1, 2]) await mosquittoPub({ topic: `${base}/${qos}`, payload, qos });
    const r = await page.evaluate(async () => {
      const items = await window.got.until(3);
      await window.sub.end();
      return items.map((m) => ({ topic: m.topic, qos: m.qos, payload: Array.from(m.payload) }));
    });
    assert.deepEqual(r.map((m) => m.qos), [0, 1, 2]);
    for (const m of r) assert.deepEqual(m.payload, [...payload]);
  }));
