// A short keepalive must not cut a session's resume while the broker is still sending it
// what it queued. Mosquitto 2.0.11's WebSocket listener trickles data out at about 42 KB/s
// (a 64 KiB message takes about 1.55 s, 1 MiB about 26 s), each MQTT packet in one
// WebSocket message, with the PINGRESP queued behind. When the client gave up on a PINGRESP
// half a keepalive after PINGREQ, a short keepalive closed the socket mid-message on every
// reconnect and the resumed session never got the message.
//
// A browser sees a WebSocket message only once it is complete, so no client can tell one
// message that takes longer than its PINGRESP deadline from a dead link: the message is
// sized to arrive between the old deadline (1.5 x keepalive after CONNECT) and the new one
// (2 x): with keepalive 2 s, between 3 s and 4 s, about half a second from each (the time is
// printed by the test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage, mosquittoPub } from '../lib/harness.js';
import { netGate } from '../lib/inits.js';

const browser = useBrowser();
const T = { timeout: 90_000 };
const KEEPALIVE = 2;

/**
 * Connects with a persistent session and keepalive KEEPALIVE, subscribes at QoS 1, and goes away
 * without ending the session: the socket is cut (no DISCONNECT) and new sockets are refused
 * until the broker has stored what is published meanwhile.
 */
function goAway(page, topic, protocolVersion) {
  return page.evaluate(async ({ env, topic, protocolVersion, keepalive }) => {
    const { MqttClient } = window.mqtt;
    // Every WebSocket message the client gets, with its size and arrival time.
    const frames = [];
    class Recorded extends WebSocket {
      constructor(...a) {
        super(...a);
        this.addEventListener('message', (e) => frames.push({ at: performance.now(), bytes: e.data.byteLength ?? e.data.size }));
      }
    }
    const clientId = t.uid('kar');
    const c = await MqttClient.connect(env.ws, {
      clientId, protocolVersion, clean: false, sessionExpiry: 3600, keepalive,
      resubscribe: false, reconnect: { initialDelay: 100, maxDelay: 300 }, WebSocket: Recorded,
    });
    await c.subscribe(topic, { qos: 1 });
    const s = { c, clientId, protocolVersion, frames, got: [], errors: [], connects: [] };
    c.on('message', (m) => s.got.push({ at: performance.now(), bytes: m.payload.length, text: m.text().slice(0, 8) }));
    c.on('error', (e) => s.errors.push(e.code));
    c.on('connect', (i) => s.connects.push({ at: performance.now(), sessionPresent: i.sessionPresent }));
    window.resume = s;
    const offline = t.once(c, 'offline', 5000);
    net.block(env.ws);
    net.cut(env.ws);
    await offline;
  }, { env: browser.env, topic, protocolVersion, keepalive: KEEPALIVE });
}

/** Lets the client back in and waits for `count` messages; what it saw meanwhile. */
function comeBack(page, count) {
  return page.evaluate(async ({ env, count }) => {
    const s = window.resume;
    const before = s.frames.length;
    const unblocked = performance.now();
    net.unblock(env.ws);
    try {
      await t.waitFor(() => s.got.length >= count, 30_000, `${count} queued messages`);
      const resumed = s.connects.filter((x) => x.at >= unblocked);
      const connack = resumed[0]?.at ?? unblocked;
      const last = s.got.at(-1).at;
      return {
        got: s.got.map((m) => ({ bytes: m.bytes, text: m.text })),
        errors: s.errors,
        resumed: resumed.map((x) => x.sessionPresent),
        firstMs: Math.round(s.got[0].at - connack),
        lastMs: Math.round(last - connack),
        frames: s.frames.slice(before).filter((f) => f.at >= connack && f.at <= last).length,
      };
    } catch (e) {
      e.message += ` (got ${s.got.length}; errors: ${s.errors.join(', ')}; connects: ${s.connects.length})`;
      throw e;
    } finally {
      await s.c.end();
      // Drop the session so the broker forgets it.
      const clean = await window.mqtt.MqttClient.connect(env.ws, { clientId: s.clientId, clean: true, protocolVersion: s.protocolVersion });
      await clean.end();
    }
  }, { env: browser.env, count });
}

// About 3.5 s after CONNACK at 42 KB/s: after 3 s, before 4 s.
const RESUME_BYTES = 144 * 1024;

/** A payload of `size` bytes whose first 8 say which message it is. */
function payload(i, size) {
  const head = `m${String(i).padStart(3, '0')}:ZZZ`;
  return Buffer.concat([Buffer.from(head), Buffer.alloc(size - head.length, 0x5a)]);
}

for (const protocolVersion of [4, 5]) {
  test(`v${protocolVersion}: a session resumed with keepalive ${KEEPALIVE} s receives a ${RESUME_BYTES >> 10} KiB QoS 1 message the broker queued while it was away`, T, () =>
    withPage(browser, async (page) => {
      const topic = `ka-resume-${Date.now().toString(36)}-v${protocolVersion}`;
      await goAway(page, topic, protocolVersion);
      await mosquittoPub({ topic, payload: payload(0, RESUME_BYTES), qos: 1 });
      const r = await comeBack(page, 1);
      console.log(`v${protocolVersion}: ${RESUME_BYTES} bytes arrived ${r.firstMs} ms after CONNACK in ${r.frames} WebSocket message(s); errors: ${r.errors.join(', ')}`);
      assert.deepEqual(r.got, [{ bytes: RESUME_BYTES, text: 'm000:ZZZ' }]);
      assert.ok(!r.errors.includes('KEEPALIVE_TIMEOUT'), `no keepalive timeout while the message came in: ${r.errors}`);
      assert.deepEqual(r.resumed, [true], 'resumed once, with the session');
    }, { init: netGate }));
}
