// Node-side harness: one headless browser and one static server per test file, a fresh
// page per test, the broker endpoints from the environment tools/test.sh exports, and
// helpers for the Mosquitto command-line clients and the broker control endpoint.
// The browser is MQTT_RTC_BROWSER: chromium (default, through playwright-core) or firefox
// (Debian's Firefox ESR through puppeteer-core over WebDriver BiDi, see lib/firefox.js).
import { after, before } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT, startServer } from './server.js';
import { BROWSER, launchFirefox } from './firefox.js';

const CHROMIUM = process.env.MQTT_RTC_CHROMIUM || '/usr/bin/chromium';
/** Which entry of the package the pages load: "main" (mqtt-rtc) or "mqtt" (mqtt-rtc/mqtt). */
export const ENTRY = process.env.MQTT_RTC_ENTRY || 'main';
// WebRTC on loopback only: allow loopback candidates, grant fake camera/mic, and keep host
// candidates as plain addresses. With mDNS-obfuscated host candidates (Chromium's default
// when no media permission was used) ICE gathering on this sandboxed machine stalls for
// about 1 in 100 new connections, leaving both peers at "new".
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
  // WebRTC with no network: loopback candidates, a granted camera/mic, a fake camera.
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  // wss:// to the test broker: trust its test-time certificate's key, and only that one.
  ...(process.env.MQTT_RTC_TLS_SPKI ? [`--ignore-certificate-errors-spki-list=${process.env.MQTT_RTC_TLS_SPKI}`] : []),
];

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the JS tests through ./tools/test.sh (or tools/broker/run.sh -- npm test)`);
  return v;
}

/** Broker endpoints, as plain data that can be passed into page.evaluate. */
export function brokerEnv() {
  return {
    ws: need('MQTT_RTC_WS_URL'),
    wsAuth: need('MQTT_RTC_WS_AUTH_URL'),
    tcpPort: Number(need('MQTT_RTC_TCP_PORT')),
    control: need('MQTT_RTC_CONTROL_URL'),
    user: process.env.MQTT_RTC_AUTH_USER || 'mqttrtc',
    pass: process.env.MQTT_RTC_AUTH_PASS || 'secret-pass',
  };
}

/**
 * Installs before/after hooks for a test file and returns an object whose `page(options)`
 * opens a fresh page with the package loaded (window.mqtt, window.t).
 */
export function useBrowser() {
  const state = {};
  before(async () => {
    if (!existsSync(join(REPO_ROOT, 'pkg', 'mqtt_rtc.js'))) {
      throw new Error('pkg/ is missing: build it with `wasm-pack build --target web --dev --out-dir pkg`');
    }
    state.env = brokerEnv();
    state.server = await startServer();
    state.profile = await mkdtemp(join(tmpdir(), `mqtt-rtc-${BROWSER}-`));
    state.context = BROWSER === 'firefox'
      ? await launchFirefox(state.profile)
      : await chromium.launchPersistentContext(state.profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 30_000,
      });
  });
  after(async () => {
    await state.context?.close().catch(() => {});
    await state.server?.close();
    if (state.profile) await rm(state.profile, { recursive: true, force: true });
  });
  return {
    get env() { return state.env; },
    /** Opens a page with the package initialised (the MQTT-only entry with `entry: "mqtt"`); `init` runs before any page script. */
    async page({ init, entry = ENTRY } = {}) {
      const page = await state.context.newPage();
      page.setDefaultTimeout(60_000);
      const logs = [];
      page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`[pageerror] ${e.stack || e}`));
      page.logs = logs;
      if (init) await page.addInitScript(init);
      // entry "mqtt" (MQTT_RTC_ENTRY=mqtt): the page loads the MQTT-only entry (pkg/mqtt/).
      await page.goto(`${state.server.url}/index.html${entry === 'mqtt' ? '?entry=mqtt' : ''}`);
      await page.waitForFunction(() => window.mqttReady || window.mqttLoadError, null, { timeout: 30_000 });
      const err = await page.evaluate(() => window.mqttLoadError);
      if (err) throw new Error(`the package did not load: ${err}`);
      return page;
    },
  };
}

/**
 * Runs `fn(page)` on a fresh page and closes it; on failure the page's console output is
 * added to the error, which is what one needs to see why a scenario failed.
 */
export async function withPage(browser, fn, options) {
  const page = await browser.page(options);
  try {
    return await fn(page);
  } catch (e) {
    if (page.logs.length) e.message += `\n--- page console ---\n${page.logs.slice(-40).join('\n')}`;
    throw e;
  } finally {
    await page.close().catch(() => {});
  }
}

/** POST to the broker control endpoint (stop | start | restart | freeze | thaw). */
export async function control(action) {
  const r = await fetch(`${brokerEnv().control}/broker/${action}`, { method: 'POST' });
  const body = await r.json();
  if (!r.ok || !body.ok) throw new Error(`control ${action}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * Starts `mosquitto_sub` (TCP, anonymous listener; the test broker's unless `port` names
 * another on loopback) with `-v`-style output split per line
 * as { topic, payload } (printed as hex with -F, decoded here).
 * Resolves once the subscription is in place (SUBACK seen with -d).
 */
