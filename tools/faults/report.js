// The table of a fault-injection run (tools/faults/run.sh): reads the figures the test
// (tests/js/test/fault-injection.test.js) appended as one JSON line per case, prints a
// Markdown table per protocol version and direction (what README.md shows) and writes
// everything as JSON. It judges nothing: the test's assertions did, and its verdict and
// exit status are reported as they were.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const figuresPath = opt('--figures');
const out = opt('--out');
const status = Number(opt('--status'));
const wallMs = Date.now() - Number(opt('--started'));

const cases = existsSync(figuresPath)
  ? readFileSync(figuresPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  : [];

const n = (x) => (x === undefined ? '?' : Number(x).toLocaleString('en-US'));
const s = (ms) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);
const pair = (a, b) => `${n(a)} / ${n(b)}`;
const versionName = (v) => (v === 5 ? '5.0' : '3.1.1');

/** Faults on one proxied path, by kind: "total: cuts (mid-frame / between frames), stalls (resumed / cut), refusals (closing / not listening)". */
function faults(c) {
  const cuts = c.cutToBroker + c.cutToClient;
  const stalls = c.stallResumed + c.stallCut;
  const refusals = c.refuseClose + c.refuseUnlisten;
  return `${n(cuts + stalls + refusals)}: ${n(cuts)} (${n(c.cutInFrame)} / ${n(c.cutBetweenFrames)}), `
    + `${n(stalls)} (${n(c.stallResumed)} / ${n(c.stallCut)}), ${n(refusals)} (${n(c.refuseClose)} / ${n(c.refuseUnlisten)})`;
}

const header = ['version', 'direction', 'messages', 'faults: cuts (mid-frame / between frames), stalls (resumed / cut), refusals (closing / not listening)',
  'reconnects', 'lost QoS 1 / QoS 2', 'duplicated QoS 1 / QoS 2', 'order breaks QoS 1 / QoS 2', 'publishes settled / rejected', 'time'];
const rows = [];
for (const c of cases) {
  const v = versionName(c.version);
  if (!c.publisherPath) {
    rows.push([v, `failed before its figures were complete: ${c.failure?.split('\n')[0].split('; seed ')[0] ?? ''}`, n(c.messages), '', '', '', '', '', '', s(c.totalMs)]);
    continue;
  }
  rows.push([v, 'page publisher → broker (faulty path)', `${n(c.messages)} sent`, faults(c.publisherPath), n(c.reconnects.publisher),
    '—', '—', `${n(c.libraryOrderBreaks.publisher)} (first writes)`, pair(c.publishes.settled, c.publishes.rejected), `${s(c.publishMs)} publishing`]);
  for (const [name, label, path, reconnects] of [
    ['browser', 'broker → page receiver (faulty path)', faults(c.receiverPath), n(c.reconnects.receiver)],
    ['mosquitto_sub', 'broker → mosquitto_sub (TCP)', 'none on this path', '0'],
  ]) {
    rows.push([v, label, `${n(c.received[name])} received`, path, reconnects,
      pair(c.lost[name].qos1, c.lost[name].qos2), pair(c.qos1Duplicates[name], c.qos2Duplicates[name]),
      pair(c.orderBreaks[name].qos1, c.orderBreaks[name].qos2), '—', name === 'browser' ? `${s(c.totalMs)} in all` : '']);
  }
}

const line = (cells) => `| ${cells.join(' | ')} |`;
const table = [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
const meta = {
  seed: Number(opt('--seed')), browser: opt('--browser'), messagesPerQos: Number(opt('--messages')),
  rate: cases[0]?.rate, exitStatus: status, wallMs, finishedAt: new Date().toISOString(),
};
console.log(`\n${table}\n`);
for (const c of cases) {
  // The assertion's own words; the seed and the figures after it are in the JSON.
  const why = c.failure ? ` (${c.failure.split('\n')[0].split('; seed ')[0]})` : '';
  console.log(`MQTT ${versionName(c.version)}: ${c.verdict}${why}`);
}
const missing = 2 - cases.length;
if (missing > 0) console.log(`${missing} case(s) recorded no figures (see .faults-run/test.log)`);
console.log(`${meta.browser}, seed ${meta.seed}, ${n(meta.messagesPerQos)} QoS 1 + ${n(meta.messagesPerQos)} QoS 2 per version `
  + `at ${n(meta.rate)} messages/s; ${(wallMs / 60_000).toFixed(1)} minutes in all (with the build and the broker); test exit status ${status}`);
console.log('Order breaks at the receivers are end to end and include the broker\'s own (Mosquitto 2.0.11 lets a new message overtake queued ones);'
  + ' the library\'s share (first writes in publish order, delivery in arrival order) is asserted by the test.');
writeFileSync(out, `${JSON.stringify({ ...meta, table, cases }, null, 2)}\n`);
console.log(`figures: ${out}`);
