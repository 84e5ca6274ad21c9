// Write batching: the packets of API calls made within one JavaScript task leave in one
// WebSocket message (flushed in a microtask, at most 64 KiB a batch), in order, and a lone
// call is not held back. Every `WebSocket.send` is recorded by an init script that wraps
// the prototype before the package loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

/** window.sends: the byte length of every WebSocket.send, in order. */
function sendLog() {
  window.sends = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.sends.push(data.byteLength ?? data.length);
    return send.call(this, data);
  };
}

const BATCH = 64 * 1024;

test('1,000 QoS 0 publishes fired in one task leave in a handful of sends, in order', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const topic = `${t.uid('batch')}/burst`;
      const rx = await MqttClient.connect(env.ws, { reconnect: false });
      const tx = await MqttClient.connect(env.ws, { reconnect: false });
      try {
        const got = t.sink();
        await rx.subscribe(topic, { qos: 0 }, got.fn);
        const payload = new Uint8Array(100);
        window.sends.length = 0;
        const sent = [];
        for (let i = 0; i < 1000; i++) {
          payload[0] = i & 0xff;
          payload[1] = i >> 8;
          sent.push(tx.publish(topic, payload, { qos: 0 }));
        }
        const sendsInTask = window.sends.length;
        await Promise.all(sent);
        const sends = window.sends.slice();
        const items = await got.until(1000, 10_000);
        const order = items.map((m) => m.payload[0] | (m.payload[1] << 8));
        return { topic, sendsInTask, sends, order };
      } finally {
        await t.endAll(rx, tx);
      }
    }, browser.env);
    // PUBLISH: fixed header (1 + 2), topic length (2) + topic, v5 property length (1), payload.
    const packet = 3 + 2 + r.topic.length + 1 + 100;
    const bound = Math.ceil((1000 * packet) / BATCH) + 2;
    assert.ok(r.sends.length <= bound, `${r.sends.length} sends (at most ${bound}): ${r.sends}`);
    assert.ok(r.sends.every((n) => n <= BATCH + packet), `no batch above the cap: ${r.sends}`);
    assert.ok(r.sendsInTask < r.sends.length, 'the last batch left after the task, not per call');
    assert.deepEqual(r.order, [...Array(1000).keys()], 'all 1,000 arrived in order');
  }, { init: sendLog }));

test('a lone QoS 1 publish leaves in one send and resolves', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const topic = `${t.uid('batch')}/lone`;
      const c = await MqttClient.connect(env.ws, { reconnect: false });
      try {
        window.sends.length = 0;
        const start = performance.now();
        await t.within(c.publish(topic, 'one', { qos: 1 }), 5_000, 'PUBACK');
        return { sends: window.sends.slice(), ms: performance.now() - start };
      } finally {
        await c.end();
      }
    }, browser.env);
    assert.equal(r.sends.length, 1, `one send carried it: ${r.sends}`);
  }, { init: sendLog }));

test('publishes from separate tasks each go out', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const topic = `${t.uid('batch')}/tasks`;
      const rx = await MqttClient.connect(env.ws, { reconnect: false });
      const tx = await MqttClient.connect(env.ws, { reconnect: false });
      try {
        const got = t.sink();
        await rx.subscribe(topic, { qos: 0 }, got.fn);
        window.sends.length = 0;
        for (let i = 0; i < 5; i++) {
          // Each publish in its own task, not awaited: only the flush can send it.
          await new Promise((ok) => setTimeout(() => { tx.publish(topic, `m${i}`, { qos: 0 }); ok(); }, 0));
        }
        const items = await got.until(5, 5_000);
        return {
          sends: window.sends.length,
          texts: items.map((m) => new TextDecoder().decode(m.payload)),
        };
      } finally {
        await t.endAll(rx, tx);
      }
    }, browser.env);
    assert.deepEqual(r.texts, ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(r.sends, 5, 'one send per task');
  }, { init: sendLog }));

/**
 * window.packets: for every WebSocket.send, the MQTT packet types it carries (the high
 * nibble of each fixed header) and whether it was made while a socket `message` listener
 * ran, that is in the task of a received message.
 */
function packetLog() {
  window.packets = [];
  let inMessage = false;
  const add = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (type, listener, options) {
    if (type !== 'message' || typeof listener !== 'function') return add.call(this, type, listener, options);
    const wrapped = function (e) {
      inMessage = true;
      try { return listener.call(this, e); } finally { inMessage = false; }
    };
    return add.call(this, type, wrapped, options);
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const b = new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength);
    const types = [];
    for (let i = 0; i < b.length;) {
      types.push(b[i] >> 4);
      let len = 0;
      let mul = 1;
      let j = i + 1;
      for (;;) { const x = b[j++]; len += (x & 0x7f) * mul; mul *= 128; if (!(x & 0x80)) break; }
      i = j + len;
    }
    window.packets.push({ types, inMessage });
    return send.call(this, data);
  };
}

