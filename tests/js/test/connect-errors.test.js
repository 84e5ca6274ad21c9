// The first connect() tells the truth: by default it settles once each URL was tried,
// rejecting with an MqttError that names the URL and the cause (refused, close code and
// reason, CONNACK reason code, connect timeout). Waiting for a broker that is not up yet
// is the explicit waitForBroker option, which reports each failed attempt to onAttempt
// and stops on abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { control, useBrowser, withPage } from '../lib/harness.js';

const browser = useBrowser();
const T = { timeout: 60_000 };

/** A loopback port nothing listens on. */
function deadPort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

/**
 * A TCP server for one scenario: 'silent' accepts and never answers; 'upgrade' completes
 * the WebSocket handshake, then says nothing; 'close' completes it, then sends a close
 * frame with code 4000 and reason "go away".
 */
async function fakeServer(mode) {
  const sockets = new Set();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    let head = '';
    s.on('data', (d) => {
      if (mode === 'silent' || head.includes('\r\n\r\n')) return;
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
      if (mode === 'close') {
        const reason = Buffer.from('go away');
        s.write(Buffer.concat([Buffer.from([0x88, 2 + reason.length, 0x0f, 0xa0]), reason]));
      }
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((ok) => server.close(ok)); },
  };
}

/** Connects in the page; resolves with the rejection as data and how long it took. */
function failedConnect(page, url, options = {}) {
  return page.evaluate(async ({ url, options }) => {
    const t0 = performance.now();
    const e = await t.rejection(window.mqtt.MqttClient.connect(url, options));
    return { ...e, ms: performance.now() - t0 };
  }, { url, options });
}

