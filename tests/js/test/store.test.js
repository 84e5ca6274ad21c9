// The durable session store (`store: "indexeddb"`) in a real browser against the test
// broker: a page publishing QoS 1/2 is reloaded mid-stream and the new page resumes
// (nothing missing, no QoS 2 message twice, at a `mosquitto_sub` on the broker's TCP port);
// publishes made offline survive a reload; incoming QoS 2 messages delivered before a
// reload are not delivered again; a second client on the same store, in this tab or
// another, gets STORE_LOCKED;
// no IndexedDB or no Web Locks is STORE_UNAVAILABLE; a store write that fails ends the
// client with STORE_QUOTA and sends nothing that depended on it; a SessionStore of the
// application's own is used through get/put/delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mosquittoPub, mosquittoSub, useBrowser, withPage } from '../lib/harness.js';
import { netGate } from '../lib/inits.js';

const browser = useBrowser();
const T = { timeout: 120_000 };

/** Page-side: the records the built-in store holds under `key`, as [name, text]. */
function storeReader() {
  window.readStore = (key) => new Promise((ok, ko) => {
    const r = indexedDB.open('mqtt-rtc', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('records');
    r.onerror = () => ko(r.error);
    r.onsuccess = () => {
      const db = r.result;
      const s = db.transaction('records', 'readonly').objectStore('records');
      const range = IDBKeyRange.bound([key, ''], [key, '\uffff']);
      const k = s.getAllKeys(range);
      const v = s.getAll(range);
      v.onsuccess = () => {
        db.close();
        ok(k.result.map((key, i) => [key[1], new TextDecoder().decode(v.result[i])]));
      };
      v.onerror = () => ko(v.error);
    };
  });
}

/**
 * Page-side: with `window.muteOnQos2` set, the first QoS 2 PUBLISH a socket receives makes
 * every socket of the page send nothing from then on (`window.muted`). The listener is
 * added after the client's, so it runs after the client read the packet and before the
 * client's store write (a later task) lets its PUBREC go.
 */
function muter() {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) { if (!window.muted) send.call(this, data); };
  const add = WebSocket.prototype.addEventListener;
  const watch = new WeakSet();
  WebSocket.prototype.addEventListener = function (type, ...rest) {
    add.call(this, type, ...rest);
    if (type === 'message' && !watch.has(this)) {
      watch.add(this);
      add.call(this, 'message', (e) => {
        const b = e.data instanceof ArrayBuffer ? new Uint8Array(e.data)[0] : 0;
        if (window.muteOnQos2 && b >> 4 === 3 && ((b >> 1) & 3) === 2) window.muted = true;
      });
    }
  };
}

/** The three as one init script (an init function cannot call others by name). */
const pageInit = [netGate, storeReader, muter].map((f) => `(${f})();`).join('\n');

/** Seqs from payloads "m<seq>" (messages on `base/1` and `base/2`, by QoS). */
function seqs(messages) {
  const out = { 1: [], 2: [] };
  for (const m of messages) {
    const qos = m.topic.at(-1);
    const text = m.payload.toString();
    if (text.startsWith('m')) out[qos].push(Number(text.slice(1)));
  }
  return out;
}