export async function mosquittoSub({ topic, qos = 0, count, args = [], port = brokerEnv().tcpPort }) {
  const argv = ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', String(qos), '-F', 'MSG> %t %x', '-d', ...args];
  if (count) argv.push('-C', String(count));
  // Line-buffered, or its output (SUBACK and messages) would wait in a full stdio buffer.
  const proc = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages = [];
  let buffered = '';
  let subscribed;
  const ready = new Promise((ok) => { subscribed = ok; });
  const waiters = [];
  proc.stdout.setEncoding('utf8');
  let tail = '';
  proc.stdout.on('data', (chunk) => {
    tail = (tail + chunk).slice(-1000);
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.includes('SUBACK')) subscribed();
      if (line.startsWith('MSG> ')) {
        const rest = line.slice(5);
        const sp = rest.lastIndexOf(' ');
        messages.push({ topic: rest.slice(0, sp), payload: Buffer.from(rest.slice(sp + 1), 'hex') });
        for (const w of waiters.splice(0)) if (messages.length >= w.n) w.ok(); else waiters.push(w);
      }
    }
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
  const exited = new Promise((ok) => proc.once('exit', (code) => ok(code)));
  let timer;
  try {
    await Promise.race([
      ready,
      exited.then((c) => { throw new Error(`mosquitto_sub exited (${c}) before subscribing: ${stderr.trim() || 'nothing on stderr'}; stdout: ${tail.trim()}`); }),
      new Promise((_, fail) => { timer = setTimeout(() => fail(new Error('mosquitto_sub: no SUBACK within 5 s')), 5000); }),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    messages,
    until(n, ms = 5000) {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`mosquitto_sub: ${messages.length}/${n} messages after ${ms} ms`)), ms);
        waiters.push({ n, ok: () => { clearTimeout(timer); ok(messages); } });
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        // mosquitto_sub 2.0.11 can deadlock in its own SIGTERM handler (seen: one thread
        // waiting on a futex with SIGTERM blocked, i.e. inside the handler), so it is
        // killed outright if it has not gone after a while.
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await exited;
    },
  };
}

/** Runs `mosquitto_pub` once (TCP, anonymous listener); payload is a Buffer or string. */
export function mosquittoPub({ topic, payload, qos = 0, retain = false, args = [] }) {
  const { tcpPort } = brokerEnv();
  const argv = ['-h', '127.0.0.1', '-p', String(tcpPort), '-t', topic, '-q', String(qos), '-s', ...args];
  if (retain) argv.push('-r');
  return new Promise((ok, fail) => {
    const proc = spawn('mosquitto_pub', argv, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    proc.once('error', fail);
    proc.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`mosquitto_pub exited ${code}: ${err}`))));
    proc.stdin.end(payload);
  });
}
