// MqttSignaling through the real broker, two or three peers in one page: presence (join,
// stop, Will), calls with "incoming", a data channel and video over the resulting
// RtcPeer, simultaneous calls (glare), stale and malformed signals, own messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 90_000 };

/** Page-side setup: `n` clients with signaling in one fresh room (helpers on window.sig). */
const SETUP = async () => {
  const pkg = await import('/pkg/mqtt_rtc.js');
  const rtc = await import('/rtc.js');
  window.sig = {
    pkg, rtc,
    async peers(env, n, { will = false, meta = (i) => ({ name: `peer ${i}` }) } = {}) {
      const room = t.uid('room');
      const out = [];
      for (let i = 0; i < n; i++) {
        const peerId = `${t.uid('p')}-${i}`;
        const client = await pkg.MqttClient.connect(env.ws, {
          clientId: peerId, reconnect: false,
          ...(will ? { will: pkg.MqttSignaling.will(room, peerId) } : {}),
        });
        const s = new pkg.MqttSignaling(client, { room, peerId, meta: meta(i) });
        const joined = [];
        const left = [];
        const errors = [];
        const incoming = [];
        s.on('peer-joined', (p) => joined.push(p)).on('peer-left', (p) => left.push(p))
          .on('error', (e) => errors.push(e.code))
          // The remote channel can open within milliseconds of "incoming": listen at once.
          .on('incoming', (peer, from) => {
            const channel = rtc.nextChannel(peer, 20_000);
            channel.catch(() => {}); // awaited only by the tests that expect a channel
            incoming.push({ peer, from, channel });
          });
        out.push({ client, s, peerId, joined, left, errors, incoming, room });
      }
      for (const p of out) await p.s.start();
      return out;
    },
    async until(fn, ms = 5000, what = 'condition') {
      const t0 = performance.now();
      while (!fn()) {
        if (performance.now() - t0 > ms) throw new Error(`timed out: ${what}`);
        await t.sleep(20);
      }
    },
    async cleanup(list) {
      for (const p of list) {
        await p.s.stop().catch(() => {});
        await t.endAll(p.client);
      }
    },
  };
};

test('presence: peers see each other with their meta; stop() makes the others see peer-left', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const [a, b, c] = await sig.peers(env, 3);
      try {
        await sig.until(() => a.s.peers().length === 2 && b.s.peers().length === 2 && c.s.peers().length === 2, 5000, 'roster');
        const seenByA = a.s.peers().map((p) => p.peerId).sort();
        const meta = a.s.peers().find((p) => p.peerId === b.peerId).meta;
        await c.s.stop();
        await sig.until(() => a.left.length === 1 && b.left.length === 1, 5000, 'peer-left');
        return {
          seenByA, expected: [b.peerId, c.peerId].sort(), meta,
          left: [a.left[0].peerId, b.left[0].peerId], c: c.peerId,
          after: a.s.peers().map((p) => p.peerId), b: b.peerId, errors: [...a.errors, ...b.errors],
          ownInRoster: a.s.peers().some((p) => p.peerId === a.peerId),
        };
      } finally {
        await sig.cleanup([a, b, c]);
      }
    }, browser.env);
    assert.deepEqual(r.seenByA, r.expected);
    assert.deepEqual(r.meta, { name: 'peer 1' });
    assert.deepEqual(r.left, [r.c, r.c]);
    assert.deepEqual(r.after, [r.b]);
    assert.equal(r.ownInRoster, false);
    assert.deepEqual(r.errors, []);
  }));

test('a dropped socket with the Will makes the others see peer-left at once', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const [a, b] = await sig.peers(env, 2, { will: true });
      try {
        await sig.until(() => a.s.peers().length === 1, 5000, 'roster');
        const t0 = performance.now();
        await b.client.end({ force: true }); // no DISCONNECT: the broker publishes the Will
        await sig.until(() => a.left.length === 1, 5000, 'peer-left from the Will');
        return { ms: performance.now() - t0, left: a.left[0].peerId, b: b.peerId };
      } finally {
        await sig.cleanup([a, b]);
      }
    }, browser.env);
    assert.equal(r.left, r.b);
    assert.ok(r.ms < 3000, `noticed in ${Math.round(r.ms)} ms`);
  }));

