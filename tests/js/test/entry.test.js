// The package's MQTT-only entry, "mqtt-rtc/mqtt" (pkg/mqtt/, built without the `rtc`
// feature): the same MqttClient, typed the same, with no WebRTC classes and fewer bytes.
// tools/test.sh also runs the MQTT test files against it (stage js-mqtt-entry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { useBrowser, withPage } from '../lib/harness.js';
import { REPO_ROOT } from '../lib/server.js';

const browser = useBrowser();
const T = { timeout: 60_000 };
const PKG = join(REPO_ROOT, 'pkg');
const WEBRTC = ['RtcPeer', 'RtcChannel', 'MqttSignaling'];

/** The text of `export class NAME { ... }` in a .d.ts, up to the next top-level line. */
function classBlock(dts, name) {
  const m = new RegExp(`^export class ${name}\\b[^]*?^}`, 'm').exec(dts);
  return m && m[0];
}

/** The body of `export type NAME = ...;`. */
function typeAlias(dts, name) {
  const m = new RegExp(`^export type ${name} =[^;]*;`, 'm').exec(dts);
  return m && m[0];
}

test('mqtt-rtc/mqtt declares the same MqttClient, MqttError and options as mqtt-rtc, and no WebRTC class', T, async () => {
  const main = await readFile(join(PKG, 'mqtt_rtc.d.ts'), 'utf8');
  const mqtt = await readFile(join(PKG, 'mqtt', 'mqtt_rtc.d.ts'), 'utf8');
  for (const cls of ['MqttClient', 'MqttError']) {
    assert.ok(classBlock(main, cls), `mqtt_rtc.d.ts declares ${cls}`);
    assert.equal(classBlock(mqtt, cls), classBlock(main, cls), `${cls} is declared the same in both entries`);
  }
  for (const type of ['ErrorCode', 'Payload', 'QoS']) {
    assert.equal(typeAlias(mqtt, type), typeAlias(main, type), `type ${type} is the same in both entries`);
  }
  // Every interface of the MQTT-only entry (options, properties, messages) is main's.
  const interfaces = [...mqtt.matchAll(/^export interface \w+\b[^]*?^}|^export interface [^\n]*}$/gm)].map((m) => m[0]);
  assert.ok(interfaces.length >= 10, `mqtt-rtc/mqtt declares ${interfaces.length} interfaces`);
  assert.ok(interfaces.some((i) => i.startsWith('export interface ConnectOptions')), 'ConnectOptions is declared');
  // (InitOutput lists the module's raw exports, which differ by design.)
  for (const i of interfaces.filter((i) => !i.startsWith('export interface InitOutput'))) assert.ok(main.includes(i), `mqtt-rtc declares the same ${i.split('\n')[0]}`);
  for (const cls of WEBRTC) {
    assert.match(main, new RegExp(`^export class ${cls}\\b`, 'm'), `mqtt-rtc declares ${cls}`);
    assert.doesNotMatch(mqtt, new RegExp(`\\b${cls}\\b`), `mqtt-rtc/mqtt does not mention ${cls}`);
  }
});

test('mqtt-rtc/mqtt is smaller than mqtt-rtc: .wasm plus glue, gzip', T, async () => {
  const size = async (dir) => {
    let sum = 0;
    for (const f of ['mqtt_rtc_bg.wasm', 'mqtt_rtc.js']) sum += gzipSync(await readFile(join(dir, f)), { level: 9 }).length;
    return sum;
  };
  const [main, mqtt] = [await size(PKG), await size(join(PKG, 'mqtt'))];
  assert.ok(mqtt < main * 0.8, `mqtt-rtc/mqtt ${mqtt} bytes, mqtt-rtc ${main} bytes`);
});

test('a page on mqtt-rtc/mqtt: no WebRTC exports, and QoS 0/1/2 round trips work', T, () =>
  withPage(browser, async (page) => {
    const got = await page.evaluate(async ({ env, webrtc }) => {
      const glue = await import('/pkg/mqtt/mqtt_rtc.js');
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('entry') });
      try {
        const topic = t.uid('entry');
        const sink = t.sink();
        await c.subscribe(`${topic}/#`, { qos: 2 }, sink.fn);
        for (const qos of [0, 1, 2]) await c.publish(`${topic}/${qos}`, `q${qos}`, { qos });
        const msgs = await sink.until(3, 10_000);
        return {
          loadedMqttEntry: glue.MqttClient === MqttClient,
          exported: webrtc.filter((name) => name in glue),
          got: msgs.map((m) => `${m.topic.slice(topic.length)} ${m.text()} ${m.qos}`).sort(),
        };
      } finally {
        await c.end();
      }
    }, { env: browser.env, webrtc: WEBRTC });
    assert.equal(got.loadedMqttEntry, true, 'the page runs on pkg/mqtt/mqtt_rtc.js');
    assert.deepEqual(got.exported, []);
    assert.deepEqual(got.got, ['/0 q0 0', '/1 q1 1', '/2 q2 2']);
  }, { entry: 'mqtt' }));
