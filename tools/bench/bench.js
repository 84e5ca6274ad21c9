// Node side of the benchmark (run it through tools/bench/run.sh, which builds pkg/ and
// starts Mosquitto): serves tools/bench/page + pkg/ + MQTT.js's browser bundle on loopback,
// drives headless Chromium with playwright-core, runs each workload for mqtt-rtc and
// MQTT.js alternately (order flipped every round, a fresh page per run), feeds the receive
// workloads from a publisher on a plain TCP socket, prints a table and writes JSON.
// A measurement tool: it never fails on a number, only when a run cannot complete.
import { createServer } from 'node:http';
import { readFile, writeFile, mkdir, readdir } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { extname, join, normalize, resolve, sep, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { chromium } from 'playwright-core';
import { packet, publishPacket } from './page/mqtt-bytes.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const PKG = join(ROOT, 'pkg');
const MQTTJS_DIST = join(HERE, 'node_modules/mqtt/dist');
const CHROMIUM = process.env.MQTT_RTC_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// --- options -------------------------------------------------------------------------
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const ROUNDS = Number(opt('--rounds', quick ? 2 : 5));
const ONLY = opt('--only', '').split(',').filter(Boolean); // workload keys, e.g. qos1,recv
const OUT = resolve(opt('--out', join(ROOT, '.bench/results.json')));
const scale = quick ? 0.2 : 1;
const N = {
  // QoS 0 runs last about a second for mqtt-rtc: at 50,000 they took 0.3 s and a single GC
  // pause or late PUBACK moved a sample by a quarter, in both libraries.
  qos0: Math.round(200_000 * scale),
  qos1: Math.round(10_000 * scale),
  qos2: Math.round(5_000 * scale),
  recv: Math.round(50_000 * scale),
  rtt: Math.round(1_000 * scale),
  subs: 10_000,
  subsMsgs: Math.round(100_000 * scale),
};
const WS = process.env.MQTT_RTC_WS_URL;
const TCP_PORT = Number(process.env.MQTT_RTC_TCP_PORT);
if (!WS || !TCP_PORT) {
  console.error('MQTT_RTC_WS_URL / MQTT_RTC_TCP_PORT are not set: run tools/bench/run.sh');
  process.exit(2);
}

// --- static server -------------------------------------------------------------------
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' };

function fileFor(urlPath) {
  const path = decodeURIComponent(urlPath.split('?')[0]);
  const [root, rest] = path.startsWith('/pkg/') ? [PKG, path.slice(5)]
    : path.startsWith('/vendor/') ? [MQTTJS_DIST, path.slice(8)]
      : [join(HERE, 'page'), path.slice(1) || 'index.html'];
  const full = normalize(join(root, rest));
  return full.startsWith(root + sep) ? full : null;
}

async function startServer() {
  const server = createServer(async (req, res) => {
    try {
      const file = fileFor(req.url);
      if (!file) throw new Error('outside');
      const body = await readFile(file);
      // Cross-origin isolation gives performance.now() its fine (5 us) resolution.
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

// --- native publisher: MQTT 3.1.1 over a plain TCP socket ------------------------------
const u16 = (n) => [n >> 8, n & 0xff];
const PAYLOAD = Buffer.from(Array.from({ length: 100 }, (_, i) => 97 + (i % 26)));
const publishPkt = (topic, qos = 0, pid = 0) => publishPacket(topic, PAYLOAD, { qos, pid, v5: false });

/** Publishes `count` QoS 0 messages (topic of message j: topicOf(j)), then the QoS 1 end marker. */
async function publishFlood({ count, topicOf, endTopic }) {
  const sock = tcpConnect(TCP_PORT, '127.0.0.1');
  sock.setNoDelay(true);
  const incoming = [];
  let wake = null;
  sock.on('data', (d) => { incoming.push(d); wake?.(); });
  const waitFor = async (type) => {
    for (;;) {
      const buf = Buffer.concat(incoming.splice(0));
      if (buf.length && buf[0] >> 4 === type) return;
      if (buf.length) incoming.unshift(buf.subarray(buf[1] + 2));
      await new Promise((ok) => { wake = ok; });
    }
  };
  await new Promise((ok, fail) => { sock.once('connect', ok); sock.once('error', fail); });
  const id = Buffer.from(`bench-pub-${process.pid}-${Date.now()}`);
  sock.write(packet(0x10, [...u16(4), ...Buffer.from('MQTT'), 4, 0x02, ...u16(60), ...u16(id.length), ...id]));
  await waitFor(2);
  // Built first, so the publisher outruns any browser receiver.
  const chunks = [];
  let cur = [];
  let size = 0;
  for (let j = 0; j < count; j++) {
    const p = publishPkt(topicOf(j));
    cur.push(p);
    size += p.length;
    if (size >= 65536) { chunks.push(Buffer.concat(cur)); cur = []; size = 0; }
  }
  if (cur.length) chunks.push(Buffer.concat(cur));
  for (const c of chunks) {
    if (!sock.write(c)) await new Promise((ok) => sock.once('drain', ok));
  }
  sock.write(publishPkt(endTopic, 1, 1));
  await waitFor(4);
  sock.end(Buffer.from([0xe0, 0]));
}

// --- browser ---------------------------------------------------------------------------
let context;
let site;

async function withPage(fn) {
  const page = await context.newPage();
  page.setDefaultTimeout(180_000);
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.stack || e}`));
  try {
    await page.goto(`${site.url}/index.html`);
    await page.waitForFunction(() => window.benchReady || window.benchLoadError, null, { timeout: 30_000 });
    const err = await page.evaluate(() => window.benchLoadError);
    if (err) throw new Error(`the bench page did not load: ${err}`);
    return await fn(page);
  } catch (e) {
    if (logs.length) e.message += `\n--- page console ---\n${logs.slice(-30).join('\n')}`;
    throw e;
  } finally {
    await page.close().catch(() => {});
  }
}

const call = (page, fn, arg) => page.evaluate(([f, a]) => window.B[f](a), [fn, arg]);

async function heapUsed(page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize;
}

let runId = 0;
const topicFor = (what) => `bench/${what}/${process.pid}/${runId++}`;

// --- workloads: each returns one sample (an object of numbers) -------------------------
const workloads = {
  async pub({ lib, qos, forget = false }) {
    return withPage((page) => call(page, 'publishThroughput', { lib, url: WS, qos, n: N[`qos${qos}`], topic: topicFor('pub'), forget }));
  },
  async rawPub({ packed }) {
    // Packed runs are ~20x faster: 4x the packets keeps them long enough to time.
    return withPage((page) => call(page, 'rawPublish', { url: WS, n: packed ? 4 * N.qos0 : N.qos0, topic: topicFor('raw'), packed }));
  },
  async rawQos1() {
    return withPage((page) => call(page, 'rawQos1', { url: WS, n: N.qos1, topic: topicFor('raw1') }));
  },
  async rtt({ lib }) {
    return withPage((page) => call(page, 'roundTrip', { lib, url: WS, n: N.rtt, topic: topicFor('rtt') }));
  },
  async recv({ lib }) {
    const base = topicFor('recv');
    return withPage(async (page) => {
      await call(page, 'receiveSetup', { lib, url: WS, filters: [`${base}/d`], endTopic: `${base}/end` });
      await publishFlood({ count: N.recv, topicOf: () => `${base}/d`, endTopic: `${base}/end` });
      const r = await call(page, 'receiveWait', {});
      await call(page, 'receiveEnd');
      return { ...r, dropped: N.recv - r.count };
    });
  },
  async subs({ lib }) {
    const base = topicFor('subs');
    // Distinct filters, one per i: 70% exact, 10% '+' at the end, 10% '#', 10% '+' inside.
    const filters = [];
    const topics = [];
    for (let i = 0; i < N.subs; i++) {
      const k = i % 10;
      if (k < 7) { filters.push(`${base}/s/${i}/v`); topics.push(`${base}/s/${i}/v`); }
      else if (k === 7) { filters.push(`${base}/s/${i}/+`); topics.push(`${base}/s/${i}/q`); }
      else if (k === 8) { filters.push(`${base}/s/${i}/#`); topics.push(`${base}/s/${i}/a/b`); }
      else { filters.push(`${base}/+/${i}/w`); topics.push(`${base}/s/${i}/w`); }
    }
    const endTopic = `${base}/end`;
    return withPage(async (page) => {
      await call(page, 'receiveConnect', { lib, url: WS, endTopic });
      const heap0 = await heapUsed(page);
      const wasm0 = await call(page, 'wasmBytes');
      const { subscribeMs } = await call(page, 'receiveSubscribe', { filters, endTopic });
      const heap1 = await heapUsed(page);
      const wasm1 = await call(page, 'wasmBytes');
      await publishFlood({ count: N.subsMsgs, topicOf: (j) => topics[j % N.subs], endTopic });
      const r = await call(page, 'receiveWait', {});
      const heap2 = await heapUsed(page);
      const wasm2 = await call(page, 'wasmBytes');
      await call(page, 'receiveEnd');
      const MiB = 1024 * 1024;
      const wasmGrowth = lib === 'rtc' ? (wasm2 - wasm0) / MiB : 0;
      return {
        rate: r.rate, count: r.count, dropped: N.subsMsgs - r.count, subscribeMs,
        heapSubsMiB: (heap1 - heap0) / MiB, heapAfterMiB: (heap2 - heap0) / MiB,
        wasmSubsMiB: (wasm1 - wasm0) / MiB, wasmGrowthMiB: wasmGrowth,
        memMiB: (heap2 - heap0) / MiB + wasmGrowth,
      };
    });
  },
};

// --- sizes -----------------------------------------------------------------------------
const gz = (file) => Number(execFileSync('bash', ['-c', 'gzip -9 -c "$1" | wc -c', '_', file]).toString().trim());

async function filesUnder(dir, suffix) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') out.push(...await filesUnder(p, suffix));
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out;
}

async function sizes() {
  const entries = {};
  const snippets = (await filesUnder(join(PKG, 'snippets'), '.js')).reduce((s, f) => s + gz(f), 0);
  // Every JS entry of the package that has its own .wasm beside it: the main one, and an
  // MQTT-only build too if the package has one (keyed by its path inside pkg/).
  for (const wasm of await filesUnder(PKG, '_bg.wasm')) {
    const js = wasm.replace(/_bg\.wasm$/, '.js');
    if (!existsSync(js)) continue;
    const w = gz(wasm);
    const g = gz(js);
    entries[js.slice(PKG.length + 1)] = { wasmGzip: w, glueGzip: g + snippets, totalGzip: w + g + snippets };
  }
  return { entries, mqttjsMinGzip: gz(join(MQTTJS_DIST, 'mqtt.min.js')) };
}

// --- statistics and the table ------------------------------------------------------------
function stats(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1], n: s.length };
}

