// A hostile broker: the scripted WebSocket server of lib/wsserver.js sends what Mosquitto
// never would (malformed packets, packets out of place, abusive flow, odd WebSocket
// framing), and the real library in the page must answer each with the typed error the
// API promises (the connect() rejection, the client's `error` event, or a rejected
// request), never panic, never hang, and keep working: in the same page (one wasm
// instance) the hostile client reconnects to the same server, now behaving, and does a
// QoS 1 round trip, and a new client does one with the real test broker. A few inputs are
// legal however odd (fragmented messages, one byte per message, acks for unknown ids, a
// PINGRESP flood): those must simply work, on the same connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { connack, frame, packet, startWsServer } from '../lib/wsserver.js';

const browser = useBrowser();
const T = { timeout: 60_000 };
/** The bound (ms) every promise in the page gets: a case that exceeds it fails saying what hung. */
const BOUND = 8_000;

// ----- bytes -----

const u16 = (n) => [n >> 8, n & 0xff];
const varint = (n) => { const out = []; do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 0x80; out.push(d); } while (n > 0); return out; };
/** A UTF-8 string (or raw bytes) with its 2-byte length. */
const str = (s) => { const b = Buffer.from(s); return [...u16(b.length), ...b]; };
/** A v5 property list: its length, then the properties. */
const props = (...p) => { const b = p.flat(); return [...varint(b.length), ...b]; };
const P = {
  topicAlias: (n) => [0x23, ...u16(n)],
  receiveMaximum: (n) => [0x21, ...u16(n)],
  maximumQos: (n) => [0x24, n],
  serverKeepAlive: (n) => [0x13, ...u16(n)],
  reasonString: (s) => [0x1f, ...str(s)],
  userProperty: (k, v) => [0x26, ...str(k), ...str(v)],
  subscriptionId: (n) => [0x0b, ...varint(n)],
};

/** CONNACK (v5) accepting, with the given properties. */
const connack5 = (...p) => packet(0x20, [0, 0, ...props(...p)]);

/** A PUBLISH; `topic` may be raw bytes; `first` overrides the first byte. */
function publish({ topic = 'hostile/t', payload = 'x', qos = 0, pid = 1, p = [], v5 = true, first } = {}) {
  return packet(first ?? (0x30 | (qos << 1)), [
    ...str(topic), ...(qos ? u16(pid) : []), ...(v5 ? props(...p) : []), ...Buffer.from(payload),
  ]);
}

const readU16 = (b, at) => (b[at] << 8) | b[at + 1];
function readVarint(b, at) {
  let v = 0; let m = 1;
  for (;;) { const d = b[at++]; v += (d & 0x7f) * m; m *= 128; if (!(d & 0x80)) return [v, at]; }
}
/** The fields of a client PUBLISH. */
function parsePublish(p, v5) {
  const qos = (p.flags >> 1) & 3;
  const n = readU16(p.body, 0);
  const topic = p.body.subarray(2, 2 + n).toString();
  let at = 2 + n;
  const pid = qos ? readU16(p.body, at) : undefined;
  if (qos) at += 2;
  if (v5) { const [len, after] = readVarint(p.body, at); at = after + len; }
  return { qos, topic, pid, payload: p.body.subarray(at) };
}
/** The packet id and filters (with their QoS) of a client SUBSCRIBE or UNSUBSCRIBE. */
function parseRequest(p, v5, withOptions) {
  const pid = readU16(p.body, 0);
  let at = 2;
  if (v5) { const [len, after] = readVarint(p.body, at); at = after + len; }
  const filters = [];
  while (at < p.body.length) {
    const n = readU16(p.body, at);
    filters.push({ filter: p.body.subarray(at + 2, at + 2 + n).toString(), qos: withOptions ? p.body[at + 2 + n] & 3 : 0 });
    at += 2 + n + (withOptions ? 1 : 0);
  }
  return { pid, filters };
}

// ----- the broker's scripts -----

/** Waits for CONNECT; returns whether it is MQTT 5. */
async function takeConnect(conn) {
  const c = await conn.next(1);
  return c.body[6] === 5;
}

/**
 * A broker that behaves, from CONNACK on: acks what the client sends (QoS 1 and 2),
 * grants subscriptions, and forwards each PUBLISH to the client as QoS 1 when it
 * subscribed to that exact topic. Runs until the connection ends.
 */
