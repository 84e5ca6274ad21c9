// Scripts run in a test page before any other script (pass one as `init` to
// `browser.page` / `withPage`). They wrap browser APIs so a test can see or steer what
// the package does with them, without touching the package.

/**
 * A network switch for WebSockets (window.net): `net.block(url)` makes new sockets to
 * `url` fail as a refused connection would, `net.cut(url)` closes the open ones (the
 * client sees the connection drop; the broker sees no DISCONNECT), `net.unblock(url)`
 * lets them through again. `net.lastRx(url)` is when the open socket last received data
 * (performance.now()), `net.opened` counts sockets created, `net.states(url)` lists the
 * readyState of every socket created for `url`.
 */
export function netGate() {
  const Ws = window.WebSocket;
  const blocked = new Set();
  const open = new Set();
  const all = [];
  const net = {
    states(url) { return all.filter((s) => s.__target === url).map((s) => s.readyState); },
    opened: 0,
    block(url) { blocked.add(url); },
    unblock(url) { blocked.delete(url); },
    cut(url) {
      let n = 0;
      for (const s of open) if (s.__target === url && s.readyState <= 1) { s.close(); n += 1; }
      return n;
    },
    lastRx(url) {
      let at = null;
      for (const s of open) if (s.__target === url && s.readyState === 1) at = s.__lastRx;
      return at;
    },
  };
  window.net = net;
  window.WebSocket = class extends Ws {
    constructor(url, ...rest) {
      // Port 9 (discard) is closed on this machine: the socket fails at once.
      super(blocked.has(String(url)) ? 'ws://127.0.0.1:9' : url, ...rest);
      this.__target = String(url);
      this.__lastRx = null;
      net.opened += 1;
      open.add(this);
      all.push(this);
      this.addEventListener('message', () => { this.__lastRx = performance.now(); });
      this.addEventListener('close', () => { open.delete(this); });
    }
  };
}

/**
 * Records every RTCPeerConnection the page creates (window.pcs, in creation order) and
 * every data channel each one announces (`pc.remoteChannels`), so a test can compare
 * what the package reports with what the browser did.
 */
export function pcRecorder() {
  const Original = window.RTCPeerConnection;
  window.pcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) {
      super(...args);
      this.config = args[0];
      this.remoteChannels = [];
      this.addEventListener('datachannel', (e) => this.remoteChannels.push(e.channel));
      window.pcs.push(this);
    }
  };
}

/** Tracks pending setTimeout timers (window.liveTimers, a Set of ids). */
export function timerTracker() {
  const live = new Set();
  window.liveTimers = live;
  const st = window.setTimeout.bind(window);
  const ct = window.clearTimeout.bind(window);
  window.setTimeout = (fn, ms, ...a) => {
    const id = st((...x) => { live.delete(id); if (typeof fn === 'function') fn(...x); }, ms, ...a);
    live.add(id);
    return id;
  };
  window.clearTimeout = (id) => { live.delete(id); ct(id); };
}
