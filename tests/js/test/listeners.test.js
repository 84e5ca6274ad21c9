// Per-subscription listeners and the global "message" event when subscriptions overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

test('a message matching two subscriptions reaches each listener once and "message" once per PUBLISH', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('overlap');
      const out = {};
      for (const protocolVersion of [4, 5]) {
        const c = await MqttClient.connect(env.ws, { clientId: t.uid('ov'), protocolVersion });
        const pub = await MqttClient.connect(env.ws, { clientId: t.uid('ovp') });
        try {
          const all = t.sink();
          const plus = t.sink();
          const global = t.record(c, 'message');
          await c.subscribe(`${base}/${protocolVersion}/#`, { qos: 1 }, all.fn);
          await c.subscribe(`${base}/${protocolVersion}/+/x`, { qos: 1 }, plus.fn);
          const before = c.stats().messagesReceived;
          await pub.publish(`${base}/${protocolVersion}/a/x`, 'both', { qos: 1 });
          await pub.publish(`${base}/${protocolVersion}/a/y`, 'one', { qos: 1 });
          await all.until(2);
          // A marker matching both filters, after the two: every copy of them is in by
          // the time both listeners have the marker.
          const isMarker = (m) => m.text() === 'marker';
          await pub.publish(`${base}/${protocolVersion}/m/x`, 'marker', { qos: 1 });
          await t.waitFor(() => all.items.some(isMarker) && plus.items.some(isMarker), 5000, 'the marker');
          const texts = (items) => items.filter((m) => !isMarker(m)).map((m) => m.text());
          out[protocolVersion] = {
            all: texts(all.items),
            plus: texts(plus.items),
            global: texts(global.items),
            publishes: c.stats().messagesReceived - before - global.items.filter(isMarker).length,
          };
        } finally {
          await t.endAll(c, pub);
        }
      }
      return out;
    }, browser.env);
    // v5: Mosquitto 2 sends one copy per matching subscription, each carrying its
    // subscription identifier, so each listener gets exactly the copy meant for it.
    const x = r[5];
    const detail = JSON.stringify(x);
    assert.equal(x.all.filter((s) => s === 'both').length, 1, `'#' listener gets 'both' once: ${detail}`);
    assert.equal(x.all.filter((s) => s === 'one').length, 1, `'#' listener gets 'one' once: ${detail}`);
    assert.deepEqual(x.plus, ['both'], `'+/x' listener gets only 'both', once: ${detail}`);
    assert.equal(x.global.length, x.publishes, `one "message" event per PUBLISH: ${detail}`);
    // 3.1.1 has no identifiers: the copies cannot be told apart; at least every PUBLISH is
    // one "message" event and each listener sees only matching topics.
    const y = r[4];
    assert.equal(y.global.length, y.publishes, `v4: one "message" event per PUBLISH: ${JSON.stringify(y)}`);
    assert.ok(y.plus.every((s) => s === 'both') && y.plus.length >= 1, `v4: '+/x' gets only 'both': ${JSON.stringify(y)}`);
  }));