for (const protocolVersion of [5, 4]) {
  test(`v${protocolVersion}: a page reloaded while publishing QoS 1/2 resumes from the store: nothing missing, no QoS 2 duplicate`, T, () =>
    withPage(browser, async (page) => {
      const clientId = `store-reload-${protocolVersion}-${Date.now().toString(36)}`;
      const base = `store/${clientId}`;
      const env = browser.env;
      const key = `${env.ws} ${clientId}`;
      const sub = await mosquittoSub({ topic: `${base}/#`, qos: 2 });
      try {
        const opts = { clientId, clean: false, sessionExpiry: 3600, protocolVersion, store: 'indexeddb', keepalive: 10 };
        // Old page: publishes 1..N (odd seqs QoS 1, even QoS 2), 100 outstanding at once;
        // keeps the highest seq whose promise resolved in localStorage (synchronous).
        await page.evaluate(async ({ env, opts, base }) => {
          const c = await window.mqtt.MqttClient.connect(env.ws, opts);
          window.acked = 0;
          (async () => {
            const outstanding = new Set();
            for (let seq = 1; seq <= 20_000; seq++) {
              const qos = seq % 2 ? 1 : 2;
              const p = c.publish(`${base}/${qos}`, `m${seq}`, { qos }).then(() => {
                window.acked += 1;
                localStorage.setItem('acked', String(Math.max(seq, Number(localStorage.getItem('acked') || 0))));
              });
              outstanding.add(p);
              p.finally(() => outstanding.delete(p));
              localStorage.setItem('called', String(seq));
              if (outstanding.size >= 100) await Promise.race(outstanding);
            }
          })();
        }, { env, opts, base });
        await page.waitForFunction(() => window.acked >= 400, null, { timeout: 30_000 });
        await page.reload();
        await page.waitForFunction(() => window.mqttReady || window.mqttLoadError, null, { timeout: 30_000 });
        // New page: what the old one left, then the resume, until the store is empty.
        const r = await page.evaluate(async ({ env, opts, key, base }) => {
          const left = await window.readStore(key);
          const called = Number(localStorage.getItem('called'));
          const acked = Number(localStorage.getItem('acked'));
          const c = await window.mqtt.MqttClient.connect(env.ws, opts);
          const t0 = performance.now();
          let now = left;
          while (now.length > 0 && performance.now() - t0 < 20_000) {
            await new Promise((ok) => setTimeout(ok, 50));
            now = await window.readStore(key);
          }
          await c.publish(`${base}/end`, 'end', { qos: 1 });
          await c.end();
          localStorage.clear();
          return {
            called, acked, leftOver: now.length,
            left: left.map(([name, text]) => [name, (text.match(/m(\d+)$/) || [])[1]]),
          };
        }, { env, opts, key, base });
        const stored = r.left.filter(([n, s]) => n.startsWith('o') && s).map(([, s]) => Number(s));
        const maxStored = Math.max(0, ...stored);
        assert.ok(r.left.length > 0, 'the old page left unacknowledged publishes in the store');
        assert.equal(r.leftOver, 0, 'the new page finished every one of them');
        // Everything up to the highest seq the old page kept or had acknowledged arrives.
        const need = Math.max(maxStored, r.acked);
        await sub.until(1, 1000).catch(() => {});
        const deadline = Date.now() + 20_000;
        let got;
        for (;;) {
          got = seqs(sub.messages);
          const all = new Set([...got[1], ...got[2]]);
          let missing = 0;
          for (let s = 1; s <= need; s++) if (!all.has(s)) missing += 1;
          if (missing === 0 || Date.now() > deadline) break;
          await new Promise((ok) => setTimeout(ok, 100));
        }
        const all = new Set([...got[1], ...got[2]]);
        const top = Math.max(...all);
        const missing = [];
        for (let s = 1; s <= top; s++) if (!all.has(s)) missing.push(s);
        assert.deepEqual(missing, [], `received seqs 1..${top} without a gap (needed up to ${need})`);
        assert.ok(top >= need, `up to ${need} arrived (got ${top})`);
        assert.equal(new Set(got[2]).size, got[2].length, 'no QoS 2 message twice');
        assert.ok(got[1].every((s) => s % 2 === 1) && got[2].every((s) => s % 2 === 0), 'each on its QoS');
        console.log(`v${protocolVersion}: called ${r.called}, acknowledged before the reload up to ${r.acked}, ` +
          `${r.left.length} records left (${stored.length} messages, highest m${maxStored}), received 1..${top}; ` +
          `QoS 1 duplicates ${got[1].length - new Set(got[1]).size}; never kept (published in the last moment): ${r.called - top}`);
      } finally {
        await sub.stop();
      }
    }, { init: pageInit }));
}

test('publishes made offline survive a reload and go out from the new page', T, () =>
  withPage(browser, async (page) => {
    const clientId = `store-offline-${Date.now().toString(36)}`;
    const base = `store/${clientId}`;
    const env = browser.env;
    const key = `${env.ws} ${clientId}`;
    const sub = await mosquittoSub({ topic: `${base}/#`, qos: 2 });
    try {
      const opts = { clientId, clean: false, sessionExpiry: 3600, store: 'indexeddb', reconnect: { initialDelay: 100, maxDelay: 200 } };
      const left = await page.evaluate(async ({ env, opts, base, key }) => {
        const c = await window.mqtt.MqttClient.connect(env.ws, opts);
        net.block(env.ws);
        const offline = t.once(c, 'offline');
        net.cut(env.ws);
        await offline;
        for (const [i, qos] of [1, 2, 1, 2].entries()) c.publish(`${base}/${qos}`, `m${i + 1}`, { qos });
        for (let i = 0; i < 100; i++) {
          if ((await window.readStore(key)).length === 4) break;
          await t.sleep(20);
        }
        return (await window.readStore(key)).map(([n]) => n);
      }, { env, opts, base, key });
      assert.deepEqual(left, ['o0', 'o1', 'o2', 'o3'], 'kept while offline, before any was sent');
      await page.reload();
      await page.waitForFunction(() => window.mqttReady, null, { timeout: 30_000 });
      await page.evaluate(async ({ env, opts }) => {
        const c = await window.mqtt.MqttClient.connect(env.ws, opts);
        await t.within(new Promise((ok) => {
          const poll = async () => ((await window.readStore(`${env.ws} ${opts.clientId}`)).length ? setTimeout(poll, 20) : ok());
          poll();
        }), 10_000, 'the store to empty');
        await c.end();
      }, { env, opts });
      await sub.until(4, 10_000);
      const got = seqs(sub.messages);
      assert.deepEqual(got, { 1: [1, 3], 2: [2, 4] });
    } finally {
      await sub.stop();
    }
  }, { init: pageInit }));

