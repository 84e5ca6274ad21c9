// Failover on a real clustered broker: two aedes nodes sharing sessions and messages through
// Redis (tools/cluster, started here by lib/cluster.js on loopback). A page client with
// clean: false and MQTT 3.1.1, given both nodes' URLs (the "mover"), publishes QoS 1 and
// QoS 2 messages and receives QoS 1 and QoS 2 messages (its subscription is QoS 2) while
// the node it is on is killed with SIGKILL mid-stream. It must move to the other node and
// find its session there (CONNACK Session Present = 1), and every publish promise must
// resolve. Receivers: a second page client on the surviving node only (the "peer": it
// receives what the mover publishes and publishes what the mover receives) and a
// mosquitto_sub on the surviving node's TCP listener. Every MQTT packet of the publish
// family on the page's sockets is recorded (lib/cluster.js recordMqttWire), which is how
// each defect is attributed.
//
// What is asserted strictly, the client's share: every publish resolves; the mover resumes
// with Session Present = 1 every time; it delivers each QoS 2 flow the brokers opened
// exactly once and never a copy of a message whose packet id it still holds; every message
// not lost inside the cluster arrives (QoS 1 at least once, QoS 2 exactly once) in both
// directions. End to end, aedes 1.2.0 with aedes-persistence-redis 12.0.0 does NOT give
// exactly-once (nor, for acknowledged QoS 1, at-least-once) across a SIGKILL; each of these
// windows was found in its source (tools/cluster/node_modules) and is recognised from the
// wire, counted in the figures ("aedes"), and accepted only in exactly that shape:
// 1. qos1-puback-before-forward (lib/handlers/publish.js, enqueuePublish, case 1): the node
//    writes PUBACK and only then calls broker.publish (enqueue for offline sessions in
//    Redis, then mqemitter-redis's PUBLISH). Killed in between, the message is acknowledged
//    and gone: the client rightly never resends it. Shape: PUBACK from the killed node,
//    missing at both receivers.
// 2. qos2-stored-before-forward (same function, case 2): the node stores the packet id in
//    Redis (incomingStorePacket) before broker.publish and writes PUBREC after it. Killed
//    in between, the client (rightly) resends the PUBLISH with DUP and the same id to the
//    other node, which finds the id stored, takes the message for a duplicate and answers
//    PUBREC without publishing it: the publish resolves and no one gets the message. Shape:
//    no answer from the killed node, the DUP resend answered by PUBREC from the survivor,
//    missing at both receivers.
// 3. Replay after live delivery (lib/handlers/connect.js): on CONNECT the survivor restores
//    the session's subscriptions (restoreSubs, so live delivery starts) before it reads the
//    session's queue (emptyQueue, aedes-persistence-redis outgoingStream reads ahead), and
//    the replay bypasses the live path's de-duplication (client.js dedupe). A message
//    published meanwhile is sent live and again from the queue under the same packet id,
//    the second time after its QoS 2 exchange ended with PUBCOMP and without DUP: by the
//    protocol a new message, which the client must deliver. Shape: every extra flow of a
//    message comes from the survivor.
// 4. qos2-packet-id-in-use: each node numbers its deliveries from its own counter
//    (lib/qos-packet.js, client._nextId, random start), while the resumed session still
//    holds ids the killed node assigned; an id the survivor reuses while the client holds
//    it for another message [MQTT-2.3.1-2] makes the client (rightly) take the new message
//    for a duplicate. Shape: every copy of the missing message came under an id held by
//    another. (The two flows then also share one entry of the survivor's node-local id
//    cache, aedes-persistence-redis messageIdCache, so a later PUBREC for that id can fail
//    there with "unknown key", and the node drops the client.)
// The same connect ordering also makes the survivor write PUBLISH packets before CONNACK
// (restoreSubs runs before doConnack, and lib/write.js writes while `connecting`),
// against [MQTT-3.2.0-1]; the client closes such a connection ("packet type 3 before
// connack") and reconnects, so the mover may connect more than once to the survivor.
// Size: MQTT_RTC_CLUSTER_MESSAGES per QoS and direction (default 500); pace:
// MQTT_RTC_CLUSTER_RATE messages/s per publisher (default 400).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mosquittoSub, useBrowser, withPage } from '../lib/harness.js';
import { lossCause, qos2Flows, recordMqttWire, startCluster, wireHistory } from '../lib/cluster.js';

