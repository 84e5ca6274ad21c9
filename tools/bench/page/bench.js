// Browser side of the benchmark: the same workloads over three clients, mqtt-rtc ("rtc"),
// MQTT.js ("mqttjs") and a bare WebSocket speaking just enough MQTT ("raw", the ceiling).
// Each exported function runs one measurement and returns plain numbers; tools/bench/bench.js
// (Node) decides what runs when, feeds the receive workloads from a native publisher and
// takes heap snapshots between the phases. Nothing here asserts anything.

import { packet, publishPacket as mqttPublish, str } from './mqtt-bytes.js';

let MqttClient;
let mqttjs;
let wasmMemory;

export function setup(mods) {
  ({ MqttClient, mqttjs, wasmMemory } = mods);
}

const KEEPALIVE = 60;
let seq = 0;
const clientId = (lib) => `bench-${lib}-${Date.now().toString(36)}-${seq++}`;

/** A 100-byte payload (the same bytes for every client). */
export function payload(size = 100) {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = 97 + (i % 26);
  return p;
}

/** Both libraries behind one small interface: publish, subscribe, end. */
async function connect(lib, url) {
  if (lib === 'rtc' || lib === 'rtcStore') {
    // rtcStore: the same client with its session in IndexedDB (every QoS 1/2 publish is
    // written, with strict durability, before it is sent).
    const store = lib === 'rtcStore' ? { store: 'indexeddb' } : {};
    const c = await MqttClient.connect(url, {
      clientId: clientId(lib), protocolVersion: 5, keepalive: KEEPALIVE, clean: true, reconnect: false, ...store,
    });
    return {
      publish: (topic, p, qos) => c.publish(topic, p, { qos }),
      // Fire and forget: the promise is still made (that is the API), nobody waits on it.
      fire: (topic, p, qos) => { c.publish(topic, p, { qos }).catch(() => {}); },
      subscribe: (filters, qos, onMessage) => c.subscribe(filters, { qos }, (m) => onMessage(m.topic, m.payload)),
      end: (force = false) => c.end(force ? { force: true } : { timeout: 5000 }),
    };
  }
  if (lib === 'mqttjs') {
    const c = mqttjs.connect(url, {
      clientId: clientId(lib), protocolVersion: 5, keepalive: KEEPALIVE, clean: true, reconnectPeriod: 0,
    });
    await new Promise((ok, fail) => {
      c.once('connect', ok);
      c.once('error', fail);
    });
    // MQTT.js has one message event per client; route it by subscription call here.
    const handlers = [];
    c.on('message', (topic, p) => { for (const h of handlers) h(topic, p); });
    return {
      publish: (topic, p, qos) => c.publishAsync(topic, p, { qos }),
      // Fire and forget: publish() without a callback, MQTT.js's cheapest path.
      fire: (topic, p, qos) => { c.publish(topic, p, { qos }); },
      subscribe: (filters, qos, onMessage) => {
        if (!handlers.includes(onMessage)) handlers.push(onMessage);
        return c.subscribeAsync(filters, { qos });
      },
      end: (force = false) => c.endAsync(force),
    };
  }
  throw new Error(`unknown library ${lib}`);
}

// ---------------------------------------------------------------------------------------
// Minimal MQTT 5 framing for the raw WebSocket baselines.

const connectPacket = (id) => packet(0x10, [
  ...str('MQTT'), 5, 0x02 /* clean start */, KEEPALIVE >> 8, KEEPALIVE & 0xff, 0 /* no props */, ...str(id),
]);

/** A QoS 0 PUBLISH (MQTT 5: empty property block). */
export const publishPacket = (topic, p) => mqttPublish(topic, p);

const subscribePacket = (pid, filter, qos) => packet(0x82, [pid >> 8, pid & 0xff, 0, ...str(filter), qos]);
const PINGREQ = Uint8Array.from([0xc0, 0]);

/**
 * A bare WebSocket MQTT session: resolves once CONNACK is in. `onPacket(type, flags, buf, off,
 * len)` sees every packet after that (`off`/`len`: the bytes after the fixed header) (a streaming parser: packets may span messages).
 */
