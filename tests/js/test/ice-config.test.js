// The ICE settings of RtcPeerOptions and SignalingOptions reach the RTCPeerConnection
// (every connection the page makes is recorded with its getConfiguration()), invalid
// values are INVALID_ARGUMENT errors, an iceServers function is called once per peer,
// and the onIncoming hook of MqttSignaling refuses, accepts or overrides per caller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 90_000 };

/** Runs before the package loads: records the configuration of every connection. */
const RECORD_CONNECTIONS = () => {
  const Native = window.RTCPeerConnection;
  window.pcConfigs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config) {
      super(config);
      const c = this.getConfiguration();
      // Firefox's getConfiguration() leaves out what it does not implement (a candidate
      // pool) and a missing username or credential: those are read from what was given.
      window.pcConfigs.push({
        iceServers: c.iceServers.map((s) => ({ urls: [].concat(s.urls), username: s.username ?? '', credential: s.credential ?? '' })),
        iceTransportPolicy: c.iceTransportPolicy,
        bundlePolicy: c.bundlePolicy,
        iceCandidatePoolSize: c.iceCandidatePoolSize ?? config?.iceCandidatePoolSize,
      });
    }
  };
};

const withRecorder = (fn) => withPage(browser, fn, { init: RECORD_CONNECTIONS });

/** Page-side helpers: signaling peers in one fresh room (as in signaling.test.js). */
const SETUP = async () => {
  const pkg = await import('/pkg/mqtt_rtc.js');
  const rtc = await import('/rtc.js');
  window.sig = {
    pkg, rtc,
    async peer(env, room, options = {}) {
      const peerId = t.uid('p');
      const client = await pkg.MqttClient.connect(env.ws, { clientId: peerId, reconnect: false });
      const s = new pkg.MqttSignaling(client, { room, peerId, ...options });
      const errors = [];
      const incoming = [];
      s.on('error', (e) => errors.push(`${e.code}: ${e.message}`))
        .on('incoming', (peer, from) => incoming.push({ peer, from, channel: rtc.nextChannel(peer, 20_000).catch(() => null) }));
      await s.start();
      return { client, s, peerId, errors, incoming };
    },
    async until(fn, ms = 5000, what = 'condition') {
      const t0 = performance.now();
      while (!fn()) {
        if (performance.now() - t0 > ms) throw new Error(`timed out: ${what}`);
        await t.sleep(20);
      }
    },
    /** The next error of `peer` and whether it closed, within `ms`. */
    outcome(peer, ms = 10_000) {
      const closed = new Promise((ok) => peer.on('close', () => ok(true)));
      const error = new Promise((ok) => peer.on('error', (e) => ok({ code: e.code, message: e.message })));
      return t.within(Promise.all([error, closed]), ms, 'error and close').then(([e, c]) => ({ ...e, closed: c }));
    },
    async cleanup(list) {
      for (const p of list) {
        await p.s.stop().catch(() => {});
        await t.endAll(p.client);
      }
    },
  };
};

