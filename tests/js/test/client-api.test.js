// MqttClient API paths not covered elsewhere: unsubscribe(), CONNECT_TIMEOUT, an aborted
// signal, sessionExpiry, CONNECT and Will properties, retainAsPublished / retainHandling,
// end({ reasonCode, timeout }), reconnect maxAttempts, invalid connect options and off().
// "Nothing arrived" is always checked with a marker published after the message that must
// not arrive: the broker keeps one publisher's order on one subscription.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
import { useBrowser, withPage, control } from '../lib/harness.js';
import { netGate } from '../lib/inits.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

/**
 * A server that never answers MQTT: `ws` accepts the WebSocket upgrade (protocol mqtt)
 * then stays silent, `tcp` accepts TCP and sends nothing at all.
 */
async function silentServer(ws) {
  const sockets = new Set();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (!ws) return;
    let head = '';
    s.on('data', (d) => {
      if (head.includes('\r\n\r\n')) {
        // MQTT bytes after the upgrade are ignored; a close frame (opcode 8) is answered by
        // closing, as a server that completes the closing handshake would.
        if ((d[0] & 0x0f) === 8) s.destroy();
        return;
      }
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    get connections() { return sockets.size; },
    close: () => new Promise((ok) => { for (const s of sockets) s.destroy(); server.close(() => ok()); }),
  };
}

const servers = [];
after(async () => { for (const s of servers) await s.close(); });
async function silent(ws) {
  const s = await silentServer(ws);
  servers.push(s);
  return s;
}

test('unsubscribe(): resolves, and no more messages of the filter reach the client (v4 and v5)', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const out = {};
      for (const protocolVersion of [4, 5]) {
        const base = t.uid('unsub');
        const c = await MqttClient.connect(env.ws, { clientId: t.uid('u'), protocolVersion });
        const pub = await MqttClient.connect(env.ws, { clientId: t.uid('up') });
        try {
          const gone = t.sink();
          const kept = t.sink();
          const all = t.record(c, 'message');
          await c.subscribe([`${base}/a/#`, `${base}/b/#`], { qos: 1 }, gone.fn);
          await c.subscribe(`${base}/marker`, { qos: 1 }, kept.fn);
          await pub.publish(`${base}/a/1`, 'before', { qos: 1 });
          await gone.until(1);
          const result = await c.unsubscribe([`${base}/a/#`, `${base}/b/#`]);
          await pub.publish(`${base}/a/1`, 'after a', { qos: 1 });
          await pub.publish(`${base}/b/1`, 'after b', { qos: 1 });
          await pub.publish(`${base}/marker`, 'marker', { qos: 1 });
          await kept.until(1);
          const unknown = await c.unsubscribe(`${base}/never`).then(() => 'resolved', (e) => e.code);
          const invalid = await t.rejection(c.unsubscribe('a/#/b'));
          out[protocolVersion] = {
            result: result === undefined ? 'undefined' : JSON.stringify(result),
            gone: gone.items.map((m) => m.text()), all: all.items.map((m) => m.text()), unknown, invalid: invalid.code,
          };
        } finally {
          await t.endAll(c, pub);
        }
      }
      return out;
    }, browser.env);
    for (const v of [4, 5]) {
      assert.equal(r[v].result, 'undefined', `v${v}`);
      assert.deepEqual(r[v].gone, ['before'], `v${v}: the unsubscribed listener got nothing after`);
      assert.deepEqual(r[v].all, ['before', 'marker'], `v${v}: nor did the client`);
      // The broker answers an unknown filter with "no subscription existed" (v5) or a
      // plain UNSUBACK (v4): not an error for the caller.
      assert.equal(r[v].unknown, 'resolved', `v${v}`);
      assert.equal(r[v].invalid, 'INVALID_TOPIC', `v${v}`);
    }
  }));