async function serve(conn, v5) {
  const subs = new Set();
  let nextId = 1;
  for await (const p of conn.packets) {
    if (p.type === 3) {
      const m = parsePublish(p, v5);
      if (m.qos === 1) conn.send(packet(0x40, u16(m.pid)));
      if (m.qos === 2) conn.send(packet(0x50, u16(m.pid)));
      if (subs.has(m.topic)) {
        conn.send(publish({ topic: m.topic, payload: m.payload, qos: 1, pid: nextId, v5 }));
        nextId = (nextId % 65535) + 1;
      }
    } else if (p.type === 6) {
      conn.send(packet(0x70, p.body.subarray(0, 2)));
    } else if (p.type === 8) {
      const r = parseRequest(p, v5, true);
      for (const f of r.filters) subs.add(f.filter);
      conn.send(packet(0x90, [...u16(r.pid), ...(v5 ? [0] : []), ...r.filters.map((f) => f.qos)]));
    } else if (p.type === 10) {
      const r = parseRequest(p, v5, false);
      for (const f of r.filters) subs.delete(f.filter);
      conn.send(packet(0xb0, [...u16(r.pid), ...(v5 ? [0, ...r.filters.map(() => 0)] : [])]));
    } else if (p.type === 12) {
      conn.send(packet(0xd0));
    }
  }
}

/** The whole well-behaved broker: CONNACK, then [`serve`]. */
async function behave(conn) {
  const v5 = await takeConnect(conn);
  conn.send(connack({ v5 }));
  await serve(conn, v5);
}

/**
 * CONNACK, then waits for the page's trigger (a PUBLISH on "go", or a SUBSCRIBE /
 * UNSUBSCRIBE) so the page listens before anything hostile arrives; returns the trigger.
 */
async function connected(conn, { v5 = true, trigger = 3 } = {}) {
  await takeConnect(conn);
  conn.send(connack({ v5 }));
  return conn.next(trigger);
}

// ----- the page -----

/** Installed in every page as `window.h`: the client side of each flow. */
function pageHelpers(bound) {
  const data = (e) => ({
    code: e?.code, reasonCode: e?.reasonCode, message: String(e?.message),
    isMqttError: e instanceof window.mqtt.MqttError,
  });
  const h = {
    data,
    /** Subscribe (QoS 1) to a fresh topic, publish QoS 1 to it, receive it. */
    async roundTrip(c, label) {
      const topic = `hostile/${t.uid(label)}`;
      const s = t.sink();
      await t.within(c.subscribe(topic, { qos: 1 }, s.fn), bound, `${label}: subscribe`);
      await t.within(c.publish(topic, 'ping', { qos: 1 }), bound, `${label}: publish`);
      const [m] = await s.until(1, bound);
      return { text: m.text(), qos: m.qos };
    },
    /** A new client of `url` does a round trip, then ends. */
    async fresh(url, options = {}, label = 'fresh') {
      const c = await t.within(window.mqtt.MqttClient.connect(url, options), bound, `${label}: connect()`);
      try {
        return await h.roundTrip(c, label);
      } finally {
        await t.endAll(c);
      }
    },
    /** connect() that must fail: its rejection as data. */
    async refused(url, options) {
      try {
        const c = await t.within(window.mqtt.MqttClient.connect(url, options), bound, 'connect() to settle');
        await t.endAll(c);
        return { resolved: true };
      } catch (e) {
        return data(e);
      }
    },
    /**
     * Connects and records the client's events, then sends the trigger: `go` is
     * { publish: qos } (on topic "go"), { subscribe: [filters] } or { unsubscribe: [filters] }
     * (after subscribing to them). The trigger's outcome is kept in `rec.go`.
     */
    async open(url, options, go = { publish: 0 }) {
      const c = await t.within(window.mqtt.MqttClient.connect(url, options), bound, 'connect()');
      const rec = { c, errors: [], connects: 0, offline: 0, messages: [], go: undefined };
      window.rec = rec;
      c.on('error', (e) => rec.errors.push(data(e)));
      c.on('connect', () => { rec.connects += 1; });
      c.on('offline', () => { rec.offline += 1; });
      c.on('message', (m) => rec.messages.push({ topic: m.topic, text: m.text(), qos: m.qos }));
      let p;
      if ('publish' in go) p = c.publish('go', 'x', { qos: go.publish });
      else if ('subscribe' in go) p = c.subscribe(go.subscribe, { qos: 1 });
      else {
        await t.within(c.subscribe(go.unsubscribe, { qos: 1 }), bound, 'subscribe before unsubscribe');
        p = c.unsubscribe(go.unsubscribe);
      }
      p.then((v) => { rec.go = { resolved: JSON.stringify(v ?? null) }; }, (e) => { rec.go = { rejected: data(e) }; });
      return true;
    },
    /** The first `error` event of the recorded client. */
    async firstError() {
      await t.waitFor(() => window.rec.errors.length, bound, 'an error event');
      return window.rec.errors[0];
    },
    /** The recorded client reconnected, its trigger settled, and it does a round trip. */
    async recovered() {
      const { rec } = window;
      await t.waitFor(() => rec.connects >= 1, bound, 'the client to reconnect');
      await t.waitFor(() => rec.go, bound, 'the trigger request to settle');
      const trip = await h.roundTrip(rec.c, 'again');
      return { trip, go: rec.go, state: rec.c.state };
    },
    /** Waits for a message on `topic` (the script's "done" marker). */
    async message(topic) {
      await t.waitFor(() => window.rec.messages.some((m) => m.topic === topic), bound, `a message on ${topic}`);
      return window.rec.messages;
    },
    /** The recorded client's state, events so far, and a round trip on its connection. */
    async still() {
      const { rec } = window;
      await t.waitFor(() => rec.go, bound, 'the trigger request to settle');
      const trip = await h.roundTrip(rec.c, 'same');
      return { trip, go: rec.go, state: rec.c.state, errors: rec.errors, connects: rec.connects, offline: rec.offline, messages: rec.messages };
    },
    async end() { await t.endAll(window.rec?.c); },
  };
  window.h = h;
}

