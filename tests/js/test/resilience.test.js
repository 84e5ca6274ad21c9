// Reconnect plumbing of MqttClient in the browser: the credentials callback before every
// attempt, failover across a list of broker URLs, an immediate attempt on the browser's
// `online` event, WebSocket backpressure, and that passwords never reach the console.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

test('the credentials callback is asked before every attempt and its answer is used', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      let calls = 0;
      const c = await MqttClient.connect(env.wsAuth, {
        reconnect: { initialDelay: 50, maxDelay: 100 },
        // The first attempt is refused on purpose: keep trying instead of rejecting.
        waitForBroker: true,
        // Async, like a token refresh: a wrong password first, the right one after.
        credentials: async () => {
          calls += 1;
          await t.sleep(10);
          return { username: env.user, password: calls === 1 ? 'expired-token' : env.pass };
        },
      });
      const afterConnect = calls;
      c.reconnect();
      await t.once(c, 'connect', 5000);
      const out = { afterConnect, afterReconnect: calls, state: c.state };
      await c.end();
      return out;
    }, browser.env);
    assert.equal(r.afterConnect, 2, 'one refused attempt with the stale password, one good one');
    assert.equal(r.afterReconnect, 3, 'asked again for the reconnect');
    assert.equal(r.state, 'connected');
  }));

test('a list of broker URLs is tried in turn until one answers', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const opened = [];
      const Ws = window.WebSocket;
      window.WebSocket = class extends Ws { constructor(url, ...a) { super(url, ...a); opened.push(url); } };
      try {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        const c = await MqttClient.connect(['ws://127.0.0.1:9', env.ws], {
          reconnect: { initialDelay: 20, maxDelay: 50 },
        });
        const out = { opened, state: c.state };
        await c.end();
        return out;
      } finally {
        window.WebSocket = Ws;
      }
    }, browser.env);
    assert.equal(r.state, 'connected');
    assert.deepEqual(r.opened.map((u) => u.replace(/\/$/, '')), ['ws://127.0.0.1:9', browser.env.ws]);
  }));

test('the browser\'s online event skips the rest of the reconnect wait', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, {
        reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 },
      });
      const lost = t.once(c, 'reconnecting', 10_000);
      await fetch(`${env.control}/broker/restart`, { method: 'POST' });
      const wait = await lost;
      const t0 = performance.now();
      const back = t.once(c, 'connect', 10_000);
      window.dispatchEvent(new Event('online'));
      await back;
      const out = { scheduled: wait.delay, took: performance.now() - t0, state: c.state };
      await c.end();
      return out;
    }, browser.env);
    assert.equal(r.scheduled, 60_000, 'the policy scheduled the next attempt a minute away');
    assert.equal(r.state, 'connected');
    assert.ok(r.took < 5_000, `reconnected right after "online" (${Math.round(r.took)} ms)`);
  }));

test('a fast publisher waits on the socket buffer instead of growing it without bound', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const topic = `${t.uid('bp')}/flood`;
      const rx = await MqttClient.connect(env.ws, { reconnect: false });
      const tx = await MqttClient.connect(env.ws, { reconnect: false });
      let maxBuffered = 0;
      // The most buffered once the buffer had drained below 1 MiB after a full one: a refill
      // runs in one task, so the sends of one refill see the buffer grow.
      let full = false;
      let drained = false;
      let refilledTo = 0;
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (data) {
        const b = this.bufferedAmount;
        maxBuffered = Math.max(maxBuffered, b);
        full ||= b > 3 * 1024 * 1024;
        drained ||= full && b < 1024 * 1024;
        if (drained) refilledTo = Math.max(refilledTo, b);
        return send.call(this, data);
      };
      try {
        let got = 0;
        let bytes = 0;
        let finished;
        const done = new Promise((ok) => { finished = ok; });
        await rx.subscribe(topic, { qos: 0 }, (m) => {
          got += 1;
          bytes += m.payload.length;
          if (got === 400) finished();
        });
        const chunk = t.bytes(64 * 1024, 7);
        // 400 x 64 KiB = 25 MiB fired without awaiting: far above the high-water mark.
        const sent = [];
        for (let i = 0; i < 400; i++) sent.push(tx.publish(topic, chunk, { qos: 0 }));
        const queuedWhileFlooding = tx.stats().queued;
        await Promise.all(sent);
        // Give the subscriber a moment; how many arrive is the broker's business.
        await t.within(done, 5_000, 'the subscriber').catch(() => {});
        return { got, bytes, maxBuffered, drained, refilledTo, queuedWhileFlooding, txStats: tx.stats(), rxStats: rx.stats() };
      } finally {
        WebSocket.prototype.send = send;
        await t.endAll(rx, tx);
      }
    }, browser.env);
    // Every publish was handed to the socket (the broker itself may shed QoS 0 to a slow
    // subscriber; that is Mosquitto's queue policy, not ours, so the receiver is not counted).
    assert.equal(r.txStats.messagesSent, 400, `nothing dropped: ${JSON.stringify(r)}`);
    assert.ok(r.txStats.bytesSent >= 400 * 64 * 1024, 'every payload byte written');
    assert.ok(r.got > 0, 'the receiving side stayed connected');
    assert.ok(r.queuedWhileFlooding > 0, 'publishes waited in the client');
    // The driver stops handing data to the socket above 4 MiB buffered (plus one send).
    assert.ok(r.maxBuffered <= 4 * 1024 * 1024 + 128 * 1024, `socket buffer peaked at ${r.maxBuffered}`);
    // Once below the low-water mark (1 MiB) it refills to the high-water mark, not just to
    // the low one: a socket refilled only to 1 MiB goes idle between polls.
    assert.ok(r.drained, 'the buffer drained below 1 MiB while publishes waited');
    assert.ok(r.refilledTo > 3 * 1024 * 1024, `refilled to ${r.refilledTo} bytes`);
  }));