const browser = useBrowser();
const PER_QOS = Number(process.env.MQTT_RTC_CLUSTER_MESSAGES || 500);
const RATE = Number(process.env.MQTT_RTC_CLUSTER_RATE || 400);
// Publishes outstanding at once per publisher (awaited as they settle).
const WINDOW = 100;
// The node is killed once this share of either stream has gone by (both must be under way).
const KILL_AT = 0.3;
const T = { timeout: 120_000 };

const sessionOptions = (clientId) => ({
  clientId,
  protocolVersion: 4,
  clean: false,
  keepalive: 5,
  connectTimeout: 3000,
  reconnect: { initialDelay: 20, maxDelay: 200 },
});

/**
 * What a receiver got ("<publisher>:<qos>:<seq>" each): missing sequence numbers per QoS,
 * QoS 2 duplicates, QoS 1 duplicates (allowed) and foreign messages.
 */
function analyse(texts, publisher, n) {
  const seen = { 1: new Map(), 2: new Map() };
  let foreign = 0;
  for (const text of texts) {
    const [p, q, s] = text.split(':');
    const qos = Number(q);
    const seq = Number(s);
    if (p !== publisher || !(qos === 1 || qos === 2) || !(seq >= 0 && seq < n)) {
      if (text !== `${publisher}:end`) foreign += 1;
      continue;
    }
    seen[qos].set(seq, (seen[qos].get(seq) || 0) + 1);
  }
  const out = { received: texts.length, foreign, missing: {}, duplicatesQos1: 0, duplicatesQos2: [] };
  for (const qos of [1, 2]) {
    out.missing[qos] = [];
    for (let s = 0; s < n; s++) if (!seen[qos].has(s)) out.missing[qos].push(s);
    for (const [seq, count] of seen[qos]) {
      if (count > 1 && qos === 1) out.duplicatesQos1 += count - 1;
      if (count > 1 && qos === 2) out.duplicatesQos2.push(seq);
    }
  }
  return out;
}

function defects(name, r) {
  const head = (a) => (a.length > 10 ? `${a.slice(0, 10).join(',')}... (${a.length})` : a.join(','));
  return `${name}: missing qos1 [${head(r.missing[1])}], missing qos2 [${head(r.missing[2])}], `
    + `qos2 duplicates [${head(r.duplicatesQos2)}], foreign ${r.foreign}`;
}

/** A node's output for an error message: each distinct line once, in order of first appearance. */
const nodeLog = (node) => [...new Set(node.log.join('').split('\n'))].slice(0, 40).join('\n');

/** Resolves once `cond()` is true (checked every 50 ms), or rejects after `ms` with `what()`. */
async function until(cond, ms, what) {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what()}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

/**
 * In the page: starts 2n publishes from `window.cl[name]` (QoS 1 and 2 alternating, paced,
 * at most `limit` outstanding) and keeps their progress in `window.cl.progress[name]`;
 * `window.cl.done[name]` resolves when every one settled.
 */
function startPublishing({ name, topic, id, n, rate, limit }) {
  const c = window.cl[name];
  const progress = { issued: 0, settled: 0, rejected: [] };
  window.cl.progress[name] = progress;
  window.cl.done[name] = (async () => {
    let outstanding = 0;
    let wake = null;
    const all = [];
    const t0 = performance.now();
    for (let k = 0; k < 2 * n; k++) {
      const qos = (k % 2) + 1;
      const seq = k >> 1;
      while (outstanding >= limit) await new Promise((ok) => { wake = ok; });
      const ahead = t0 + (k * 1000) / rate - performance.now();
      if (ahead > 4) await t.sleep(ahead);
      outstanding += 1;
      progress.issued += 1;
      all.push(c.publish(topic, `${id}:${qos}:${seq}`, { qos }).catch((e) => {
        progress.rejected.push(`${qos}:${seq} ${e.code}: ${e.message}`);
      }).finally(() => {
        outstanding -= 1;
        progress.settled += 1;
        if (wake) { const w = wake; wake = null; w(); }
      }));
    }
    await Promise.all(all);
    progress.ms = performance.now() - t0;
  })();
}

/**
 * Everything the receivers got, accounted for against the wire (`ids`: the clients' ids;
 * `urls`: the killed and the surviving node's WebSocket URLs). Outgoing (the mover's
 * publishes): a message lost inside the cluster is lost for both receivers, and each must
 * be lost in one of aedes's two windows (lossCause). Incoming (the mover's QoS 2
 * subscription): by the protocol alone, how many distinct QoS 2 flows the nodes opened for
 * each message (qos2Flows); the client must deliver each flow once and a duplicate copy
 * never, and a message with more than one flow is a duplicate that aedes made, in its
 * documented window only if every extra flow came from the surviving node.
 */
