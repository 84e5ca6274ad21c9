// Publish / subscribe between two browser clients in one page: QoS 0/1/2 both ways,
// text and binary payloads from empty to 256 KiB, retained messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

test('QoS 0/1/2 both directions, text/binary/empty/256 KiB payloads arrive byte-exact', T, () =>
  withPage(browser, async (page) => {
    const results = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const a = await MqttClient.connect(env.ws, { clientId: t.uid('a') });
      const b = await MqttClient.connect(env.ws, { clientId: t.uid('b') });
      const base = t.uid('qos');
      const small = {
        text: 'héllo, wörld ✓ — 𝄞',
        binary: t.bytes(1000, 7),
        empty: new Uint8Array(0),
      };
      const big = t.bytes(256 * 1024, 99);
      const asBytes = (p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p);
      const check = (name, qos, kind, topic, payload, r, m) => ({
        name, qos, kind, topic: m.topic === topic, qosGot: m.qos,
        exact: t.sameBytes(m.payload, asBytes(payload)), len: m.payload.length, wantLen: asBytes(payload).length,
        text: typeof payload === 'string' ? m.text() === payload : true,
        packetId: r.packetId, reasonCode: r.reasonCode,
      });
      const out = [];
      try {
        const dirs = [[a, b, 'a-b'], [b, a, 'b-a']];
        const sinks = {};
        for (const [, to, name] of dirs) {
          sinks[name] = { small: t.sink(), big: t.sink() };
          await to.subscribe(`${base}/${name}/small/#`, { qos: 2 }, sinks[name].small.fn);
          await to.subscribe(`${base}/${name}/big/#`, { qos: 2 }, sinks[name].big.fn);
        }
        // Small payloads one at a time, each checked as it arrives.
        for (const [from, , name] of dirs) {
          let n = 0;
          for (const qos of [0, 1, 2]) {
            for (const [kind, payload] of Object.entries(small)) {
              const topic = `${base}/${name}/small/${qos}/${kind}`;
              const r = await from.publish(topic, payload, { qos });
              n += 1;
              const m = (await sinks[name].small.until(n, 10_000))[n - 1];
              out.push(check(name, qos, kind, topic, payload, r, m));
            }
          }
        }
        // 256 KiB at every QoS, both ways at once: Mosquitto's WebSocket listener needs
        // seconds to push each one out, so they overlap to keep the test short.
        const sent = await Promise.all(dirs.flatMap(([from, , name]) => [0, 1, 2].map(
          (qos) => from.publish(`${base}/${name}/big/${qos}`, big, { qos }).then((r) => ({ name, qos, r })))));
        for (const { name, qos, r } of sent) {
          const got = await sinks[name].big.until(3, 45_000);
          const topic = `${base}/${name}/big/${qos}`;
          const m = got.find((x) => x.topic === topic);
          out.push(m ? check(name, qos, 'big', topic, big, r, m) : { name, qos, kind: 'big', missing: true });
        }
      } finally {
        await t.endAll(a, b);
      }
      return out;
    }, browser.env);
    assert.equal(results.length, 24);
    for (const r of results) {
      const label = `${r.name} qos ${r.qos} ${r.kind}`;
      assert.ok(!r.missing, `${label}: delivered`);
      assert.ok(r.topic, `${label}: topic`);
      assert.equal(r.qosGot, r.qos, `${label}: delivered QoS`);
      assert.ok(r.exact, `${label}: payload bytes (${r.len} vs ${r.wantLen})`);
      assert.ok(r.text, `${label}: text()`);
      assert.equal(r.reasonCode, 0, `${label}: reasonCode`);
      if (r.qos === 0) assert.equal(r.packetId, undefined, `${label}: no packetId at QoS 0`);
      else assert.ok(Number.isInteger(r.packetId) && r.packetId > 0, `${label}: packetId ${r.packetId}`);
    }
  }));

