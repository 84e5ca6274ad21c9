// mqtt-rtc sample dashboard: devices from their retained status, live values and charts,
// commands as MQTT 5 request/response, a topic explorer, and live camera views over WebRTC
// signaled through MQTT. Built on the library only (plain ES modules, no framework).
import { Sparkline } from "./chart.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const HISTORY_MS = 5 * 60 * 1000;
const LOG_LIMIT = 500;
const REPLY_TIMEOUT_MS = 5000;

const ui = {
  url: $("url"), username: $("username"), password: $("password"), protocol: $("protocol"),
  connect: $("connect"), disconnect: $("disconnect"), state: $("state"), countdown: $("countdown"),
  session: $("session"), banner: $("banner"), stats: $("stats"), devices: $("devices"),
  deviceCount: $("device-count"), showOffline: $("show-offline"), log: $("log"), logInfo: $("log-info"),
  logFilter: $("log-filter"), cameras: $("cameras"), viewer: $("viewer"), viewerName: $("viewer-name"),
  remote: $("remote"), camStats: $("cam-stats"), chat: $("chat"), chatSend: $("chat-send"), chatLog: $("chat-log"),
  camTelemetry: $("cam-telemetry"),
};

let lib = null; // the mqtt-rtc module
let client = null;
let signaling = null;
let call = null; // { peer, channel, peerId, timer }
let countdownTimer = null;
let attemptId = 0; // the current connect() run; older runs stop when it changes
let abort = null; // AbortController of a connect in progress
let explorerFilter = null;
const devices = new Map(); // id -> { id, tile, meta, online, since, lastAt, metrics: Map(name -> {value, chart}) }
const pendingReplies = new Map(); // correlation hex -> { el, timer, action, device }
const logLines = [];
let logTotal = 0;

ui.url.value = params.get("broker") || localStorage.getItem("mqtt-rtc.broker") || `ws://${location.hostname || "127.0.0.1"}:18831`;
ui.username.value = params.get("username") ?? localStorage.getItem("mqtt-rtc.username") ?? "";
if (params.get("protocol") === "4") ui.protocol.value = "4";

// ---------------------------------------------------------------- small helpers

