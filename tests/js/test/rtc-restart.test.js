// RtcPeer.restartIce() between two peers in one page (signals wired directly): new ICE
// credentials, the same session and channel afterwards, and the stats of the new pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 90_000 };

test('restartIce() renews the ICE credentials and the session keeps working', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('restart');
      const ufrags = [];
      const seen = (m) => { if (m.type !== 'candidate') ufrags.push(/a=ice-ufrag:(\S+)/.exec(m.sdp)?.[1]); };
      try {
        const before = p.a.channels()[0];
        const inbox = rtc.inbox(p.cb);
        p.a.on('signal', seen);
        const restarted = new Promise((ok) => p.b.on('signal', (m) => { if (m.type === 'answer') ok(); }));
        p.b.on('signal', seen);
        p.a.restartIce();
        await t.within(restarted, 10_000, 'the answer to the restart offer');
        await rtc.connected(p.a);
        await rtc.connected(p.b);
        await p.ca.send('after restart');
        const [m] = await inbox.until(1);
        const stats = await p.a.stats();
        return {
          m, ufrags, sameChannel: before.label === p.ca.label,
          states: [p.a.connectionState, p.b.connectionState], stats,
          errors: [...p.info.errors], rejections: [...p.info.rejections],
        };
      } finally {
        p.close();
      }
    });
    assert.equal(r.m, 'after restart');
    assert.equal(r.ufrags.length, 2, `an offer and an answer (${JSON.stringify(r.ufrags)})`);
    assert.deepEqual(r.states, ['connected', 'connected']);
    assert.ok(r.stats.bytesSent > 0 && r.stats.bytesReceived > 0, JSON.stringify(r.stats));
    assert.equal(r.stats.localCandidateType, 'host');
    assert.equal(typeof r.stats.rtt, 'number');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.rejections, []);
  }));