test('an incoming QoS 2 message delivered before a reload is not delivered again by the new page', T, () =>
  withPage(browser, async (page) => {
    const clientId = `store-in-${Date.now().toString(36)}`;
    const topic = `store/${clientId}/in`;
    const env = browser.env;
    const opts = { clientId, clean: false, sessionExpiry: 3600, store: 'indexeddb', protocolVersion: 5 };
    // The page delivers the message, but its PUBREC never reaches the broker: from the
    // moment a QoS 2 PUBLISH arrives the page's sockets send nothing (see pageInit). The
    // broker sends it again to the next connection, which the new page must recognise.
    await page.evaluate(async ({ env, opts, topic }) => {
      const c = await window.mqtt.MqttClient.connect(env.ws, opts);
      await c.subscribe(topic, { qos: 2 });
      window.got = [];
      c.on('message', (m) => window.got.push(m.text()));
      window.muteOnQos2 = true;
    }, { env, opts, topic });
    await mosquittoPub({ topic, payload: 'once', qos: 2 });
    await page.waitForFunction(() => window.got.length === 1, null, { timeout: 10_000 });
    const left = await page.evaluate((key) => window.readStore(key), `${env.ws} ${clientId}`);
    assert.ok(left.some(([n]) => n.startsWith('i')), `the incoming id is kept: ${JSON.stringify(left)}`);
    await page.reload();
    await page.waitForFunction(() => window.mqttReady, null, { timeout: 30_000 });
    const r = await page.evaluate(async ({ env, opts, topic }) => {
      const got = [];
      const c = await window.mqtt.MqttClient.connect(env.ws, opts);
      c.on('message', (m) => got.push(m.text()));
      // A marker after it: once it is here, the resent one had its chance.
      const marker = new Promise((ok) => c.on('message', (m) => m.text() === 'marker' && ok()));
      await c.publish(topic, 'marker', { qos: 2 });
      await t.within(marker, 10_000, 'the marker');
      // The marker's own id is kept until its PUBREL.
      let left;
      for (let i = 0; i < 200; i++) {
        left = await window.readStore(`${env.ws} ${opts.clientId}`);
        if (left.length === 0) break;
        await t.sleep(20);
      }
      await c.end();
      return { got, left };
    }, { env, opts, topic });
    assert.deepEqual(r.got, ['marker'], 'the message was not delivered a second time');
    assert.deepEqual(r.left, [], 'the store is empty once the broker released it');
  }, { init: pageInit }));

test('one client per store: a second one gets STORE_LOCKED until the first ends', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const clientId = t.uid('lock');
      const opts = { clientId, store: 'indexeddb' };
      const a = await MqttClient.connect(env.ws, opts);
      const second = await t.rejection(MqttClient.connect(env.ws, opts));
      // Another client id (or broker) is another store.
      const other = await MqttClient.connect(env.ws, { ...opts, clientId: t.uid('lock2') });
      await other.end();
      await a.end();
      const b = await t.within(MqttClient.connect(env.ws, opts), 5000, 'connect after the first ended');
      await b.end();
      return { code: second.code, message: second.message, bState: b.state };
    }, browser.env);
    assert.equal(r.code, 'STORE_LOCKED', r.message);
    assert.equal(r.bState, 'closed');
  }, { init: pageInit }));

test('two tabs with one client id: the second tab gets STORE_LOCKED, and the store once the first tab is gone', T, () =>
  withPage(browser, async (first) => {
    const env = browser.env;
    const clientId = `store-tabs-${Date.now().toString(36)}`;
    const opts = { clientId, store: 'indexeddb' };
    await first.evaluate(async ({ env, opts }) => {
      window.c = await window.mqtt.MqttClient.connect(env.ws, opts);
    }, { env, opts });
    const second = await browser.page({ init: pageInit });
    try {
      const code = await second.evaluate(async ({ env, opts }) => {
        const e = await t.rejection(window.mqtt.MqttClient.connect(env.ws, opts));
        return e.code;
      }, { env, opts });
      assert.equal(code, 'STORE_LOCKED');
      // Closing the first tab (no end()) releases its lock.
      await first.close();
      const state = await second.evaluate(async ({ env, opts }) => {
        for (let i = 0; ; i++) {
          try {
            const c = await window.mqtt.MqttClient.connect(env.ws, opts);
            const s = c.state;
            await c.end();
            return s;
          } catch (e) {
            if (e.code !== 'STORE_LOCKED' || i > 100) throw new Error(`${e.code}: ${e.message}`);
            await t.sleep(50);
          }
        }
      }, { env, opts });
      assert.equal(state, 'connected');
    } finally {
      await second.close().catch(() => {});
    }
  }, { init: pageInit }));