test('connectTimeout: a server that accepts and never answers gives CONNECT_TIMEOUT after connectTimeout', T, async () => {
  const ws = await silent(true);
  const tcp = await silent(false);
  await withPage(browser, async (page) => {
    await page.exposeFunction('serverConnections', (name) => (name === 'tcp' ? tcp : ws).connections);
    const r = await page.evaluate(async ({ wsUrl, tcpUrl }) => {
      const { MqttClient } = window.mqtt;
      const out = {};
      for (const [name, url] of [['websocket', wsUrl], ['tcp', tcpUrl]]) {
        const t0 = performance.now();
        const err = await t.rejection(t.within(MqttClient.connect(url, { connectTimeout: 1000, reconnect: false }), 10_000, 'connect'));
        const ms = performance.now() - t0;
        // The client gave up its socket. (Chromium keeps the TCP connection of a socket
        // closed while still CONNECTING, so the server's view is checked for the upgraded one.)
        const closed = await t.waitFor(() => net.states(url).every((s) => s === WebSocket.CLOSED), 5000, `${name}: the socket closed`).then(() => true, (e) => e.message);
        const serverClosed = name === 'tcp' || await t.waitFor(async () => (await window.serverConnections(name)) === 0, 5000, `${name}: the connection closed`).then(() => true, (e) => e.message);
        out[name] = { ...err, ms, closed, serverClosed, sockets: net.states(url).length };
      }
      return out;
    }, { wsUrl: ws.url, tcpUrl: tcp.url });
    for (const name of ['websocket', 'tcp']) {
      assert.equal(r[name].code, 'CONNECT_TIMEOUT', `${name}: ${JSON.stringify(r[name])}`);
      assert.ok(r[name].isMqttError);
      assert.ok(r[name].ms >= 950 && r[name].ms < 4000, `${name}: after ${Math.round(r[name].ms)} ms`);
      assert.equal(r[name].sockets, 1, `${name}: one attempt (reconnect: false)`);
      assert.equal(r[name].closed, true, `${name}: socket closed after the timeout`);
      assert.equal(r[name].serverClosed, true, `${name}: the server saw the connection closed`);
    }
  }, { init: netGate });
});

test('signal: an already aborted signal and one aborted during the attempt reject with ABORTED; nothing is retried', T, async () => {
  const ws = await silent(true);
  await withPage(browser, async (page) => {
    const r = await page.evaluate(async ({ env, url }) => {
      const { MqttClient } = window.mqtt;
      const early = new AbortController();
      early.abort();
      const before = await t.rejection(MqttClient.connect(env.ws, { signal: early.signal }));
      const openedBefore = net.opened;
      const ctl = new AbortController();
      const p = MqttClient.connect(url, { signal: ctl.signal, connectTimeout: 20_000, reconnect: { initialDelay: 50, maxDelay: 50 } });
      await t.waitFor(() => net.opened > openedBefore, 5000, 'the attempt opens a socket');
      const t0 = performance.now();
      ctl.abort();
      const during = await t.rejection(t.within(p, 5000, 'connect after abort'));
      const ms = performance.now() - t0;
      const openedAfterAbort = net.opened;
      // A marker connection: by the time it is up, a retry (50 ms backoff) would have opened a socket.
      const probe = await MqttClient.connect(env.ws, { clientId: t.uid('probe') });
      await probe.publish('probe', 'x', { qos: 1 });
      await probe.end();
      return { before, openedBefore, during, ms, retries: net.opened - openedAfterAbort - 1 };
    }, { env: browser.env, url: ws.url });
    assert.equal(r.before.code, 'ABORTED');
    assert.equal(r.openedBefore, 0, 'an aborted signal opens no socket');
    assert.equal(r.during.code, 'ABORTED');
    assert.ok(r.during.isMqttError);
    assert.ok(r.ms < 1000, `rejected ${Math.round(r.ms)} ms after abort()`);
    assert.equal(r.retries, 0, 'no new attempt after the abort');
  }, { init: netGate });
  const deadline = Date.now() + 5000;
  while (ws.connections && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
  assert.equal(ws.connections, 0, 'the aborted attempt closed its socket');
});

test('sessionExpiry (v5): a 1 s session is gone after 3 s away, a 1 h one is kept with its messages', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('exp');
      const make = async (name, sessionExpiry) => {
        const c = await MqttClient.connect(env.ws, {
          clientId: t.uid(name), clean: false, sessionExpiry, protocolVersion: 5, resubscribe: false,
          reconnect: { initialDelay: 100, maxDelay: 200 },
        });
        const got = t.sink();
        const connects = [];
        await c.subscribe(`${base}/${name}`, { qos: 1 }, got.fn);
        c.on('connect', (i) => connects.push(i.sessionPresent));
        return { c, got, connects };
      };
      const short = await make('short', 1);
      const long = await make('long', 3600);
      const pub = await MqttClient.connect(env.wsAuth, { clientId: t.uid('ep'), username: env.user, password: env.pass });
      try {
        net.block(env.ws);
        const offline = Promise.all([t.once(short.c, 'offline'), t.once(long.c, 'offline')]);
        net.cut(env.ws);
        await offline;
        // The expiry under test is a duration: this wait is the point of the test.
        const away = performance.now();
        await t.waitFor(() => performance.now() - away > 3000, 5000, '3 s away');
        await pub.publish(`${base}/short`, 'to short', { qos: 1 });
        await pub.publish(`${base}/long`, 'to long', { qos: 1 });
        const back = Promise.all([t.once(short.c, 'connect', 10_000), t.once(long.c, 'connect', 10_000)]);
        net.unblock(env.ws);
        await back;
        await long.got.until(1, 5000);
        // The short one lost its subscription with its session: a marker to itself shows
        // nothing is on the way (it subscribes anew, then publishes the marker).
        await short.c.subscribe(`${base}/short-marker`, { qos: 1 }, short.got.fn);
        await short.c.publish(`${base}/short-marker`, 'marker', { qos: 1 });
        await short.got.until(1, 5000);
        return {
          short: { connects: short.connects, got: short.got.items.map((m) => m.text()) },
          long: { connects: long.connects, got: long.got.items.map((m) => m.text()) },
        };
      } finally {
        await t.endAll(short.c, long.c, pub);
      }
    }, browser.env);
    assert.deepEqual(r.short, { connects: [false], got: ['marker'] });
    assert.deepEqual(r.long, { connects: [true], got: ['to long'] });
  }, { init: netGate }));