// Publishes that wait for the socket buffer are kept compact (their properties boxed, and
// only when they have some): 200,000 of 100 bytes made at once grew wasm memory by 116 MiB,
// now by 32 MiB, of which their topics and payloads are 22.
test('200,000 QoS 0 publishes of 100 bytes made at once wait in the client in little memory, all sent in order', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const memory = () => window.wasm.memory.buffer.byteLength;
      const topic = `${t.uid('wait')}/q`;
      const tx = await MqttClient.connect(env.ws, { reconnect: false });
      const rx = await MqttClient.connect(env.ws, { reconnect: false });
      const N = 200_000;
      try {
        let got = 0;
        let last = -1;
        let firstWrong = -1;
        await rx.subscribe(topic, { qos: 0 }, (m) => {
          const seq = m.payload[0] | (m.payload[1] << 8) | (m.payload[2] << 16);
          if (firstWrong < 0 && seq <= last) firstWrong = seq;
          last = seq;
          got += 1;
        });
        const tail = t.sink();
        await rx.subscribe(`${topic}/last`, { qos: 1 }, tail.fn);
        const before = memory();
        const sent = [];
        const payload = new Uint8Array(100);
        for (let i = 0; i < N; i++) {
          payload[0] = i; payload[1] = i >> 8; payload[2] = i >> 16;
          sent.push(tx.publish(topic, payload));
        }
        // One with properties behind them: it waits with them.
        const props = { contentType: 'text/plain', messageExpiryInterval: 600, userProperties: { k: 'v' } };
        sent.push(tx.publish(`${topic}/last`, 'last', { qos: 1, properties: props }));
        const waiting = tx.stats().queued;
        const after = memory();
        await Promise.all(sent);
        const [m] = await tail.until(1, 10_000);
        return {
          before, after, waiting, stats: tx.stats(), got, firstWrong,
          last: { text: m.text(), contentType: m.properties?.contentType, userProperties: m.properties?.userProperties },
          expiry: m.properties?.messageExpiryInterval,
        };
      } finally {
        await t.endAll(rx, tx);
      }
    }, browser.env);
    const MIB = 1024 * 1024;
    const growth = (r.after - r.before) / MIB;
    assert.equal(r.stats.messagesSent, 200_001, `every publish went out: ${JSON.stringify(r.stats)}`);
    assert.ok(r.waiting > 100_000, `most of them waited in the client (${r.waiting})`);
    // The broker may shed QoS 0 to a slow subscriber; what arrives arrives in order.
    assert.equal(r.firstWrong, -1, 'the subscriber got them in order');
    assert.deepEqual(r.last, { text: 'last', contentType: 'text/plain', userProperties: { k: 'v' } });
    assert.ok(r.expiry > 0 && r.expiry <= 600, `message expiry ${r.expiry}`);
    assert.ok(growth <= 48, `wasm memory grew by ${growth.toFixed(1)} MiB while ${r.waiting} publishes waited (at most 48)`);
  }));

test('passwords and tokens never appear in the log, even at debug level', T, () =>
  withPage(browser, async (page) => {
    const secret = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const bad = await t.rejection(MqttClient.connect(env.wsAuth, {
        username: env.user, password: 'hunter2-very-secret', reconnect: false, logLevel: 'debug',
      }));
      const c = await MqttClient.connect(env.wsAuth, {
        username: env.user, password: env.pass, logLevel: 'debug',
        credentials: async () => ({ username: env.user, password: env.pass }),
      });
      await c.end();
      return { bad: bad.code };
    }, browser.env);
    assert.equal(secret.bad, 'NOT_AUTHORIZED');
    const logs = page.logs.join('\n');
    assert.ok(logs.includes('[mqtt-rtc]'), 'debug logging is on');
    assert.ok(!logs.includes('hunter2-very-secret'), 'wrong password not logged');
    assert.ok(!logs.includes(browser.env.pass), 'password not logged');
  }));

test('a graceful end() lets publishes made just before it complete, and rejects later ones', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const topic = `${t.uid('end')}/x`;
      const rx = await MqttClient.connect(env.ws, { reconnect: false });
      const got = t.sink();
      await rx.subscribe(topic, { qos: 2 }, got.fn);
      const tx = await MqttClient.connect(env.ws, { reconnect: false });
      const sent = [1, 2, 3].map((i) => tx.publish(topic, `m${i}`, { qos: i === 3 ? 2 : 1 }));
      const ending = tx.end();
      const late = await t.rejection(tx.publish(topic, 'late', { qos: 1 }));
      const results = await Promise.allSettled(sent);
      await ending;
      await got.until(3, 5000);
      const out = { statuses: results.map((x) => x.status), late: late.code, got: got.items.map((m) => m.text()), state: tx.state };
      await t.endAll(rx);
      return out;
    }, browser.env);
    assert.deepEqual(r.statuses, ['fulfilled', 'fulfilled', 'fulfilled']);
    assert.equal(r.late, 'CLOSED');
    assert.deepEqual(r.got.sort(), ['m1', 'm2', 'm3']);
    assert.equal(r.state, 'closed');
  }));
