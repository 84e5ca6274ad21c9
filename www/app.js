// mqtt-rtc sample dashboard: devices from their retained status, live values and charts,
// commands as MQTT 5 request/response, a topic explorer, and live camera views over WebRTC
// signaled through MQTT. Built on the library only (plain ES modules, no framework).
import init, { MqttClient, MqttSignaling } from "../pkg/mqtt_rtc.js";
import { Sparkline } from "./chart.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const HISTORY_MS = 5 * 60 * 1000;
const LOG_LIMIT = 500;

const ui = {
  url: $("url"), username: $("username"), password: $("password"), protocol: $("protocol"),
  connect: $("connect"), disconnect: $("disconnect"), state: $("state"), countdown: $("countdown"),
  banner: $("banner"), stats: $("stats"), devices: $("devices"), log: $("log"),
  logFilter: $("log-filter"), cameras: $("cameras"), viewer: $("viewer"), remote: $("remote"),
  camStats: $("cam-stats"), chat: $("chat"), chatLog: $("chat-log"),
};

let client = null;
let signaling = null;
let call = null; // { peer, channel, peerId, timer }
let countdownTimer = null;
const devices = new Map(); // id -> { tile, meta, online, metrics: Map(name -> {el, chart}) }
const pendingReplies = new Map(); // correlation hex -> { el, timer }
const logLines = [];

ui.url.value = params.get("broker") || localStorage.getItem("mqtt-rtc.broker") || `ws://${location.hostname || "127.0.0.1"}:18831`;
ui.username.value = localStorage.getItem("mqtt-rtc.username") || "";

function showBanner(text, kind = "error") {
  ui.banner.textContent = text;
  ui.banner.className = `banner show ${kind === "info" ? "info" : ""}`;
}
function hideBanner() { ui.banner.className = "banner"; }

function setState(s) {
  ui.state.dataset.state = s;
  ui.state.textContent = s;
  const busy = s === "connecting" || s === "connected" || s === "reconnecting" || s === "offline";
  ui.connect.disabled = busy;
  ui.disconnect.disabled = !busy;
  if (s === "connected") { hideBanner(); stopCountdown(); }
  document.body.dataset.state = s;
}