const PANIC = /panicked|RuntimeError|unreachable/i;
const OPTIONS = { reconnect: { initialDelay: 50, maxDelay: 200 }, connectTimeout: 3_000 };

/**
 * Runs one case: a scripted server whose first connection runs `script` and whose later
 * ones behave; `body(page, url)` drives the page and asserts; then no panic on
 * the console, and a new client works with the real test broker in the same page.
 */
async function hostile(script, body) {
  let n = 0;
  const server = await startWsServer((conn) => (n++ === 0 ? script(conn) : behave(conn)));
  try {
    await withPage(browser, async (page) => {
      await page.evaluate(pageHelpers, BOUND);
      await body(page, server.url);
      const real = await page.evaluate((ws) => h.fresh(ws, {}, 'real'), browser.env.ws);
      assert.deepEqual(real, { text: 'ping', qos: 1 }, 'a new client works with the test broker');
      await page.evaluate(() => h.end());
      const bad = page.logs.filter((l) => PANIC.test(l));
      assert.deepEqual(bad, [], 'no panic and no wasm trap on the console');
    });
  } finally {
    await server.close();
  }
}

/** The error data carries `code` (and `reasonCode` when given) as an MqttError. */
function assertError(e, code, reasonCode) {
  assert.ok(e && e.isMqttError, `an MqttError: ${JSON.stringify(e)}`);
  assert.equal(e.code, code, JSON.stringify(e));
  if (reasonCode !== undefined) assert.equal(e.reasonCode, reasonCode, JSON.stringify(e));
}

/**
 * Before CONNACK: connect() rejects with `code`; then a new client of the same server
 * (its next connection behaves) connects and does a round trip.
 */
function refusedCase(name, bytes, code, { reasonCode, options = {}, message } = {}) {
  test(`before CONNACK: ${name} -> connect() rejects ${code}`, T, () => hostile(
    async (conn) => {
      await takeConnect(conn);
      if (typeof bytes === 'function') await bytes(conn);
      else conn.send(bytes);
      await conn.next(99, Infinity).catch(() => {}); // hold the connection until the client drops it
    },
    async (page, url) => {
      const e = await page.evaluate(({ url, o }) => h.refused(url, o), { url, o: { ...OPTIONS, ...options } });
      assertError(e, code, reasonCode);
      assert.ok(e.message.includes(url), `the message names the URL: ${e.message}`);
      if (message) assert.match(e.message, message);
      const again = await page.evaluate(({ url, o }) => h.fresh(url, o, 'retry'), { url, o: { ...OPTIONS, ...options } });
      assert.deepEqual(again, { text: 'ping', qos: 1 }, 'the same server, behaving now, works with a new client');
    },
  ));
}

