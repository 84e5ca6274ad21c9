// Turns this tab into a camera device: the webcam (or a generated canvas stream when there
// is none, or with ?source=canvas) is offered to every dashboard that calls it through
// MqttSignaling in the room "cameras". ?autostart=1 goes live at once (tests, kiosks).
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("url").value = params.get("broker") || localStorage.getItem("mqtt-rtc.broker") || `ws://${location.hostname || "127.0.0.1"}:18831`;
$("name").value = params.get("name") || `Camera ${Math.floor(Math.random() * 900 + 100)}`;

let lib = null;
let client = null;
let signaling = null;
let stream = null;
const viewers = new Set();

function banner(text, kind = "error") { const b = $("banner"); b.textContent = text; b.className = text ? `banner show ${kind}` : "banner"; }
const STATE_TEXT = { connecting: "connecting…", connected: "live", reconnecting: "reconnecting…", offline: "offline", closed: "not live" };
function setState(s) {
  $("state").dataset.state = s;
  $("state").textContent = STATE_TEXT[s] ?? s;
  document.body.dataset.state = s;
  document.body.dataset.live = String(s === "connected");
}
function countViewers() { $("viewers").textContent = `${viewers.size} viewer${viewers.size === 1 ? "" : "s"}`; }
function chatLine(text) {
  const div = document.createElement("div");
  div.textContent = text;
  $("chat-log").append(div);
  while ($("chat-log").childElementCount > 5) $("chat-log").firstElementChild.remove();
}
window.addEventListener("unhandledrejection", (ev) => { ev.preventDefault(); banner(`${ev.reason?.code ?? "ERROR"}: ${ev.reason?.message ?? ev.reason}`); });

async function cameraStream() {
  if (params.get("source") !== "canvas" && navigator.mediaDevices?.getUserMedia) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      $("source").textContent = "source: webcam";
      return s;
    } catch { /* no camera or no permission: fall back to a generated picture */ }
  }
  $("source").textContent = "source: generated picture (no webcam)";
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const g = canvas.getContext("2d");
  const draw = () => {
    const t = performance.now();
    g.fillStyle = "#102030";
    g.fillRect(0, 0, 640, 480);
    g.fillStyle = "#4fb3ff";
    g.beginPath();
    g.arc(320 + Math.cos(t / 700) * 200, 240 + Math.sin(t / 500) * 150, 40, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#e6edf3";
    g.font = "28px system-ui";
    g.fillText(`${$("name").value} · ${new Date().toLocaleTimeString()}`, 24, 450);
  };
  // A timer, not requestAnimationFrame: frames must keep coming while the tab is hidden.
  draw();
  setInterval(draw, 40);
  return canvas.captureStream(25);
}

async function start() {
  banner("");
  const url = $("url").value.trim();
  if (!/^wss?:\/\/[^/\s]+/i.test(url)) { banner("The broker URL must look like ws://host:port or wss://host/path."); return; }
  $("start").disabled = true;
  for (const el of [$("url"), $("name")]) el.disabled = true;
  setState("connecting");
  stream ??= await cameraStream();
  $("local").srcObject = stream;
  const peerId = `cam-${Math.random().toString(16).slice(2, 10)}`;
  const options = { clientId: peerId, connectTimeout: 8000, reconnect: { initialDelay: 500, maxDelay: 10000 } };
  try {
    // A first attempt that does not retry, so a wrong URL is reported instead of retried for ever.
    const probe = await lib.MqttClient.connect(url, { ...options, clientId: `${peerId}-probe`, reconnect: false });
    await probe.end({ force: true });
    client = await lib.MqttClient.connect(url, { ...options, will: lib.MqttSignaling.will("cameras", peerId) });
  } catch (e) {
    setState("closed");
    $("start").disabled = false;
    for (const el of [$("url"), $("name")]) el.disabled = false;
    banner(`Could not connect to ${url} (${e.code}: ${e.message}). ${e.code === "NOT_AUTHORIZED" ? "The broker refused the credentials." : "Is the broker running, and is the URL right?"}`);
    return;
  }
  localStorage.setItem("mqtt-rtc.broker", url);
  client.on("state", (s) => { setState(s); if (s === "connected") banner(""); })
    .on("reconnecting", ({ delay, attempt }) => banner(`The broker connection is lost; reconnect attempt ${attempt} in ${(delay / 1000).toFixed(1)} s.`, "info"));
  setState(client.state);
  signaling = new lib.MqttSignaling(client, { room: "cameras", peerId, meta: { kind: "camera", name: $("name").value } });
  signaling.on("incoming", (peer, from) => {
    viewers.add(peer);
    countViewers();
    for (const track of stream.getTracks()) peer.addTrack(track, stream);
    peer.on("channel", (ch) => {
      ch.on("message", (data) => {
        const text = typeof data === "string" ? data : `${data.length} bytes`;
        chatLine(`${from.peerId}: ${text}`);
        ch.send(`echo: ${text}`).catch(() => {});
      });
    });
    peer.on("error", (e) => console.warn("peer:", e.code, e.message));
    peer.on("close", () => { viewers.delete(peer); countViewers(); });
  }).on("error", (e) => console.warn("signaling:", e.code, e.message));
  await signaling.start();
  $("stop").disabled = false;
}

async function stop() {
  $("stop").disabled = true;
  const s = signaling, c = client;
  signaling = null;
  client = null;
  if (s) await s.stop().catch(() => {});
  if (c) await c.end({ timeout: 2000 }).catch(() => {});
  viewers.clear();
  countViewers();
  setState("closed");
  $("start").disabled = false;
  for (const el of [$("url"), $("name")]) el.disabled = false;
}

$("start-form").addEventListener("submit", (e) => { e.preventDefault(); start().catch((err) => banner(`${err.code ?? "ERROR"}: ${err.message ?? err}`)); });
$("stop").addEventListener("click", () => stop().catch(() => {}));

try {
  lib = await import("../pkg/mqtt_rtc.js");
  await lib.default();
} catch (e) {
  banner(`The mqtt-rtc package did not load (${e.message ?? e}). Build it with ./tools/build-pkg.sh and serve the repository root (./tools/demo.sh does both).`);
  $("start").disabled = true;
  throw e;
}
if (params.get("autostart") === "1") start().catch((e) => banner(`${e.code ?? "ERROR"}: ${e.message ?? e}`));