function accountFor(rx, wire, ids, urls) {
  const results = {
    incoming: analyse(rx.mover, ids.peer, PER_QOS),
    outgoingPeer: analyse(rx.peer, ids.mover, PER_QOS),
    outgoingSub: analyse(rx.sub, ids.mover, PER_QOS),
  };
  const lost = { 'qos1-puback-before-forward': [], 'qos2-stored-before-forward': [], 'qos2-packet-id-in-use': [] };
  const unexplainedLoss = [];
  for (const qos of [1, 2]) {
    const atPeer = new Set(results.outgoingPeer.missing[qos]);
    const atSub = new Set(results.outgoingSub.missing[qos]);
    for (const seq of new Set([...atPeer, ...atSub])) {
      const text = `${ids.mover}:${qos}:${seq}`;
      const cause = atPeer.has(seq) && atSub.has(seq) ? lossCause(wire.records, wire.sockets, text, qos, urls.killed, urls.survivor) : null;
      if (cause) lost[cause].push(text);
      else unexplainedLoss.push(text);
    }
  }
  const mine = new Set(wire.sockets.map((_, k) => k).filter((k) => !wire.peerSockets.includes(k)));
  const flows = qos2Flows(wire.records, mine);
  const delivered = new Map();
  for (const text of rx.mover) delivered.set(text, (delivered.get(text) || 0) + 1);
  const misdelivered = [];
  const replayed = [];
  const unexplainedDuplicates = [];
  for (const [text, f] of flows) {
    if ((delivered.get(text) || 0) !== f.flows) misdelivered.push(`${text}: ${delivered.get(text) || 0} delivered, ${f.flows} flows: ${JSON.stringify(f.copies)}`);
    if (f.flows <= 1) continue;
    const extra = f.copies.filter((c) => c.fresh).slice(1);
    if (extra.every((c) => wire.sockets[c.sock] === urls.survivor)) replayed.push(text);
    else unexplainedDuplicates.push(`${text}: ${JSON.stringify(f.copies)}`);
  }
  // Incoming losses: a QoS 2 message whose every copy came with a packet id that the
  // session still held for another message was rightly taken for a duplicate by the client.
  const unexplainedIncomingLoss = [];
  for (const qos of [1, 2]) {
    for (const seq of results.incoming.missing[qos]) {
      const text = `${ids.peer}:${qos}:${seq}`;
      const f = flows.get(text);
      if (qos === 2 && f && f.flows === 0 && f.copies.every((c) => c.heldBy)) lost['qos2-packet-id-in-use'].push(text);
      else unexplainedIncomingLoss.push(text);
    }
  }
  return { results, lost, unexplainedLoss, unexplainedIncomingLoss, misdelivered, replayed, unexplainedDuplicates };
}

