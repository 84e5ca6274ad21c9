// Nothing exposed: every socket the test setup listens on (Mosquitto's MQTT, WebSocket and
// WebSocket-over-TLS listeners, the broker control endpoint, coturn's TCP and UDP ports,
// the static server of the test pages) is bound to loopback, read from the kernel with
// `ss` (iproute2). Mosquitto 2.0.11 binds WebSocket listeners to every interface whatever
// its config says; tools/broker/loopback_bind.c is what keeps them on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { brokerEnv } from '../lib/harness.js';
import { startServer } from '../lib/server.js';

/** Listening sockets as { proto, addr, port } from `ss -Hln` (tcp or udp). */
function listening(proto) {
  const out = execFileSync('ss', ['-Hln', proto === 'tcp' ? '-t' : '-u'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((line) => {
    const local = line.trim().split(/\s+/)[3];
    const i = local.lastIndexOf(':');
    return { proto, addr: local.slice(0, i), port: Number(local.slice(i + 1)) };
  });
}

const isLoopback = (addr) => /^(127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.\d+\.\d+\.\d+\])(%lo)?$/.test(addr);
const portOf = (url) => Number(new URL(url).port);

test('the broker, its control endpoint, coturn and the page server listen on loopback only', async () => {
  const env = brokerEnv();
  const wanted = [
    ['tcp', env.tcpPort, 'MQTT'],
    ['tcp', Number(process.env.MQTT_RTC_TCP_AUTH_PORT), 'MQTT (auth)'],
    ['tcp', portOf(env.ws), 'WebSocket'],
    ['tcp', portOf(env.wsAuth), 'WebSocket (auth)'],
    ['tcp', portOf(env.control), 'control endpoint'],
  ];
  for (const name of ['MQTT_RTC_WSS_URL', 'MQTT_RTC_WSS_UNTRUSTED_URL']) {
    assert.ok(process.env[name], `${name} is not set`);
    wanted.push(['tcp', portOf(process.env[name]), name]);
  }
  assert.ok(process.env.MQTT_RTC_TURN_URL, 'MQTT_RTC_TURN_URL is not set (coturn did not start)');
  const turnPort = Number(process.env.MQTT_RTC_TURN_URL.split(':').pop());
  wanted.push(['tcp', turnPort, 'TURN (tcp)'], ['udp', turnPort, 'TURN (udp)']);
  const server = await startServer();
  try {
    wanted.push(['tcp', portOf(server.url), 'test page server']);
    const sockets = [...listening('tcp'), ...listening('udp')];
    const exposed = [];
    for (const [proto, port, what] of wanted) {
      const found = sockets.filter((s) => s.proto === proto && s.port === port);
      assert.ok(found.length > 0, `nothing listens on ${proto} ${port} (${what})`);
      for (const s of found) if (!isLoopback(s.addr)) exposed.push(`${what}: ${proto} ${s.addr}:${port}`);
    }
    assert.deepEqual(exposed, [], `listening beyond loopback:\n${exposed.join('\n')}`);
  } finally {
    await server.close();
  }
});