function showBanner(text, kind = "error") {
  ui.banner.textContent = text;
  ui.banner.className = `banner show ${kind}`;
}
function hideBanner() { ui.banner.className = "banner"; ui.banner.textContent = ""; }

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
function fmtAgo(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
function describe(e) { return `${e?.code ?? "ERROR"}: ${e?.message ?? e}`; }
function report(e) { console.error(e); showBanner(describe(e)); }

// Nothing may fail silently: show what escaped every other handler.
window.addEventListener("unhandledrejection", (ev) => { ev.preventDefault(); report(ev.reason); });

// ---------------------------------------------------------------- connection state

const STATE_TEXT = { connecting: "connecting…", connected: "connected", reconnecting: "reconnecting…", offline: "offline", closed: "disconnected" };

function setState(s) {
  ui.state.dataset.state = s;
  ui.state.textContent = STATE_TEXT[s] ?? s;
  document.body.dataset.state = s;
  const busy = s !== "closed";
  ui.connect.disabled = busy;
  ui.disconnect.disabled = !busy;
  for (const el of [ui.url, ui.username, ui.password, ui.protocol]) el.disabled = busy;
  if (s === "connected") { hideBanner(); stopCountdown(); }
  ui.session.textContent = client && s !== "closed" ? `${client.clientId} · MQTT ${client.protocolVersion === 5 ? "5.0" : "3.1.1"}` : "";
  renderStats();
}

function startCountdown(delay, attempt) {
  stopCountdown();
  const until = performance.now() + delay;
  ui.countdown.classList.remove("hidden");
  const tick = () => {
    const left = Math.max(0, until - performance.now());
    const text = left > 0 ? `retrying in ${(left / 1000).toFixed(1)} s` : "retrying…";
    ui.countdown.textContent = text;
    showBanner(`The broker connection is lost. Reconnect attempt ${attempt}: ${text}.`, "info");
    if (left <= 0) { clearInterval(countdownTimer); countdownTimer = null; }
  };
  tick();
  countdownTimer = setInterval(tick, 100);
}
function stopCountdown() {
  clearInterval(countdownTimer);
  countdownTimer = null;
  ui.countdown.classList.add("hidden");
}

function renderStats() {
  if (!client) {
    ui.stats.innerHTML = "";
    return;
  }
  const s = client.stats();
  const cells = [
    ["sent", s.messagesSent], ["received", s.messagesReceived],
    ["bytes out", fmtBytes(s.bytesSent)], ["bytes in", fmtBytes(s.bytesReceived)],
    ["in flight", s.inflight], ["queued", s.queued], ["reconnects", s.reconnects],
    ["ping rtt", s.lastPingRtt === undefined || s.lastPingRtt === null ? "–" : `${Math.round(s.lastPingRtt)} ms`],
  ];
  ui.stats.innerHTML = cells.map(([k, v]) => `<div><b>${v}</b><span>${k}</span></div>`).join("");
}

function tick() {
  renderStats();
  const now = Date.now();
  for (const d of devices.values()) {
    const seen = d.tile.querySelector(".seen");
    if (d.lastAt) seen.textContent = `updated ${fmtAgo(now - d.lastAt)}`;
  }
}
setInterval(tick, 1000);

// ---------------------------------------------------------------- connect / disconnect

function connectHint(e) {
  switch (e?.code) {
    case "NOT_AUTHORIZED": return "The broker refused these credentials: check the username and password.";
    case "REFUSED": return "The broker refused the connection.";
    case "CONNECT_TIMEOUT": return "No answer from the broker in time: is the URL right, and is the broker up?";
    case "INVALID_ARGUMENT": return "Check the broker URL: it must start with ws:// or wss://.";
    case "ABORTED": return "";
    default: return "Is the broker running, and is the URL right (ws://host:port)?";
  }
}

async function connect() {
  const id = ++attemptId;
  hideBanner();
  const url = ui.url.value.trim();
  if (!/^wss?:\/\/[^/\s]+/i.test(url)) {
    showBanner("The broker URL must look like ws://host:port or wss://host/path.");
    return;
  }
  localStorage.setItem("mqtt-rtc.broker", url);
  localStorage.setItem("mqtt-rtc.username", ui.username.value);
  const clientId = `dashboard-${Math.random().toString(16).slice(2, 10)}`;
  abort = new AbortController();
  const options = {
    clientId,
    protocolVersion: Number(ui.protocol.value),
    keepalive: 20,
    connectTimeout: 8000,
    reconnect: { initialDelay: 1000, maxDelay: 15000 },
    will: lib.MqttSignaling.will("cameras", clientId),
    signal: abort.signal,
    logLevel: "warn",
  };
  if (ui.username.value) options.username = ui.username.value;
  if (ui.password.value) options.password = ui.password.value;
  setState("connecting");
  showBanner(`Connecting to ${url}…`, "info");
  // The first connect settles: a wrong URL or refused credentials reject it at once,
  // with the URL and the cause in the message. Once connected, the client reconnects
  // by itself.
  try {
    client = await lib.MqttClient.connect(url, options);
  } catch (e) {
    if (id !== attemptId) return;
    client = null;
    setState("closed");
    showBanner(`Could not connect: ${e.message} (${e.code ?? "ERROR"}). ${connectHint(e)}`);
    return;
  }
  if (id !== attemptId) { client?.end({ force: true }).catch(() => {}); return; }
  wireClient(client);
  setState(client.state);
  await subscribeAll();
  await subscribeExplorer().catch(report); // a bad filter in the explorer must not stop the rest
  await startSignaling(clientId);
}

function wireClient(c) {
  c.on("state", (s) => { if (c === client) setState(s); })
    .on("reconnecting", ({ delay, attempt }) => { if (c === client) startCountdown(delay, attempt); })
    .on("connect", () => { if (c === client) { hideBanner(); stopCountdown(); } })
    .on("error", (e) => {
      if (c !== client) return;
      if (e.code === "NOT_AUTHORIZED") showBanner("The broker no longer accepts these credentials (NOT_AUTHORIZED); still retrying.");
      else if (["KEEPALIVE_TIMEOUT", "CONNECTION_LOST", "SERVER_DISCONNECT", "CONNECT_TIMEOUT"].includes(e.code)) {
        if (!countdownTimer) showBanner(`The broker connection is lost (${e.code}); reconnecting…`, "info");
      } else showBanner(describe(e));
    })
    .on("close", () => {
      if (c !== client) return;
      stopCountdown();
      setState("closed");
      showBanner("The connection is closed: the client gave up reconnecting. Connect again when the broker is back.");
    });
}

async function disconnect() {
  attemptId++;
  abort?.abort();
  stopCountdown();
  hangUp();
  const c = client;
  const s = signaling;
  signaling = null;
  explorerFilter = null;
  if (s) await s.stop().catch(() => { /* already gone */ });
  client = null;
  if (c) await c.end({ timeout: 2000 }).catch(() => c.end({ force: true }).catch(() => {}));
  setState("closed");
  hideBanner();
  renderCameras();
  for (const d of devices.values()) d.tile.classList.add("stale");
}

$("connect-form").addEventListener("submit", (e) => { e.preventDefault(); connect().catch(report); });
ui.disconnect.addEventListener("click", () => disconnect().catch(report));

// ---------------------------------------------------------------- devices

async function subscribeAll() {
  await client.subscribe(["sensors/+/status", "sensors/+/meta"], { qos: 1 }, onDeviceInfo);
  await client.subscribe("sensors/+/+", { qos: 0 }, onTelemetry);
  await client.subscribe(`dashboard/${client.clientId}/reply`, { qos: 1 }, onReply);
}

function device(id) {
  let d = devices.get(id);
  if (d) return d;
  if (devices.size === 0) ui.devices.innerHTML = "";
  const tile = document.createElement("article");
  tile.className = "tile offline";
  tile.dataset.device = id;
  tile.dataset.status = "unknown";
  tile.innerHTML = `<header><div><h3>${esc(id)}</h3><div class="sub"><span class="kind"></span> · <span class="id">${esc(id)}</span></div></div>
    <span class="pill">unknown</span></header>
    <div class="metrics"></div><div class="commands"></div><div class="reply"></div><div class="seen"></div>`;
  d = { id, tile, meta: {}, online: false, since: 0, lastAt: 0, metrics: new Map(), values: {} };
  devices.set(id, d);
  place(d);
  renderDeviceCount();
  return d;
}

// Online devices first, then by id: whatever order they announce themselves in, and
// devices gone offline long ago do not push the live ones down.
function place(d) {
  const key = (x) => `${x.online ? 0 : 1}${x.id}`;
  const next = [...devices.values()].filter((o) => o !== d && o.tile.isConnected && key(o) > key(d))
    .sort((a, b) => (key(a) < key(b) ? -1 : 1))[0];
  if (d.tile.nextElementSibling === (next?.tile ?? null) && d.tile.isConnected) return;
  ui.devices.insertBefore(d.tile, next?.tile ?? null);
}

function renderDeviceCount() {
  const all = [...devices.values()];
  const online = all.filter((d) => d.online).length;
  ui.deviceCount.textContent = all.length ? `${online} online · ${all.length - online} offline` : "";
}

function setOnline(d, online) {
  const moved = d.online !== online;
  d.online = online;
  if (moved) place(d);
  d.tile.classList.toggle("offline", !online);
  d.tile.classList.remove("stale");
  d.tile.dataset.status = online ? "online" : "offline";
  d.tile.querySelector(".pill").textContent = online ? "online" : "offline";
  for (const b of d.tile.querySelectorAll(".commands button, .commands input")) b.disabled = !online;
  renderDeviceCount();
}

function onDeviceInfo(m) {
  const [, id, kind] = m.topic.split("/");
  if (kind === "status") {
    const text = m.text();
    if (!text) { // status cleared: the device is gone for good
      const d = devices.get(id);
      if (d) { d.tile.remove(); devices.delete(id); renderDeviceCount(); }
      if (devices.size === 0) ui.devices.innerHTML = `<div class="empty">No devices.</div>`;
      return;
    }
    setOnline(device(id), text === "online");
  } else if (kind === "meta") {
    let meta;
    try { meta = JSON.parse(m.text()); } catch { return; }
    if (!meta || typeof meta !== "object") return;
    const d = device(id);
    d.meta = meta;
    d.tile.querySelector("h3").textContent = meta.name || id;
    d.tile.querySelector(".kind").textContent = meta.kind || "device";
    for (const metric of meta.metrics ?? []) metricRow(d, metric); // rows in the device's order
    renderCommands(d);
  }
}

function metricRow(d, metric) {
  let entry = d.metrics.get(metric);
  if (entry) return entry;
  const row = document.createElement("div");
  row.className = "metric";
  row.dataset.metric = metric;
  row.innerHTML = `<span class="name">${esc(metric)}</span><canvas aria-hidden="true"></canvas><span class="value">–</span>`;
  d.tile.querySelector(".metrics").append(row);
  const isBool = metric === "locked";
  entry = { row, value: row.querySelector(".value"), chart: new Sparkline(row.querySelector("canvas"), HISTORY_MS, { step: isBool }) };
  d.metrics.set(metric, entry);
  return entry;
}

function fmtValue(d, metric, text) {
  if (text === "true" || text === "false") {
    if (metric === "locked") return text === "true" ? "locked" : "unlocked";
    return text;
  }
  const unit = d.meta.unit?.[metric] ?? "";
  return unit ? `${text} ${unit}` : text;
}

function onTelemetry(m) {
  const [, id, metric] = m.topic.split("/");
  if (metric === "status" || metric === "meta" || metric === "cmd") return;
  const d = device(id);
  const entry = metricRow(d, metric);
  const text = m.text().trim();
  entry.value.textContent = fmtValue(d, metric, text);
  entry.row.dataset.value = text;
  if (metric === "locked") entry.row.classList.toggle("unlocked", text === "false");
  d.values[metric] = text;
  d.lastAt = Date.now();
  d.tile.querySelector(".seen").textContent = "updated just now";
  const n = text === "true" ? 1 : text === "false" ? 0 : Number(text);
  if (text !== "" && Number.isFinite(n)) entry.chart.push(n);
  // A number input for this metric follows its value until the user edits it.
  const input = d.tile.querySelector(`.commands input[data-action="${CSS.escape(metric)}"]`);
  if (input && !input.dataset.dirty && document.activeElement !== input) input.value = text;
}

function renderCommands(d) {
  const box = d.tile.querySelector(".commands");
  box.innerHTML = "";
  for (const c of d.meta.commands ?? []) {
    const cmd = typeof c === "string" ? { action: c, ...(d.meta.limits?.[c] ?? {}) } : c;
    if (!cmd?.action) continue;
    if (cmd.input === "number" || cmd.min !== undefined || cmd.max !== undefined) {
      const group = document.createElement("form");
      group.className = "group";
      const input = document.createElement("input");
      input.type = "number";
      input.step = cmd.step ?? "0.5";
      if (cmd.min !== undefined) input.min = cmd.min;
      if (cmd.max !== undefined) input.max = cmd.max;
      input.value = d.values[cmd.action] ?? cmd.default ?? "";
      input.dataset.action = cmd.action;
      input.required = true;
      input.setAttribute("aria-label", `${cmd.action} value`);
      input.addEventListener("input", () => { input.dataset.dirty = "1"; });
      const b = document.createElement("button");
      b.type = "submit";
      b.textContent = cmd.label ?? `Set ${cmd.action}`;
      b.dataset.action = cmd.action;
      group.addEventListener("submit", (e) => {
        e.preventDefault();
        delete input.dataset.dirty;
        sendCommand(d, { action: cmd.action, value: Number(input.value) });
      });
      group.append(input, b);
      box.append(group);
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = cmd.label ?? cmd.action[0].toUpperCase() + cmd.action.slice(1);
      b.dataset.action = cmd.action;
      b.onclick = () => sendCommand(d, { action: cmd.action });
      box.append(b);
    }
  }
  for (const el of box.querySelectorAll("button, input")) el.disabled = !d.online;
}

async function sendCommand(d, body) {
  const out = d.tile.querySelector(".reply");
  if (!client) { out.className = "reply err"; out.textContent = "Not connected."; return; }
  if (client.protocolVersion !== 5) {
    out.className = "reply err";
    out.textContent = "Commands use MQTT 5 request/response: connect with MQTT 5.0.";
    return;
  }
  const correlation = crypto.getRandomValues(new Uint8Array(8));
  const key = hex(correlation);
  out.className = "reply pending";
  out.textContent = `${body.action}: sent, waiting for the reply…`;
  const timer = setTimeout(() => {
    pendingReplies.delete(key);
    out.className = "reply err";
    out.textContent = `${body.action}: no reply within ${REPLY_TIMEOUT_MS / 1000} s`;
  }, REPLY_TIMEOUT_MS);
  pendingReplies.set(key, { el: out, timer, action: body.action, device: d });
  try {
    await client.publish(`sensors/${d.id}/cmd`, JSON.stringify(body), {
      qos: 1,
      properties: { responseTopic: `dashboard/${client.clientId}/reply`, correlationData: correlation, contentType: "application/json" },
    });
  } catch (e) {
    clearTimeout(timer);
    pendingReplies.delete(key);
    out.className = "reply err";
    out.textContent = `${body.action}: ${describe(e)}`;
  }
}

function onReply(m) {
  const corr = m.properties?.correlationData;
  if (!corr) return;
  const key = hex(corr);
  const p = pendingReplies.get(key);
  if (!p) return;
  clearTimeout(p.timer);
  pendingReplies.delete(key);
  let body;
  try { body = JSON.parse(m.text()); } catch { body = { ok: false, error: m.text() }; }
  const time = new Date().toLocaleTimeString();
  if (body?.ok) {
    const state = Object.entries(body.state ?? {}).map(([k, v]) => `${k} ${fmtValue(p.device, k, String(v))}`).join(" · ");
    p.el.className = "reply ok";
    p.el.textContent = `✓ ${p.action}: ok${state ? ` — ${state}` : ""} (${time})`;
  } else {
    p.el.className = "reply err";
    p.el.textContent = `✗ ${p.action}: ${body?.error ?? "failed"} (${time})`;
  }
}

ui.showOffline.addEventListener("change", () => { ui.devices.classList.toggle("hide-offline", !ui.showOffline.checked); });

// ---------------------------------------------------------------- topic explorer

async function subscribeExplorer() {
  const filter = $("sub-filter").value.trim();
  if (!filter || !client) return;
  // The new subscription first: when it is refused, the old one goes on.
  let g;
  try {
    [g] = await client.subscribe(filter, { qos: Number($("sub-qos").value) }, addLog);
  } catch (e) {
    showBanner(`Topic explorer: cannot subscribe to ${filter} (${describe(e)}).`);
    return;
  }
  if (g.reasonCode >= 0x80) {
    showBanner(`The broker refused the subscription to ${filter} (reason 0x${g.reasonCode.toString(16)}).`);
    return;
  }
  if (explorerFilter && explorerFilter !== filter) await client.unsubscribe(explorerFilter).catch(() => {});
  explorerFilter = filter;
  ui.logInfo.textContent = `subscribed to ${filter} (granted QoS ${g.qos ?? g.reasonCode})`;
}

$("sub-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!client) { showBanner("Connect first."); return; }
  subscribeExplorer().catch(report);
});

