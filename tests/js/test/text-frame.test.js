// MQTT over WebSocket is binary only [MQTT-6.0.0-1]: a text frame from the broker is a
// protocol error, whatever it holds. The scripted broker (tests/js/lib/wsserver.js) sends
// text frames whose characters happen to spell valid MQTT packets (a CONNACK, a PUBLISH),
// so a client that decoded text as MQTT would accept them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { startWsServer, connack, packet, frame } from '../lib/wsserver.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

/** A text frame carrying `bytes` (all below 0x80, so its UTF-8 is the bytes themselves). */
function textFrame(bytes) {
  return frame(Buffer.from(bytes).toString('latin1'), { opcode: 0x1 });
}

/** A v5 QoS 0 PUBLISH of `payload` to `topic`. */
function publish(topic, payload) {
  const t = Buffer.from(topic);
  return packet(0x30, Buffer.concat([Buffer.from([0, t.length]), t, Buffer.from([0]), Buffer.from(payload)]));
}

test('a text frame before CONNACK fails the first connect() with PROTOCOL_ERROR', T, () =>
  withPage(browser, async (page) => {
    const server = await startWsServer(async (conn) => {
      await conn.next(1); // CONNECT
      conn.raw(textFrame(connack()));
    });
    try {
      const r = await page.evaluate(async (url) => {
        const { MqttClient } = window.mqtt;
        // The default options: the one URL is tried once, then connect() settles.
        const connecting = MqttClient.connect(url);
        return { error: await t.rejection(t.within(connecting, 10_000, 'connect')) };
      }, server.url);
      assert.equal(r.error.code, 'PROTOCOL_ERROR', JSON.stringify(r.error));
      assert.match(r.error.message, /text/i);
      assert.ok(r.error.isMqttError);
      const conn = server.connections[0];
      await assert.rejects(conn.next(1, 5_000), /closed the connection/, 'the client closed the socket');
    } finally {
      await server.close();
    }
  }));

test('a text frame after CONNACK: PROTOCOL_ERROR reported, DISCONNECT 0x82, reconnected', T, () =>
  withPage(browser, async (page) => {
    const server = await startWsServer(async (conn) => {
      await conn.next(1); // CONNECT
      conn.send(connack());
      const sub = await conn.next(8); // SUBSCRIBE
      conn.send(packet(0x90, [sub.body[0], sub.body[1], 0, 0]));
      if (server.connections.length === 1) {
        // A PUBLISH spelt as text: it must not be delivered.
        conn.raw(textFrame(publish('text/x', 'as-text')));
      } else {
        conn.send(publish('text/x', 'binary'));
      }
    });
    try {
      const r = await page.evaluate(async (url) => {
        const { MqttClient } = window.mqtt;
        const c = await MqttClient.connect(url, { reconnect: { initialDelay: 50, maxDelay: 50 } });
        try {
          const errors = [];
          c.on('error', (e) => errors.push({ code: e.code, message: e.message }));
          const got = t.sink();
          const offline = t.once(c, 'offline', 10_000);
          await c.subscribe('text/x', { qos: 0 }, got.fn);
          await offline;
          // Resubscribed on the new connection, whose broker sends the same as binary.
          const items = await got.until(1, 10_000);
          return {
            errors,
            payloads: items.map((m) => new TextDecoder().decode(m.payload)),
            state: c.state,
          };
        } finally {
          await t.endAll(c);
        }
      }, server.url);
      assert.equal(r.errors[0]?.code, 'PROTOCOL_ERROR', JSON.stringify(r.errors));
      assert.match(r.errors[0].message, /text/i);
      assert.deepEqual(r.payloads, ['binary'], 'the text PUBLISH was not delivered; the binary one was');
      const first = server.connections[0];
      const disconnect = await first.next(14, 5_000);
      assert.equal(disconnect.body[0], 0x82, 'DISCONNECT with Protocol Error');
      assert.ok(server.connections.length >= 2, 'the client reconnected');
    } finally {
      await server.close();
    }
  }));
