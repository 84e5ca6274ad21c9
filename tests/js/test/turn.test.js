// Calls through a real TURN server: coturn on loopback, started by tools/test.sh (and
// tools/broker/run.sh) with one user in one realm, its address and credentials in
// MQTT_RTC_TURN_URL / _USER / _PASS. Two pages connect with iceTransportPolicy "relay":
// the selected candidate pair is relay/relay on both sides, a data channel and a fake
// camera track flow; then the same through MqttSignaling, the callee taking its ICE
// settings from SignalingOptions.peer; wrong credentials and an unreachable server give
// an ICE_FAILED error within a bounded time instead of a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 120_000 };

function turnEnv() {
  const url = process.env.MQTT_RTC_TURN_URL;
  if (!url) throw new Error('MQTT_RTC_TURN_URL is not set: run through ./tools/test.sh (or tools/broker/run.sh -- ...), which start coturn');
  return { url, user: process.env.MQTT_RTC_TURN_USER, pass: process.env.MQTT_RTC_TURN_PASS };
}

/** A loopback TCP port that was free a moment ago. */
function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** One page's side of a relayed call whose signals go through Node to the other page. */
const SIDE = async ({ turn, polite, camera }) => {
  const { RtcPeer } = await import('/pkg/mqtt_rtc.js');
  const rtc = await import('/rtc.js');
  let fetched = 0;
  const peer = await RtcPeer.create({
    // A function, as for short-lived credentials: called once for this peer.
    iceServers: async () => {
      fetched += 1;
      return [{ urls: [`${turn.url}?transport=udp`, `${turn.url}?transport=tcp`], username: turn.user, credential: turn.pass }];
    },
    iceTransportPolicy: 'relay',
    polite,
  });
  const errors = [];
  peer.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
  peer.on('signal', (m) => window.toOther(m));
  window.side = { peer, rtc, errors, fetched: () => fetched };
  window.side.channel = polite ? peer.createChannel('relayed') : rtc.nextChannel(peer, 30_000);
  window.side.track = new Promise((ok) => peer.on('track', (track, stream) => ok({ track, stream })));
  if (camera) {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
    peer.addTrack(stream.getVideoTracks()[0], stream);
  }
};

/** Waits until connected and the channel is open; returns the stats summary. */
const SETTLE = async () => {
  const { peer, rtc } = window.side;
  await rtc.connected(peer, 30_000);
  window.side.channel = await window.side.channel;
  await rtc.opened(window.side.channel, 30_000);
  window.side.inbox = rtc.inbox(window.side.channel);
  return peer.stats();
};

/** Resolves once a received video track shows decoded frames in a <video> element. */
const VIDEO_PLAYS = async () => {
  const { stream } = await t.within(window.side.track, 30_000, 'the remote camera track');
  const v = document.createElement('video');
  v.muted = true;
  v.srcObject = stream;
  document.body.append(v);
  await v.play();
  await t.within((async () => {
    while (!(v.videoWidth > 0 && v.currentTime > 0)) await t.sleep(50);
  })(), 20_000, 'video frames');
  return { width: v.videoWidth, height: v.videoHeight };
};

test('two pages connect through coturn with iceTransportPolicy "relay": relay pair on both sides, data and video flow', T, () =>
  withPage(browser, (a) => withPage(browser, async (b) => {
    const turn = turnEnv();
    // Signals cross from page to page through Node, in order.
    let chain = Promise.resolve();
    const bridge = (to) => (m) => { chain = chain.then(() => to.evaluate((m) => window.side.peer.signal(m), m)); };
    await a.exposeFunction('toOther', bridge(b));
    await b.exposeFunction('toOther', bridge(a));
    await b.evaluate(SIDE, { turn, polite: false, camera: false });
    await a.evaluate(SIDE, { turn, polite: true, camera: true });
    const [sa, sb] = await Promise.all([a.evaluate(SETTLE), b.evaluate(SETTLE)]);
    for (const [name, s] of [['a', sa], ['b', sb]]) {
      assert.equal(s.localCandidateType, 'relay', `${name}: local candidate ${JSON.stringify(s.selectedPair)}`);
      assert.equal(s.remoteCandidateType, 'relay', `${name}: remote candidate ${JSON.stringify(s.selectedPair)}`);
      assert.equal(s.selectedPair.local.address, '127.0.0.1');
    }
    await a.evaluate(() => window.side.channel.send('over the relay'));
    await b.evaluate(() => window.side.channel.send(new Uint8Array(100_000).fill(7)));
    const got = await b.evaluate(async () => (await window.side.inbox.until(1, 10_000))[0]);
    const gotA = await a.evaluate(async () => {
      const [m] = await window.side.inbox.until(1, 10_000);
      return { len: m.length, all7: m.every((x) => x === 7) };
    });
    assert.equal(got, 'over the relay');
    assert.deepEqual(gotA, { len: 100_000, all7: true });
    const video = await b.evaluate(VIDEO_PLAYS);
    assert.ok(video.width > 0 && video.height > 0, JSON.stringify(video));
    for (const p of [a, b]) {
      const r = await p.evaluate(() => ({ errors: window.side.errors, fetched: window.side.fetched() }));
      assert.deepEqual(r, { errors: [], fetched: 1 });
      await p.evaluate(() => window.side.peer.close());
    }
  })));

