// Authentication against the broker's password-protected listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { timerTracker } from '../lib/inits.js';

const browser = useBrowser();
const T = { timeout: 30_000 };

test('a wrong password rejects connect with MqttError NOT_AUTHORIZED and, with reconnect off, no retry', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const out = {};
      for (const protocolVersion of [4, 5]) {
        let sockets = 0;
        const Ws = window.WebSocket;
        window.WebSocket = class extends Ws { constructor(...a) { super(...a); sockets += 1; } };
        try {
          const err = await t.rejection(t.within(MqttClient.connect(env.wsAuth, {
            username: env.user, password: 'wrong', reconnect: false, protocolVersion,
          }), 5000, 'connect'));
          // No second attempt: no socket, and no timer left that could start one.
          const idle = await t.waitFor(() => window.liveTimers.size === 0, 5000, 'no pending timer').then(() => true, (e) => e.message);
          out[protocolVersion] = { err, sockets, idle };
        } finally {
          window.WebSocket = Ws;
        }
      }
      const ok = await MqttClient.connect(env.wsAuth, { username: env.user, password: env.pass, reconnect: false });
      out.ok = ok.state;
      await ok.end();
      const bytes = await MqttClient.connect(env.wsAuth, {
        username: env.user, password: new TextEncoder().encode(env.pass), reconnect: false,
      });
      out.okBytes = bytes.state;
      await bytes.end();
      return out;
    }, browser.env);
    for (const v of [4, 5]) {
      const { err, sockets } = r[v];
      assert.equal(err.code, 'NOT_AUTHORIZED', `v${v}: ${JSON.stringify(err)}`);
      assert.ok(err.isMqttError, `v${v}: instanceof MqttError`);
      assert.ok(err.isError, `v${v}: instanceof Error`);
      // 3.1.1's return code 5 is reported as its MQTT 5 equivalent, 0x87.
      assert.equal(err.reasonCode, 0x87, `v${v}: reason code`);
      assert.equal(sockets, 1, `v${v}: exactly one connection attempt`);
      assert.equal(r[v].idle, true, `v${v}: nothing left to retry with`);
    }
    assert.equal(r.ok, 'connected');
    assert.equal(r.okBytes, 'connected');
  }, { init: timerTracker }));