function startCountdown(delay) {
  stopCountdown();
  const until = performance.now() + delay;
  ui.countdown.classList.remove("hidden");
  const tick = () => {
    const left = Math.max(0, until - performance.now());
    ui.countdown.textContent = `retrying in ${(left / 1000).toFixed(1)} s`;
    if (left <= 0) stopCountdown();
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
  if (!client) { ui.stats.innerHTML = ""; return; }
  const s = client.stats();
  const cells = [
    ["sent", s.messagesSent], ["received", s.messagesReceived],
    ["bytes out", fmtBytes(s.bytesSent)], ["bytes in", fmtBytes(s.bytesReceived)],
    ["in flight", s.inflight], ["queued", s.queued], ["reconnects", s.reconnects],
    ["ping rtt", s.lastPingRtt === undefined ? "–" : `${s.lastPingRtt} ms`],
  ];
  ui.stats.innerHTML = cells.map(([k, v]) => `<div><b>${v}</b><span>${k}</span></div>`).join("");
}
setInterval(renderStats, 1000);

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ---------------------------------------------------------------- connection

async function connect() {
  hideBanner();
  const url = ui.url.value.trim();
  localStorage.setItem("mqtt-rtc.broker", url);
  localStorage.setItem("mqtt-rtc.username", ui.username.value);
  const options = {
    clientId: `dashboard-${Math.random().toString(16).slice(2, 10)}`,
    protocolVersion: Number(ui.protocol.value),
    keepalive: 20,
    connectTimeout: 8000,
    reconnect: { initialDelay: 1000, maxDelay: 15000 },
    logLevel: "warn",
  };
  if (ui.username.value) options.username = ui.username.value;
  if (ui.password.value) options.password = ui.password.value;
  setState("connecting");
  const pending = MqttClient.connect(url, { ...options, reconnect: false });
  let c;
  try {
    c = await pending;
  } catch (e) {
    setState("closed");
    const hint = e.code === "NOT_AUTHORIZED" ? "the broker refused these credentials"
      : e.code === "CONNECT_TIMEOUT" ? "no answer from the broker in time"
        : e.code === "INVALID_ARGUMENT" ? "check the broker URL (ws:// or wss://)"
          : "is the broker running and the URL right?";
    showBanner(`Could not connect (${e.code ?? "ERROR"}): ${e.message}. ${hint}`);
    return;
  }
  await c.end({ force: true });
  // The first attempt proved URL and credentials; from here on, reconnect by itself.
  client = await MqttClient.connect(url, options);
  wireClient(client);
  setState(client.state);
  await subscribeAll();
  await startSignaling();
}

function wireClient(c) {
  c.on("state", (s) => setState(s))
    .on("reconnecting", ({ delay, attempt }) => {
      startCountdown(delay);
      showBanner(`Connection lost; reconnect attempt ${attempt}.`, "info");
    })
    .on("error", (e) => {
      if (e.code === "KEEPALIVE_TIMEOUT" || e.code === "CONNECTION_LOST" || e.code === "SERVER_DISCONNECT") {
        showBanner(`Broker connection lost (${e.code}); reconnecting…`, "info");
      } else {
        showBanner(`${e.code}: ${e.message}`);
      }
    })
    .on("close", () => setState("closed"));
}

async function disconnect() {
  stopCountdown();
  hangUp();
  if (signaling) { try { await signaling.stop(); } catch { /* already gone */ } signaling = null; }
  if (client) { await client.end(); client = null; }
  setState("closed");
  renderStats();
}

$("connect-form").addEventListener("submit", (e) => { e.preventDefault(); connect().catch(report); });
ui.disconnect.addEventListener("click", () => disconnect().catch(report));
function report(e) { console.error(e); showBanner(`${e.code ?? "ERROR"}: ${e.message ?? e}`); }

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
  tile.innerHTML = `<header><h3>${esc(id)}</h3><span class="kind"></span></header>
    <div class="metrics"></div><div class="commands"></div><div class="reply"></div>`;
  ui.devices.append(tile);
  d = { id, tile, meta: {}, online: false, metrics: new Map() };
  devices.set(id, d);
  return d;
}

function onDeviceInfo(m) {
  const [, id, kind] = m.topic.split("/");
  if (kind === "status") {
    const text = m.text();
    if (!text && !devices.has(id)) return; // a cleared status of a device we never saw
    const d = device(id);
    d.online = text === "online";
    d.tile.classList.toggle("offline", !d.online);
    d.tile.dataset.status = d.online ? "online" : "offline";
  } else if (kind === "meta") {
    let meta;
    try { meta = JSON.parse(m.text()); } catch { return; }
    const d = device(id);
    d.meta = meta;
    d.tile.querySelector("h3").textContent = meta.name || id;
    d.tile.querySelector(".kind").textContent = meta.kind || "";
    renderCommands(d);
  }
}

function onTelemetry(m) {
  const [, id, metric] = m.topic.split("/");
  if (metric === "status" || metric === "meta" || metric === "cmd") return;
  const d = device(id);
  let entry = d.metrics.get(metric);
  if (!entry) {
    const row = document.createElement("div");
    row.className = "metric";
    row.dataset.metric = metric;
    row.innerHTML = `<span class="name">${esc(metric)}</span><span class="value"></span><canvas></canvas>`;
    d.tile.querySelector(".metrics").append(row);
    entry = { value: row.querySelector(".value"), chart: new Sparkline(row.querySelector("canvas"), HISTORY_MS) };
    d.metrics.set(metric, entry);
  }
  const text = m.text();
  const unit = d.meta.unit?.[metric] ?? d.meta.units?.[metric] ?? "";
  entry.value.textContent = unit ? `${text} ${unit}` : text;
  d.lastValues = { ...d.lastValues, [metric]: text };
  const n = text === "true" ? 1 : text === "false" ? 0 : Number(text);
  if (Number.isFinite(n)) entry.chart.push(n);
}