/**
 * After CONNACK: the trigger (`go`) makes the script send `hostileBytes(trigger, conn)`'s
 * bytes; the client reports `code` on its error event (on MQTT 5 with the same reason in
 * its DISCONNECT), reconnects (the server behaves from then on), its trigger request
 * settles (`goResult` checks how), and it does a round trip.
 */
function brokenCase(name, hostileBytes, code, { reasonCode, v5 = true, go = { publish: 0 }, options = {}, message, goResult, mayCloseSilently } = {}) {
  const trigger = 'publish' in go ? 3 : 'subscribe' in go ? 8 : 10;
  // The reason code of the client's DISCONNECT, or null when it closed without one.
  let disconnect;
  test(`after CONNACK: ${name} -> error event ${code}, then reconnects and works`, T, () => hostile(
    async (conn) => {
      if ('unsubscribe' in go) {
        // Grant the subscription first, as a broker would.
        await takeConnect(conn);
        conn.send(connack({ v5 }));
        const s = parseRequest(await conn.next(8), v5, true);
        conn.send(packet(0x90, [...u16(s.pid), ...(v5 ? [0] : []), ...s.filters.map((f) => f.qos)]));
        const u = await conn.next(10);
        await hostileBytes(u, conn);
      } else {
        const p = await connected(conn, { v5, trigger });
        await hostileBytes(p, conn);
      }
      disconnect = conn.next(14, BOUND).then((d) => (d.body.length ? d.body[0] : 0), () => null);
    },
    async (page, url) => {
      const o = { ...OPTIONS, protocolVersion: v5 ? 5 : 4, ...options };
      await page.evaluate(({ url, o, go }) => h.open(url, o, go), { url, o, go });
      const e = await page.evaluate(() => h.firstError());
      assertError(e, code, reasonCode);
      if (message) assert.match(e.message, message);
      // MQTT 5: the client tells the broker why it drops the connection; a broker's
      // DISCONNECT or a lost connection needs no answer, and 3.1.1 has no reason to give
      // (its DISCONNECT would discard the Will).
      const mine = v5 && (code === 'PROTOCOL_ERROR' || code === 'PACKET_TOO_LARGE');
      const sent = await disconnect;
      if (!(mayCloseSilently && sent === null)) {
        assert.equal(sent, mine ? e.reasonCode : null, 'the reason code of the client\'s DISCONNECT');
      }
      const r = await page.evaluate(() => h.recovered());
      assert.deepEqual(r.trip, { text: 'ping', qos: 1 }, 'the hostile client works after reconnecting');
      assert.equal(r.state, 'connected');
      if (goResult) goResult(r.go);
    },
  ));
}

/**
 * Odd but legal input after CONNACK: the script sends it, then a QoS 0 PUBLISH on
 * "done"; the client reports no error, keeps the same connection, and it works.
 */
function toleratedCase(name, script, { go = { publish: 0 }, check } = {}) {
  const trigger = 'publish' in go ? 3 : 8;
  test(`tolerated: ${name}: no error, the same connection keeps working`, T, () => {
    let seen;
    return hostile(
      async (conn) => {
        const p = await connected(conn, { trigger });
        seen = await script(p, conn);
        conn.send(publish({ topic: 'done' }));
        await serve(conn, true);
      },
      async (page, url) => {
        await page.evaluate(({ url, o, go }) => h.open(url, o, go), { url, o: OPTIONS, go });
        await page.evaluate(() => h.message('done'));
        const r = await page.evaluate(() => h.still());
        assert.deepEqual(r.errors, [], 'no error event');
        assert.equal(r.offline, 0, 'the connection was never dropped');
        assert.deepEqual(r.trip, { text: 'ping', qos: 1 });
        assert.equal(r.state, 'connected');
        if (check) check(seen, r);
      },
    );
  });
}

// ----- before CONNACK: connect() rejects -----