test('CONNECT properties (v5): maximumPacketSize is announced and kept by the broker; userProperties and the rest are accepted', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('cprops');
      const c = await MqttClient.connect(env.ws, {
        clientId: t.uid('cp'), protocolVersion: 5,
        properties: {
          maximumPacketSize: 300, receiveMaximum: 5, topicAliasMaximum: 0,
          requestResponseInformation: false, requestProblemInformation: true,
          userProperties: { app: 'tests', tags: ['a', 'b'] },
        },
      });
      const pub = await MqttClient.connect(env.ws, { clientId: t.uid('cpp') });
      try {
        const got = t.sink();
        await c.subscribe(`${base}/#`, { qos: 1 }, got.fn);
        // The broker must not send a packet above 300 bytes to this client: it drops it.
        await pub.publish(`${base}/big`, 'x'.repeat(1000), { qos: 1 });
        await pub.publish(`${base}/small`, 'fits', { qos: 1 });
        await got.until(1);
        const other = await MqttClient.connect(env.ws, { clientId: t.uid('cpo'), protocolVersion: 5 });
        const otherGot = t.sink();
        await other.subscribe(`${base}/#`, { qos: 1 }, otherGot.fn);
        await pub.publish(`${base}/big`, 'x'.repeat(1000), { qos: 1 });
        await otherGot.until(1);
        await other.end();
        return { got: got.items.map((m) => m.topic.split('/').pop()), other: otherGot.items[0].payload.length, state: c.state };
      } finally {
        await t.endAll(c, pub);
      }
    }, browser.env);
    assert.deepEqual(r.got, ['small'], 'the 1000-byte message was held back');
    assert.equal(r.other, 1000, 'a client without the limit gets it');
    assert.equal(r.state, 'connected');
  }));

