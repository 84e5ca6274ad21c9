// Browser-side helpers for the WebRTC scenarios: two RtcPeers in one page with their
// signals wired straight to each other (no MQTT), and waits on peer/channel events.
import { RtcPeer } from '/pkg/mqtt_rtc.js';
import { within } from '/helpers.js';

export { RtcPeer };

/**
 * Creates two peers (a is polite unless options say otherwise) whose signals go straight
 * to each other. `info` records the first offer's time, signal counts and any rejection.
 */
export function pair(optionsA = {}, optionsB = {}) {
  const a = new RtcPeer({ polite: true, ...optionsA });
  const b = new RtcPeer({ polite: false, ...optionsB });
  const info = { firstOfferAt: null, signals: 0, rejections: [], errors: [] };
  const forward = (from, to) => from.on('signal', (m) => {
    if (m.type === 'offer' && info.firstOfferAt === null) info.firstOfferAt = performance.now();
    info.signals += 1;
    // A signal still in flight when the other side closed is rejected with CLOSED: expected.
    to.signal(m).catch((e) => { if (e.code !== 'CLOSED') info.rejections.push(`${e.code}: ${e.message}`); });
  });
  forward(a, b);
  forward(b, a);
  for (const p of [a, b]) p.on('error', (e) => info.errors.push(`${e.code}: ${e.message}`));
  return { a, b, info, close() { a.close(); b.close(); } };
}

/** Resolves once `peer` is connected (at once when it already is). */
export function connected(peer, ms = 10_000) {
  if (peer.connectionState === 'connected') return Promise.resolve();
  let listener;
  const p = new Promise((ok) => { listener = () => ok(); peer.on('connect', listener); });
  return within(p, ms, () => `connect (state ${peer.connectionState})`).finally(() => peer.off('connect', listener));
}

/** The next remote channel `peer` announces. */
export function nextChannel(peer, ms = 10_000) {
  let listener;
  const p = new Promise((ok) => { listener = (c) => ok(c); peer.on('channel', listener); });
  return within(p, ms, () => `a "channel" event (connection ${peer.connectionState})`).finally(() => peer.off('channel', listener));
}

/** Resolves once `channel` is open. */
export function opened(channel, ms = 10_000) {
  if (channel.readyState === 'open') return Promise.resolve(channel);
  let listener;
  const p = new Promise((ok) => { listener = () => ok(channel); channel.on('open', listener); });
  return within(p, ms, `channel "${channel.label}" open`).finally(() => channel.off('open', listener));
}

/** Records the messages of `channel`; `until(n)` waits for n of them. */
export function inbox(channel) {
  const items = [];
  let waiters = [];
  channel.on('message', (m) => {
    items.push(m);
    waiters = waiters.filter((w) => (items.length >= w.n ? (w.ok(), false) : true));
  });
  return {
    items,
    until(n, ms = 10_000) {
      if (items.length >= n) return Promise.resolve(items);
      const p = new Promise((ok) => waiters.push({ n, ok }));
      return within(p.then(() => items), ms, `${n} messages on "${channel.label}" (have ${items.length})`);
    },
  };
}

/**
 * A connected pair with one open channel `label` on both sides:
 * { a, b, info, ca (a's end), cb (b's end), connectMs }.
 */
export async function channelPair(label = 'data', options = {}, peerOptions = [{}, {}]) {
  const p = pair(...peerOptions);
  const announced = nextChannel(p.b);
  const ca = p.a.createChannel(label, options);
  const cb = await announced;
  await Promise.all([connected(p.a), connected(p.b), opened(ca), opened(cb)]);
  p.connectMs = performance.now() - p.info.firstOfferAt;
  return Object.assign(p, { ca, cb });
}

/** Adler-32-like running checksum over byte arrays (order-sensitive). */
export function checksum() {
  let a = 1;
  let b = 0;
  return {
    add(bytes) {
      for (let i = 0; i < bytes.length; i++) {
        a = (a + bytes[i]) % 65521;
        b = (b + a) % 65521;
      }
    },
    get value() { return ((b << 16) | a) >>> 0; },
  };
}
