// RtcChannel between two RtcPeers in one page (signals wired directly): text and binary
// both ways, a 1 MiB message split and reassembled, 50 MiB streamed under backpressure,
// an unordered unreliable channel. Prints the loopback throughput and time to connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 120_000 };

test('a channel carries text and binary both ways, byte-exact and in order', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('both-ways');
      try {
        const inA = rtc.inbox(p.ca);
        const inB = rtc.inbox(p.cb);
        const text = 'héllo, wörld ✓ — 𝄞';
        const bin = t.bytes(1000, 3);
        await p.ca.send(text);
        await p.ca.send(bin);
        await p.ca.send('');
        await p.ca.send(new Uint8Array(0));
        await p.cb.send(text.toUpperCase());
        await p.cb.send(bin.subarray(10, 20));
        const gotB = await inB.until(4);
        const gotA = await inA.until(2);
        return {
          label: p.cb.label,
          connectMs: p.connectMs,
          b: [gotB[0] === text, gotB[1] instanceof Uint8Array && t.sameBytes(gotB[1], bin),
            gotB[2] === '', gotB[3] instanceof Uint8Array && gotB[3].length === 0],
          a: [gotA[0] === text.toUpperCase(), t.sameBytes(gotA[1], bin.subarray(10, 20))],
          errors: p.info.errors, rejections: p.info.rejections,
        };
      } finally {
        p.close();
      }
    });
    console.log(`# time to connect (first offer to connect): ${r.connectMs.toFixed(1)} ms`);
    assert.equal(r.label, 'both-ways');
    assert.deepEqual(r.b, [true, true, true, true]);
    assert.deepEqual(r.a, [true, true]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.rejections, []);
  }));

test('a 1 MiB binary and a 1 MiB text message arrive intact (split above the SCTP message size)', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('big');
      try {
        const inB = rtc.inbox(p.cb);
        const big = t.bytes(1024 * 1024, 42);
        const text = 'abcdefghij✓'.repeat(100_000);
        await Promise.all([p.ca.send(big), p.ca.send(text)]);
        const [m1, m2] = await inB.until(2, 30_000);
        return {
          exact: m1 instanceof Uint8Array && t.sameBytes(m1, big), len: m1.length,
          text: m2 === text, textLen: m2.length, count: inB.items.length,
          errors: p.info.errors,
        };
      } finally {
        p.close();
      }
    });
    assert.ok(r.exact, `1 MiB byte-compare (got ${r.len} bytes)`);
    assert.ok(r.text, `1 MiB text (got ${r.textLen} chars)`);
    assert.equal(r.count, 2);
    assert.deepEqual(r.errors, []);
  }));

test('50 MiB streamed in 64 KiB messages arrives complete, without overflowing the send queue', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('stream');
      try {
        const SIZE = 64 * 1024;
        const COUNT = 800; // 50 MiB
        const base = t.bytes(SIZE, 5);
        const sent = rtc.checksum();
        const got = rtc.checksum();
        let received = 0;
        let bytes = 0;
        let done;
        const finished = new Promise((ok) => { done = ok; });
        p.cb.on('message', (m) => {
          got.add(m);
          received += 1;
          bytes += m.length;
          if (received === COUNT) done();
        });
        const errors = [];
        p.ca.on('error', (e) => errors.push(String(e)));
        const t0 = performance.now();
        let maxBuffered = 0;
        for (let i = 0; i < COUNT; i++) {
          const chunk = base.slice();
          new DataView(chunk.buffer).setUint32(0, i); // every message differs
          sent.add(chunk);
          await p.ca.send(chunk);
          maxBuffered = Math.max(maxBuffered, p.ca.bufferedAmount);
        }
        await t.within(finished, 90_000, `all ${COUNT} messages (have ${received})`);
        const ms = performance.now() - t0;
        return {
          received, bytes, same: sent.value === got.value, ms,
          mbps: (bytes / (1024 * 1024)) / (ms / 1000), maxBuffered, errors,
          peerErrors: p.info.errors,
        };
      } finally {
        p.close();
      }
    });
    console.log(`# data channel throughput on loopback: ${r.mbps.toFixed(1)} MiB/s (50 MiB in ${(r.ms / 1000).toFixed(2)} s, max buffered ${(r.maxBuffered / 1048576).toFixed(1)} MiB)`);
    assert.equal(r.received, 800);
    assert.equal(r.bytes, 50 * 1024 * 1024);
    assert.ok(r.same, 'checksum of everything received equals that of everything sent');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.peerErrors, []);
    assert.ok(r.maxBuffered < 16 * 1024 * 1024, `buffer stayed under the 16 MiB limit (${r.maxBuffered})`);
    assert.ok(!page.logs.some((l) => /send queue is full/i.test(l)), 'no "send queue is full"');
  }));

test('an unordered channel with maxRetransmits 0 opens and carries messages; too large ones are refused', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = await rtc.channelPair('lossy', { ordered: false, maxRetransmits: 0 });
      try {
        const inB = rtc.inbox(p.cb);
        const inA = rtc.inbox(p.ca);
        for (let i = 0; i < 20; i++) await p.ca.send(`m${i}`);
        await p.cb.send(t.bytes(1000, 9));
        // Loopback loses nothing in practice; wait for all, then compare as a set.
        const got = await inB.until(20);
        const back = await inA.until(1);
        const tooLarge = await t.rejection(p.ca.send(new Uint8Array(1024 * 1024)));
        const invalid = await t.rejection(p.ca.send(42));
        return {
          reliable: [p.ca.reliable, p.cb.reliable],
          got: got.slice().sort(), back: t.sameBytes(back[0], t.bytes(1000, 9)),
          tooLarge: tooLarge.code, invalid: invalid.code,
        };
      } finally {
        p.close();
      }
    });
    assert.deepEqual(r.reliable, [false, false]);
    assert.deepEqual(r.got, Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
    assert.ok(r.back);
    assert.equal(r.tooLarge, 'MESSAGE_TOO_LARGE');
    assert.equal(r.invalid, 'INVALID_ARGUMENT');
  }));

test('channels given to the constructor are created at start and reach the other side', T, () =>
  withPage(browser, async (page) => {
    const r = await page.evaluate(async () => {
      const rtc = await import('/rtc.js');
      const p = rtc.pair({ channels: ['control', { label: 'telemetry', ordered: false, maxPacketLifeTime: 500 }] });
      const labels = [];
      const remote = new Promise((ok) => p.b.on('channel', (c) => { labels.push(c.label); if (labels.length === 2) ok(); }));
      try {
        await t.within(remote, 10_000, 'two remote channels');
        const [control] = p.a.channels().filter((c) => c.label === 'control');
        const [peer] = p.b.channels().filter((c) => c.label === 'control');
        await rtc.opened(control);
        await rtc.opened(peer);
        const inbox = rtc.inbox(peer);
        await control.send('ping');
        const [m] = await inbox.until(1);
        return { local: p.a.channels().map((c) => c.label).sort(), remote: labels.sort(), m };
      } finally {
        p.close();
      }
    });
    assert.deepEqual(r.local, ['control', 'telemetry']);
    assert.deepEqual(r.remote, ['control', 'telemetry']);
    assert.equal(r.m, 'ping');
  }));