async function rawConnect(url, onPacket, onMessageEnd = () => {}) {
  const ws = new WebSocket(url, 'mqtt');
  ws.binaryType = 'arraybuffer';
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = () => fail(new Error('raw WebSocket failed'));
  });
  let pending = null; // bytes of an incomplete packet carried over
  let connack;
  const connacked = new Promise((ok) => { connack = ok; });
  let connected = false;
  ws.messages = 0;
  ws.onmessage = (ev) => {
    ws.messages++;
    let buf = new Uint8Array(ev.data);
    if (pending) {
      const joined = new Uint8Array(pending.length + buf.length);
      joined.set(pending, 0);
      joined.set(buf, pending.length);
      buf = joined;
      pending = null;
    }
    let off = 0;
    while (off < buf.length) {
      // fixed header: type byte + remaining length (1-4 bytes)
      let len = 0; let mul = 1; let i = off + 1; let done = false;
      while (i < buf.length && i < off + 5) {
        const b = buf[i++];
        len += (b & 0x7f) * mul;
        mul *= 128;
        if (!(b & 0x80)) { done = true; break; }
      }
      if (!done || i + len > buf.length) break;
      const type = buf[off] >> 4;
      if (!connected && type === 2) {
        connected = true;
        ws.receiveMaximum = connackReceiveMaximum(buf, i, len);
        connack();
      } else onPacket(type, buf[off] & 15, buf, i, len);
      off = i + len;
    }
    if (off < buf.length) pending = buf.slice(off);
    if (connected) onMessageEnd();
  };
  ws.send(connectPacket(clientId('raw')));
  await connacked;
  return ws;
}

/** Bytes of each MQTT 5 property value by identifier (-2: a two-byte length and that many bytes, -4: a variable byte integer, -8: a string pair). */
const PROPERTY_SIZE = {
  0x01: 1, 0x02: 4, 0x03: -2, 0x08: -2, 0x09: -2, 0x0b: -4, 0x11: 4, 0x12: -2, 0x13: 2, 0x15: -2, 0x16: -2,
  0x17: 1, 0x18: 4, 0x19: 1, 0x1a: -2, 0x1c: -2, 0x1f: -2, 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1,
  0x26: -8, 0x27: 4, 0x28: 1, 0x29: 1, 0x2a: 1,
};

/** The Receive Maximum of a v5 CONNACK body (`buf[off..off+len]`): 65,535 when absent. */
function connackReceiveMaximum(buf, off, len) {
  const end = off + len;
  let i = off + 2; // acknowledge flags, reason code
  let plen = 0; let mul = 1;
  for (;;) { const b = buf[i++]; plen += (b & 0x7f) * mul; mul *= 128; if (!(b & 0x80)) break; }
  const u16 = (at) => (buf[at] << 8) | buf[at + 1];
  for (const stop = Math.min(end, i + plen); i < stop;) {
    const id = buf[i++];
    if (id === 0x21) return u16(i);
    const size = PROPERTY_SIZE[id];
    if (size === undefined) break;
    if (size > 0) i += size;
    else if (size === -2) i += 2 + u16(i);
    else if (size === -8) { i += 2 + u16(i); i += 2 + u16(i); } else { while (buf[i++] & 0x80); }
  }
  return 65535;
}

// ---------------------------------------------------------------------------------------
// Workloads

/**
 * Publish throughput: N publishes fired without waiting, then all awaited (QoS 0 runs end
 * with one QoS 1 publish, whose PUBACK means the broker has read everything before it).
 * `forget`: QoS 0 publishes whose completion nobody waits for (only the final marker).
 * The rate counts publishes that succeeded; rejected ones are reported apart.
 */
export async function publishThroughput({ lib, url, qos, n, topic, forget = false, stallMs = 5000 }) {
  const c = await connect(lib, url);
  const p = payload();
  for (let i = 0; i < 200; i++) await c.publish(topic, p, qos); // warm-up
  let ok = 0;
  let failed = 0;
  let firstError;
  let last = 0; // when the latest publish settled
  const t0 = performance.now();
  let work;
  if (forget) {
    for (let i = 0; i < n; i++) c.fire(topic, p, qos);
    work = Promise.resolve();
    ok = n;
  } else {
    const all = new Array(n);
    const good = () => { ok++; last = performance.now(); };
    const bad = (e) => { failed++; last = performance.now(); firstError ??= String(e); };
    for (let i = 0; i < n; i++) all[i] = c.publish(topic, p, qos).then(good, bad);
    work = Promise.all(all);
  }
  if (qos === 0) work = work.then(() => c.publish(topic, p, 1));
  let done = false;
  work.then(() => { done = true; });
  // A publish that never settles must not hang the run: stop once nothing has settled for
  // stallMs, and count what settled up to the last settlement.
  let seen = -1;
  while (!done) {
    await Promise.race([work, sleep(stallMs)]);
    if (done || ok + failed === seen) break;
    seen = ok + failed;
  }
  const ms = (done ? performance.now() : last) - t0;
  const result = { rate: ok / (ms / 1000), ms, failed, firstError, unsettled: n - ok - failed, stalled: !done };
  await Promise.race([c.end(!done), sleep(5000)]);
  return result;
}