refusedCase('a remaining length of five bytes', Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0x01]), 'PROTOCOL_ERROR', { reasonCode: 0x81 });
refusedCase('reserved packet type 0', packet(0x00), 'PROTOCOL_ERROR');
refusedCase('CONNACK with reserved acknowledge flags', packet(0x20, [0x02, 0, 0]), 'PROTOCOL_ERROR');
refusedCase('CONNACK cut short (remaining length 1)', packet(0x20, [0]), 'PROTOCOL_ERROR');
refusedCase('CONNACK with a byte after its properties', packet(0x20, [0, 0, 0, 0xaa]), 'PROTOCOL_ERROR');
refusedCase('CONNACK with a reason code MQTT 5 does not define (0x03)', packet(0x20, [0, 0x03, 0]), 'PROTOCOL_ERROR');
refusedCase('a v5 CONNECT accepted by a CONNACK with no property length', packet(0x20, [0, 0]), 'PROTOCOL_ERROR');
refusedCase('3.1.1 CONNACK with return code 6', packet(0x20, [0, 6]), 'PROTOCOL_ERROR', { options: { protocolVersion: 4 } });
refusedCase('session present in answer to clean start', packet(0x20, [1, 0, 0]), 'PROTOCOL_ERROR');
refusedCase('PUBLISH before CONNACK', publish(), 'PROTOCOL_ERROR');
refusedCase('AUTH before CONNACK (no authentication method was sent)', packet(0xf0, [0x18, 0]), 'PROTOCOL_ERROR');
refusedCase('CONNACK with Receive Maximum 0', connack5(P.receiveMaximum(0)), 'PROTOCOL_ERROR');
refusedCase('CONNACK with Maximum QoS 2', connack5(P.maximumQos(2)), 'PROTOCOL_ERROR');
refusedCase('CONNACK with Receive Maximum twice', connack5(P.receiveMaximum(10), P.receiveMaximum(20)), 'PROTOCOL_ERROR');
refusedCase('CONNACK with unknown property 0x7f', connack5([0x7f, 0]), 'PROTOCOL_ERROR');
refusedCase('CONNACK with a property of PUBLISH (Topic Alias)', connack5(P.topicAlias(1)), 'PROTOCOL_ERROR');
refusedCase('CONNACK whose property length runs past the packet', packet(0x20, [0, 0, 0x10, ...P.receiveMaximum(5)]), 'PROTOCOL_ERROR');
refusedCase('CONNACK with a user property of invalid UTF-8', connack5([0x26, ...str(Buffer.from([0xc3, 0x28])), ...str('v')]), 'PROTOCOL_ERROR');
refusedCase('a packet whose length runs past the data, then a clean close', async (conn) => {
  conn.send([0x20, 10, 0, 0]);
  conn.close(1000);
}, 'CONNECTION_LOST', { message: /closed the connection before CONNACK \(close code 1000\)/ });
refusedCase('a close frame with code 1002 (protocol error)', async (conn) => conn.close(1002), 'CONNECTION_LOST', { message: /close code 1002/ });
refusedCase('no CONNACK at all', async () => {}, 'CONNECT_TIMEOUT', { options: { connectTimeout: 500 }, message: /connack/i });
refusedCase('a CONNACK in a text frame (MQTT over WebSocket is binary only)', async (conn) => conn.raw(frame(connack(), { opcode: 0x1 })), 'PROTOCOL_ERROR', {
});

// ----- after CONNACK: the error event, a new connection, and the client works -----

const send = (bytes) => async (_, conn) => conn.send(bytes);