function addLog(m) {
  const text = m.text();
  const line = { topic: m.topic, qos: m.qos, retain: m.retain, text: text.length > 300 ? `${text.slice(0, 300)}…` : text, at: new Date() };
  logTotal++;
  logLines.push(line);
  if (logLines.length > LOG_LIMIT) logLines.shift();
  if (matchesLog(line)) {
    const stick = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 30;
    ui.log.append(logRow(line));
    while (ui.log.childElementCount > LOG_LIMIT) ui.log.firstElementChild.remove();
    if (stick) ui.log.scrollTop = ui.log.scrollHeight;
  }
}
function matchesLog(l) {
  const f = ui.logFilter.value.trim();
  return !f || l.topic.includes(f) || l.text.includes(f);
}
function logRow(l) {
  const div = document.createElement("div");
  div.className = "line";
  div.innerHTML = `<span class="m">${l.at.toLocaleTimeString([], { hour12: false })}</span><span class="q">q${l.qos}</span>${l.retain ? `<span class="r" title="retained">R</span>` : ""}<span class="t">${esc(l.topic)}</span><span class="p">${esc(l.text)}</span>`;
  div.title = `${l.topic}\n${l.text}`;
  return div;
}
ui.logFilter.addEventListener("input", () => {
  ui.log.replaceChildren(...logLines.filter(matchesLog).map(logRow));
  ui.log.scrollTop = ui.log.scrollHeight;
});
$("log-clear").addEventListener("click", () => { logLines.length = 0; ui.log.innerHTML = ""; });

