// RtcPeer lifecycle and media: a fake-camera stream given to the constructor plays on the
// other side, replaceTrack/removeTrack, close() semantics, and 200 peers connected and
// closed in a loop leaving no RTCPeerConnection open (counted by wrapping the constructor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 180_000 };

/** Counts RTCPeerConnections constructed and closed in the page. */
const countConnections = () => {
  const Original = window.RTCPeerConnection;
  const all = [];
  window.pcCount = { all, get created() { return all.length; }, closed: 0 };
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); all.push(this); }
    close() { if (this.signalingState !== 'closed') window.pcCount.closed += 1; return super.close(); }
  };
};

test('a fake-camera stream given to the constructor plays on the other side; replaceTrack swaps the sent track, removeTrack stops it', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const stream = await navigator.mediaDevices.getUserMedia({ video: true });
      const other = await navigator.mediaDevices.getUserMedia({ video: true });
      const [cam] = stream.getVideoTracks();
      const [next] = other.getVideoTracks();
      const p = rtc.pair({ stream });
      try {
        const gotTrack = new Promise((ok) => p.b.on('track', (track, s) => ok({ track, s })));
        await Promise.all([rtc.connected(p.a), rtc.connected(p.b)]);
        const { track, s } = await t.within(gotTrack, 10_000, 'track event');
        // a's RTCPeerConnection (the first one created), to see what its sender sends.
        const sender = () => window.pcCount.all[0].getSenders().find((x) => x.track === null || x.track.kind === 'video');
        const video = document.createElement('video');
        video.muted = true;
        video.srcObject = s;
        await video.play();
        let frames = 0;
        const counting = () => video.requestVideoFrameCallback(() => { frames += 1; counting(); });
        counting();
        await t.waitFor(() => frames >= 10, 10_000, () => `10 remote frames (have ${frames})`);

        await p.a.replaceTrack(cam, next);
        const sentAfterReplace = sender().track === next;
        // The old track stops: frames that still arrive come from the new one.
        cam.stop();
        const framesAtReplace = frames;
        await t.waitFor(() => frames >= framesAtReplace + 10, 10_000, () => `10 frames after replaceTrack (have ${frames - framesAtReplace})`);

        // removeTrack: the sender stops sending, renegotiation tells the other side, whose
        // stream loses the track.
        const signalsBefore = p.info.signals;
        const removed = new Promise((ok) => s.addEventListener('removetrack', (e) => ok(e.track === track), { once: true }));
        p.a.removeTrack(next);
        const senderTrackAfterRemove = sender()?.track ?? null;
        const remoteRemoved = await t.within(removed, 10_000, 'removetrack on the remote stream');
        const remoteMuted = await t.waitFor(() => track.muted || track.readyState === 'ended', 10_000, 'the remote track muted or ended').then(() => true);
        // The renegotiation completes: b answered the offer that removed the track.
        await t.waitFor(() => p.info.signals - signalsBefore >= 2, 10_000, 'the answer to the removing offer');

        // Refusals: a track that is not being sent.
        const notSent = await t.rejection(p.a.replaceTrack(cam, null));
        const removeUnknown = (() => { try { p.a.removeTrack(cam); return 'ok'; } catch (e) { return e.code; } })();
        const stats = await p.b.stats();
        return {
          kind: track.kind, sentAfterReplace, senderTrackAfterRemove, remoteRemoved, remoteMuted,
          renegotiated: p.info.signals - signalsBefore, remoteTracks: s.getTracks().length,
          notSent: notSent.code, removeUnknown, states: [p.a.connectionState, p.b.connectionState],
          bytesReceived: stats.bytesReceived, errors: [...p.info.errors], rejections: [...p.info.rejections],
        };
      } finally {
        [...stream.getTracks(), ...other.getTracks()].forEach((tr) => tr.stop());
        p.close();
      }
    });
    assert.equal(r.kind, 'video');
    assert.equal(r.sentAfterReplace, true, 'the sender sends the new track after replaceTrack');
    assert.equal(r.senderTrackAfterRemove, null, 'the sender sends nothing after removeTrack');
    assert.equal(r.remoteRemoved, true, 'the remote stream lost the track');
    assert.equal(r.remoteTracks, 0);
    assert.equal(r.remoteMuted, true);
    assert.ok(r.renegotiated >= 2, `removeTrack renegotiated (${r.renegotiated} signals)`);
    assert.deepEqual(r.states, ['connected', 'connected']);
    assert.equal(r.notSent, 'INVALID_ARGUMENT');
    assert.equal(r.removeUnknown, 'INVALID_ARGUMENT');
    assert.ok(r.bytesReceived > 10_000, `stats count media bytes (${r.bytesReceived})`);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.rejections, []);
  }, { init: countConnections }));

test('close() emits "close" once, closes channels on both sides, removes listeners, rejects later calls', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('bye');
      const events = { aClose: 0, caClose: 0, cbClose: 0, aState: 0 };
      p.a.on('close', () => { events.aClose += 1; });
      p.a.on('state', () => { events.aState += 1; });
      p.ca.on('close', () => { events.caClose += 1; });
      const remoteClosed = new Promise((ok) => p.cb.on('close', () => { events.cbClose += 1; ok(); }));
      const pendingSend = p.ca.send(t.bytes(8 * 1024 * 1024, 1)); // still queued when closed
      p.a.close();
      p.a.close();
      await t.within(remoteClosed, 10_000, 'the remote channel closes');
      const send = await t.rejection(p.ca.send('late'));
      const signal = await t.rejection(p.a.signal({ type: 'candidate', candidate: null, session: p.b.session }));
      const create = (() => { try { p.a.createChannel('late'); return 'ok'; } catch (e) { return e.code; } })();
      await pendingSend.catch(() => {});
      p.b.close();
      return { events, state: p.a.connectionState, send: send.code, signal: signal.code, create, channels: p.a.channels().length };
    });
    assert.deepEqual(r.events, { aClose: 1, caClose: 1, cbClose: 1, aState: 0 });
    assert.equal(r.state, 'closed');
    assert.equal(r.send, 'CLOSED');
    assert.equal(r.signal, 'CLOSED');
    assert.equal(r.create, 'CLOSED');
    assert.equal(r.channels, 0);
  }));

test('200 peers connected and closed in a loop leave no open connection', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const t0 = performance.now();
      let closeEvents = 0;
      for (let i = 0; i < 100; i++) {
        const p = await rtc.channelPair(`loop${i}`);
        p.a.on('close', () => { closeEvents += 1; });
        p.b.on('close', () => { closeEvents += 1; });
        await p.ca.send(`hello ${i}`);
        p.close();
      }
      await t.waitFor(() => closeEvents >= 200, 5000, () => `200 close events (have ${closeEvents})`);
      const states = window.pcCount.all.map((pc) => pc.connectionState);
      return {
        created: window.pcCount.created, closed: window.pcCount.closed, closeEvents,
        open: states.filter((s) => s !== 'closed').length, ms: performance.now() - t0,
      };
    });
    console.log(`# 200 peers connected and closed in ${(r.ms / 1000).toFixed(1)} s`);
    assert.equal(r.created, 200);
    assert.equal(r.closed, 200);
    assert.equal(r.open, 0);
    assert.equal(r.closeEvents, 200);
  }, { init: countConnections }));
