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

test('a fake-camera stream given to the constructor plays on the other side; replaceTrack and removeTrack work', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const stream = await navigator.mediaDevices.getUserMedia({ video: true });
      const other = await navigator.mediaDevices.getUserMedia({ video: true });
      const p = rtc.pair({ stream });
      try {
        const gotTrack = new Promise((ok) => p.b.on('track', (track, s) => ok({ track, s })));
        await Promise.all([rtc.connected(p.a), rtc.connected(p.b)]);
        const { track, s } = await t.within(gotTrack, 10_000, 'track event');
        const video = document.createElement('video');
        video.muted = true;
        video.srcObject = s;
        await video.play();
        let frames = 0;
        const counting = () => video.requestVideoFrameCallback(() => { frames += 1; counting(); });
        counting();
        await t.sleep(1500);
        const framesBefore = frames;
        await p.a.replaceTrack(stream.getVideoTracks()[0], other.getVideoTracks()[0]);
        await t.sleep(1000);
        const framesAfterReplace = frames - framesBefore;
        await p.a.replaceTrack(other.getVideoTracks()[0], null).catch((e) => `rejected ${e.code}`);
        const notSent = await t.rejection(p.a.replaceTrack(stream.getVideoTracks()[0], null));
        const stats = await p.b.stats();
        // removeTrack of the (replaced) track is refused: it is not being sent any more.
        const removeUnknown = (() => { try { p.a.removeTrack(stream.getVideoTracks()[0]); return 'ok'; } catch (e) { return e.code; } })();
        return {
          kind: track.kind, framesBefore, framesAfterReplace, notSent: notSent.code, removeUnknown,
          bytesReceived: stats.bytesReceived, errors: [...p.info.errors], rejections: [...p.info.rejections],
        };
      } finally {
        [...stream.getTracks(), ...other.getTracks()].forEach((tr) => tr.stop());
        p.close();
      }
    });
    assert.equal(r.kind, 'video');
    assert.ok(r.framesBefore >= 10, `remote frames advance (${r.framesBefore} in 1.5 s)`);
    assert.ok(r.framesAfterReplace >= 5, `frames keep coming after replaceTrack (${r.framesAfterReplace})`);
    assert.equal(r.notSent, 'INVALID_ARGUMENT');
    assert.equal(r.removeUnknown, 'INVALID_ARGUMENT');
    assert.ok(r.bytesReceived > 10_000, `stats count media bytes (${r.bytesReceived})`);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.rejections, []);
  }));

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
      await t.sleep(500);
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