$("pub-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("pub-result");
  if (!client) { out.className = "reply err"; out.textContent = "Connect first."; return; }
  const qos = Number($("pub-qos").value);
  out.className = "reply pending";
  out.textContent = "publishing…";
  try {
    const r = await client.publish($("pub-topic").value.trim(), $("pub-payload").value, { qos, retain: $("pub-retain").checked });
    out.className = "reply ok";
    out.textContent = qos === 0 ? "✓ sent (QoS 0: no acknowledgement)" : `✓ acknowledged by the broker (packet ${r.packetId}, reason ${r.reasonCode})`;
  } catch (err) {
    out.className = "reply err";
    out.textContent = `✗ ${describe(err)}`;
  }
});

// ---------------------------------------------------------------- cameras

async function startSignaling(peerId) {
  signaling = new lib.MqttSignaling(client, { room: "cameras", peerId, meta: { kind: "viewer" } });
  signaling.on("peer-joined", () => renderCameras())
    .on("peer-left", (p) => {
      if (call && call.peerId === p.peerId) hangUp();
      camNote(`${p.meta?.name || p.peerId} went offline (${new Date().toLocaleTimeString()}).`);
      renderCameras();
    })
    .on("error", (e) => console.warn("signaling:", e.code, e.message))
    .on("incoming", (peer) => peer.close()); // a viewer takes no calls
  await signaling.start();
  renderCameras();
}