test('publish at QoS 1/2 resolves only after the acknowledgement', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const a = await MqttClient.connect(env.ws, { clientId: t.uid('ack') });
      const topic = t.uid('ack');
      const out = {};
      try {
        for (const qos of [1, 2]) {
          const sentBefore = a.stats().messagesSent;
          const p = a.publish(topic, 'x', { qos });
          const inflightAfterCall = a.stats().inflight;
          let settledEarly = false;
          p.then(() => { settledEarly = true; });
          await Promise.resolve();
          await Promise.resolve();
          const settledSync = settledEarly;
          const res = await p;
          out[qos] = {
            inflightAfterCall, settledSync, inflightAfterResolve: a.stats().inflight,
            packetId: res.packetId, sent: a.stats().messagesSent - sentBefore,
          };
        }
      } finally {
        await t.endAll(a);
      }
      return out;
    }, browser.env);
    for (const qos of [1, 2]) {
      assert.equal(r[qos].inflightAfterCall, 1, `QoS ${qos}: in flight while unacknowledged`);
      assert.equal(r[qos].settledSync, false, `QoS ${qos}: not resolved before the broker answered`);
      assert.equal(r[qos].inflightAfterResolve, 0, `QoS ${qos}: resolved only once acknowledged`);
      assert.ok(r[qos].packetId > 0);
      assert.equal(r[qos].sent, 1);
    }
  }));

test('a message has no function of its own: structuredClone and postMessage copy it, text() is shared', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('clone'), protocolVersion: 5 });
      try {
        const topic = `${t.uid('clone')}/m`;
        const got = t.sink();
        await c.subscribe(topic, { qos: 1 }, got.fn);
        await c.publish(topic, 'héllo', { qos: 1, properties: { contentType: 'text/plain' } });
        await c.publish(topic, 'again', { qos: 1 });
        const [m, n] = await got.until(2);
        const own = Object.keys(m).filter((k) => typeof m[k] === 'function');
        const copy = structuredClone(m);
        // postMessage to the page itself: the structured clone a worker would get.
        const posted = await new Promise((ok, fail) => {
          window.addEventListener('message', (e) => ok(e.data), { once: true });
          try { window.postMessage(m, '*'); } catch (e) { fail(e); }
        });
        return {
          own, shared: m.text === n.text, texts: [m.text(), n.text()],
          copy: { topic: copy.topic, payload: [...copy.payload], qos: copy.qos, retain: copy.retain, dup: copy.dup, contentType: copy.properties?.contentType },
          posted: new TextDecoder().decode(posted.payload),
          expected: [...new TextEncoder().encode('héllo')],
          topic,
        };
      } finally {
        await t.endAll(c);
      }
    }, browser.env);
    assert.deepEqual(r.own, [], 'no own function property');
    assert.equal(r.shared, true, 'text() is one function for every message');
    assert.deepEqual(r.texts, ['héllo', 'again']);
    assert.deepEqual(r.copy, { topic: r.topic, payload: r.expected, qos: 1, retain: false, dup: false, contentType: 'text/plain' });
    assert.equal(r.posted, 'héllo');
  }));

// A received message's topic string is reused while topics repeat, for every client of the
// page at once, and its payload is copied out of wasm memory: two clients taking turns on
// repeated and alternating topics must each see their own topic, and every payload must
// keep its bytes, in a buffer of its own, after the messages that follow.
test('repeated and alternating topics across two clients: each message keeps its own topic and payload', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('turns');
      const pub = await MqttClient.connect(env.ws, { clientId: t.uid('pub') });
      const a = await MqttClient.connect(env.ws, { clientId: t.uid('a') });
      const b = await MqttClient.connect(env.ws, { clientId: t.uid('b') });
      try {
        const got = { a: t.sink(), b: t.sink() };
        await a.subscribe(`${base}/a/#`, { qos: 1 }, got.a.fn);
        await b.subscribe(`${base}/b/#`, { qos: 1 }, got.b.fn);
        // One at a time, each awaited where it lands, so the order across clients is fixed:
        // a and b each see a topic repeat right after the other client got another one.
        const turns = ['a/1', 'a/1', 'b/1', 'a/1', 'b/1', 'b/2', 'a/2', 'a/2', 'b/2', 'b/1', 'a/1', 'b/1', 'a/é'];
        const n = { a: 0, b: 0 };
        for (const [i, turn] of turns.entries()) {
          const who = turn[0];
          await pub.publish(`${base}/${turn}`, `${base}/${turn} #${i}`, { qos: 1 });
          n[who] += 1;
          await got[who].until(n[who], 10_000);
        }
        const all = [...got.a.items, ...got.b.items];
        return {
          turns: turns.length, count: all.length,
          mismatched: all.filter((m) => !m.text().startsWith(`${m.topic} #`)).map((m) => [m.topic, m.text()]),
          order: Object.fromEntries(Object.entries(got).map(([k, s]) => [k, s.items.map((m) => m.topic.slice(base.length + 1))])),
          shared: all.filter((m) => m.payload.buffer.byteLength !== m.payload.length).length,
          sameBuffer: new Set(all.map((m) => m.payload.buffer)).size,
        };
      } finally {
        await t.endAll(pub, a, b);
      }
    }, browser.env);
    assert.equal(r.count, r.turns);
    assert.deepEqual(r.mismatched, [], 'every message has the topic it was published to');
    assert.deepEqual(r.order, {
      a: ['a/1', 'a/1', 'a/1', 'a/2', 'a/2', 'a/1', 'a/é'],
      b: ['b/1', 'b/1', 'b/2', 'b/2', 'b/1', 'b/1'],
    });
    assert.equal(r.shared, 0, 'each payload has a buffer of its own');
    assert.equal(r.sameBuffer, r.turns, 'no two payloads share a buffer');
  }));

