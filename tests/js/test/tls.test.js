// TLS as in production: a page served over https can only open wss://. The test broker has
// a WebSocket-over-TLS listener whose certificate comes from a CA made at test time
// (tools/broker/control.py); headless Chromium trusts exactly that certificate's key
// through --ignore-certificate-errors-spki-list (tests/js/lib/harness.js, from
// MQTT_RTC_TLS_SPKI). A second listener's certificate comes from another CA, which the
// browser rejects: connect() must reject with an MqttError naming the URL and TLS as a
// possible cause, not retry in silence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: the test broker (tools/broker/control.py) exports it`);
  return v;
}

test('wss://: connect with the test CA\'s certificate and a QoS 1 round trip', T, () =>
  withPage(browser, async (page) => {
    const url = need('MQTT_RTC_WSS_URL');
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+$/);
    const r = await page.evaluate(async (url) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(url, { clientId: t.uid('tls') });
      try {
        const topic = `${t.uid('tls')}/echo`;
        const got = t.sink();
        await c.subscribe(topic, { qos: 1 }, got.fn);
        await c.publish(topic, 'over TLS', { qos: 1 });
        const [m] = await got.until(1);
        return { text: m.text(), qos: m.qos };
      } finally {
        await t.endAll(c);
      }
    }, url);
    assert.deepEqual(r, { text: 'over TLS', qos: 1 });
  }));

test('a certificate the browser rejects: connect rejects at once, naming the URL and TLS', T, () =>
  withPage(browser, async (page) => {
    const url = need('MQTT_RTC_WSS_UNTRUSTED_URL');
    const r = await page.evaluate(async (url) => {
      const t0 = performance.now();
      const e = await t.rejection(window.mqtt.MqttClient.connect(url, { clientId: t.uid('untrusted') }));
      return { ...e, ms: performance.now() - t0 };
    }, url);
    assert.ok(r.isMqttError, JSON.stringify(r));
    assert.equal(r.code, 'CONNECTION_LOST', JSON.stringify(r));
    assert.ok(r.message.includes(url), r.message);
    assert.match(r.message, /TLS/);
    assert.ok(r.ms < 10_000, `settled in ${Math.round(r.ms)} ms, not a retry loop`);
  }));
