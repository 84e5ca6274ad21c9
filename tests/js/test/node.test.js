// The package in Node.js, no browser: init() reads the .wasm from disk, a call before
// init() says to call it, and MqttClient runs over Node's WebSocket (global on Node 22+,
// --experimental-websocket on Node 20) or over a constructor given in the options.
// Each scenario runs in a child `node`, so the flag and the globals are its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../lib/server.js';
import { brokerEnv } from '../lib/harness.js';

const T = { timeout: 60_000 };
const PKG = pathToFileURL(join(REPO_ROOT, 'pkg', 'mqtt_rtc.js')).href;
const FLAGS = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-websocket'] : [];

/** Runs `body` (an async function body with `mqtt`, `env` in scope) in a child node; resolves with what it returns. */
function inNode(body, { flags = FLAGS } = {}) {
  const script = `
    const env = ${JSON.stringify(brokerEnv())};
    const mqtt = await import(${JSON.stringify(PKG)});
    const out = await (async () => { ${body} })();
    process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');
    process.exit(0);
  `;
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [...flags, '--no-warnings', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) ok(JSON.parse(line.slice(7)));
      else fail(new Error(`child node exited ${code}\n${out}\n${err}`));
    });
  });
}

const ROUND_TRIP = `
  const { MqttClient } = mqtt;
  const topic = 'node/' + Math.random().toString(16).slice(2);
  const c = await MqttClient.connect(env.ws, { clientId: 'node-' + Math.random().toString(16).slice(2), ...options });
  const got = new Promise((ok) => c.subscribe(topic, { qos: 1 }, (m) => ok({ text: m.text(), qos: m.qos })));
  await new Promise((ok) => setTimeout(ok, 100));
  const pub = await c.publish(topic, new TextEncoder().encode('from node'), { qos: 1 });
  const m = await got;
  const state = c.state;
  await c.end();
  return { m, packetId: pub.packetId, state, after: c.state };
`;

test('a call before init() says to call init(); init() with no argument reads the .wasm from disk', T, async () => {
  const r = await inNode(`
    let early;
    try { mqtt.MqttClient.connect(env.ws); } catch (e) { early = e.message; }
    let earlyError;
    try { new mqtt.MqttError('CLOSED', 'x'); } catch (e) { earlyError = e.message; }
    await mqtt.default();
    return { early, earlyError, ready: typeof mqtt.MqttClient.connect };
  `);
  assert.match(r.early, /call `await init\(\)`/);
  assert.match(r.earlyError, /call `await init\(\)`/);
  assert.equal(r.ready, 'function');
});

test('Node.js global WebSocket: connect, QoS 1 round trip, end', T, async () => {
  const r = await inNode(`
    await mqtt.default();
    const options = {};
    ${ROUND_TRIP}
  `);
  assert.deepEqual(r.m, { text: 'from node', qos: 1 });
  assert.ok(r.packetId > 0);
  assert.equal(r.state, 'connected');
  assert.equal(r.after, 'closed');
});

test('a WebSocket constructor given in the options is used, with no global WebSocket', T, async () => {
  const r = await inNode(`
    await mqtt.default();
    const Base = globalThis.WebSocket;
    delete globalThis.WebSocket;
    const opened = [];
    class Counted extends Base { constructor(url, p) { super(url, p); opened.push([url, p]); } }
    const options = { WebSocket: Counted };
    const result = await (async () => { ${ROUND_TRIP} })();
    return { ...result, opened, global: typeof globalThis.WebSocket };
  `);
  assert.deepEqual(r.m, { text: 'from node', qos: 1 });
  assert.equal(r.global, 'undefined');
  assert.equal(r.opened.length, 1);
  assert.equal(r.opened[0][1], 'mqtt');
});

test('in Node.js a dead URL rejects connect with the URL and the cause', T, async () => {
  const r = await inNode(`
    await mqtt.default();
    const t0 = Date.now();
    const e = await mqtt.MqttClient.connect('ws://127.0.0.1:9').then(() => null, (e) => e);
    return { code: e?.code, message: e?.message, isMqttError: e instanceof mqtt.MqttError, ms: Date.now() - t0 };
  `);
  assert.equal(r.isMqttError, true);
  assert.match(r.message, /ws:\/\/127\.0\.0\.1:9/);
  assert.ok(r.ms < 10_000, `${r.ms} ms`);
});