test('call(): the callee gets "incoming", a data channel works both ways, video flows', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const [a, b] = await sig.peers(env, 2);
      try {
        await sig.until(() => a.s.peers().length === 1, 5000, 'roster');
        const t0 = performance.now();
        const stream = await navigator.mediaDevices.getUserMedia({ video: true });
        const peerA = await a.s.call(b.peerId);
        const chA = peerA.createChannel('chat');
        await sig.until(() => b.incoming.length === 1, 10_000, 'incoming');
        const { peer: peerB, from } = b.incoming[0];
        const chB = await b.incoming[0].channel;
        const video = new Promise((ok) => peerA.on('track', (track, s) => ok(s)));
        for (const track of stream.getTracks()) peerB.addTrack(track, stream);
        await Promise.all([sig.rtc.connected(peerA, 20_000), sig.rtc.connected(peerB, 20_000)]);
        const connectMs = performance.now() - t0;
        await Promise.all([sig.rtc.opened(chA), sig.rtc.opened(chB)]);
        const inB = sig.rtc.inbox(chB);
        const inA = sig.rtc.inbox(chA);
        await chA.send('hello b');
        await chB.send(new Uint8Array([1, 2, 3]));
        const [mb] = await inB.until(1);
        const [ma] = await inA.until(1);
        const remote = await t.within(video, 10_000, 'remote video track');
        const el = document.createElement('video');
        el.muted = true;
        el.srcObject = remote;
        document.body.append(el);
        await el.play();
        const t1 = el.currentTime;
        const advanced = await t.waitFor(() => el.currentTime > t1, 10_000, 'remote video frames').then(() => true);
        stream.getTracks().forEach((x) => x.stop());
        peerA.close();
        await sig.until(() => peerB.connectionState === 'closed' || peerB.connectionState === 'failed' || peerB.connectionState === 'disconnected', 15_000, 'remote close noticed').catch(() => {});
        return {
          from: from.peerId, a: a.peerId, mb, ma: Array.from(ma), advanced, connectMs,
          calls: b.incoming.length, errors: [...a.errors, ...b.errors],
        };
      } finally {
        await sig.cleanup([a, b]);
      }
    }, browser.env);
    console.log(`signaling: call to connected over MQTT in ${Math.round(r.connectMs)} ms`);
    assert.equal(r.from, r.a);
    assert.equal(r.mb, 'hello b');
    assert.deepEqual(r.ma, [1, 2, 3]);
    assert.ok(r.advanced, 'remote video frames advance');
    assert.equal(r.calls, 1);
    assert.deepEqual(r.errors, []);
  }));

test('glare: both peers call each other at once and end with one working connection', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      // Let the browser enumerate its network interfaces first (see rtc-negotiation).
      (await sig.rtc.channelPair('warm-up')).close();
      const [a, b] = await sig.peers(env, 2);
      try {
        await sig.until(() => a.s.peers().length === 1 && b.s.peers().length === 1, 5000, 'roster');
        const [pa, pb] = await Promise.all([a.s.call(b.peerId), b.s.call(a.peerId)]);
        // Each side's channel is announced to the other once the one connection is up;
        // the listeners exist before the channels do.
        const atB = sig.rtc.nextChannel(pb, 15_000);
        const atA = sig.rtc.nextChannel(pa, 15_000);
        const ca = pa.createChannel('a');
        const cb = pb.createChannel('b');
        await Promise.all([sig.rtc.connected(pa, 15_000), sig.rtc.connected(pb, 15_000)]);
        await Promise.all([sig.rtc.opened(ca), sig.rtc.opened(cb)]);
        const [remoteA, remoteB] = await Promise.all([atB, atA]);
        const [inB, inA] = [sig.rtc.inbox(remoteA), sig.rtc.inbox(remoteB)];
        await Promise.all([sig.rtc.opened(remoteA), sig.rtc.opened(remoteB)]);
        await ca.send('a to b');
        await cb.send('b to a');
        const [gotB] = await inB.until(1);
        const [gotA] = await inA.until(1);
        return {
          states: [pa.connectionState, pb.connectionState],
          incoming: [a.incoming.length, b.incoming.length],
          polite: [pa.polite, pb.polite],
          labels: [remoteA.label, remoteB.label],
          got: [gotB, gotA],
          errors: [...a.errors, ...b.errors],
        };
      } finally {
        await sig.cleanup([a, b]);
      }
    }, browser.env);
    assert.deepEqual(r.states, ['connected', 'connected']);
    assert.deepEqual(r.incoming, [0, 0], 'each side kept its own call: no second connection');
    assert.notEqual(r.polite[0], r.polite[1], 'one polite, one impolite');
    assert.deepEqual(r.labels, ['a', 'b'], 'each side sees the other side\'s channel');
    assert.deepEqual(r.got, ['a to b', 'b to a'], 'data flows both ways over the one connection');
    assert.deepEqual(r.errors, []);
  }));