test('Will properties (v5): a subscriber gets the Will with its properties, after willDelayInterval', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('wprops');
      const watcher = await MqttClient.connect(env.ws, { clientId: t.uid('ww'), protocolVersion: 5 });
      try {
        const got = t.sink();
        await watcher.subscribe(`${base}/#`, { qos: 1 }, got.fn);
        const c = await MqttClient.connect(env.ws, {
          clientId: t.uid('wp'), protocolVersion: 5,
          will: {
            topic: `${base}/will`, payload: '{"gone":true}', qos: 1,
            properties: {
              willDelayInterval: 1, contentType: 'application/json', responseTopic: `${base}/reply`,
              correlationData: new Uint8Array([1, 2, 3]), payloadFormatIndicator: true,
              messageExpiryInterval: 60, userProperties: { reason: 'test' },
            },
          },
        });
        await c.end({ force: true });
        const t0 = performance.now();
        const [m] = await got.until(1, 10_000);
        const p = m.properties ?? {};
        return {
          ms: performance.now() - t0, text: m.text(), qos: m.qos,
          props: {
            contentType: p.contentType, responseTopic: p.responseTopic, correlationData: Array.from(p.correlationData ?? []),
            payloadFormatIndicator: p.payloadFormatIndicator, userProperties: p.userProperties,
            expiry: p.messageExpiryInterval,
          },
          reply: `${base}/reply`,
        };
      } finally {
        await t.endAll(watcher);
      }
    }, browser.env);
    assert.equal(r.text, '{"gone":true}');
    assert.equal(r.qos, 1);
    assert.ok(r.ms >= 500, `the Will waited for willDelayInterval (${Math.round(r.ms)} ms)`);
    assert.equal(r.props.contentType, 'application/json');
    assert.equal(r.props.responseTopic, r.reply);
    assert.deepEqual(r.props.correlationData, [1, 2, 3]);
    assert.equal(r.props.payloadFormatIndicator, true);
    assert.deepEqual(r.props.userProperties, { reason: 'test' });
    assert.ok(r.props.expiry > 0 && r.props.expiry <= 60, `message expiry ${r.props.expiry}`);
  }));

test('retainHandling 0/1/2 and retainAsPublished (v5)', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('rh');
      const pub = await MqttClient.connect(env.ws, { clientId: t.uid('rhp'), protocolVersion: 5 });
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('rhc'), protocolVersion: 5 });
      try {
        await pub.publish(`${base}/r`, 'retained', { qos: 1, retain: true });
        const got = t.sink();
        await c.subscribe(`${base}/marker`, { qos: 1 }, got.fn);
        let n = 0;
        // Retained messages a (re)subscription brings, checked with a marker after it.
        const retainedOn = async (options) => {
          const before = got.items.length;
          await c.subscribe(`${base}/r`, { qos: 1, ...options }, got.fn);
          n += 1;
          await pub.publish(`${base}/marker`, `m${n}`, { qos: 1 });
          await t.waitFor(() => got.items.some((m) => m.text() === `m${n}`), 5000, `marker m${n}`);
          return got.items.slice(before).filter((m) => m.topic === `${base}/r`).map((m) => [m.text(), m.retain]);
        };
        const rh2 = await retainedOn({ retainHandling: 2 });
        await c.unsubscribe(`${base}/r`);
        const rh1New = await retainedOn({ retainHandling: 1 });
        const rh1Again = await retainedOn({ retainHandling: 1 });
        const rh0Again = await retainedOn({ retainHandling: 0 });
        await c.unsubscribe(`${base}/r`);
        // A live retained publish: the retain flag is kept only with retainAsPublished.
        const live = async (rap) => {
          const s = t.sink();
          const f = `${base}/live/${rap}`;
          await c.subscribe(f, { qos: 1, retainAsPublished: rap }, s.fn);
          await pub.publish(f, 'live', { qos: 1, retain: true });
          const [m] = await s.until(1);
          return m.retain;
        };
        const rapTrue = await live(true);
        const rapFalse = await live(false);
        await pub.publish(`${base}/r`, '', { qos: 1, retain: true });
        await pub.publish(`${base}/live/true`, '', { qos: 1, retain: true });
        await pub.publish(`${base}/live/false`, '', { qos: 1, retain: true });
        return { rh2, rh1New, rh1Again, rh0Again, rapTrue, rapFalse };
      } finally {
        await t.endAll(c, pub);
      }
    }, browser.env);
    assert.deepEqual(r.rh2, [], 'retainHandling 2: no retained message');
    assert.deepEqual(r.rh1New, [['retained', true]], 'retainHandling 1, new subscription: sent');
    assert.deepEqual(r.rh1Again, [], 'retainHandling 1, existing subscription: not sent');
    assert.deepEqual(r.rh0Again, [['retained', true]], 'retainHandling 0: sent on every subscribe');
    assert.equal(r.rapTrue, true, 'retainAsPublished: the live message keeps retain');
    assert.equal(r.rapFalse, false, 'without it the live message has retain cleared');
  }));