test(`MQTT 3.1.1 on two aedes nodes sharing Redis: the client's node is SIGKILLed mid-stream, it resumes its session on the other node; ${PER_QOS} QoS 1 and ${PER_QOS} QoS 2 messages each way, every one delivered as promised except in aedes's own failure windows, which the wire proves`, T, async (ctx) => {
  const t0 = Date.now();
  const cluster = await startCluster();
  const [nodeA, nodeB] = cluster.nodes;
  const run = `cl-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const topics = { out: `${run}/out`, in: `${run}/in` };
  const ids = { mover: `${run}-mover`, peer: `${run}-peer`, sub: `${run}-sub` };
  let sub;
  try {
    // An independent receiver of what the moving client publishes, on the surviving node.
    sub = await mosquittoSub({ topic: topics.out, qos: 2, port: nodeB.tcpPort, args: ['-i', ids.sub, '-c', '-V', 'mqttv311'] });
    await withPage(browser, async (page) => {
      // The mover must start on node A, the node killed below. Once, in Firefox, its first
      // attempt at A was refused though A listened, so it started on B and the kill never
      // reached it: wait until the page itself can open A.
      await page.evaluate(async (url) => {
        const opens = () => new Promise((ok) => {
          const ws = new WebSocket(url, 'mqtt');
          ws.onopen = () => { ws.close(); ok(true); };
          ws.onerror = () => ok(false);
        });
        for (let i = 0; !(await opens()); i++) {
          if (i === 50) throw new Error(`node A (${url}) refused the page 50 times`);
          await new Promise((ok) => setTimeout(ok, 100));
        }
      }, nodeA.ws);
      await page.evaluate(recordMqttWire, { match: run });
      await page.evaluate(async ({ urls, peerUrl, topics, opts }) => {
        const { MqttClient } = window.mqtt;
        window.cl = { progress: {}, done: {}, rx: { mover: [], peer: [] }, connects: [] };
        // The moving client: both nodes, node A first. Its subscription is what makes aedes
        // report the session as present (it sets Session Present only for a stored session
        // with subscriptions).
        const mover = await MqttClient.connect(urls, opts.mover);
        mover.on('connect', (info) => window.cl.connects.push({ sessionPresent: info.sessionPresent }));
        await mover.subscribe(topics.in, { qos: 2 }, (m) => window.cl.rx.mover.push(m.text()));
        window.cl.mover = mover;
        window.cl.moverUrl = window.clSockets[window.clSockets.length - 1];
        // Its peer, on node B only: receives what the mover publishes, publishes what it receives.
        const firstPeerSocket = window.clSockets.length;
        const peer = await MqttClient.connect(peerUrl, opts.peer);
        window.cl.peerSockets = Array.from({ length: window.clSockets.length - firstPeerSocket }, (_, k) => firstPeerSocket + k);
        await peer.subscribe(topics.out, { qos: 2 }, (m) => window.cl.rx.peer.push(m.text()));
        window.cl.peer = peer;
      }, { urls: [nodeA.ws, nodeB.ws], peerUrl: nodeB.ws, topics, opts: { mover: sessionOptions(ids.mover), peer: sessionOptions(ids.peer) } });

      const moverUrl = await page.evaluate(() => window.cl.moverUrl);
      assert.equal(moverUrl, nodeA.ws, 'the mover starts on node A');
      // Both streams at once: the mover publishes on "out", the peer on "in".
      await page.evaluate(startPublishing, { name: 'mover', topic: topics.out, id: ids.mover, n: PER_QOS, rate: RATE, limit: WINDOW });
      await page.evaluate(startPublishing, { name: 'peer', topic: topics.in, id: ids.peer, n: PER_QOS, rate: RATE, limit: WINDOW });
      const state = () => page.evaluate(() => ({
        mover: window.cl.progress.mover, peer: window.cl.progress.peer,
        rxMover: window.cl.rx.mover.length, rxPeer: window.cl.rx.peer.length, connects: window.cl.connects,
        stats: window.cl.mover.stats(), peerStats: window.cl.peer.stats(),
      }));
      let s = await state();
      // Mid-stream in both directions: the mover has publishes in flight and messages
      // coming in when its node dies.
      const mid = Math.round(2 * PER_QOS * KILL_AT);
      await until(async () => { s = await state(); return s.mover.settled >= mid || s.rxMover >= mid; }, 30_000, () => JSON.stringify(s));
      const before = s;
      assert.ok(before.mover.settled > 0 && before.mover.settled < 2 * PER_QOS && before.rxMover > 0 && before.rxMover < 2 * PER_QOS,
        `both streams under way when the node is killed: ${JSON.stringify(before)}`);
      await nodeA.kill('SIGKILL');
      const killedAt = Date.now();

      await until(async () => { s = await state(); return s.connects.length >= 1; }, 20_000,
        () => `the mover did not reconnect to node B: ${JSON.stringify(s)}\nnode B: ${nodeLog(nodeB)}`);
      const resumedMs = Date.now() - killedAt;
      await page.evaluate(() => t.within(Promise.all([window.cl.done.mover, window.cl.done.peer]), 60_000,
        () => `every publish settled (${JSON.stringify(window.cl.progress)})`));
      // End markers (QoS 2, after every other message of their publisher).
      await page.evaluate(({ topics, ids }) => Promise.all([
        window.cl.mover.publish(topics.out, `${ids.mover}:end`, { qos: 2 }),
        window.cl.peer.publish(topics.in, `${ids.peer}:end`, { qos: 2 }),
      ]), { topics, ids });
      const texts = async () => ({
        ...(await page.evaluate(() => window.cl.rx)),
        sub: sub.messages.map((m) => m.payload.toString()),
      });
      let rx = await texts();
      const report = () => [
        defects('mover (incoming, its node killed)', analyse(rx.mover, ids.peer, PER_QOS)),
        defects('peer (outgoing from the mover)', analyse(rx.peer, ids.mover, PER_QOS)),
        defects('mosquitto_sub (outgoing from the mover)', analyse(rx.sub, ids.mover, PER_QOS)),
      ].join('; ');
      const fetchWire = () => page.evaluate(() => ({ records: window.clWire, sockets: window.clSockets, peerSockets: window.cl.peerSockets }));
      // Waits until both end markers arrived at all three receivers and every message is
      // there or lost in one of aedes's windows (which the wire shows); a message that is
      // lost otherwise keeps it waiting, and the assertions below name it.
      let account;
      const ends = () => rx.mover.includes(`${ids.peer}:end`) && rx.peer.includes(`${ids.mover}:end`) && rx.sub.includes(`${ids.mover}:end`);
      await until(async () => {
        rx = await texts();
        if (!ends()) return false;
        account = accountFor(rx, await fetchWire(), ids, { killed: nodeA.ws, survivor: nodeB.ws });
        return account.unexplainedIncomingLoss.length === 0 && account.unexplainedLoss.length === 0;
      }, 30_000, report).catch(() => {});
      s = await state();
      await page.evaluate(() => t.endAll(window.cl.mover, window.cl.peer));
      const wire = await fetchWire();
      rx = await texts();
      account = accountFor(rx, wire, ids, { killed: nodeA.ws, survivor: nodeB.ws });
      const { results, lost, unexplainedLoss, unexplainedIncomingLoss, misdelivered, replayed, unexplainedDuplicates } = account;

      const figures = {
        messages: 4 * PER_QOS, rate: RATE, totalMs: Date.now() - t0, resumedMs,
        killedAt: { moverSettled: before.mover.settled, moverReceived: before.rxMover },
        moverPublishMs: Math.round(s.mover.ms), peerPublishMs: Math.round(s.peer.ms),
        reconnects: { mover: s.stats.reconnects, peer: s.peerStats.reconnects }, connects: s.connects,
        qos1Duplicates: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.duplicatesQos1])),
        aedes: {
          outgoingLostQos1: lost['qos1-puback-before-forward'].length, outgoingLostQos2: lost['qos2-stored-before-forward'].length,
          incomingLostQos2: lost['qos2-packet-id-in-use'].length, incomingDuplicatedQos2: replayed.length,
        },
      };
      ctx.diagnostic(JSON.stringify(figures));
      const why = JSON.stringify(figures);
      const history = (texts) => (texts.length ? `\n${wireHistory(wire.records, wire.sockets, texts.slice(0, 12))}` : '');
      // What aedes's windows looked like this time, one example of each.
      const examples = [...Object.values(lost).map((l) => l.slice(0, 1)), replayed.slice(0, 1)].flat();
      for (const line of examples.length ? wireHistory(wire.records, wire.sockets, examples).split('\n') : []) ctx.diagnostic(`aedes window: ${line}`);

      // The client's own guarantees, strictly.
      assert.deepEqual(s.mover.rejected, [], `every publish of the mover resolved; ${why}`);
      assert.deepEqual(s.peer.rejected, [], `every publish of the peer resolved; ${why}`);
      assert.equal(s.mover.settled, 2 * PER_QOS, why);
      assert.equal(s.peer.settled, 2 * PER_QOS, why);
      assert.equal(s.peerStats.reconnects, 0, `the peer's node stayed up; ${why}`);
      assert.ok(s.connects.length >= 1, why);
      assert.ok(s.connects.every((c) => c.sessionPresent === true), `the mover found its session on node B (Session Present = 1); ${why}`);

      assert.deepEqual(misdelivered, [], `the mover delivered each QoS 2 flow once and no duplicate copy; ${why}`);
      // End to end: nothing lost or duplicated but in aedes's documented windows.
      assert.deepEqual(unexplainedIncomingLoss, [], `every incoming message at least once (but in aedes's window): ${defects('incoming', results.incoming)}; ${why}${history(unexplainedIncomingLoss)}\nnode B: ${nodeLog(nodeB)}`);
      assert.deepEqual(unexplainedLoss, [], `every outgoing message at least once (but in aedes's windows): ${why}${history(unexplainedLoss)}`);
      assert.deepEqual(unexplainedDuplicates, [], `incoming QoS 2 exactly once (but in aedes's window): ${why}`);
      for (const [name, r] of Object.entries(results)) {
        if (name !== 'incoming') assert.deepEqual(r.duplicatesQos2, [], `outgoing QoS 2 exactly once: ${defects(name, r)}; ${why}${history(r.duplicatesQos2.map((q) => `${ids.mover}:2:${q}`))}`);
        assert.equal(r.foreign, 0, `${defects(name, r)}; ${why}`);
      }
      assert.ok(ends(), `both end markers arrived at every receiver: ${report()}`);
    });
  } finally {
    await sub?.stop();
    await cluster.close();
  }
});
