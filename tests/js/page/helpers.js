// Browser-side helpers for the test scenarios (window.t in the test page).

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** A unique topic / client id part, so tests never see each other's messages. */
export function uid(prefix = 'js') {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Rejects with a readable error when `promise` takes longer than `ms`. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, fail) => {
      // `what` may be a function, to describe the state at the time of the timeout.
      timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms: ${typeof what === 'function' ? what() : what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The next `event` of `client` (its first argument). */
export function once(client, event, ms = 5000) {
  let listener;
  const p = new Promise((ok) => {
    listener = (arg) => ok(arg);
    client.on(event, listener);
  });
  return within(p, ms, `event "${event}"`).finally(() => client.off(event, listener));
}

/** Records every `event` of `client`; `until(n)` waits for n records. */
export function record(client, event = 'message') {
  const items = [];
  let waiters = [];
  const listener = (arg) => {
    items.push(arg);
    waiters = waiters.filter((w) => (items.length >= w.n ? (w.ok(), false) : true));
  };
  client.on(event, listener);
  return {
    items,
    until(n, ms = 5000) {
      if (items.length >= n) return Promise.resolve(items);
      const p = new Promise((ok) => waiters.push({ n, ok }));
      return within(p.then(() => items), ms, `${n} "${event}" events (have ${items.length})`);
    },
    stop() { client.off(event, listener); },
  };
}

/** Records everything a subscription listener receives (pass `.fn` to subscribe). */
export function sink() {
  const items = [];
  let waiters = [];
  const fn = (m) => {
    items.push(m);
    waiters = waiters.filter((w) => (items.length >= w.n ? (w.ok(), false) : true));
  };
  return {
    fn,
    items,
    until(n, ms = 5000) {
      if (items.length >= n) return Promise.resolve(items);
      const p = new Promise((ok) => waiters.push({ n, ok }));
      return within(p.then(() => items), ms, `${n} messages (have ${items.length})`);
    },
  };
}

/** Calls the broker control endpoint: stop | start | restart | freeze | thaw. */
export async function control(base, action) {
  const r = await fetch(`${base}/broker/${action}`, { method: 'POST' });
  const body = await r.json();
  if (!r.ok || !body.ok) throw new Error(`control ${action} failed: ${JSON.stringify(body)}`);
  return body;
}

/** Deterministic pseudo-random bytes. */
export function bytes(n, seed = 1) {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function sameBytes(a, b) {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A rejection's MqttError as plain data (or throws when the promise resolved). */
export async function rejection(promise) {
  try {
    const v = await promise;
    return { resolved: true, value: JSON.stringify(v) };
  } catch (e) {
    return {
      code: e?.code, reasonCode: e?.reasonCode, message: String(e?.message),
      isMqttError: e instanceof window.mqtt.MqttError, isError: e instanceof Error,
    };
  }
}

/** Ends clients, ignoring errors (cleanup in finally blocks). */
export async function endAll(...clients) {
  await Promise.all(clients.filter(Boolean).map((c) => within(c.end({ force: true }), 3000, 'end').catch(() => {})));
}

/**
 * Resolves once `fn()` is truthy (checked every 20 ms), with its value; rejects with a
 * readable error after `ms`. For conditions no event announces.
 */
export async function waitFor(fn, ms = 5000, what = 'condition') {
  const t0 = performance.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`);
    await sleep(20);
  }
}

/** Records every `state` event with the `state` getter read inside the listener. */
export function states(client) {
  const seen = [];
  client.on('state', (s) => seen.push([s, client.state]));
  return seen;
}
