// Will messages and persistent sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

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
      await t.sleep(1000);
      return { items: got.items.map((m) => [m.text(), m.qos]), state: c.state };
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
      const clientId = t.uid('p');
      const out = {};
      for (const protocolVersion of [4, 5]) {
        const opts = { clientId: `${clientId}-${protocolVersion}`, clean: false, protocolVersion };
        const first = await MqttClient.connect(env.ws, opts);
        await first.subscribe(`${base}/${protocolVersion}/#`, { qos: 2 });
        await first.end();
        const pub = await MqttClient.connect(env.ws, { clientId: t.uid('pub') });
        const sent = [];
        for (let i = 0; i < 5; i++) {
          for (const qos of [1, 2]) {
            const text = `q${qos}-${i}`;
            await pub.publish(`${base}/${protocolVersion}/${qos}`, text, { qos });
            sent.push(text);
          }
        }
        await pub.end();
        // Listeners must be in place before the session's backlog arrives: collect from
        // the client's very first message on, via a connect with resubscribe off.
        const seen = [];
        let connectInfo;
        const again = await MqttClient.connect(env.ws, { ...opts, resubscribe: false });
        // Messages delivered right after CONNACK may precede our listener; the session
        // resends QoS>0 messages, so give the broker time and count what arrives.
        again.on('message', (m) => seen.push({ text: m.text(), qos: m.qos, dup: m.dup }));
        again.on('connect', (i) => { connectInfo = i; });
        await t.sleep(1000);
        out[protocolVersion] = { sent, seen };
        await again.end();
        // Drop the session so the broker forgets it.
        const clean = await MqttClient.connect(env.ws, { clientId: opts.clientId, clean: true, protocolVersion });
        await clean.end();
      }
      return out;
    }, browser.env);
    for (const v of [4, 5]) {
      const texts = r[v].seen.map((m) => m.text).sort();
      assert.deepEqual(texts, [...r[v].sent].sort(), `v${v}: every message once: ${JSON.stringify(r[v].seen)}`);
    }
  }));