test('retained message: set, delivered on subscribe with retain flag, cleared by an empty payload', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const a = await MqttClient.connect(env.ws, { clientId: t.uid('ra') });
      const topic = `${t.uid('retained')}/state`;
      const out = {};
      try {
        await a.publish(topic, 'on', { qos: 1, retain: true });
        const b = await MqttClient.connect(env.ws, { clientId: t.uid('rb') });
        const got = t.sink();
        await b.subscribe(topic, { qos: 1 }, got.fn);
        const [m] = await got.until(1);
        out.first = { retain: m.retain, text: m.text(), qos: m.qos };
        // A live publish is not flagged retained for an existing subscription.
        await a.publish(topic, 'live', { qos: 1, retain: true });
        const [, live] = await got.until(2);
        out.live = { retain: live.retain, text: live.text() };
        await b.end();
        // Clear it; a new subscriber then gets nothing.
        await a.publish(topic, '', { qos: 1, retain: true });
        const c = await MqttClient.connect(env.ws, { clientId: t.uid('rc') });
        const after = t.sink();
        await c.subscribe(topic, { qos: 1 }, after.fn);
        // A retained message is sent right after the SUBACK, before this marker.
        await c.publish(topic, 'marker', { qos: 1 });
        await t.waitFor(() => after.items.some((m) => m.text() === 'marker'), 5000, 'the marker');
        out.afterClear = after.items.length - 1;
        await c.end();
      } finally {
        await t.endAll(a);
      }
      return out;
    }, browser.env);
    assert.deepEqual(r.first, { retain: true, text: 'on', qos: 1 });
    assert.deepEqual(r.live, { retain: false, text: 'live' });
    assert.equal(r.afterClear, 0, 'no retained message after clearing');
  }));

test('hundreds of requests at once: each promise settles with its own result, twice over', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('many'), protocolVersion: 5 });
      const base = t.uid('many');
      const got = t.sink();
      const rounds = [];
      try {
        await c.subscribe(`${base}/m`, { qos: 2 }, got.fn);
        // Twice: the second round's promises take the ids the first one's gave back.
        for (let round = 0; round < 2; round++) {
          const calls = [];
          for (let i = 0; i < 300; i++) {
            const qos = i % 3;
            calls.push(c.publish(`${base}/m`, `${round}:${i}`, { qos }).then((v) => ({ kind: `qos${qos}`, v })));
            const filter = `${base}/s/${round}/${i}`;
            if (i % 15 === 0) calls.push(c.subscribe(filter, { qos: 1 }).then((v) => ({ kind: 'sub', v, filter })));
            if (i % 30 === 0) calls.push(c.unsubscribe(filter).then((v) => ({ kind: 'unsub', v })));
          }
          const settled = await Promise.all(calls);
          const wrong = settled.filter(({ kind, v, filter }) => {
            if (kind === 'qos0') return !(v && v.reasonCode === 0 && v.packetId === undefined);
            if (kind === 'sub') return !(Array.isArray(v) && v.length === 1 && v[0].qos === 1 && v[0].filter === filter);
            if (kind === 'unsub') return v !== undefined;
            return !(v && v.reasonCode === 0 && v.packetId >= 1 && v.packetId <= 65535);
          });
          const ids = settled.filter(({ kind }) => kind === 'qos1' || kind === 'qos2').map(({ v }) => v.packetId);
          rounds.push({ settled: settled.length, wrong: wrong.slice(0, 3), ids: ids.length });
        }
        const msgs = await got.until(600, 15_000);
        return { rounds, received: new Set(msgs.map((m) => m.text())).size };
      } finally {
        await t.endAll(c);
      }
    }, browser.env);
    for (const round of r.rounds) {
      assert.equal(round.settled, 300 + 20 + 10, 'every promise settled');
      assert.deepEqual(round.wrong, [], 'each with the result of its own request');
      assert.equal(round.ids, 200);
    }
    assert.equal(r.received, 600, 'every message arrived once');
  }));