test('no IndexedDB, or no Web Locks: STORE_UNAVAILABLE, not a client that silently keeps nothing', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const idb = Object.getOwnPropertyDescriptor(window, 'indexedDB');
      Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true });
      const noIdb = await t.rejection(MqttClient.connect(env.ws, { clientId: t.uid('u'), store: 'indexeddb' }));
      Object.defineProperty(window, 'indexedDB', idb);
      const locks = Object.getOwnPropertyDescriptor(Navigator.prototype, 'locks');
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
      const noLocks = await t.rejection(MqttClient.connect(env.ws, { clientId: t.uid('u'), store: 'indexeddb' }));
      Object.defineProperty(Navigator.prototype, 'locks', locks);
      const noId = await t.rejection(MqttClient.connect(env.ws, { store: 'indexeddb' }));
      const badStore = await t.rejection(MqttClient.connect(env.ws, { clientId: 'x', store: { get() {} } }));
      return [noIdb, noLocks, noId, badStore].map((e) => [e.code, e.message]);
    }, browser.env);
    assert.equal(r[0][0], 'STORE_UNAVAILABLE', r[0][1]);
    assert.equal(r[1][0], 'STORE_UNAVAILABLE', r[1][1]);
    assert.match(r[1][1], /Web Locks/);
    assert.equal(r[2][0], 'INVALID_ARGUMENT', r[2][1]);
    assert.match(r[2][1], /clientId/);
    assert.equal(r[3][0], 'INVALID_ARGUMENT', r[3][1]);
    assert.match(r[3][1], /store\.put/);
  }, { init: pageInit }));

test('a SessionStore of the application: its records come and go; a write that fails (quota) ends the client with STORE_QUOTA and sends nothing that depended on it', T, () =>
  withPage(browser, async (page) => {
    const clientId = `store-own-${Date.now().toString(36)}`;
    const base = `store/${clientId}`;
    const sub = await mosquittoSub({ topic: `${base}/#`, qos: 1 });
    try {
      const r = await page.evaluate(async ({ env, base, clientId }) => {
        const { MqttClient } = window.mqtt;
        const data = new Map();
        const log = [];
        let full = false;
        const store = {
          async get(key) { log.push(['get', key]); return [...data].map(([n, v]) => [n, v]); },
          async put(key, records) {
            if (full) throw new DOMException('the quota is used up', 'QuotaExceededError');
            for (const [n, v] of records) { data.set(n, v); log.push(['put', n]); }
          },
          async delete(key, names) { for (const n of names) { data.delete(n); log.push(['delete', n]); } },
        };
        const c = await MqttClient.connect(env.ws, { clientId, store });
        await c.publish(`${base}/ok`, 'kept', { qos: 1 });
        const afterOk = [...data.keys()];
        full = true;
        const errors = [];
        c.on('error', (e) => errors.push(e.code));
        const closed = t.once(c, 'close');
        const failed = await t.rejection(c.publish(`${base}/lost`, 'not kept', { qos: 1 }));
        await closed;
        const other = await MqttClient.connect(env.ws, { clientId: t.uid('m') });
        await other.publish(`${base}/marker`, 'marker', { qos: 1 });
        await other.end();
        return { log, afterOk, failed: [failed.code, failed.message], errors, state: c.state };
      }, { env: browser.env, base, clientId });
      assert.deepEqual(r.log.slice(0, 1), [['get', `${browser.env.ws} ${clientId}`]]);
      assert.deepEqual(r.log.slice(1, 3), [['put', 'o0'], ['put', 's0']], 'kept before it was sent');
      assert.ok(r.log.some(([op, n]) => op === 'delete' && n === 's0'), `forgotten once acknowledged: ${JSON.stringify(r.log)}`);
      assert.deepEqual(r.afterOk, []);
      assert.equal(r.failed[0], 'STORE_QUOTA', r.failed[1]);
      assert.ok(r.errors.includes('STORE_QUOTA'), JSON.stringify(r.errors));
      assert.equal(r.state, 'closed');
      await sub.until(2, 5000);
      assert.deepEqual(sub.messages.map((m) => m.payload.toString()), ['kept', 'marker'], 'the message whose record failed was never sent');
    } finally {
      await sub.stop();
    }
  }, { init: pageInit }));