test('end({ reasonCode: 0x04 }) sends DISCONNECT with Will (v5): the broker publishes the Will', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('endrc');
      const watcher = await MqttClient.connect(env.ws, { clientId: t.uid('erw') });
      try {
        const got = t.sink();
        await watcher.subscribe(`${base}/#`, { qos: 1 }, got.fn);
        const out = {};
        for (const reasonCode of [0x04, 0x00]) {
          const c = await MqttClient.connect(env.ws, {
            clientId: t.uid('er'), protocolVersion: 5, will: { topic: `${base}/will`, payload: `will ${reasonCode}`, qos: 1 },
          });
          await c.end({ reasonCode });
          out[reasonCode] = c.state;
        }
        await watcher.publish(`${base}/marker`, 'marker', { qos: 1 });
        await t.waitFor(() => got.items.some((m) => m.text() === 'marker'), 5000, 'the marker');
        return { states: out, got: got.items.map((m) => m.text()) };
      } finally {
        await t.endAll(watcher);
      }
    }, browser.env);
    assert.deepEqual(r.states, { 0: 'closed', 4: 'closed' });
    assert.deepEqual(r.got, ['will 4', 'marker'], 'only the 0x04 DISCONNECT fires the Will');
  }));

test('end({ timeout }): with a QoS 1 publish that cannot complete, end() gives up after the timeout and the publish rejects', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('et'), keepalive: 0 });
      try {
        await t.control(env.control, 'freeze');
        const p = t.rejection(c.publish(t.uid('et/x'), 'never acked', { qos: 1 }));
        await t.waitFor(() => c.stats().inflight === 1, 5000, 'the publish in flight');
        const t0 = performance.now();
        await t.within(c.end({ timeout: 500 }), 5000, 'end()');
        const ms = performance.now() - t0;
        return { ms, publish: await p, state: c.state };
      } finally {
        await t.control(env.control, 'thaw');
        await t.endAll(c);
      }
    }, browser.env);
    assert.ok(r.ms >= 450 && r.ms < 3000, `end() resolved after ${Math.round(r.ms)} ms`);
    assert.equal(r.publish.code, 'CLOSED', `the unacknowledged publish rejects: ${JSON.stringify(r.publish)}`);
    assert.equal(r.state, 'closed');
  }));

test('reconnect maxAttempts: after 2 refused attempts the client gives up: close event, state closed, promises rejected', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('ma'), reconnect: { maxAttempts: 2, initialDelay: 50, maxDelay: 50 } });
      const events = [];
      for (const e of ['offline', 'reconnecting', 'connect', 'close']) c.on(e, (i) => events.push(e === 'reconnecting' ? `reconnecting ${i.attempt}` : e));
      const closed = t.once(c, 'close', 10_000);
      // Published from the first 'offline' listener call: the two 50 ms attempts can be
      // over before a poll of the event list notices 'offline'.
      let queued;
      c.on('offline', () => { queued ??= t.rejection(c.publish('ma/x', 'queued while offline', { qos: 1 })); });
      net.block(env.ws);
      net.cut(env.ws);
      await t.waitFor(() => events.includes('offline'), 5000, 'offline');
      await closed;
      const afterClose = await t.rejection(c.publish('ma/x', 'after close', { qos: 1 }));
      const sub = await t.rejection(c.subscribe('ma/#'));
      const end = await c.end().then(() => 'resolved', (e) => e.code);
      return { events, state: c.state, queued: await queued, afterClose, sub, end, opened: net.opened };
    }, browser.env);
    assert.deepEqual(r.events.filter((e) => e.startsWith('reconnecting')), ['reconnecting 1', 'reconnecting 2']);
    assert.equal(r.events.at(-1), 'close');
    assert.ok(!r.events.includes('connect'));
    assert.equal(r.opened, 3, 'the first socket and two attempts');
    assert.equal(r.state, 'closed');
    // The queued publish fails with the error that made the client give up.
    assert.equal(r.queued.code, 'CONNECTION_LOST', `the queued publish rejects: ${JSON.stringify(r.queued)}`);
    assert.equal(r.afterClose.code, 'CLOSED');
    assert.equal(r.sub.code, 'CLOSED');
    assert.equal(r.end, 'resolved', 'end() on a closed client resolves');
  }, { init: netGate }));

