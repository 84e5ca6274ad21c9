// Turns this tab into a camera device: the webcam (or a generated canvas stream when there
// is none) is offered to every dashboard that calls it through MqttSignaling.
import init, { MqttClient, MqttSignaling } from "../pkg/mqtt_rtc.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("url").value = params.get("broker") || localStorage.getItem("mqtt-rtc.broker") || `ws://${location.hostname || "127.0.0.1"}:18831`;
$("name").value = params.get("name") || `Camera ${Math.floor(Math.random() * 900 + 100)}`;

const viewers = new Set();
let stream = null;

function banner(text) { const b = $("banner"); b.textContent = text; b.className = text ? "banner show" : "banner"; }
function setState(s) { $("state").dataset.state = s; $("state").textContent = s; }
function countViewers() { $("viewers").textContent = `${viewers.size} viewer${viewers.size === 1 ? "" : "s"}`; }

async function cameraStream() {
  if (params.get("source") !== "canvas" && navigator.mediaDevices?.getUserMedia) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      $("source").textContent = "source: webcam";
      return s;
    } catch { /* no camera or no permission: fall back to a generated picture */ }
  }
  $("source").textContent = "source: generated canvas";
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const g = canvas.getContext("2d");
  const draw = (t) => {
    g.fillStyle = "#102030";
    g.fillRect(0, 0, 640, 480);
    g.fillStyle = "#4fb3ff";
    g.beginPath();
    g.arc(320 + Math.cos(t / 700) * 200, 240 + Math.sin(t / 500) * 150, 40, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#e6edf3";
    g.font = "28px system-ui";
    g.fillText(`${$("name").value} · ${new Date().toLocaleTimeString()}`, 24, 450);
    requestAnimationFrame(draw);
  };
  requestAnimationFrame(draw);
  return canvas.captureStream(25);
}

async function start() {
  banner("");
  $("start").disabled = true;
  stream = await cameraStream();
  $("local").srcObject = stream;
  const url = $("url").value.trim();
  const peerId = `cam-${Math.random().toString(16).slice(2, 10)}`;
  let client;
  try {
    client = await MqttClient.connect(url, {
      clientId: peerId,
      will: MqttSignaling.will("cameras", peerId),
      reconnect: { initialDelay: 500, maxDelay: 10000 },
    });
  } catch (e) {
    $("start").disabled = false;
    banner(`Could not connect (${e.code}): ${e.message}`);
    return;
  }
  client.on("state", setState);
  setState(client.state);
  const signaling = new MqttSignaling(client, { room: "cameras", peerId, meta: { kind: "camera", name: $("name").value } });
  signaling.on("incoming", (peer, from) => {
    viewers.add(peer);
    countViewers();
    for (const track of stream.getTracks()) peer.addTrack(track, stream);
    peer.on("channel", (ch) => {
      ch.on("message", (data) => {
        $("chat-log").textContent = `${from.peerId}: ${typeof data === "string" ? data : `${data.length} bytes`}`;
        ch.send(`echo: ${typeof data === "string" ? data : `${data.length} bytes`}`).catch(() => {});
      });
    });
    peer.on("close", () => { viewers.delete(peer); countViewers(); });
  });
  await signaling.start();
  document.body.dataset.live = "true";
}

await init();
$("start").addEventListener("click", () => start().catch((e) => banner(`${e.code ?? "ERROR"}: ${e.message ?? e}`)));
if (params.get("autostart") === "1") start().catch((e) => banner(`${e.code ?? "ERROR"}: ${e.message ?? e}`));