brokenCase('a second CONNACK', send(connack()), 'PROTOCOL_ERROR', { reasonCode: 0x82 });
brokenCase('reserved packet type 0', send(packet(0x00)), 'PROTOCOL_ERROR');
brokenCase('a remaining length of five bytes', send([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), 'PROTOCOL_ERROR', { reasonCode: 0x81 });
brokenCase('PUBLISH with QoS 3', send(publish({ first: 0x36, qos: 1 })), 'PROTOCOL_ERROR');
brokenCase('QoS 1 PUBLISH with packet id 0', send(publish({ qos: 1, pid: 0 })), 'PROTOCOL_ERROR');
brokenCase('PUBLISH topic of invalid UTF-8', send(publish({ topic: Buffer.from([0x61, 0xff, 0x62]) })), 'PROTOCOL_ERROR');
brokenCase('PUBLISH topic with U+0000', send(publish({ topic: 'a\u0000b' })), 'PROTOCOL_ERROR');
brokenCase('PUBLISH topic with a wildcard', send(publish({ topic: 'a/+/b' })), 'PROTOCOL_ERROR', { reasonCode: 0x90 });
brokenCase('PUBLISH with topic alias 0', send(publish({ p: [P.topicAlias(0)] })), 'PROTOCOL_ERROR', { reasonCode: 0x94 });
brokenCase('PUBLISH with a topic alias above the announced maximum', send(publish({ p: [P.topicAlias(33)] })), 'PROTOCOL_ERROR', {
  reasonCode: 0x94, options: { properties: { topicAliasMaximum: 32 } },
});
brokenCase('PUBLISH with an empty topic and an alias never set', send(publish({ topic: '', p: [P.topicAlias(5)] })), 'PROTOCOL_ERROR');
brokenCase('PUBLISH with subscription identifier 0', send(publish({ p: [P.subscriptionId(0)] })), 'PROTOCOL_ERROR');
brokenCase('PUBLISH with Topic Alias twice', send(publish({ p: [P.topicAlias(1), P.topicAlias(2)] })), 'PROTOCOL_ERROR');
brokenCase('PUBLISH with a property of CONNACK (Maximum QoS)', send(publish({ p: [P.maximumQos(1)] })), 'PROTOCOL_ERROR');
brokenCase('PUBLISH whose property length runs past the packet', send(packet(0x30, [...str('a'), 0x20, ...P.topicAlias(1)])), 'PROTOCOL_ERROR');
brokenCase('PUBLISH with a user property of invalid UTF-8', send(publish({ p: [[0x26, ...str('k'), ...str(Buffer.from([0xed, 0xa0, 0x80]))]] })), 'PROTOCOL_ERROR');
brokenCase('PUBACK with an undefined reason code, for the pending publish', (p, conn) => {
  conn.send(packet(0x40, [...u16(parsePublish(p, true).pid), 0x05, 0]));
}, 'PROTOCOL_ERROR', {
  go: { publish: 1 },
  // The publish was never acknowledged: it is resent on the new connection and acked there.
  goResult: (go) => assert.ok(go.resolved, `the publish resolves after the reconnect: ${JSON.stringify(go)}`),
});
brokenCase('QoS 2 PUBLISHes beyond the Receive Maximum the client announced', send(Buffer.concat(
  [1, 2, 3].map((pid) => publish({ qos: 2, pid })),
)), 'PROTOCOL_ERROR', { reasonCode: 0x93, options: { properties: { receiveMaximum: 2 } } });
brokenCase('PUBREL with reserved flags 0000', send(packet(0x60, [0, 1])), 'PROTOCOL_ERROR');
brokenCase('PINGRESP with a body', send(packet(0xd0, [0])), 'PROTOCOL_ERROR');
brokenCase('AUTH after CONNACK', send(packet(0xf0, [0x18, 0])), 'PROTOCOL_ERROR');
brokenCase('packet type 15 on a 3.1.1 connection', send(packet(0xf0)), 'PROTOCOL_ERROR', { v5: false });
brokenCase('SUBACK with an undefined reason code', (p, conn) => {
  conn.send(packet(0x90, [...p.body.subarray(0, 2), 0, 0x03]));
}, 'PROTOCOL_ERROR', {
  go: { subscribe: ['hostile/s'] },
  // The SUBSCRIBE was on the wire: it goes out again on the new connection and is granted.
  goResult: (go) => assert.ok(go.resolved, JSON.stringify(go)),
});
brokenCase('SUBACK with fewer reason codes than filters', (p, conn) => {
  conn.send(packet(0x90, [...p.body.subarray(0, 2), 0, 1]));
}, 'PROTOCOL_ERROR', {
  go: { subscribe: ['hostile/a', 'hostile/b'] },
  goResult: (go) => assert.equal(go.rejected?.code, 'PROTOCOL_ERROR', JSON.stringify(go)),
});
brokenCase('UNSUBACK with more reason codes than filters', (p, conn) => {
  conn.send(packet(0xb0, [...p.body.subarray(0, 2), 0, 0, 0]));
}, 'PROTOCOL_ERROR', {
  go: { unsubscribe: ['hostile/u'] },
  goResult: (go) => assert.equal(go.rejected?.code, 'PROTOCOL_ERROR', JSON.stringify(go)),
});
brokenCase('a packet larger than the client\'s Maximum Packet Size', send(publish({ payload: Buffer.alloc(2000) })), 'PACKET_TOO_LARGE', {
  reasonCode: 0x95, options: { properties: { maximumPacketSize: 1024 } },
});
brokenCase('a header announcing 200 MB, and no more', send([0x30, ...varint(200_000_000)]), 'PACKET_TOO_LARGE', { reasonCode: 0x95 });
brokenCase('DISCONNECT with a reason, a reason string and a user property',
  send(packet(0xe0, [0x89, ...props(P.reasonString('too busy'), P.userProperty('k', 'v'))])),
  'SERVER_DISCONNECT', { reasonCode: 0x89, message: /too busy/ });
brokenCase('DISCONNECT with a reason code MQTT 5 does not define (0x05)', send(packet(0xe0, [0x05, 0])), 'PROTOCOL_ERROR');
brokenCase('a close frame with code 1011', async (_, conn) => conn.close(1011), 'CONNECTION_LOST', { message: /1011/ });
brokenCase('a TCP reset in the middle of a packet', async (_, conn) => {
  const half = publish({ payload: Buffer.alloc(100) }).subarray(0, 40);
  conn.send(half);
  // Let the half packet reach the client before the reset.
  await new Promise((ok) => setTimeout(ok, 50));
  conn.reset();
}, 'CONNECTION_LOST');
brokenCase('a PUBLISH in a text frame', async (_, conn) => conn.raw(frame(publish(), { opcode: 0x1 })), 'PROTOCOL_ERROR', {
  // MQTT 5 section 4.13: closing without DISCONNECT is allowed too; one sent must say why.
  mayCloseSilently: true,
});

// ----- odd but legal: the same connection keeps working -----

toleratedCase('PUBACK and PUBCOMP for packet ids never used', async (_, conn) => {
  conn.send(Buffer.concat([packet(0x40, u16(4242)), packet(0x70, u16(4243))]));
});
toleratedCase('SUBACK and UNSUBACK for packet ids never used', async (_, conn) => {
  conn.send(Buffer.concat([packet(0x90, [...u16(4242), 0, 1]), packet(0xb0, [...u16(4243), 0, 0])]));
});
toleratedCase('PUBREC for a packet id never used: PUBREL with 0x92 (v5)', async (_, conn) => {
  conn.send(packet(0x50, u16(4242)));
  return (await conn.next(6)).body;
}, { check: (body) => assert.deepEqual([...body], [...u16(4242), 0x92], 'PUBREL: Packet Identifier not found') });
toleratedCase('PUBREL for a packet id never used: PUBCOMP with 0x92 (v5)', async (_, conn) => {
  conn.send(packet(0x62, u16(4242)));
  return (await conn.next(7)).body;
}, { check: (body) => assert.deepEqual([...body], [...u16(4242), 0x92], 'PUBCOMP: Packet Identifier not found') });
toleratedCase('a QoS 2 PUBLISH sent again (DUP) before its PUBREL: delivered once', async (_, conn) => {
  conn.send(publish({ topic: 'hostile/q2', payload: 'once', qos: 2, pid: 7 }));
  await conn.next(5);
  conn.send(publish({ topic: 'hostile/q2', payload: 'once', qos: 2, pid: 7, first: 0x3c }));
  await conn.next(5);
  conn.send(packet(0x62, u16(7)));
  return (await conn.next(7)).body;
}, {
  check: (body, r) => {
    assert.deepEqual([...body], u16(7), 'PUBCOMP: success');
    assert.equal(r.messages.filter((m) => m.topic === 'hostile/q2').length, 1, 'delivered exactly once');
  },
});
toleratedCase('1,000 PINGRESPs that no PINGREQ asked for, in one message', async (_, conn) => {
  conn.send(Buffer.concat(Array.from({ length: 1000 }, () => packet(0xd0))));
});

// ----- WebSocket framing that is legal: it must simply work -----

/** Three PUBLISHes on "hostile/f" as bytes. */
const three = () => Buffer.concat([1, 2, 3].map((i) => publish({ topic: 'hostile/f', payload: `m${i}` })));

/**
 * `deliver(conn, bytes)` frames the CONNACK, then (once the page listens) three PUBLISHes
 * its way; the client connects, gets the three in order, reports nothing and works.
 */
function legalFraming(name, deliver) {
  test(`legal framing: ${name}: the client connects and gets every message`, T, () => hostile(
    async (conn) => {
      await takeConnect(conn);
      await deliver(conn, connack());
      await conn.next(3); // the page listens
      await deliver(conn, three());
      await serve(conn, true);
    },
    async (page, url) => {
      await page.evaluate(({ url, o }) => h.open(url, o), { url, o: OPTIONS });
      const r = await page.evaluate(async (bound) => {
        await t.waitFor(() => window.rec.messages.length >= 3, bound, '3 messages');
        return { texts: window.rec.messages.map((m) => m.text), ...(await h.still()) };
      }, BOUND);
      assert.deepEqual(r.texts, ['m1', 'm2', 'm3']);
      assert.deepEqual(r.errors, []);
      assert.equal(r.offline, 0);
      assert.deepEqual(r.trip, { text: 'ping', qos: 1 });
    },
  ));
}
legalFraming('one message in four fragments (continuation frames), a ping frame between two', async (conn, bytes) => {
  const q = Math.ceil(bytes.length / 4);
  const parts = [0, 1, 2, 3].map((i) => bytes.subarray(i * q, (i + 1) * q));
  conn.raw(frame(parts[0], { opcode: 0x2, fin: false }));
  conn.raw(frame(parts[1], { opcode: 0x0, fin: false }));
  conn.raw(frame(Buffer.from('hi'), { opcode: 0x9 }));
  conn.raw(frame(parts[2], { opcode: 0x0, fin: false }));
  conn.raw(frame(parts[3], { opcode: 0x0, fin: true }));
});
legalFraming('one byte per WebSocket message', async (conn, bytes) => {
  for (const b of bytes) conn.send([b]);
});

test('legal framing: 300 QoS 1 PUBLISHes in one message: all delivered once, in order, all acknowledged', T, () => {
  let acked;
  return hostile(
    async (conn) => {
      await connected(conn);
      conn.send(Buffer.concat([...Array.from({ length: 300 }, (_, i) => publish({ topic: 'hostile/many', payload: `m${i}`, qos: 1, pid: i + 1 }))]));
      const ids = new Set();
      while (ids.size < 300) ids.add(readU16((await conn.next(4)).body, 0));
      acked = ids.size;
      await serve(conn, true);
    },
    async (page, url) => {
      await page.evaluate(({ url, o }) => h.open(url, o), { url, o: OPTIONS });
      const r = await page.evaluate(async (bound) => {
        await t.waitFor(() => window.rec.messages.length >= 300, bound, '300 messages');
        return { texts: window.rec.messages.map((m) => m.text), ...(await h.still()) };
      }, BOUND);
      assert.deepEqual(r.texts, Array.from({ length: 300 }, (_, i) => `m${i}`));
      assert.equal(acked, 300, 'every PUBLISH acknowledged');
      assert.deepEqual(r.errors, []);
    },
  );
});

// ----- keepalive as the broker sets it -----

test('Server Keep Alive 1 overrides the client\'s 60: the client pings at the broker\'s period', T, () => hostile(
  async (conn) => {
    await takeConnect(conn);
    conn.send(connack5(P.serverKeepAlive(1)));
    await conn.next(12, BOUND);
    conn.send(packet(0xd0));
    conn.send(publish({ topic: 'done' }));
    await serve(conn, true);
  },
  async (page, url) => {
    await page.evaluate(({ url, o }) => h.open(url, o), { url, o: { ...OPTIONS, keepalive: 60 } });
    await page.evaluate(() => h.message('done'));
    const r = await page.evaluate(() => h.still());
    assert.deepEqual(r.errors, []);
    assert.equal(r.offline, 0);
  },
));

test('Server Keep Alive 0 turns the client\'s keepalive off: no PINGREQ, the connection stays', T, () => {
  let first;
  return hostile(
    async (conn) => {
      await takeConnect(conn);
      conn.send(connack5(P.serverKeepAlive(0)));
      await conn.next(3); // the trigger
      // The client asked for 1 s; with keepalive off, the next packet is the page's
      // publish 2.5 s later, not a PINGREQ.
      first = (await conn.next(undefined, BOUND)).type;
      await serve(conn, true);
    },
    async (page, url) => {
      await page.evaluate(({ url, o }) => h.open(url, o), { url, o: { ...OPTIONS, keepalive: 1 } });
      await page.evaluate(async () => { await t.sleep(2500); await window.rec.c.publish('after', 'x'); });
      const r = await page.evaluate(() => h.still());
      assert.equal(first, 3, 'the first packet after the trigger is the PUBLISH, not a PINGREQ');
      assert.deepEqual(r.errors, []);
    },
  );
});
