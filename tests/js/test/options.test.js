// Options checked like a compiler would: an unknown key is INVALID_ARGUMENT naming the
// nearest option, an MQTT.js name points to ours. And the rest of the JS surface: a call
// before init() says to call it, on()/off() return the client itself, every payload type
// the types promise is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 30_000 };

test('unknown option keys reject with INVALID_ARGUMENT naming the nearest option', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const connect = (o) => t.rejection(MqttClient.connect(env.ws, o));
      const out = {
        keepAlive: await connect({ keepAlive: 30 }),
        clientID: await connect({ clientID: 'x' }),
        reconnect: await connect({ reconnect: { initalDelay: 10 } }),
        queue: await connect({ queue: { maxMesages: 10 } }),
        will: await connect({ will: { topic: 'a', payload: 'b', retian: true } }),
        willProps: await connect({ will: { topic: 'a', payload: 'b', properties: { willDelay: 5 } } }),
        props: await connect({ properties: { recieveMaximum: 10 } }),
        wait: await connect({ waitForBroker: { maxAttempt: 2 } }),
        unrelated: await connect({ banana: 1 }),
      };
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('opt') });
      try {
        out.publish = await t.rejection(c.publish('a/b', 'x', { qos: 1, retian: true }));
        out.publishProps = await t.rejection(c.publish('a/b', 'x', { properties: { contentTyp: 'text/plain' } }));
        out.subscribe = await t.rejection(c.subscribe('a/b', { qos: 1, noLcal: true }));
        out.sent = c.stats().messagesSent;
      } finally {
        await c.end();
      }
      return out;
    }, browser.env);
    const expect = {
      keepAlive: "unknown option 'keepAlive': did you mean 'keepalive'?",
      clientID: "unknown option 'clientID': did you mean 'clientId'?",
      reconnect: "unknown option 'reconnect.initalDelay': did you mean 'reconnect.initialDelay'?",
      queue: "unknown option 'queue.maxMesages': did you mean 'queue.maxMessages'?",
      will: "unknown option 'will.retian': did you mean 'will.retain'?",
      props: "unknown option 'properties.recieveMaximum': did you mean 'properties.receiveMaximum'?",
      wait: "unknown option 'waitForBroker.maxAttempt': did you mean 'waitForBroker.maxAttempts'?",
      publish: "unknown option 'retian': did you mean 'retain'?",
      publishProps: "unknown option 'properties.contentTyp': did you mean 'properties.contentType'?",
      subscribe: "unknown option 'noLcal': did you mean 'noLocal'?",
    };
    for (const [k, message] of Object.entries(expect)) {
      assert.equal(r[k].code, 'INVALID_ARGUMENT', `${k}: ${JSON.stringify(r[k])}`);
      assert.ok(r[k].isMqttError, k);
      assert.equal(r[k].message, message, k);
    }
    assert.match(r.willProps.message, /^unknown option 'will\.properties\.willDelay': did you mean 'will\.properties\.willDelayInterval'\?$/);
    assert.equal(r.unrelated.code, 'INVALID_ARGUMENT');
    assert.match(r.unrelated.message, /^unknown option 'banana'; the options are: clientId, .*keepalive/);
    assert.equal(r.sent, 0, 'a publish with a bad option sends nothing');
  }));

test('publish options: qos and retain however given, each bad value rejected by name', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('popt'), protocolVersion: 5 });
      const base = t.uid('popt');
      const got = t.sink();
      try {
        await c.subscribe(`${base}/#`, { qos: 2 }, got.fn);
        // Each accepted: what the broker delivered (QoS as granted up to 2, retain as set).
        const good = [
          ['none', undefined],
          ['null', null],
          ['empty', {}],
          ['qos1', { qos: 1 }],
          ['qos2retain', { qos: 2, retain: true }],
          ['nulls', { qos: null, retain: null }],
          ['retainFalse', { qos: 1, retain: false }],
          ['inherited', Object.create({ qos: 1 })],
          ['withProps', { qos: 1, properties: { contentType: 'text/plain' } }],
        ];
        const results = {};
        for (const [name, o] of good) results[name] = (await c.publish(`${base}/${name}`, name, o)).packetId !== undefined;
        const msgs = await got.until(good.length);
        const delivered = Object.fromEntries(msgs.map((m) => [m.text(), [m.qos, m.retain, m.properties?.contentType ?? null]]));
        const bad = {
          qosString: await t.rejection(c.publish(`${base}/x`, 'x', { qos: '1' })),
          qosFraction: await t.rejection(c.publish(`${base}/x`, 'x', { qos: 0.5 })),
          retainNumber: await t.rejection(c.publish(`${base}/x`, 'x', { retain: 1 })),
          extraKey: await t.rejection(c.publish(`${base}/x`, 'x', { qos: 0, dupe: true })),
          badPayload: await t.rejection(c.publish(`${base}/x`, 5, { qos: 1 })),
        };
        // Cleared: a retained message would outlive the test.
        await c.publish(`${base}/qos2retain`, '', { retain: true });
        return { results, delivered, bad };
      } finally {
        await t.endAll(c);
      }
    }, browser.env);
    assert.deepEqual(r.results, {
      none: false, null: false, empty: false, qos1: true, qos2retain: true, nulls: false,
      retainFalse: true, inherited: true, withProps: true,
    }, 'a packet id for QoS 1 and 2');
    assert.deepEqual(r.delivered, {
      none: [0, false, null], null: [0, false, null], empty: [0, false, null], qos1: [1, false, null],
      // A live message is not flagged retained for an existing subscription.
      qos2retain: [2, false, null], nulls: [0, false, null], retainFalse: [1, false, null],
      inherited: [1, false, null], withProps: [1, false, 'text/plain'],
    });
    assert.equal(r.bad.qosString.code, 'INVALID_QOS');
    assert.equal(r.bad.qosFraction.code, 'INVALID_QOS');
    assert.equal(r.bad.retainNumber.code, 'INVALID_ARGUMENT');
    assert.match(r.bad.retainNumber.message, /retain must be a boolean/);
    assert.equal(r.bad.extraKey.code, 'INVALID_ARGUMENT');
    assert.match(r.bad.extraKey.message, /unknown option 'dupe'/);
    assert.equal(r.bad.badPayload.code, 'INVALID_ARGUMENT');
  }));