test('the RTCConfiguration keys of RtcPeerOptions reach the RTCPeerConnection', T, () =>
  withRecorder(async (page) => {
    const r = await page.evaluate(async () => {
      const { RtcPeer } = await import('/pkg/mqtt_rtc.js');
      const peers = [
        new RtcPeer({
          iceServers: [{ urls: 'stun:127.0.0.1:3478' }, { urls: ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp'], username: 'u', credential: 'p' }],
          iceTransportPolicy: 'relay', bundlePolicy: 'max-bundle', iceCandidatePoolSize: 3,
        }),
        new RtcPeer(),
        new RtcPeer({ iceServers: [{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }] }),
        new RtcPeer({ iceTransportPolicy: 'all', bundlePolicy: 'max-compat', iceCandidatePoolSize: 0 }),
      ];
      for (const p of peers) p.close();
      return window.pcConfigs;
    });
    assert.deepEqual(r[0], {
      iceServers: [
        // A missing username or credential reads as "" (as Chromium's getConfiguration() reports it).
        { urls: ['stun:127.0.0.1:3478'], username: '', credential: '' },
        { urls: ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp'], username: 'u', credential: 'p' },
      ],
      iceTransportPolicy: 'relay', bundlePolicy: 'max-bundle', iceCandidatePoolSize: 3,
    });
    // Defaults: the browser's policies and no candidate pool (see DEFAULT_POOL_SIZE).
    assert.deepEqual(r[1], { iceServers: [], iceTransportPolicy: 'all', bundlePolicy: 'balanced', iceCandidatePoolSize: 0 });
    assert.equal(r[2].iceCandidatePoolSize, 0);
    assert.deepEqual([r[3].iceTransportPolicy, r[3].bundlePolicy, r[3].iceCandidatePoolSize], ['all', 'max-compat', 0]);
  }));

test('relay policy with no TURN server: no host candidate is gathered and the peer reports ICE_FAILED', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const candidates = [];
      const p = rtc.pair({ iceTransportPolicy: 'relay' }, { iceTransportPolicy: 'relay', iceServers: [{ urls: 'stun:127.0.0.1:2' }] });
      for (const peer of [p.a, p.b]) peer.on('signal', (m) => { if (m.type === 'candidate' && m.candidate.candidate) candidates.push(m.candidate.candidate); });
      const errors = [];
      const both = new Promise((ok) => {
        for (const peer of [p.a, p.b]) peer.on('error', (e) => { errors.push({ code: e.code, message: e.message }); if (errors.length === 2) ok(); });
      });
      p.a.createChannel('x');
      try {
        await t.within(both, 20_000, 'an ICE_FAILED error on both peers');
        // A little longer: no second report of the same gathering.
        await t.sleep(300);
        return { candidates, errors, state: p.a.connectionState };
      } finally {
        p.close();
      }
    });
    assert.deepEqual(r.candidates, []);
    assert.deepEqual(r.errors.map((e) => e.code), ['ICE_FAILED', 'ICE_FAILED']);
    assert.match(r.errors[0].message, /no usable local candidate/);
    assert.notEqual(r.state, 'connected');
  }));