test('MqttSignaling: the callee relays through TURN with the ICE settings of SignalingOptions.peer', T, () =>
  withPage(browser, (a) => withPage(browser, async (b) => {
    const turn = turnEnv();
    const room = `turn-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const START = async ({ env, turn, room, peerId }) => {
      const pkg = await import('/pkg/mqtt_rtc.js');
      const rtc = await import('/rtc.js');
      const client = await pkg.MqttClient.connect(env.ws, { clientId: peerId, reconnect: false });
      let fetched = 0;
      const iceServers = async () => {
        fetched += 1;
        return [{ urls: `${turn.url}?transport=udp`, username: turn.user, credential: turn.pass }];
      };
      const s = new pkg.MqttSignaling(client, { room, peerId, peer: { iceServers, iceTransportPolicy: 'relay' } });
      const errors = [];
      s.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
      window.side = { pkg, rtc, client, s, errors, iceServers, fetched: () => fetched };
      window.side.incoming = new Promise((ok) => s.on('incoming', (peer) => {
        // Messages are recorded from the moment the channel is announced.
        ok({ peer, channel: rtc.nextChannel(peer, 30_000).then((ch) => rtc.inbox(ch)) });
      }));
      await s.start();
    };
    const env = browser.env;
    const callee = `cam-${room}`;
    await b.evaluate(START, { env, turn, room, peerId: callee });
    await a.evaluate(START, { env, turn, room, peerId: `viewer-${room}` });
    const sa = await a.evaluate(async (callee) => {
      const { s, rtc, iceServers } = window.side;
      await t.within((async () => { while (!s.peers().some((p) => p.peerId === callee)) await t.sleep(20); })(), 5000, 'presence');
      const peer = await s.call(callee, { iceServers, iceTransportPolicy: 'relay', channels: ['cmd'] });
      window.side.peer = peer;
      const ch = peer.channels()[0];
      await rtc.connected(peer, 30_000);
      await rtc.opened(ch, 30_000);
      await ch.send('ping');
      return peer.stats();
    }, callee);
    const sb = await b.evaluate(async () => {
      const { peer, channel } = await t.within(window.side.incoming, 30_000, 'incoming');
      const { rtc } = window.side;
      await rtc.connected(peer, 30_000);
      const [m] = await (await channel).until(1, 10_000);
      return { stats: await peer.stats(), m };
    });
    assert.equal(sb.m, 'ping');
    assert.equal(sa.localCandidateType, 'relay', JSON.stringify(sa.selectedPair));
    assert.equal(sa.remoteCandidateType, 'relay', JSON.stringify(sa.selectedPair));
    assert.equal(sb.stats.localCandidateType, 'relay', JSON.stringify(sb.stats.selectedPair));
    assert.equal(sb.stats.remoteCandidateType, 'relay', JSON.stringify(sb.stats.selectedPair));
    for (const p of [a, b]) {
      const r = await p.evaluate(async () => {
        const { s, client, errors, fetched } = window.side;
        await s.stop();
        await client.end();
        return { errors, fetched: fetched() };
      });
      assert.deepEqual(r, { errors: [], fetched: 1 });
    }
  })));

/** Two peers in one page under the relay policy with these servers: the first errors. */
const FAILING = async ({ servers }) => {
  const rtc = await import('/rtc.js');
  const t0 = performance.now();
  const p = rtc.pair({ iceServers: servers, iceTransportPolicy: 'relay' }, { iceServers: servers, iceTransportPolicy: 'relay' });
  const first = new Promise((ok) => {
    for (const peer of [p.a, p.b]) peer.on('error', (e) => ok({ code: e.code, message: e.message }));
  });
  p.a.createChannel('never');
  try {
    const e = await t.within(first, 40_000, 'an error event');
    return { ...e, ms: performance.now() - t0, state: p.a.connectionState };
  } finally {
    p.close();
  }
};

test('wrong TURN credentials under the relay policy: an ICE_FAILED error naming the 401, not a hang', T, () =>
  withPage(browser, async (page) => {
    const turn = turnEnv();
    const servers = [{ urls: `${turn.url}?transport=udp`, username: turn.user, credential: 'wrong-password' }];
    const r = await page.evaluate(FAILING, { servers });
    console.log(`# wrong credentials reported after ${r.ms.toFixed(0)} ms: ${r.message}`);
    assert.equal(r.code, 'ICE_FAILED', r.message);
    assert.match(r.message, /401/);
    assert.match(r.message, /relay/);
    assert.ok(r.ms < 30_000, `${r.ms} ms`);
    assert.notEqual(r.state, 'connected');
  }));

test('an unreachable TURN server under the relay policy: an ICE_FAILED error within a bounded time', T, () =>
  withPage(browser, async (page) => {
    const turn = turnEnv();
    // A loopback port nobody listens on: bound once here, then released.
    const port = await freePort();
    const servers = [{ urls: `turn:127.0.0.1:${port}?transport=tcp`, username: turn.user, credential: turn.pass }];
    const r = await page.evaluate(FAILING, { servers });
    console.log(`# unreachable server reported after ${r.ms.toFixed(0)} ms: ${r.message}`);
    assert.equal(r.code, 'ICE_FAILED', r.message);
    assert.ok(r.ms < 40_000, `${r.ms} ms`);
  }));