function renderCommands(d) {
  const box = d.tile.querySelector(".commands");
  box.innerHTML = "";
  for (const c of d.meta.commands ?? []) {
    const cmd = typeof c === "string" ? { action: c, ...(d.meta.limits?.[c] ?? {}) } : c;
    if (cmd.input === "number" || cmd.value !== undefined || cmd.min !== undefined) {
      const input = document.createElement("input");
      input.type = "number";
      input.step = cmd.step ?? "0.5";
      if (cmd.min !== undefined) input.min = cmd.min;
      if (cmd.max !== undefined) input.max = cmd.max;
      input.value = cmd.value ?? cmd.default ?? d.lastValues?.[cmd.action] ?? cmd.min ?? "";
      input.dataset.action = cmd.action;
      input.style.width = "80px";
      const b = document.createElement("button");
      b.textContent = cmd.label ?? `set ${cmd.action}`;
      b.dataset.action = cmd.action;
      b.onclick = () => sendCommand(d, { action: cmd.action, value: Number(input.value) });
      box.append(input, b);
    } else {
      const b = document.createElement("button");
      b.textContent = cmd.label ?? cmd.action;
      b.dataset.action = cmd.action;
      b.onclick = () => sendCommand(d, { action: cmd.action });
      box.append(b);
    }
  }
}

async function sendCommand(d, body) {
  const out = d.tile.querySelector(".reply");
  if (!client) return;
  const correlation = crypto.getRandomValues(new Uint8Array(8));
  const key = hex(correlation);
  out.className = "reply";
  out.textContent = `sent ${body.action}…`;
  const timer = setTimeout(() => {
    pendingReplies.delete(key);
    out.className = "reply err";
    out.textContent = `${body.action}: no reply within 5 s`;
  }, 5000);
  pendingReplies.set(key, { el: out, timer, action: body.action });
  try {
    await client.publish(`sensors/${d.id}/cmd`, JSON.stringify(body), {
      qos: 1,
      properties: { responseTopic: `dashboard/${client.clientId}/reply`, correlationData: correlation, contentType: "application/json" },
    });
  } catch (e) {
    clearTimeout(timer);
    pendingReplies.delete(key);
    out.className = "reply err";
    out.textContent = `${e.code}: ${e.message}`;
  }
}

function onReply(m) {
  const corr = m.properties?.correlationData;
  if (!corr) return;
  const p = pendingReplies.get(hex(corr));
  if (!p) return;
  clearTimeout(p.timer);
  pendingReplies.delete(hex(corr));
  let body;
  try { body = JSON.parse(m.text()); } catch { body = { ok: false, error: m.text() }; }
  p.el.className = body.ok ? "reply ok" : "reply err";
  p.el.textContent = body.ok ? `${p.action}: ok ${body.state ? JSON.stringify(body.state) : ""}` : `${p.action}: ${body.error ?? "failed"}`;
}

function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }

// ---------------------------------------------------------------- topic explorer

let explorerFilter = null;
$("sub-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!client) return showBanner("Connect first.");
  const filter = $("sub-filter").value.trim();
  try {
    if (explorerFilter) await client.unsubscribe(explorerFilter);
    const [g] = await client.subscribe(filter, { qos: Number($("sub-qos").value) }, addLog);
    explorerFilter = filter;
    if (g.reasonCode >= 0x80) showBanner(`Subscription to ${filter} refused (reason ${g.reasonCode}).`);
  } catch (err) { report(err); }
});

function addLog(m) {
  const text = m.text();
  const line = { topic: m.topic, qos: m.qos, retain: m.retain, text: text.length > 200 ? `${text.slice(0, 200)}…` : text, at: new Date() };
  logLines.push(line);
  if (logLines.length > LOG_LIMIT) logLines.shift();
  if (matchesLog(line)) {
    ui.log.append(logRow(line));
    while (ui.log.childElementCount > LOG_LIMIT) ui.log.firstElementChild.remove();
    ui.log.scrollTop = ui.log.scrollHeight;
  }
}
function matchesLog(l) {
  const f = ui.logFilter.value.trim();
  return !f || l.topic.includes(f) || l.text.includes(f);
}
function logRow(l) {
  const div = document.createElement("div");
  div.innerHTML = `<span class="m">${l.at.toLocaleTimeString()} q${l.qos}${l.retain ? " R" : ""}</span> <span class="t">${esc(l.topic)}</span> ${esc(l.text)}`;
  return div;
}
ui.logFilter.addEventListener("input", () => {
  ui.log.replaceChildren(...logLines.filter(matchesLog).map(logRow));
});
$("log-clear").addEventListener("click", () => { logLines.length = 0; ui.log.innerHTML = ""; });