test('invalid ICE settings are INVALID_ARGUMENT errors, for RtcPeer, RtcPeer.create, MqttSignaling and call()', T, () =>
  withPage(browser, async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const { RtcPeer, MqttSignaling, MqttError } = sig.pkg;
      const bad = [
        { iceTransportPolicy: 'none' },
        { iceTransportPolicy: 1 },
        { bundlePolicy: 'max-mux' },
        { iceCandidatePoolSize: -1 },
        { iceCandidatePoolSize: 1.5 },
        { iceCandidatePoolSize: 256 },
        { iceCandidatePoolSize: '1' },
        { iceServers: 'stun:127.0.0.1' },
        { iceServers: [{}] },
        { iceServers: ['stun:127.0.0.1'] },
        { iceServers: [{ urls: [] }] },
        { iceServers: [{ urls: 'http://127.0.0.1' }] },
        { iceServers: [{ urls: 'turn:127.0.0.1' }] },
        { iceServers: [{ urls: 'turn:127.0.0.1', username: 'u' }] },
        { iceServers: [{ urls: 'stun:127.0.0.1', username: 5 }] },
        { iceServers: () => [] },
      ];
      const codeOf = (f) => { try { f(); return 'no error'; } catch (e) { return e instanceof MqttError ? e.code : String(e); } };
      const ctor = bad.map((o) => codeOf(() => new RtcPeer(o)));
      const messages = bad.map((o) => { try { new RtcPeer(o); } catch (e) { return e.message; } return ''; });
      const rejectCode = (p) => p.then(() => 'resolved', (e) => (e instanceof MqttError ? e.code : String(e)));
      const created = await Promise.all([
        rejectCode(RtcPeer.create({ iceServers: () => { throw new Error('no token'); } })),
        rejectCode(RtcPeer.create({ iceServers: async () => { throw new Error('no token'); } })),
        rejectCode(RtcPeer.create({ iceServers: () => 'stun:127.0.0.1' })),
        rejectCode(RtcPeer.create({ iceServers: async () => [{ urls: 'turn:127.0.0.1' }] })),
        rejectCode(RtcPeer.create({ iceTransportPolicy: 'relay-only' })),
      ]);
      const client = await sig.pkg.MqttClient.connect(env.ws, { clientId: t.uid('c'), reconnect: false });
      const signaling = [
        codeOf(() => new MqttSignaling(client, { room: 'r', peer: { iceTransportPolicy: 'nope' } })),
        codeOf(() => new MqttSignaling(client, { room: 'r', peer: 'relay' })),
        codeOf(() => new MqttSignaling(client, { room: 'r', peer: { iceServers: async () => [], channels: 5 } })),
        codeOf(() => new MqttSignaling(client, { room: 'r', peer: { iceServers: [{ urls: 'turn:x' }] } })),
        codeOf(() => new MqttSignaling(client, { room: 'r', onIncoming: true })),
        // A function is fine here: it is called per incoming call.
        codeOf(() => new MqttSignaling(client, { room: 'r', peer: { iceServers: async () => [] }, onIncoming: () => true }).free()),
      ];
      const s = new MqttSignaling(client, { room: t.uid('room') });
      await s.start();
      const call = await Promise.all([
        rejectCode(s.call('bob', { bundlePolicy: 'none' })),
        rejectCode(s.call('bob', { iceServers: () => { throw new Error('token service down'); } })),
      ]);
      await s.stop();
      await t.endAll(client);
      return { ctor, messages, created, signaling, call };
    }, browser.env);
    assert.deepEqual(r.ctor, Array(r.ctor.length).fill('INVALID_ARGUMENT'));
    assert.match(r.messages[12], /TURN server needs a username and a credential/);
    assert.match(r.messages[15], /RtcPeer\.create/);
    assert.deepEqual(r.created, Array(5).fill('INVALID_ARGUMENT'));
    assert.deepEqual(r.signaling, [...Array(5).fill('INVALID_ARGUMENT'), 'no error']);
    assert.deepEqual(r.call, ['INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
  }));

test('an iceServers function is called once per peer, each connection getting what it returned', T, () =>
  withRecorder(async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const { RtcPeer } = sig.pkg;
      let n = 0;
      const iceServers = async () => {
        n += 1;
        await t.sleep(10);
        return [{ urls: 'turn:127.0.0.1:3478', username: `user-${n}`, credential: `token-${n}` }];
      };
      const p1 = await RtcPeer.create({ iceServers });
      const p2 = await RtcPeer.create({ iceServers, bundlePolicy: 'max-bundle' });
      p1.close();
      p2.close();
      const direct = { n, users: window.pcConfigs.map((c) => c.iceServers[0].username) };
      // Through signaling: the callee's function runs once per incoming call.
      window.pcConfigs.length = 0;
      const room = t.uid('room');
      let calleeCalls = 0;
      const calleeServers = () => {
        calleeCalls += 1;
        return [{ urls: 'stun:127.0.0.1:2', username: `callee-${calleeCalls}` }];
      };
      const callee = await sig.peer(env, room, { peer: { iceServers: calleeServers } });
      const caller = await sig.peer(env, room);
      try {
        await sig.until(() => caller.s.peers().length === 1, 5000, 'presence');
        for (let i = 1; i <= 2; i++) {
          const peer = await caller.s.call(callee.peerId, { channels: ['c'] });
          await sig.until(() => callee.incoming.length === i, 10_000, `incoming call ${i}`);
          await sig.rtc.connected(peer, 10_000);
        }
        return {
          direct, calleeCalls,
          calleeUsers: window.pcConfigs.map((c) => c.iceServers[0]?.username).filter(Boolean),
          errors: [...caller.errors, ...callee.errors],
        };
      } finally {
        await sig.cleanup([caller, callee]);
      }
    }, browser.env);
    assert.deepEqual(r.direct, { n: 2, users: ['user-1', 'user-2'] });
    assert.equal(r.calleeCalls, 2);
    assert.deepEqual(r.calleeUsers, ['callee-1', 'callee-2']);
    assert.deepEqual(r.errors, []);
  }));