test('invalid connect options: each rejects with its code and opens no socket', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const cases = {
        httpUrl: ['http://127.0.0.1:1', {}],
        noUrl: [[], {}],
        numberUrl: [42, {}],
        options: [env.ws, 'fast'],
        clientId: [env.ws, { clientId: 5 }],
        protocolVersion: [env.ws, { protocolVersion: 3 }],
        keepaliveNeg: [env.ws, { keepalive: -1 }],
        keepaliveBig: [env.ws, { keepalive: 70_000 }],
        keepaliveFloat: [env.ws, { keepalive: 1.5 }],
        clean: [env.ws, { clean: 'yes' }],
        sessionExpiry: [env.ws, { sessionExpiry: -1 }],
        connectTimeout: [env.ws, { connectTimeout: 0 }],
        reconnect: [env.ws, { reconnect: 'often' }],
        multiplier: [env.ws, { reconnect: { multiplier: 0.5 } }],
        jitter: [env.ws, { reconnect: { jitter: 2 } }],
        maxAttempts: [env.ws, { reconnect: { maxAttempts: -1 } }],
        overflow: [env.ws, { queue: { overflow: 'wrap' } }],
        maxMessages: [env.ws, { queue: { maxMessages: -1 } }],
        receiveMaximum: [env.ws, { properties: { receiveMaximum: 0 } }],
        userProperties: [env.ws, { properties: { userProperties: { a: 5 } } }],
        willNoTopic: [env.ws, { will: { payload: 'x' } }],
        willWildcard: [env.ws, { will: { topic: 'a/#', payload: 'x' } }],
        willQos: [env.ws, { will: { topic: 'a', payload: 'x', qos: 3 } }],
        willPayload: [env.ws, { will: { topic: 'a', payload: 42 } }],
        store: [env.ws, { store: 'disk' }],
        logLevel: [env.ws, { logLevel: 'loud' }],
        credentials: [env.ws, { credentials: 'secret' }],
        password: [env.ws, { password: 42 }],
      };
      const out = {};
      for (const [k, [url, opts]] of Object.entries(cases)) {
        const e = await t.rejection(t.within(MqttClient.connect(url, opts), 5000, k));
        out[k] = e.isMqttError ? e.code : JSON.stringify(e);
      }
      return { out, opened: net.opened };
    }, browser.env);
    const expected = Object.fromEntries(Object.keys(r.out).map((k) => [k, 'INVALID_ARGUMENT']));
    expected.willWildcard = 'INVALID_TOPIC';
    expected.willQos = 'INVALID_QOS';
    assert.deepEqual(r.out, expected);
    assert.equal(r.opened, 0, 'no socket opened');
  }, { init: netGate }));

test('off(): a removed listener is not called again; the others still are', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async (env) => {
      const { MqttClient } = window.mqtt;
      const base = t.uid('off');
      const c = await MqttClient.connect(env.ws, { clientId: t.uid('off') });
      try {
        const a = [];
        const b = [];
        const la = (m) => a.push(m.text());
        const lb = (m) => b.push(m.text());
        const chained = typeof c.on('message', la).on('message', lb).off === 'function';
        await c.subscribe(`${base}/#`, { qos: 1 });
        await c.publish(`${base}/1`, 'one', { qos: 1 });
        await t.waitFor(() => a.length === 1 && b.length === 1, 5000, 'both listeners');
        c.off('message', la);
        c.off('message', () => {}); // unknown: no effect
        await c.publish(`${base}/2`, 'two', { qos: 1 });
        await t.waitFor(() => b.length === 2, 5000, 'the kept listener');
        return { a, b, chained };
      } finally {
        await t.endAll(c);
      }
    }, browser.env);
    assert.deepEqual(r.a, ['one']);
    assert.deepEqual(r.b, ['one', 'two']);
    assert.equal(r.chained, true, 'on() returns the client for chaining');
  }));
