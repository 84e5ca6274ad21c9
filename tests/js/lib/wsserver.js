// A scripted WebSocket "broker" for tests that need a peer Mosquitto would never be:
// malformed or abusive MQTT, text frames, one huge message packed with packets, a frame
// trickled slowly. It speaks just enough RFC 6455 by hand (no npm package): the upgrade,
// unmasking of client frames, and server frames of any size. What it sends is up to the
// test's script; what the client sends arrives as whole MQTT packets.
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One server-to-client frame: `opcode` 0x2 binary, 0x1 text, 0x8 close, ...; `fin` false for a fragment. */
export function frame(payload, { opcode = 0x2, fin = true } = {}) {
  const body = Buffer.from(payload);
  const n = body.length;
  const head = n < 126 ? Buffer.from([0, n])
    : n < 65536 ? Buffer.from([0, 126, n >> 8, n & 0xff])
      : Buffer.concat([Buffer.from([0, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  head[0] = (fin ? 0x80 : 0) | opcode;
  return Buffer.concat([head, body]);
}

/** An MQTT fixed header + body: `type` is the first byte (0x20 CONNACK, 0x30 PUBLISH, ...). */
export function packet(first, body = []) {
  const b = Buffer.from(body);
  const len = [];
  let n = b.length;
  do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 0x80; len.push(d); } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), b]);
}

/** CONNACK accepting the session: MQTT 5 with an empty property list, or 3.1.1. */
export function connack({ v5 = true, sessionPresent = false, reason = 0 } = {}) {
  return packet(0x20, v5 ? [sessionPresent ? 1 : 0, reason, 0] : [sessionPresent ? 1 : 0, reason]);
}

/** Splits a client's MQTT bytes into packets; returns [packets, rest]. */
function splitPackets(buf) {
  const out = [];
  let at = 0;
  for (;;) {
    let len = 0; let mult = 1; let i = at + 1;
    for (; i < buf.length; i++) { len += (buf[i] & 0x7f) * mult; mult *= 128; if (!(buf[i] & 0x80)) break; }
    if (i >= buf.length || i + 1 + len > buf.length) return [out, buf.subarray(at)];
    out.push({ type: buf[at] >> 4, flags: buf[at] & 0x0f, body: buf.subarray(i + 1, i + 1 + len) });
    at = i + 1 + len;
  }
}

/**
 * Starts the server on a loopback port. `onConnection(conn)` runs for each client once the
 * upgrade is done; `conn.packets` is an async iterator of the client's MQTT packets
 * ({ type, flags, body }), `conn.next(type?)` waits for the next one (of that type),
 * `conn.send(bytes)` sends one binary message, `conn.raw(bytes)` writes bytes as they are
 * (for hand-made frames), `conn.close(code)` / `conn.destroy()` / `conn.reset()` end it.
 * Resolves with { url, connections, close() }.
 */
export async function startWsServer(onConnection) {
  const sockets = new Set();
  const connections = [];
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let head = Buffer.alloc(0);
    let upgraded = false;
    let wire = Buffer.alloc(0); // unparsed frame bytes from the client
    let mqtt = Buffer.alloc(0); // unparsed MQTT bytes
    const queue = [];
    const waiters = [];
    const conn = {
      closed: false,
      send: (bytes) => { if (!s.destroyed) s.write(frame(bytes)); },
      raw: (bytes) => { if (!s.destroyed) s.write(Buffer.from(bytes)); },
      close: (code = 1000) => { if (!s.destroyed) s.end(frame(Buffer.from([code >> 8, code & 0xff]), { opcode: 0x8 })); },
      destroy: () => s.destroy(),
      /** Ends the TCP connection with a reset (RST), as a crashed peer or a middlebox would. */
      reset: () => { if (!s.destroyed) s.resetAndDestroy(); },
      /**
       * The next client packet (of `type`, skipping others; those stay queued); rejects if
       * the socket ends first, or after `timeoutMs` (Infinity: no bound).
       */
      next(type, timeoutMs = 10_000) {
        return new Promise((ok, fail) => {
          const timer = timeoutMs === Infinity ? undefined
            : setTimeout(() => fail(new Error(`no packet of type ${type} within ${timeoutMs} ms`)), timeoutMs);
          const take = () => {
            const i = queue.findIndex((p) => type === undefined || p.type === type);
            if (i >= 0) { clearTimeout(timer); ok(queue.splice(i, 1)[0]); return true; }
            if (conn.closed) { clearTimeout(timer); fail(new Error('the client closed the connection')); return true; }
            return false;
          };
          if (!take()) waiters.push(take);
        });
      },
    };
    /** Every client packet in order, until the socket ends. */
    conn.packets = {
      async* [Symbol.asyncIterator]() {
        for (;;) {
          try { yield await conn.next(undefined, Infinity); } catch { return; }
        }
      },
    };
    const wake = () => { for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]()) waiters.splice(i, 1); };
    s.on('close', () => { conn.closed = true; wake(); });
    s.on('data', (d) => {
      if (!upgraded) {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        const key = /sec-websocket-key: *(\S+)/i.exec(text)?.[1] ?? '';
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
        upgraded = true;
        d = head.subarray(end + 4);
        connections.push(conn);
        Promise.resolve().then(() => onConnection(conn)).catch(() => s.destroy());
      }
      wire = Buffer.concat([wire, d]);
      // Client frames are always masked; fragments are joined by their payloads alone.
      while (wire.length >= 2) {
        const opcode = wire[0] & 0x0f;
        let len = wire[1] & 0x7f; let at = 2;
        if (len === 126) { if (wire.length < 4) break; len = wire.readUInt16BE(2); at = 4; }
        else if (len === 127) { if (wire.length < 10) break; len = Number(wire.readBigUInt64BE(2)); at = 10; }
        if (wire.length < at + 4 + len) break;
        const mask = wire.subarray(at, at + 4);
        const payload = Buffer.from(wire.subarray(at + 4, at + 4 + len));
        for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
        wire = wire.subarray(at + 4 + len);
        if (opcode === 0x8) { s.end(); continue; }
        if (opcode !== 0x0 && opcode !== 0x2) continue; // pings and text are not MQTT
        mqtt = Buffer.concat([mqtt, payload]);
        const [packets, rest] = splitPackets(mqtt);
        mqtt = Buffer.from(rest);
        queue.push(...packets);
      }
      wake();
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    connections,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((ok) => server.close(ok)); },
  };
}