test('stale, malformed, oversized and own signals are never processed as calls', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const [a, b] = await sig.peers(env, 2);
      const raw = await sig.pkg.MqttClient.connect(env.ws, { reconnect: false });
      try {
        await sig.until(() => a.s.peers().length === 1, 5000, 'roster');
        const inboxB = `mqtt-rtc/${b.room}/inbox/${b.peerId}`;
        // A real call, then closed by the callee: its session becomes stale.
        const pa = await a.s.call(b.peerId);
        const offers = [];
        pa.on('signal', (m) => { if (m.type === 'offer') offers.push(m); });
        pa.createChannel('x');
        await sig.until(() => b.incoming.length === 1, 10_000, 'incoming');
        await sig.rtc.connected(b.incoming[0].peer);
        const calleeClosed = new Promise((ok) => b.incoming[0].peer.on('close', ok));
        b.incoming[0].peer.close();
        await t.within(calleeClosed, 5000, 'the callee closes');
        const staleOffer = JSON.stringify({ from: a.peerId, signal: offers[0] });
        await raw.publish(inboxB, staleOffer, { qos: 1 });
        // Own: an offer that claims to come from b itself.
        await raw.publish(inboxB, JSON.stringify({ from: b.peerId, signal: { ...offers[0], session: 'own' } }), { qos: 1 });
        // Malformed: not JSON, wrong shape, oversized. One publisher on one topic: b
        // handles them in this order, so their three errors come after the two above.
        await raw.publish(inboxB, 'not json', { qos: 1 });
        await raw.publish(inboxB, JSON.stringify({ from: a.peerId, signal: { type: 'offer', session: 'x' } }), { qos: 1 });
        await raw.publish(inboxB, JSON.stringify({ from: a.peerId, signal: { type: 'offer', sdp: 'v=0'.padEnd(300 * 1024, ' '), session: 'y' } }), { qos: 1 });
        await sig.until(() => b.errors.length >= 3, 10_000, 'three INVALID_SIGNAL errors');
        return { incoming: b.incoming.length, errors: b.errors };
      } finally {
        await t.endAll(raw);
        await sig.cleanup([a, b]);
      }
    }, browser.env);
    assert.equal(r.incoming, 1, 'only the real call became "incoming"');
    assert.deepEqual(r.errors, ['INVALID_SIGNAL', 'INVALID_SIGNAL', 'INVALID_SIGNAL']);
  }));

test('prefix: presence and calls travel under the given prefix only; will() uses it; invalid prefixes throw', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const { MqttClient, MqttSignaling } = sig.pkg;
      const prefix = t.uid('pfx');
      const room = t.uid('room');
      const raw = await MqttClient.connect(env.ws, { clientId: t.uid('raw') });
      const seen = [];
      await raw.subscribe([`${prefix}/${room}/#`, `mqtt-rtc/${room}/#`], { qos: 1 }, (m) => seen.push(m.topic));
      const made = [];
      try {
        for (const name of ['a', 'b']) {
          const peerId = `${name}-${t.uid('p')}`;
          const client = await MqttClient.connect(env.ws, { clientId: peerId, reconnect: false });
          const s = new MqttSignaling(client, { room, peerId, prefix });
          const incoming = [];
          s.on('incoming', (peer) => incoming.push(peer));
          made.push({ client, s, peerId, incoming });
        }
        const [a, b] = made;
        for (const p of made) await p.s.start();
        await sig.until(() => a.s.peers().length === 1 && b.s.peers().length === 1, 5000, 'roster');
        const pa = await a.s.call(b.peerId);
        pa.createChannel('x');
        await sig.until(() => b.incoming.length === 1, 10_000, 'incoming');
        await Promise.all([sig.rtc.connected(pa), sig.rtc.connected(b.incoming[0])]);
        await raw.publish(`mqtt-rtc/${room}/marker`, 'marker', { qos: 1 });
        await sig.until(() => seen.includes(`mqtt-rtc/${room}/marker`), 5000, 'the marker');
        const invalid = ['', 'a/+', 'a#', 'a\u0000'].map((p) => {
          try { new MqttSignaling(raw, { room, prefix: p }); return 'ok'; } catch (e) { return e.code; }
        });
        return {
          presence: [...new Set(seen.filter((x) => x.includes('/presence/')))].sort(),
          inbox: seen.some((x) => x === `${prefix}/${room}/inbox/${b.peerId}`),
          outside: seen.filter((x) => !x.startsWith(`${prefix}/`) && x !== `mqtt-rtc/${room}/marker`),
          expected: made.map((p) => `${prefix}/${room}/presence/${p.peerId}`).sort(),
          will: MqttSignaling.will(room, 'z', prefix).topic, willTopic: `${prefix}/${room}/presence/z`,
          defaultWill: MqttSignaling.will(room, 'z').topic, invalid,
        };
      } finally {
        await t.endAll(raw);
        await sig.cleanup(made);
      }
    }, browser.env);
    assert.deepEqual(r.presence, r.expected);
    assert.ok(r.inbox, 'signals went to the inbox under the prefix');
    assert.deepEqual(r.outside, [], 'nothing under the default prefix');
    assert.equal(r.will, r.willTopic);
    assert.match(r.defaultWill, /^mqtt-rtc\//);
    assert.deepEqual(r.invalid, Array(4).fill('INVALID_ARGUMENT'));
  }));