const sleep = (ms) => new Promise((ok) => { setTimeout(ok, ms); });

/**
 * Raw WebSocket ceiling for QoS 0 publishing: one `send` per packet, or packets packed into
 * 64 KiB messages (built before the clock starts). A PINGREQ/PINGRESP closes the run.
 */
export async function rawPublish({ url, n, topic, packed }) {
  let pong;
  const ws = await rawConnect(url, (type) => { if (type === 13) pong(); });
  const ping = () => new Promise((ok) => { pong = ok; ws.send(PINGREQ); });
  const pkt = publishPacket(topic, payload());
  let messages = null;
  if (packed) {
    const per = Math.floor(65536 / pkt.length);
    messages = [];
    for (let left = n; left > 0; left -= per) {
      const k = Math.min(per, left);
      const m = new Uint8Array(k * pkt.length);
      for (let j = 0; j < k; j++) m.set(pkt, j * pkt.length);
      messages.push(m);
    }
  }
  await ping();
  const t0 = performance.now();
  if (packed) for (const m of messages) ws.send(m);
  else for (let i = 0; i < n; i++) ws.send(pkt);
  await ping();
  const ms = performance.now() - t0;
  ws.close();
  return { rate: n / (ms / 1000), ms, sends: packed ? messages.length : n };
}

/**
 * Raw WebSocket ceiling for QoS 1 publishing under the broker's Receive Maximum: that many
 * in flight, refilled in one message once half of them are acknowledged (as mqtt-rtc does:
 * one PUBLISH per PUBACK costs a `send` each). What a client that keeps to Receive Maximum
 * can reach on this broker with no work of its own.
 */
export async function rawQos1({ url, n, topic }) {
  const pkt = mqttPublish(topic, payload(), { qos: 1, pid: 1 });
  const pidAt = pkt.length - payload().length - 3; // packet id, then the empty property block
  let sent = 0;
  let acked = 0;
  let freed = 0;
  let half = 1; // until CONNACK gives the window
  let finished;
  const done = new Promise((ok) => { finished = ok; });
  let ws = null;
  const send = (k) => {
    const m = new Uint8Array(k * pkt.length);
    for (let j = 0; j < k; j++) {
      const at = j * pkt.length;
      m.set(pkt, at);
      const id = (sent++ % 65535) + 1;
      m[at + pidAt] = id >> 8;
      m[at + pidAt + 1] = id & 0xff;
    }
    ws.send(m);
  };
  ws = await rawConnect(url, (type) => {
    if (type !== 4) return;
    freed++;
    if (++acked === n) finished();
  }, () => {
    if (freed < half) return;
    const k = Math.min(freed, n - sent);
    freed = 0;
    if (k > 0) send(k);
  });
  const window = ws.receiveMaximum;
  half = Math.ceil(window / 2);
  const t0 = performance.now();
  send(Math.min(window, n));
  let seen = -1;
  while (await Promise.race([done.then(() => true), sleep(5000)]) !== true) {
    if (acked === seen) throw new Error(`raw QoS 1 stalled at ${acked} of ${n} acknowledged`);
    seen = acked;
  }
  const ms = performance.now() - t0;
  ws.close();
  return { rate: n / (ms / 1000), ms, window };
}

/** Round trip at light load: QoS 0 publish to a topic this client subscribes to, one at a time. */
export async function roundTrip({ lib, url, n, topic }) {
  const c = await connect(lib, url);
  let arrived;
  let badSize = 0;
  await c.subscribe(topic, 0, (_t, p) => {
    if (p.length !== 100) badSize++;
    arrived();
  });
  const p = payload();
  const samples = [];
  for (let i = 0; i < n + 50; i++) {
    const got = new Promise((ok) => { arrived = ok; });
    const t0 = performance.now();
    c.publish(topic, p, 0);
    await got;
    if (i >= 50) samples.push(performance.now() - t0); // the first 50 warm up
  }
  await c.end();
  samples.sort((a, b) => a - b);
  const q = (f) => samples[Math.min(samples.length - 1, Math.floor(f * samples.length))];
  return { p50: q(0.5), p99: q(0.99), badSize };
}