test('MQTT.js option names reject with a pointer to ours', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const connect = (o) => t.rejection(MqttClient.connect(env.ws, o));
      const out = {};
      for (const o of [{ reconnectPeriod: 0 }, { queueQoSZero: false }, { rejectUnauthorized: false }, { wsOptions: {} },
        { manualConnect: true }, { reschedulePings: true }, { protocolId: 'MQTT' }, { servers: [] }]) {
        out[Object.keys(o)[0]] = await connect(o);
      }
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('optjs') });
      try {
        out.nl = await t.rejection(c.subscribe('a/b', { nl: true }));
        out.rh = await t.rejection(c.subscribe('a/b', { rh: 1 }));
        out.dup = await t.rejection(c.publish('a/b', 'x', { dup: true }));
      } finally {
        await c.end();
      }
      return out;
    }, browser.env);
    const pointers = {
      reconnectPeriod: /reconnect: \{ initialDelay \} or reconnect: false/,
      queueQoSZero: /queue: \{ qos0 \}/,
      rejectUnauthorized: /the browser decides which certificates to trust/,
      wsOptions: /WebSocket/,
      manualConnect: /connects at once/,
      reschedulePings: /pings/,
      protocolId: /protocolVersion/,
      servers: /array of URLs/,
      nl: /noLocal/,
      rh: /retainHandling/,
      dup: /DUP/,
    };
    for (const [k, re] of Object.entries(pointers)) {
      assert.equal(r[k].code, 'INVALID_ARGUMENT', `${k}: ${JSON.stringify(r[k])}`);
      assert.ok(r[k].message.startsWith(`unknown option '${k}' (an MQTT.js option): `), r[k].message);
      assert.match(r[k].message, re, k);
    }
  }));

test('a call before init() throws an error that says to call init(); after it the same module works', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      // Another module instance than the page's (a different URL), never initialised.
      const m = await import('/pkg/mqtt_rtc.js?uninitialised');
      const out = {};
      try { m.MqttClient.connect(env.ws); } catch (e) { out.connect = { name: e.name, message: e.message }; }
      try { new m.MqttError('CLOSED', 'x'); } catch (e) { out.error = e.message; }
      await m.default();
      const c = await m.MqttClient.connect(env.ws, { clientId: t.uid('late') });
      out.state = c.state;
      await c.end();
      return out;
    }, browser.env);
    assert.match(r.connect.message, /^mqtt-rtc is not initialised: call `await init\(\)`/);
    assert.match(r.error, /call `await init\(\)`/);
    assert.equal(r.state, 'connected');
  }));

test('on() and off() return the client itself; every payload type is accepted', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('surface') });
      try {
        const f = () => {};
        const same = c.on('message', f) === c && c.off('message', f) === c && c.on('close', f).on('error', f) === c;
        const topic = `${t.uid('payload')}/x`;
        const got = t.sink();
        await c.subscribe(topic, { qos: 1 }, got.fn);
        const bytes = new Uint8Array([1, 2, 3, 4]);
        const payloads = ['text', bytes, bytes.buffer, new DataView(bytes.buffer, 1, 2), new Uint16Array([0x0201]), bytes.subarray(2)];
        for (const p of payloads) await c.publish(topic, p, { qos: 1 });
        await got.until(payloads.length, 5000);
        return { same, received: got.items.map((m) => Array.from(m.payload)), hasDispose: typeof c[Symbol.dispose] };
      } finally {
        await c.end();
      }
    }, browser.env);
    assert.equal(r.same, true);
    assert.deepEqual(r.received, [[116, 101, 120, 116], [1, 2, 3, 4], [1, 2, 3, 4], [2, 3], [1, 2], [3, 4]]);
    assert.equal(r.hasDispose, 'function');
  }));
