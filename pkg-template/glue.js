
// ---- mqtt-rtc additions (pkg-template/glue.js, appended by tools/build-pkg.sh) ----------

// Until init() has run, `wasm` is this object: any call into the module throws an error
// that says what to do, instead of "Cannot read properties of undefined".
function __mqttRtcUninitialised() {
  return new Proxy({}, {
    get(_, key) {
      if (key === Symbol.for('mqtt-rtc.uninitialised')) return true;
      throw new Error('mqtt-rtc is not initialised: call `await init()` (the default export of "mqtt-rtc") once before using MqttClient or any other export');
    },
  });
}

// init() with no argument fetches mqtt_rtc_bg.wasm next to this file; Node.js cannot fetch
// a file: URL, so there it is read from disk. (A variable specifier, so bundlers leave the
// import alone: it never runs in a browser.)
async function __mqttRtcInit(input) {
  if (input === undefined && typeof process === 'object' && process?.versions?.node) {
    const fs = 'node:fs/promises';
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fs);
    input = { module_or_path: await readFile(new URL('mqtt_rtc_bg.wasm', import.meta.url)) };
  }
  return __wbg_init(input);
}

// on() and off() return the object they were called on, for chaining: the handle the
// module returns is another JS object for the same Rust value, so it is freed at once.
function __mqttRtcChain(C) {
  for (const name of ['on', 'off']) {
    const f = C.prototype[name];
    if (typeof f !== 'function') continue;
    C.prototype[name] = function (...args) {
      const r = f.apply(this, args);
      if (r && r !== this && typeof r.free === 'function') r.free();
      return this;
    };
  }
}