// --- receive workloads: set up here, fed by the Node publisher, then awaited -------------

let recv = null;

function newCounter(endTopic) {
  const st = { count: 0, first: 0, last: 0, bytes: 0, ended: false };
  st.done = new Promise((ok) => { st.finish = ok; });
  st.onData = (topic, p) => {
    const now = performance.now();
    if (topic === endTopic) {
      st.ended = true;
      st.finish();
      return;
    }
    if (st.count === 0) st.first = now;
    st.count++;
    st.bytes += p.length;
    st.last = now;
  };
  return st;
}

/**
 * Subscribes (QoS 0) to `filters` plus `endTopic` (QoS 1; the publisher's last message) and
 * returns; Node then starts the publisher and calls receiveWait.
 */
export async function receiveSetup({ lib, url, filters, endTopic }) {
  const st = newCounter(endTopic);
  st.lib = lib;
  if (lib === 'raw') {
    const pid = { n: 1 };
    let subacks = 0;
    let subacked;
    const allAcked = new Promise((ok) => { subacked = ok; });
    const dec = new TextDecoder();
    st.ws = await rawConnect(url, (type, flags, buf, off, len) => {
      if (type === 3) {
        // PUBLISH, QoS 0 or 1: topic, [packet id], property length (1-byte varint here), payload
        const qos = (flags >> 1) & 3;
        const tlen = (buf[off] << 8) | buf[off + 1];
        let o = off + 2 + tlen;
        if (qos) o += 2;
        o += 1;
        const plen = len - (o - off);
        if (qos) {
          // Only the end marker is QoS 1: compare the topic and acknowledge it.
          const topic = dec.decode(buf.subarray(off + 2, off + 2 + tlen));
          st.ws.send(Uint8Array.from([0x40, 2, buf[off + 2 + tlen], buf[off + 3 + tlen]]));
          st.onData(topic, { length: plen });
        } else st.onData('', { length: plen });
      } else if (type === 9 && ++subacks === filters.length + 1) subacked();
    });
    for (const f of filters) st.ws.send(subscribePacket(pid.n++, f, 0));
    st.ws.send(subscribePacket(pid.n++, endTopic, 1));
    await allAcked;
  } else {
    st.client = await connect(lib, url);
    for (let i = 0; i < filters.length; i += 500) {
      await st.client.subscribe(filters.slice(i, i + 500), 0, st.onData);
    }
    await st.client.subscribe(endTopic, 1, st.onData);
  }
  recv = st;
  return { subscribed: filters.length };
}

/** Connects a client for the subscription workload without subscribing (memory baseline). */
export async function receiveConnect({ lib, url, endTopic }) {
  const st = newCounter(endTopic);
  st.client = await connect(lib, url);
  recv = st;
}

/** The subscription workload's subscribe step, after receiveConnect. */
export async function receiveSubscribe({ filters, endTopic }) {
  const st = recv;
  const t0 = performance.now();
  for (let i = 0; i < filters.length; i += 500) {
    await st.client.subscribe(filters.slice(i, i + 500), 0, st.onData);
  }
  await st.client.subscribe(endTopic, 1, st.onData);
  return { subscribeMs: performance.now() - t0 };
}

/** Waits for the end marker (or `idleMs` without traffic) and reports the receive rate. */
export async function receiveWait({ idleMs = 5000 }) {
  const st = recv;
  let lastCount = -1;
  while (!st.ended) {
    const tick = new Promise((ok) => setTimeout(ok, idleMs));
    await Promise.race([st.done, tick]);
    if (st.ended || st.count === lastCount) break;
    lastCount = st.count;
  }
  const ms = st.last - st.first;
  return { wsMessages: st.ws ? st.ws.messages : undefined, count: st.count, bytes: st.bytes, ms, rate: st.count > 1 ? (st.count - 1) / (ms / 1000) : 0, ended: st.ended };
}

/** Closes the receive workload's client. */
export async function receiveEnd() {
  const st = recv;
  recv = null;
  if (st.ws) st.ws.close();
  if (st.client) await st.client.end();
}

/** Bytes of wasm linear memory (mqtt-rtc's heap; it never shrinks). */
export function wasmBytes() {
  return wasmMemory.buffer.byteLength;
}