function renderCameras() {
  const cams = (signaling?.peers() ?? []).filter((p) => p.meta?.kind === "camera");
  if (cams.length === 0) {
    ui.cameras.innerHTML = `<div class="empty">No cameras: open <a href="camera.html${ui.url.value ? `?broker=${encodeURIComponent(ui.url.value)}` : ""}" target="_blank">camera.html</a> in another tab or browser to add one.</div>`;
    return;
  }
  ui.cameras.innerHTML = "";
  for (const p of cams) {
    const row = document.createElement("div");
    row.className = "camera";
    row.dataset.peer = p.peerId;
    const watching = call?.peerId === p.peerId;
    row.classList.toggle("active", watching);
    row.innerHTML = `<span class="cam-name"><b>${esc(p.meta.name || p.peerId)}</b><small>live since ${new Date(p.since).toLocaleTimeString()}${p.meta.native === "true" ? " · native device" : ""}</small></span>`;
    const b = document.createElement("button");
    b.textContent = watching ? "Watching" : "Watch";
    b.className = watching ? "" : "primary";
    b.disabled = watching;
    b.onclick = () => watch(p).catch((e) => { hangUp(); report(e); });
    row.append(b);
    ui.cameras.append(row);
  }
}

function camNote(text) { $("cam-note").textContent = text; }

