// Input errors: rejected promises with a code, and nothing sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 30_000 };

test('invalid topic, wildcard publish topic, QoS 3: rejected with a code, nothing sent', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('err') });
      try {
        const before = c.stats().bytesSent;
        const cases = {
          empty: c.publish('', 'x'),
          nul: c.publish('a\u0000b', 'x'),
          plus: c.publish('a/+/b', 'x', { qos: 1 }),
          hash: c.publish('a/#', 'x'),
          qos3: c.publish('a/b', 'x', { qos: 3 }),
          qosNeg: c.publish('a/b', 'x', { qos: -1 }),
          badFilter: c.subscribe('a/#/b'),
          subQos3: c.subscribe('a/b', { qos: 3 }),
        };
        const out = {};
        for (const [k, p] of Object.entries(cases)) out[k] = await t.rejection(p);
        // A request the client accepts is written at once (counted in bytesSent) or
        // queued: neither happened.
        out.queued = c.stats().queued;
        out.bytesSentDelta = c.stats().bytesSent - before;
        out.inflight = c.stats().inflight;
        out.state = c.state;
        return out;
      } finally {
        await t.endAll(c);
      }
    }, browser.env);
    for (const k of ['empty', 'nul', 'plus', 'hash', 'badFilter']) {
      assert.equal(r[k].code, 'INVALID_TOPIC', `${k}: ${JSON.stringify(r[k])}`);
      assert.ok(r[k].isMqttError && r[k].isError, `${k}: MqttError`);
    }
    for (const k of ['qos3', 'qosNeg', 'subQos3']) assert.equal(r[k].code, 'INVALID_QOS', `${k}: ${JSON.stringify(r[k])}`);
    assert.equal(r.bytesSentDelta, 0, 'nothing sent');
    assert.equal(r.inflight, 0);
    assert.equal(r.queued, 0);
    assert.equal(r.state, 'connected', 'the connection survives bad input');
  }));

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

// The shared test broker announces no Maximum Packet Size, so this test runs its own
// Mosquitto (WebSocket listener, max_packet_size 1024) for the duration of the test.
test('a publish larger than the broker\'s Maximum Packet Size is rejected with PACKET_TOO_LARGE, nothing sent', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mqtt-rtc-maxpkt-'));
  const [tcp, ws] = [await freePort(), await freePort()];
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, [
    'per_listener_settings false', 'allow_anonymous true', 'max_packet_size 1024', 'persistence false',
    'log_dest none', `listener ${tcp} 127.0.0.1`, `listener ${ws} 127.0.0.1`, 'protocol websockets', '',
  ].join('\n'));
  const broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  try {
    // Wait for the WebSocket listener.
    const { connect } = await import('node:net');
    for (let i = 0; ; i++) {
      const up = await new Promise((ok) => {
        const s = connect(ws, '127.0.0.1', () => { s.destroy(); ok(true); });
        s.once('error', () => ok(false));
      });
      if (up) break;
      if (i > 100) throw new Error('the private broker did not start');
      await new Promise((ok) => setTimeout(ok, 50));
    }
    await withPage(browser, async (page) => {
      const r = await page.evaluate(async (url) => {
        const { MqttClient } = window.mqtt;
        let connack;
        const c = await MqttClient.connect(url, { clientId: t.uid('mp') });
        try {
          const before = c.stats().bytesSent;
          const big = await t.rejection(c.publish('a/b', new Uint8Array(2000), { qos: 1 }));
          const delta = c.stats().bytesSent - before;
          const small = await c.publish('a/b', new Uint8Array(100), { qos: 1 });
          return { big, delta, small: small.reasonCode, state: c.state };
        } finally {
          await t.endAll(c);
        }
      }, `ws://127.0.0.1:${ws}`);
      assert.equal(r.big.code, 'PACKET_TOO_LARGE', JSON.stringify(r.big));
      assert.equal(r.delta, 0, 'nothing sent');
      assert.ok(r.small === 0 || r.small === 0x10, `small publish accepted (${r.small})`);
      assert.equal(r.state, 'connected');
    });
  } finally {
    broker.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
});