test('a dead URL rejects connect at once, naming the URL, "refused or TLS" and close code 1006', T, () =>
  withPage(browser, async (page) => {
    const url = `ws://127.0.0.1:${await deadPort()}`;
    const r = await failedConnect(page, url);
    assert.ok(r.isMqttError && r.isError, JSON.stringify(r));
    assert.equal(r.code, 'CONNECTION_LOST');
    assert.ok(r.message.includes(url), r.message);
    assert.match(r.message, /connection refused or TLS rejected \(close code 1006/);
    assert.ok(r.ms < 5_000, `settled in ${Math.round(r.ms)} ms`);
  }));

test('several dead URLs: each is tried once, the rejection names every one', T, () =>
  withPage(browser, async (page) => {
    const urls = [`ws://127.0.0.1:${await deadPort()}`, `ws://127.0.0.1:${await deadPort()}`, 'ws://127.0.0.1:9'];
    const r = await failedConnect(page, urls, { reconnect: { initialDelay: 5_000 } });
    assert.equal(r.code, 'CONNECTION_LOST', JSON.stringify(r));
    assert.match(r.message, /^no broker URL answered: /);
    for (const u of urls) assert.ok(r.message.includes(u), `${u} in ${r.message}`);
    assert.ok(r.ms < 5_000, `the next URL is tried at once, not after the reconnect delay (${Math.round(r.ms)} ms)`);
  }));

test('wrong credentials reject with NOT_AUTHORIZED and the CONNACK reason code, naming the URL', T, () =>
  withPage(browser, async (page) => {
    const { wsAuth, user } = browser.env;
    for (const protocolVersion of [5, 4]) {
      const r = await failedConnect(page, wsAuth, { username: user, password: 'wrong', protocolVersion });
      assert.equal(r.code, 'NOT_AUTHORIZED', JSON.stringify(r));
      assert.equal(r.reasonCode, 0x87, '3.1.1 return code 5 is reported as its MQTT 5 equivalent');
      assert.ok(r.message.startsWith(`${wsAuth}: `), r.message);
    }
  }));

test('a server that accepts TCP and never answers: CONNECT_TIMEOUT after connectTimeout, naming the URL', T, async () => {
  const server = await fakeServer('silent');
  try {
    await withPage(browser, async (page) => {
      const r = await failedConnect(page, server.url, { connectTimeout: 1000 });
      assert.equal(r.code, 'CONNECT_TIMEOUT', JSON.stringify(r));
      assert.equal(r.message, `could not open ${server.url} within the connect timeout`);
      assert.ok(r.ms >= 900 && r.ms < 4_000, `${Math.round(r.ms)} ms`);
    });
  } finally {
    await server.close();
  }
});

test('a WebSocket that opens but never sends CONNACK: CONNECT_TIMEOUT saying so', T, async () => {
  const server = await fakeServer('upgrade');
  try {
    await withPage(browser, async (page) => {
      const r = await failedConnect(page, server.url, { connectTimeout: 1000 });
      assert.equal(r.code, 'CONNECT_TIMEOUT', JSON.stringify(r));
      assert.ok(r.message.startsWith(`${server.url}: `) && /connack/i.test(r.message), r.message);
    });
  } finally {
    await server.close();
  }
});

test('a WebSocket closed before CONNACK: the close code and reason are in the message', T, async () => {
  const server = await fakeServer('close');
  try {
    await withPage(browser, async (page) => {
      const r = await failedConnect(page, server.url);
      assert.equal(r.code, 'CONNECTION_LOST', JSON.stringify(r));
      assert.equal(r.message, `${server.url} closed the connection before CONNACK (close code 4000: go away)`);
    });
  } finally {
    await server.close();
  }
});

test('waitForBroker: keeps trying while the broker is down, reports each attempt, connects when it is up', T, async () => {
  await control('stop');
  let started = false;
  try {
    await withPage(browser, async (page) => {
      const pending = page.evaluate(async (env) => {
        window.attempts = [];
        const c = await window.mqtt.MqttClient.connect(env.ws, {
          waitForBroker: true,
          reconnect: { initialDelay: 100, maxDelay: 300 },
          onAttempt: ({ attempt, url, error, delay }) => window.attempts.push({ attempt, url, code: error.code, message: error.message, isMqttError: error instanceof window.mqtt.MqttError, delay }),
        });
        const out = { state: c.state, attempts: window.attempts };
        await c.end();
        return out;
      }, browser.env);
      await page.waitForFunction(() => window.attempts?.length >= 3, null, { timeout: 20_000 });
      await control('start');
      started = true;
      const r = await pending;
      assert.equal(r.state, 'connected');
      assert.ok(r.attempts.length >= 3, JSON.stringify(r.attempts));
      r.attempts.forEach((a, i) => {
        assert.equal(a.attempt, i + 1);
        assert.equal(a.url, browser.env.ws);
        assert.ok(a.isMqttError && a.message.includes(browser.env.ws), JSON.stringify(a));
        assert.ok(a.delay >= 0 && a.delay <= 300, `delay ${a.delay}`);
      });
    });
  } finally {
    if (!started) await control('start').catch(() => {});
  }
});

test('waitForBroker: an abort cancels the wait with ABORTED; maxAttempts gives up with the last cause', T, () =>
  withPage(browser, async (page) => {
    const url = `ws://127.0.0.1:${await deadPort()}`;
    const r = await page.evaluate(async (url) => {
      const { MqttClient } = window.mqtt;
      const abort = new AbortController();
      let seen = 0;
      const aborted = t.rejection(MqttClient.connect(url, {
        waitForBroker: true, signal: abort.signal, reconnect: { initialDelay: 50, maxDelay: 50 },
        onAttempt: () => { if (++seen === 2) abort.abort(); },
      }));
      let reported = 0;
      const limited = t.rejection(MqttClient.connect(url, {
        waitForBroker: { maxAttempts: 3 }, reconnect: { initialDelay: 50, maxDelay: 50 },
        onAttempt: () => { reported += 1; },
      }));
      return { aborted: await aborted, seen, limited: await limited, reported };
    }, url);
    assert.equal(r.aborted.code, 'ABORTED', JSON.stringify(r.aborted));
    assert.equal(r.seen, 2);
    assert.equal(r.limited.code, 'CONNECTION_LOST', JSON.stringify(r.limited));
    assert.match(r.limited.message, /^gave up after 3 attempts: could not open /);
    assert.equal(r.reported, 2, 'onAttempt is told of the attempts that are retried');
  }));