function chatLine(text, cls = "") {
  const div = document.createElement("div");
  div.className = cls;
  div.textContent = text;
  ui.chatLog.append(div);
  while (ui.chatLog.childElementCount > 6) ui.chatLog.firstElementChild.remove();
}

async function watch(p) {
  hangUp();
  camNote("");
  const peer = await signaling.call(p.peerId);
  const channel = peer.createChannel("chat");
  call = { peer, channel, peerId: p.peerId, timer: null };
  ui.viewer.classList.remove("hidden");
  ui.viewerName.textContent = p.meta.name || p.peerId;
  ui.chatLog.textContent = "";
  ui.camStats.textContent = "connecting…";
  ui.chatSend.disabled = true;
  // A native camera (tools/devsim) also streams telemetry and takes JSON commands.
  const native = p.meta.native === "true";
  ui.camTelemetry.textContent = "";
  ui.camTelemetry.classList.toggle("hidden", !native);
  ui.chat.placeholder = native ? 'command, e.g. {"action":"setpoint","value":22}' : "message over the data channel";
  peer.on("track", (track, stream) => { ui.remote.srcObject = stream; ui.remote.play().catch(() => {}); })
    .on("state", (s) => { ui.camStats.dataset.state = s; if (s === "failed") chatLine("the connection failed", "err"); })
    .on("error", (e) => console.warn("peer:", e.code, e.message))
    .on("close", () => { if (call?.peer === peer) { hangUp(); camNote(`The call to ${ui.viewerName.textContent} ended.`); } });
  channel.on("open", () => { ui.chatSend.disabled = false; chatLine("data channel open", "muted"); })
    .on("close", () => { ui.chatSend.disabled = true; })
    .on("message", (data) => {
      const text = typeof data === "string" ? data : `${data.length} bytes`;
      const telemetry = native ? parseJson(text) : null;
      if (telemetry?.type === "telemetry") showTelemetry(telemetry);
      else chatLine(`camera: ${text}`);
    });
  call.timer = setInterval(async () => {
    try {
      const s = await peer.stats();
      const v = ui.remote;
      const size = v.videoWidth ? `${v.videoWidth}×${v.videoHeight}` : "no video yet";
      ui.camStats.textContent = `${peer.connectionState} · ${size} · rtt ${s.rtt === undefined ? "–" : `${Math.round(s.rtt)} ms`} · in ${fmtBytes(s.bytesReceived ?? 0)} · lost ${s.packetsLost ?? 0} · ${s.localCandidateType ?? "?"}/${s.remoteCandidateType ?? "?"}`;
    } catch { /* closed meanwhile */ }
  }, 1000);
  renderCameras();
}

function parseJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}

/** The latest telemetry of a native camera, one line under the viewer's head. */
function showTelemetry(m) {
  const state = m.state && typeof m.state === "object" ? m.state : {};
  const unit = { temperature: " °C", humidity: " %", setpoint: " °C" };
  ui.camTelemetry.textContent = Object.entries(state).map(([k, v]) => `${k} ${v}${unit[k] ?? ""}`).join(" · ");
  ui.camTelemetry.dataset.seq = String(m.seq ?? "");
  ui.camTelemetry.dataset.state = JSON.stringify(state);
}

function hangUp() {
  if (!call) return;
  const c = call;
  call = null;
  clearInterval(c.timer);
  c.peer.close();
  ui.remote.srcObject = null;
  ui.viewer.classList.add("hidden");
  ui.chatSend.disabled = true;
  renderCameras();
}

$("hangup").addEventListener("click", hangUp);
$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.chat.value;
  if (!call || !text) return;
  call.channel.send(text).then(() => chatLine(`you: ${text}`, "muted")).catch((err) => chatLine(`not sent: ${describe(err)}`, "err"));
  ui.chat.value = "";
});

// ---------------------------------------------------------------- start

try {
  lib = await import("../pkg/mqtt_rtc.js");
  await lib.default();
} catch (e) {
  console.error(e);
  showBanner(`The mqtt-rtc package did not load (${e.message ?? e}). Build it with ./tools/build-pkg.sh and serve the repository root (./tools/demo.sh does both).`);
  ui.connect.disabled = true;
  throw e;
}
setState("closed");
renderCameras();
if (params.get("autoconnect") !== "0") connect().catch(report);
