// Bounded receive: a broker may pack any number of packets into one WebSocket message.
// The client decodes and delivers such a message in bounded batches, so wasm linear memory
// (which never shrinks) stays flat however many packets one message carries, and every
// message is delivered in order, listeners of one WebSocket message before the next one's.
// The broker is scripted (tests/js/lib/wsserver.js): Mosquitto never packs 100,000
// PUBLISHes into one frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { startWsServer, connack, packet, frame } from '../lib/wsserver.js';

const browser = useBrowser();
const T = { timeout: 120_000 };

const COUNT = 100_000;
const PAYLOAD = 20;
const TOPIC = 'flood/x';
const MIB = 1024 * 1024;

/** One v5 PUBLISH, QoS 0: topic, an empty property list, `payload`. */
function publish(payload) {
  const topic = Buffer.from(TOPIC);
  return packet(0x30, Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([0]), payload]));
}

/** `COUNT` PUBLISHes whose payloads start with their sequence number (u32, big-endian). */
function flood() {
  const one = publish(Buffer.alloc(PAYLOAD));
  const out = Buffer.alloc(one.length * COUNT);
  for (let i = 0; i < COUNT; i++) {
    one.copy(out, i * one.length);
    out.writeUInt32BE(i, (i + 1) * one.length - PAYLOAD);
  }
  return out;
}

test('100,000 PUBLISHes in one WebSocket message: all delivered in order, wasm memory flat', T, (ctx) =>
  withPage(browser, async (page) => {
    const body = flood();
    const server = await startWsServer(async (conn) => {
      await conn.next(1); // CONNECT
      conn.send(connack());
      const sub = await conn.next(8); // SUBSCRIBE
      // SUBACK: the request's packet id, no properties, QoS 0 granted.
      conn.send(packet(0x90, [sub.body[0], sub.body[1], 0, 0]));
      // The whole flood as ONE message, then the marker as a message of its own.
      conn.raw(frame(body));
      conn.send(publish(Buffer.from('end')));
    });
    try {
      const r = await page.evaluate(async ({ url, topic, count }) => {
        const { MqttClient } = window.mqtt;
        const memory = () => window.wasm.memory.buffer.byteLength;
        const c = await MqttClient.connect(url, { reconnect: false });
        try {
          const before = memory();
          let n = 0;
          let firstWrong = -1;
          let peak = before;
          let markerAfter = -1;
          let marked;
          const marker = new Promise((ok) => { marked = ok; });
          let first = 0;
          await c.subscribe(topic, { qos: 0 }, (m) => {
            if (n === 0) first = performance.now();
            if (m.payload.length === 3) {
              markerAfter = n;
              marked();
              return;
            }
            const seq = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0);
            if (seq !== n && firstWrong < 0) firstWrong = n;
            n += 1;
            if ((n & 1023) === 0) peak = Math.max(peak, memory());
          });
          await t.within(marker, 90_000, `the marker after the flood (have ${n})`);
          const ms = performance.now() - first;
          return { before, after: Math.max(peak, memory()), n, firstWrong, markerAfter, ms };
        } finally {
          await t.endAll(c);
        }
      }, { url: server.url, topic: TOPIC, count: COUNT });
      const growth = r.after - r.before;
      ctx.diagnostic(`wasm memory grew by ${(growth / MIB).toFixed(2)} MiB (${r.before} -> ${r.after} bytes)`);
      ctx.diagnostic(`${r.n} messages delivered in ${r.ms.toFixed(0)} ms (first to marker)`);
      assert.equal(r.n, COUNT, 'every PUBLISH of the message was delivered');
      assert.equal(r.firstWrong, -1, 'in sequence order');
      assert.equal(r.markerAfter, COUNT, 'the next WebSocket message came after the whole flood');
      assert.ok(growth <= 8 * MIB, `wasm memory grew by ${(growth / MIB).toFixed(2)} MiB (at most 8 MiB)`);
    } finally {
      await server.close();
    }
  }));