const PUBREL = 6;

test('the PUBRELs of a burst of QoS 2 publishes leave together, a lone one at once', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const topic = `${t.uid('batch')}/qos2`;
      const rx = await MqttClient.connect(env.ws, { reconnect: false });
      const tx = await MqttClient.connect(env.ws, { reconnect: false });
      try {
        const got = t.sink();
        await rx.subscribe(topic, { qos: 2 }, got.fn);
        window.packets.length = 0;
        const burst = [];
        for (let i = 0; i < 200; i++) burst.push(tx.publish(topic, `b${i}`, { qos: 2 }));
        const results = await t.within(Promise.all(burst), 20_000, 'the burst');
        const burstSends = window.packets.slice();
        window.packets.length = 0;
        await t.within(tx.publish(topic, 'lone', { qos: 2 }), 5_000, 'the lone publish');
        const loneSends = window.packets.slice();
        const items = await got.until(201, 10_000);
        return {
          burstSends,
          loneSends,
          codes: [...new Set(results.map((x) => x.reasonCode))],
          texts: items.map((m) => m.text()),
        };
      } finally {
        await t.endAll(rx, tx);
      }
    }, browser.env);
    const pubrels = (sends) => sends.filter((s) => s.types.includes(PUBREL));
    const burstRel = pubrels(r.burstSends);
    const released = burstRel.reduce((n, s) => n + s.types.filter((x) => x === PUBREL).length, 0);
    assert.equal(released, 200, 'one PUBREL per publish');
    // One send per PUBREC made 200; the browser runs the PUBRECs that have arrived first.
    assert.ok(burstRel.length <= 150, `${burstRel.length} sends carried the 200 PUBRELs`);
    assert.ok(burstRel.some((s) => !s.inMessage), 'some PUBRELs waited for a later task');
    const loneRel = pubrels(r.loneSends);
    assert.equal(loneRel.length, 1, `the lone publish's PUBREL: ${JSON.stringify(r.loneSends)}`);
    assert.ok(loneRel[0].inMessage, 'it left in the task of its PUBREC, not later');
    assert.deepEqual(r.codes, [0]);
    assert.deepEqual(r.texts, [...Array.from({ length: 200 }, (_, i) => `b${i}`), 'lone']);
  }, { init: packetLog }));

// A publish's time of sending is read once per batch; each task's batch reads it anew, so
// steady traffic both ways (the client receives what it publishes: a connection that only
// sends is pinged, to hear from the broker) keeps it out of keepalive pings, and they resume
// when it stops.
test('publishing to itself every 250 ms sends no PINGREQ on a 2 s keepalive; pings resume once it stops', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const pings = [];
      const Ws = window.WebSocket;
      class Recorded extends Ws {
        send(data) {
          if (new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, 1)[0] === 0xc0) pings.push(performance.now());
          return super.send(data);
        }
      }
      const c = await MqttClient.connect(env.ws, { keepalive: 2, reconnect: false, WebSocket: Recorded });
      try {
        const topic = `${t.uid('batch')}/busy`;
        const got = t.sink();
        await c.subscribe(topic, { qos: 0 }, got.fn);
        const t0 = performance.now();
        for (let i = 0; i < 24; i++) {
          // A small burst per task, each its own batch.
          await new Promise((ok) => setTimeout(ok, 250));
          for (let k = 0; k < 3; k++) c.publish(topic, `b${i}.${k}`, { qos: 0 });
        }
        const busyMs = performance.now() - t0;
        const whileBusy = pings.length;
        await got.until(72, 2_000);
        const stop = performance.now();
        await t.waitFor(() => pings.length > whileBusy, 8_000, 'a PINGREQ after publishing stopped');
        return { busyMs: Math.round(busyMs), whileBusy, after: Math.round(pings[whileBusy] - stop), state: c.state };
      } finally {
        await t.endAll(c);
      }
    }, browser.env);
    console.log(`busy ${r.busyMs} ms: ${r.whileBusy} PINGREQs; first one ${r.after} ms after the last publish`);
    assert.ok(r.busyMs >= 5_500, `published for ${r.busyMs} ms`);
    assert.equal(r.whileBusy, 0, 'no PINGREQ while publishing every 250 ms');
    assert.ok(r.after >= 1_500 && r.after <= 6_000, `the first PINGREQ ${r.after} ms after publishing stopped`);
    assert.equal(r.state, 'connected');
  }, { init: sendLog }));
