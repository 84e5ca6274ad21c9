// MQTT 5 features: publish properties, noLocal, subscription identifiers, request/response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 30_000 };

test('v5 publish properties round trip: user properties, content type, response topic, correlation data', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const a = await MqttClient.connect(env.ws, { clientId: t.uid('pa') });
      const b = await MqttClient.connect(env.ws, { clientId: t.uid('pb') });
      const topic = t.uid('props');
      try {
        const got = t.sink();
        await b.subscribe(topic, { qos: 1 }, got.fn);
        await a.publish(topic, '{"x":1}', {
          qos: 1,
          properties: {
            contentType: 'application/json', responseTopic: `${topic}/reply`,
            correlationData: new Uint8Array([0, 1, 254, 255]), payloadFormatIndicator: true,
            messageExpiryInterval: 60, userProperties: { a: '1', multi: ['x', 'y'], 'ü': 'ß' },
          },
        });
        const [m] = await got.until(1);
        const p = m.properties ?? {};
        return {
          versions: [a.protocolVersion, b.protocolVersion],
          contentType: p.contentType, responseTopic: p.responseTopic === `${topic}/reply`,
          correlation: Array.from(p.correlationData ?? []), correlationIsBytes: p.correlationData instanceof Uint8Array,
          pfi: p.payloadFormatIndicator, expiry: p.messageExpiryInterval, user: p.userProperties,
        };
      } finally {
        await t.endAll(a, b);
      }
    }, browser.env);
    assert.deepEqual(r.versions, [5, 5]);
    assert.equal(r.contentType, 'application/json');
    assert.ok(r.responseTopic);
    assert.deepEqual(r.correlation, [0, 1, 254, 255]);
    assert.ok(r.correlationIsBytes);
    assert.equal(r.pfi, true);
    assert.ok(r.expiry > 0 && r.expiry <= 60, `expiry ${r.expiry}`);
    assert.deepEqual(r.user, { a: '1', multi: ['x', 'y'], 'ü': 'ß' });
  }));

test('noLocal: a client does not receive its own publishes on a noLocal subscription', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const a = await MqttClient.connect(env.ws, { clientId: t.uid('nl') });
      const b = await MqttClient.connect(env.ws, { clientId: t.uid('nlb') });
      const base = t.uid('nolocal');
      try {
        const local = t.sink();
        const normal = t.sink();
        await a.subscribe(`${base}/n`, { qos: 1, noLocal: true }, local.fn);
        await a.subscribe(`${base}/y`, { qos: 1 }, normal.fn);
        await a.publish(`${base}/n`, 'own', { qos: 1 });
        await a.publish(`${base}/y`, 'own', { qos: 1 });
        await b.publish(`${base}/n`, 'other', { qos: 1 });
        // 'own' on /n was acknowledged before 'other' was published, so the broker would
        // have queued it for a before 'other': once 'other' is in, it is not coming.
        await normal.until(1);
        await local.until(1);
        return { local: local.items.map((m) => m.text()), normal: normal.items.map((m) => m.text()) };
      } finally {
        await t.endAll(a, b);
      }
    }, browser.env);
    assert.deepEqual(r.local, ['other']);
    assert.deepEqual(r.normal, ['own']);
  }));

test('subscription identifiers are reported in properties.subscriptionIdentifiers', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const a = await MqttClient.connect(env.ws, { clientId: t.uid('sid') });
      const base = t.uid('subid');
      try {
        const all = t.record(a, 'message');
        await a.subscribe(`${base}/x/#`, { qos: 1, subscriptionIdentifier: 7 });
        await a.subscribe(`${base}/+/z`, { qos: 1, subscriptionIdentifier: 300000 });
        // A listener's subscription: the client gives it an identifier of its own, which
        // no message shows; one the application gave is shown as ever.
        const own = t.sink();
        await a.subscribe(`${base}/v/+`, { qos: 1 }, own.fn);
        const given = t.sink();
        await a.subscribe(`${base}/u/+`, { qos: 1, subscriptionIdentifier: 9 }, given.fn);
        await a.publish(`${base}/x/y`, '1', { qos: 1 });
        await a.publish(`${base}/w/z`, '2', { qos: 1 });
        await a.publish(`${base}/v/a`, '3', { qos: 1 });
        await a.publish(`${base}/u/a`, '4', { qos: 1 });
        await all.until(4);
        // A marker after them: any further copy of '1' to '4' arrives before it.
        await a.publish(`${base}/x/marker`, 'marker', { qos: 1 });
        await t.waitFor(() => all.items.some((m) => m.text() === 'marker'), 5000, 'the marker');
        // A copy of the array: one message is in two lists here, and Firefox's WebDriver
        // BiDi returns an object met twice as a reference that arrives as null.
        const ids = (m) => [m.text(), m.properties?.subscriptionIdentifiers?.slice() ?? null];
        return {
          all: all.items.filter((m) => m.text() !== 'marker').map(ids),
          own: own.items.map(ids),
          given: given.items.map(ids),
        };
      } finally {
        await t.endAll(a);
      }
    }, browser.env);
    assert.deepEqual(r.all, [['1', [7]], ['2', [300000]], ['3', null], ['4', [9]]]);
    assert.deepEqual(r.own, [['3', null]]);
    assert.deepEqual(r.given, [['4', [9]]]);
  }));

test('request/response between two clients with responseTopic and correlationData', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const server = await MqttClient.connect(env.ws, { clientId: t.uid('srv') });
      const caller = await MqttClient.connect(env.ws, { clientId: t.uid('cli') });
      const base = t.uid('rpc');
      try {
        await server.subscribe(`${base}/req`, { qos: 1 }, (m) => {
          const { responseTopic, correlationData } = m.properties;
          server.publish(responseTopic, m.text().toUpperCase(), { qos: 1, properties: { correlationData } });
        });
        const pending = new Map();
        await caller.subscribe(`${base}/res`, { qos: 1 }, (m) => {
          const id = new TextDecoder().decode(m.properties.correlationData);
          pending.get(id)?.(m.text());
        });
        const call = (id, text) => new Promise((ok) => {
          pending.set(id, ok);
          caller.publish(`${base}/req`, text, {
            qos: 1, properties: { responseTopic: `${base}/res`, correlationData: new TextEncoder().encode(id) },
          });
        });
        return await t.within(Promise.all([call('1', 'abc'), call('2', 'def'), call('3', 'xyz')]), 5000, 'responses');
      } finally {
        await t.endAll(server, caller);
      }
    }, browser.env);
    assert.deepEqual(r, ['ABC', 'DEF', 'XYZ']);
  }));
