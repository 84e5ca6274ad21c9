// MQTT packet bytes for the benchmark's baselines, shared by the page (raw WebSocket
// sender) and the Node.js side (the native TCP publisher): plain Uint8Arrays, no
// dependencies, so the same module loads in both.
const enc = new TextEncoder();

/** A variable byte integer (the remaining length). */
export function varint(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A length-prefixed UTF-8 string. */
export function str(s) {
  const b = enc.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** A packet: the first byte, the remaining length, the body. */
export function packet(first, body) {
  return Uint8Array.from([first, ...varint(body.length), ...body]);
}

/**
 * A PUBLISH of `payload` (Uint8Array) to `topic`: `qos` 0 or 1 (then `pid`), MQTT 5 (an
 * empty property block) unless `v5` is false. Built with one copy of the payload.
 */
export function publishPacket(topic, payload, { qos = 0, pid = 0, v5 = true } = {}) {
  const head = [...str(topic), ...(qos ? [pid >> 8, pid & 0xff] : []), ...(v5 ? [0] : [])];
  const len = varint(head.length + payload.length);
  const out = new Uint8Array(1 + len.length + head.length + payload.length);
  out[0] = 0x30 | (qos << 1);
  out.set(len, 1);
  out.set(head, 1 + len.length);
  out.set(payload, 1 + len.length + head.length);
  return out;
}