test('off(): a removed signaling listener is not called again; call() before start() rejects NOT_STARTED', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const { MqttClient, MqttSignaling } = sig.pkg;
      const [a, b] = await sig.peers(env, 2);
      const extra = [];
      try {
        await sig.until(() => a.s.peers().length === 1, 5000, 'roster');
        const removed = [];
        const kept = [];
        const lr = (p) => removed.push(p.peerId);
        a.s.on('peer-joined', lr).on('peer-joined', (p) => kept.push(p.peerId));
        const chained = typeof a.s.off('peer-joined', lr).on === 'function';
        // A third peer joins: only the kept listener hears of it.
        const client = await MqttClient.connect(env.ws, { clientId: t.uid('c'), reconnect: false });
        const c = new MqttSignaling(client, { room: a.room, peerId: t.uid('c') });
        extra.push({ client, s: c });
        const early = await t.rejection(c.call(a.peerId));
        await c.start();
        await sig.until(() => kept.length === 1, 5000, 'the kept listener');
        return { removed, kept, c: c.peerId, chained, early: early.code, earlyIsError: early.isMqttError };
      } finally {
        await sig.cleanup([a, b, ...extra]);
      }
    }, browser.env);
    assert.deepEqual(r.kept, [r.c]);
    assert.deepEqual(r.removed, []);
    assert.equal(r.chained, true);
    assert.equal(r.early, 'NOT_STARTED');
    assert.ok(r.earlyIsError);
  }));

// Liveness counts from arrival on the receiving side (a sender's clock decides nothing), so
// this test waits the real 45 s. The silent peer's presence claims it was sent 40 s ago:
// a receiver that trusted `ts` would drop it after about 5 s, which fails the lower bound.
test('a peer that goes silent is dropped 45 s after its last heartbeat arrived, whatever its clock says; a live peer stays', { timeout: 120_000 }, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const [a, b] = await sig.peers(env, 2);
      const raw = await sig.pkg.MqttClient.connect(env.ws, { clientId: t.uid('ghost') });
      const topic = `mqtt-rtc/${a.room}/presence/ghost`;
      try {
        await sig.until(() => a.s.peers().length === 1, 5000, 'roster');
        const ts = Date.now() - 40_000;
        await raw.publish(topic, JSON.stringify({ peerId: 'ghost', meta: { kind: 'silent' }, since: ts, ts }), { qos: 1, retain: true });
        await sig.until(() => a.s.peers().some((p) => p.peerId === 'ghost'), 5000, 'the silent peer joins');
        const arrived = Date.now();
        const left = await new Promise((ok, fail) => {
          const timer = setTimeout(() => fail(new Error('no peer-left within 75 s')), 75_000);
          a.s.on('peer-left', (p) => { if (p.peerId === 'ghost') { clearTimeout(timer); ok(Date.now() - arrived); } });
        });
        return {
          left, roster: a.s.peers().map((p) => p.peerId), b: b.peerId,
          leftList: a.left.map((p) => p.peerId), errors: a.errors,
        };
      } finally {
        await raw.publish(topic, '', { qos: 1, retain: true }).catch(() => {});
        await t.endAll(raw);
        await sig.cleanup([a, b]);
      }
    }, browser.env);
    // `arrived` is taken after the join was seen, a little after the real arrival.
    assert.ok(r.left >= 44_000, `dropped ${r.left} ms after its last heartbeat arrived: too early`);
    assert.ok(r.left <= 45_000 + 10_000, `dropped ${r.left} ms after its last heartbeat arrived: too late`);
    assert.deepEqual(r.roster, [r.b], 'the live peer stays');
    assert.deepEqual(r.leftList, ['ghost']);
    assert.deepEqual(r.errors, []);
  }));