test('onIncoming refuses (the caller gets CALL_REJECTED), accepts, or overrides the peer options, sync or async', T, () =>
  withRecorder(async (page) => {
    await page.evaluate(SETUP);
    const r = await page.evaluate(async (env) => {
      const room = t.uid('room');
      const asked = [];
      const onIncoming = async (from) => {
        asked.push({ peerId: from.peerId, role: from.meta.role });
        // Async on purpose: the offer's candidates arrive while this waits.
        await t.sleep(200);
        if (from.meta.role === 'banned') return false;
        if (from.meta.role === 'broken') throw new Error('hook failed');
        if (from.meta.role === 'admin') return { bundlePolicy: 'max-compat', channels: ['from-hook'] };
        return undefined;
      };
      const callee = await sig.peer(env, room, { onIncoming, peer: { bundlePolicy: 'max-bundle' } });
      const callers = {};
      for (const role of ['banned', 'broken', 'admin', 'viewer']) {
        callers[role] = await sig.peer(env, room, { meta: { role } });
      }
      const all = [callee, ...Object.values(callers)];
      try {
        await sig.until(() => Object.values(callers).every((c) => c.s.peers().length === 4), 5000, 'presence');
        const out = {};
        for (const role of ['banned', 'broken']) {
          const peer = await callers[role].s.call(callee.peerId, { channels: ['c'] });
          out[role] = await sig.outcome(peer, 10_000);
        }
        const refusedIncoming = callee.incoming.length;
        window.pcConfigs.length = 0;
        const admin = await callers.admin.s.call(callee.peerId, { channels: ['c'] });
        const hookChannel = await sig.rtc.nextChannel(admin, 10_000);
        await sig.rtc.connected(admin, 10_000);
        out.admin = { channel: hookChannel.label, calleeBundle: window.pcConfigs.map((c) => c.bundlePolicy) };
        window.pcConfigs.length = 0;
        const viewer = await callers.viewer.s.call(callee.peerId, { channels: ['c'] });
        await sig.rtc.connected(viewer, 10_000);
        out.viewer = { calleeBundle: window.pcConfigs.map((c) => c.bundlePolicy), channel: (await callee.incoming.at(-1).channel)?.label };
        return {
          out, refusedIncoming, asked,
          incoming: callee.incoming.map((i) => i.from.meta.role),
          calleeErrors: callee.errors,
          callerErrors: Object.values(callers).flatMap((c) => c.errors),
        };
      } finally {
        await sig.cleanup(all);
      }
    }, browser.env);
    assert.equal(r.out.banned.code, 'CALL_REJECTED');
    assert.match(r.out.banned.message, /rejected the call/);
    assert.equal(r.out.banned.closed, true);
    assert.equal(r.out.broken.code, 'CALL_REJECTED');
    assert.equal(r.refusedIncoming, 0);
    assert.deepEqual(r.asked.map((a) => a.role), ['banned', 'broken', 'admin', 'viewer']);
    // Connections made: the caller's (defaults), then the callee's. The hook's object is
    // merged over SignalingOptions.peer; undefined accepts with SignalingOptions.peer.
    assert.deepEqual(r.out.admin, { channel: 'from-hook', calleeBundle: ['balanced', 'max-compat'] });
    assert.deepEqual(r.out.viewer, { calleeBundle: ['balanced', 'max-bundle'], channel: 'c' });
    assert.deepEqual(r.incoming, ['admin', 'viewer']);
    assert.equal(r.calleeErrors.length, 1, JSON.stringify(r.calleeErrors));
    assert.match(r.calleeErrors[0], /hook failed/);
    assert.deepEqual(r.callerErrors, []);
  }));