$("pub-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("pub-result");
  if (!client) return showBanner("Connect first.");
  try {
    const r = await client.publish($("pub-topic").value, $("pub-payload").value, {
      qos: Number($("pub-qos").value), retain: $("pub-retain").checked,
    });
    out.className = "reply ok";
    out.textContent = r.packetId ? `acknowledged (id ${r.packetId})` : "sent";
  } catch (err) {
    out.className = "reply err";
    out.textContent = `${err.code}: ${err.message}`;
  }
});

// ---------------------------------------------------------------- cameras

async function startSignaling() {
  if (typeof MqttSignaling !== "function") return;
  signaling = new MqttSignaling(client, { room: "cameras", meta: { kind: "viewer" } });
  signaling.on("peer-joined", renderCameras).on("peer-left", (p) => {
    if (call && call.peerId === p.peerId) hangUp();
    renderCameras();
  });
  await signaling.start();
  renderCameras();
}

function renderCameras() {
  const cams = (signaling?.peers() ?? []).filter((p) => p.meta.kind === "camera");
  if (cams.length === 0) {
    ui.cameras.innerHTML = `<div class="empty">No cameras: open <a href="camera.html" target="_blank">camera.html</a> in another tab.</div>`;
    return;
  }
  ui.cameras.innerHTML = "";
  for (const p of cams) {
    const row = document.createElement("div");
    row.className = "camera";
    row.dataset.peer = p.peerId;
    row.innerHTML = `<span>${esc(p.meta.name || p.peerId)}</span>`;
    const b = document.createElement("button");
    b.textContent = call?.peerId === p.peerId ? "Watching" : "Watch";
    b.disabled = call?.peerId === p.peerId;
    b.onclick = () => watch(p.peerId).catch(report);
    row.append(b);
    ui.cameras.append(row);
  }
}

async function watch(peerId) {
  hangUp();
  const peer = await signaling.call(peerId);
  const channel = peer.createChannel("chat");
  call = { peer, channel, peerId, timer: null };
  ui.viewer.classList.remove("hidden");
  ui.chatLog.textContent = "";
  peer.on("track", (track, stream) => { ui.remote.srcObject = stream; ui.remote.play().catch(() => {}); })
    .on("state", (s) => { ui.camStats.dataset.state = s; })
    .on("close", () => { if (call?.peer === peer) hangUp(); });
  channel.on("message", (data) => {
    ui.chatLog.textContent = `camera: ${typeof data === "string" ? data : `${data.length} bytes`}`;
  });
  call.timer = setInterval(async () => {
    try {
      const s = await peer.stats();
      ui.camStats.textContent = `${peer.connectionState} · rtt ${s.rtt === undefined ? "–" : `${(s.rtt * 1000).toFixed(0)} ms`} · in ${fmtBytes(s.bytesReceived ?? 0)} · lost ${s.packetsLost ?? 0} · ${s.localCandidateType ?? "?"}/${s.remoteCandidateType ?? "?"}`;
    } catch { /* closed meanwhile */ }
  }, 1000);
  renderCameras();
}

function hangUp() {
  if (!call) return;
  clearInterval(call.timer);
  call.peer.close();
  call = null;
  ui.remote.srcObject = null;
  ui.viewer.classList.add("hidden");
  renderCameras();
}

$("hangup").addEventListener("click", hangUp);
$("chat-send").addEventListener("click", () => {
  if (!call) return;
  call.channel.send(ui.chat.value).catch(report);
  ui.chat.value = "";
});

// ---------------------------------------------------------------- start

await init();
setState("closed");
if (params.get("autoconnect") !== "0") connect().catch(report);
