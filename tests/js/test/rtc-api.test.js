// RtcPeer and RtcChannel API paths not covered elsewhere: the iceServers option, a
// channel's protocol, ArrayBuffer sends, RtcChannel.close(), and PeerStats.packetsLost /
// selectedPair compared with the browser's own statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';
import { pcRecorder } from '../lib/inits.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

test('iceServers: accepted and handed to the connection; an invalid value throws INVALID_ARGUMENT', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      // An unreachable STUN server: host candidates still connect on loopback. Port 2, not
      // 9: Firefox refuses an ICE server on a port the Fetch standard blocks (9 is one).
      const iceServers = [{ urls: 'stun:127.0.0.1:2' }];
      const p = await rtc.channelPair('ice', {}, [{ iceServers }, {}]);
      try {
        const inbox = rtc.inbox(p.cb);
        await p.ca.send('over ice');
        const [m] = await inbox.until(1);
        const invalid = (() => { try { new rtc.RtcPeer({ iceServers: 'stun:x' }); return 'ok'; } catch (e) { return e.code; } })();
        return { m, servers: window.pcs[0].getConfiguration().iceServers.map((s) => [s.urls].flat()), invalid, errors: p.info.errors };
      } finally {
        p.close();
      }
    });
    assert.equal(r.m, 'over ice');
    assert.deepEqual(r.servers, [['stun:127.0.0.1:2']]);
    assert.equal(r.invalid, 'INVALID_ARGUMENT');
    assert.deepEqual(r.errors, []);
  }, { init: pcRecorder }));

test('channel protocol: passed through to the remote channel; a non-string throws INVALID_ARGUMENT', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('proto', { protocol: 'chat-v1' });
      try {
        // window.pcs[1] is b's connection: the channel it was announced.
        const remote = window.pcs[1].remoteChannels.find((c) => c.label === 'proto');
        const invalid = (() => { try { p.a.createChannel('bad', { protocol: 42 }); return 'ok'; } catch (e) { return e.code; } })();
        return { remote: remote?.protocol, label: p.cb.label, invalid };
      } finally {
        p.close();
      }
    });
    assert.equal(r.remote, 'chat-v1');
    assert.equal(r.label, 'proto');
    assert.equal(r.invalid, 'INVALID_ARGUMENT');
  }, { init: pcRecorder }));

test('send(ArrayBuffer): small and chunked (1 MiB) buffers arrive as the same bytes', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('ab');
      try {
        const inbox = rtc.inbox(p.cb);
        const small = t.bytes(100, 3);
        const big = t.bytes(1024 * 1024, 4);
        // ArrayBuffers (copies, so the sent buffer is exactly the bytes), and a view.
        await p.ca.send(small.slice().buffer);
        await p.ca.send(big.slice().buffer);
        await p.ca.send(new Uint8Array(small.slice().buffer, 10, 20));
        const got = await inbox.until(3, 20_000);
        return {
          types: got.map((m) => m.constructor.name),
          same: [t.sameBytes(got[0], small), t.sameBytes(got[1], big), t.sameBytes(got[2], small.subarray(10, 30))],
        };
      } finally {
        p.close();
      }
    });
    assert.deepEqual(r.types, ['Uint8Array', 'Uint8Array', 'Uint8Array']);
    assert.deepEqual(r.same, [true, true, true]);
  }));

test('RtcChannel.close(): both ends emit close and read "closed"; the peer and its other channels keep working', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('first');
      try {
        const announced = rtc.nextChannel(p.b);
        const second = p.a.createChannel('second');
        const secondRemote = await announced;
        await Promise.all([rtc.opened(second), rtc.opened(secondRemote)]);
        const closes = { ca: 0, cb: 0 };
        p.ca.on('close', () => { closes.ca += 1; });
        const remoteClosed = new Promise((ok) => p.cb.on('close', () => { closes.cb += 1; ok(); }));
        p.ca.close();
        p.ca.close();
        await t.within(remoteClosed, 10_000, 'the remote end closes');
        await t.waitFor(() => closes.ca === 1, 5000, 'the local end emits close');
        const late = await t.rejection(p.ca.send('late'));
        const inbox = rtc.inbox(secondRemote);
        await second.send('still here');
        const [m] = await inbox.until(1);
        return {
          closes, states: [p.ca.readyState, p.cb.readyState], late: late.code, m,
          labelsA: p.a.channels().map((c) => c.label), labelsB: p.b.channels().map((c) => c.label),
          peer: [p.a.connectionState, p.b.connectionState],
        };
      } finally {
        p.close();
      }
    });
    assert.deepEqual(r.closes, { ca: 1, cb: 1 });
    assert.deepEqual(r.states, ['closed', 'closed']);
    assert.equal(r.late, 'CLOSED');
    assert.equal(r.m, 'still here');
    assert.deepEqual(r.labelsA, ['second'], 'a closed channel leaves channels()');
    assert.deepEqual(r.labelsB, ['second']);
    assert.deepEqual(r.peer, ['connected', 'connected']);
  }));

test('PeerStats: packetsLost and selectedPair match the browser\'s statistics of the media connection', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const stream = await navigator.mediaDevices.getUserMedia({ video: true });
      const p = rtc.pair({ stream });
      try {
        await Promise.all([rtc.connected(p.a), rtc.connected(p.b)]);
        await t.waitFor(async () => (await p.b.stats()).packetsReceived > 50, 10_000, 'media packets');
        const stats = await p.b.stats();
        // b's own RTCPeerConnection statistics.
        const raw = [...(await window.pcs[1].getStats()).values()];
        const byId = Object.fromEntries(raw.map((x) => [x.id, x]));
        const transport = raw.find((x) => x.type === 'transport');
        const pair = byId[transport.selectedCandidatePairId];
        const local = byId[pair.localCandidateId];
        const remote = byId[pair.remoteCandidateId];
        const lost = raw.filter((x) => x.type === 'inbound-rtp').reduce((n, x) => n + (x.packetsLost ?? 0), 0);
        return {
          packetsLost: stats.packetsLost, lost, selectedPair: stats.selectedPair,
          expected: {
            local: { type: local.candidateType, address: local.address, port: local.port, protocol: local.protocol },
            remote: { type: remote.candidateType, address: remote.address, port: remote.port, protocol: remote.protocol },
          },
          types: [stats.localCandidateType, stats.remoteCandidateType],
        };
      } finally {
        stream.getTracks().forEach((x) => x.stop());
        p.close();
      }
    });
    assert.equal(typeof r.packetsLost, 'number');
    // The browser's counter may have moved between the two reads: never more than a few.
    assert.ok(r.packetsLost >= 0 && Math.abs(r.packetsLost - r.lost) <= 5, `packetsLost ${r.packetsLost}, browser ${r.lost}`);
    assert.deepEqual(r.selectedPair, r.expected);
    assert.deepEqual(r.types, [r.expected.local.type, r.expected.remote.type]);
    assert.ok(r.selectedPair.local.address && r.selectedPair.local.port > 0, `a usable local candidate: ${JSON.stringify(r.selectedPair)}`);
  }, { init: pcRecorder }));