function fmt(x, unit) {
  if (x == null) return '-';
  if (unit === 'rate') return x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x >= 1000 ? `${(x / 1000).toFixed(2)}k` : x.toFixed(0);
  if (unit === 'ms') return x.toFixed(2);
  if (unit === 'MiB') return x.toFixed(1);
  if (unit === 'KB') return (x / 1000).toFixed(1);
  return String(x);
}
const cell = (st, unit) => (st ? `${fmt(st.median, unit)} (${fmt(st.min, unit)}–${fmt(st.max, unit)})` : '-');

// --- main -------------------------------------------------------------------------------
async function main() {
  const started = Date.now();
  const loadStart = loadavg()[0];
  site = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  context = await browser.newContext();
  const version = browser.version();
  const samples = {}; // key -> lib -> [sample]
  const add = (key, lib, s) => { ((samples[key] ??= {})[lib] ??= []).push(s); };
  const plan = [
    ['qos0', (lib) => workloads.pub({ lib, qos: 0 })],
    ['qos0ff', (lib) => workloads.pub({ lib, qos: 0, forget: true })],
    ['qos1', (lib) => workloads.pub({ lib, qos: 1 })],
    ['qos2', (lib) => workloads.pub({ lib, qos: 2 })],
    ['recv', (lib) => workloads.recv({ lib })],
    ['rtt', (lib) => workloads.rtt({ lib })],
    ['subs', (lib) => workloads.subs({ lib })],
  ];
  const raw = [
    ['qos0', 'rawSend', () => workloads.rawPub({ packed: false })],
    ['qos0', 'rawPacked', () => workloads.rawPub({ packed: true })],
    ['recv', 'rawRecv', () => workloads.recv({ lib: 'raw' })],
    ['qos1', 'rawQos1', () => workloads.rawQos1()],
    ['qos1', 'rtcStore', () => workloads.pub({ lib: 'rtcStore', qos: 1 })],
    ['qos2', 'rtcStore', () => workloads.pub({ lib: 'rtcStore', qos: 2 })],
  ];
  console.log(`benchmark: ${ROUNDS} rounds${quick ? ' (quick)' : ''}, Chromium ${version}, ${cpus().length} cores, sizes ${JSON.stringify(N)}`);
  try {
    for (const [key, run] of plan) {
      if (ONLY.length && !ONLY.includes(key)) continue;
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 ? ['mqttjs', 'rtc'] : ['rtc', 'mqttjs'];
        const runs = [...order.map((lib) => [lib, () => run(lib)]), ...raw.filter(([k]) => k === key).map(([, lib, f]) => [lib, f])];
        for (const [lib, f] of runs) {
          // One failed run is reported and skipped; the others still count.
          let sample;
          try {
            sample = await f();
          } catch (e) {
            sample = { error: String(e.message || e).split('\n')[0] };
          }
          add(key, lib, sample);
          process.stdout.write(`  ${key} round ${r + 1} ${lib}: ${JSON.stringify(sample, (k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}\n`);
        }
      }
    }
  } finally {
    await browser.close().catch(() => {});
    site.close();
  }

  const size = await sizes();
  const S = (key, lib, field) => stats((samples[key]?.[lib] ?? []).map((x) => x[field]));
  const rows = [];
  const row = (name, unit, key, field, ceilingLib, lowerIsBetter = false, lib = 'rtc') => {
    const a = S(key, lib, field);
    // A variant of mqtt-rtc (the IndexedDB store) has no MQTT.js counterpart to divide by.
    const variant = lib !== 'rtc';
    const b = variant ? null : S(key, 'mqttjs', field);
    const ceil = ceilingLib ? S(ceilingLib === 'rawPacked' ? 'qos0' : key, ceilingLib, field) : null;
    rows.push({
      workload: name, unit, lowerIsBetter, variant, rtc: a, mqttjs: b,
      ratio: a && b ? a.median / b.median : null,
      ceiling: ceil ? { lib: ceilingLib, median: ceil.median, percent: a ? (100 * a.median) / ceil.median : null } : null,
    });
  };
  row('QoS 0 publish, msgs/s', 'rate', 'qos0', 'rate', 'rawPacked');
  row('QoS 0 publish, not awaited, msgs/s', 'rate', 'qos0ff', 'rate', 'rawPacked');
  row('QoS 1 publish, msgs/s', 'rate', 'qos1', 'rate', 'rawQos1');
  row('QoS 2 publish, msgs/s', 'rate', 'qos2', 'rate');
  row('QoS 1 publish, store: "indexeddb", msgs/s', 'rate', 'qos1', 'rate', null, false, 'rtcStore');
  row('QoS 2 publish, store: "indexeddb", msgs/s', 'rate', 'qos2', 'rate', null, false, 'rtcStore');
  row('receive (broker flood), msgs/s', 'rate', 'recv', 'rate', 'rawRecv');
  row('round trip p50, ms', 'ms', 'rtt', 'p50', null, true);
  row('round trip p99, ms', 'ms', 'rtt', 'p99', null, true);
  row('10k subs: dispatch, msgs/s', 'rate', 'subs', 'rate');
  row('10k subs: subscribe all, ms', 'ms', 'subs', 'subscribeMs', null, true);
  row('10k subs: memory growth, MiB', 'MiB', 'subs', 'memMiB', null, true);
  const mainEntry = size.entries['mqtt_rtc.js'];
  if (mainEntry) {
    rows.push({
      workload: 'size, gzip -9, KB', unit: 'KB', lowerIsBetter: true,
      rtc: { median: mainEntry.totalGzip, min: mainEntry.totalGzip, max: mainEntry.totalGzip },
      mqttjs: { median: size.mqttjsMinGzip, min: size.mqttjsMinGzip, max: size.mqttjsMinGzip },
      ratio: mainEntry.totalGzip / size.mqttjsMinGzip, ceiling: null,
    });
  }
  const rawRows = [
    ['raw WebSocket, one send per packet, msgs/s', S('qos0', 'rawSend', 'rate')],
    ['raw WebSocket, packed 64 KiB messages, msgs/s', S('qos0', 'rawPacked', 'rate')],
    ['raw WebSocket, plain-JS receiver, msgs/s', S('recv', 'rawRecv', 'rate')],
    ['raw WebSocket, QoS 1 with Receive Maximum in flight, msgs/s', S('qos1', 'rawQos1', 'rate')],
  ];

  const lines = [];
  lines.push('| workload | mqtt-rtc median (min–max) | MQTT.js median (min–max) | ratio | % of raw ceiling |');
  lines.push('|---|---|---|---|---|');
  for (const r of rows) {
    const single = r.unit === 'KB';
    const theirs = r.variant ? '' : (single ? fmt(r.mqttjs.median, 'KB') : cell(r.mqttjs, r.unit));
    const ratio = r.variant ? '' : (r.ratio == null ? '-' : `${r.ratio.toFixed(2)}x`);
    lines.push(`| ${r.workload} | ${single ? fmt(r.rtc.median, 'KB') : cell(r.rtc, r.unit)} | ${theirs} | ${ratio} | ${r.ceiling?.percent == null ? '' : `${r.ceiling.percent.toFixed(0)}%`} |`);
  }
  for (const [name, st] of rawRows) lines.push(`| ${name} | ${cell(st, 'rate')} | | | |`);
  const table = lines.join('\n');

  const notes = [];
  const drops = (key, lib) => (samples[key]?.[lib] ?? []).reduce((s, x) => s + (x.dropped || 0), 0);
  for (const key of ['recv', 'subs']) {
    for (const lib of ['rtc', 'mqttjs', 'rawRecv']) {
      const d = drops(key, lib);
      if (d > 0) notes.push(`${key}/${lib}: the broker dropped ${d} QoS 0 messages in total over ${samples[key][lib].length} runs (subscriber slower than the publisher: Mosquitto's max_queued_messages)`);
    }
  }
  for (const [key, libs] of Object.entries(samples)) {
    for (const [lib, xs] of Object.entries(libs)) {
      const errs = xs.filter((x) => x.error);
      if (errs.length) notes.push(`${key}/${lib}: ${errs.length} of ${xs.length} runs failed (${errs[0].error})`);
      const stalled = xs.filter((x) => x.stalled);
      if (stalled.length) notes.push(`${key}/${lib}: ${stalled.length} of ${xs.length} runs stalled: ${stalled.map((x) => x.unsettled).join(', ')} publishes never settled (given up after 5 s without progress; the rate counts the settled ones up to the last)`);
    }
  }
  for (const key of ['qos0', 'qos0ff', 'qos1', 'qos2']) {
    for (const lib of ['rtc', 'mqttjs']) {
      const f = (samples[key]?.[lib] ?? []).filter((x) => x.failed);
      if (f.length) notes.push(`${key}/${lib}: ${f.reduce((s, x) => s + x.failed, 0)} publishes rejected over ${f.length} runs, not counted in the rate (${f[0].firstError})`);
    }
  }
  for (const [f, e] of Object.entries(size.entries)) {
    notes.push(`size ${f}: wasm ${fmt(e.wasmGzip, 'KB')} KB + glue ${fmt(e.glueGzip, 'KB')} KB = ${fmt(e.totalGzip, 'KB')} KB gzip -9; MQTT.js mqtt.min.js ${fmt(size.mqttjsMinGzip, 'KB')} KB`);
  }
  const window = samples.qos1?.rawQos1?.find((x) => x.window)?.window;
  if (window) notes.push(`raw QoS 1: ${window} publishes in flight, the Receive Maximum of the broker's CONNACK`);
  const wasmGrowth = S('subs', 'rtc', 'wasmGrowthMiB');
  if (wasmGrowth) notes.push(`10k subs: mqtt-rtc's wasm memory grew ${fmt(wasmGrowth.median, 'MiB')} MiB (median; included in its memory row)`);

  const seconds = (Date.now() - started) / 1000;
  const mqttjsVersion = JSON.parse(readFileSync(join(HERE, 'node_modules/mqtt/package.json'), 'utf8')).version;
  const pkgVersion = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')).version;
  console.log(`\nmqtt-rtc ${pkgVersion} vs MQTT.js ${mqttjsVersion}; Chromium ${version}; ${ROUNDS} rounds; ratio = mqtt-rtc / MQTT.js (lower is better for ms, MiB, KB)\n`);
  console.log(table);
  console.log('');
  for (const n of notes) console.log(`- ${n}`);
  console.log(`\nfinished in ${seconds.toFixed(0)} s (1-minute load average ${loadStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end, on ${cpus().length} cores)`);

  await mkdir(dirname(OUT), { recursive: true });
  await writeFile(OUT, JSON.stringify({
    date: new Date().toISOString(), quick, rounds: ROUNDS, sizes: N, seconds,
    machine: { cores: cpus().length, chromium: version, node: process.version, loadAverage: { start: loadStart, end: loadavg()[0] } },
    versions: { mqttRtc: pkgVersion, mqttjs: mqttjsVersion },
    rows, raw: Object.fromEntries(rawRows), size, notes, table, samples,
  }, null, 2) + '\n');
  console.log(`results: ${OUT}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
