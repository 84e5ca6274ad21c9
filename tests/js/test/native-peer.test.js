// The native camera of the device simulator (tools/devsim, `camera` kind: str0m, no
// browser) called from headless Chromium through the test broker, over the library's
// signaling protocol: it shows in the dashboard's camera list like a browser camera,
// Watch connects to it and plays its video (it offers an H.264 track once connected), its
// telemetry streams over the data channel and a command typed in the dashboard gets its
// reply; a page using the package directly checks the same
// exchange message by message (reply ids, a command large enough to be split into several
// chunks of the RtcChannel framing); SIGTERM clears its presence. A screenshot goes to
// .test-run/screenshots/.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useBrowser } from '../lib/harness.js';
import { REPO_ROOT } from '../lib/server.js';

const browser = useBrowser();
const RUN = `nat${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const CAMERA = `${RUN}-camera-1`;
const T = { timeout: 60_000 };
const SHOTS = join(REPO_ROOT, '.test-run', 'screenshots');

const sims = [];
const pages = [];

/** The devsim binary (built by the workspace build of tools/test.sh; built here when missing). */
function devsimBinary() {
  const bin = join(process.env.CARGO_TARGET_DIR || join(REPO_ROOT, 'target'), 'debug', 'devsim');
  if (!existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '--quiet', '-p', 'mqtt-rtc-devsim'], { cwd: REPO_ROOT, stdio: 'inherit' });
    assert.equal(r.status, 0, 'cargo build -p mqtt-rtc-devsim failed');
  }
  return bin;
}

/** Starts a simulator with one native camera; resolves once it printed `online <id>`. */
async function startCamera() {
  const args = ['--host', '127.0.0.1', '--port', String(browser.env.tcpPort), '--interval-ms', '300',
    '--id-prefix', RUN, '--devices', 'camera:1'];
  const proc = spawn(devsimBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const sim = { proc, out: '', err: '', exited: new Promise((ok) => proc.once('exit', (code, signal) => ok({ code, signal }))) };
  sims.push(sim);
  proc.stdout.setEncoding('utf8').on('data', (d) => { sim.out += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { sim.err += d; });
  const t0 = Date.now();
  while (!sim.out.includes(`online ${CAMERA} `)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`devsim exited: ${sim.err}`);
    if (Date.now() - t0 > 10_000) throw new Error(`devsim: the camera was not online in 10 s\n${sim.out}\n${sim.err}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return sim;
}

after(async () => {
  for (const p of pages) await p.close().catch(() => {});
  for (const sim of sims) {
    if (sim.proc.exitCode === null && sim.proc.signalCode === null) sim.proc.kill('SIGKILL');
    await sim.exited;
  }
});

/** Adds the page's console and the simulator's log to a failure: that tells why. */
async function explain(page, sim, fn) {
  try {
    return await fn();
  } catch (e) {
    if (page.logs.length) e.message += `\n--- page console ---\n${page.logs.slice(-30).join('\n')}`;
    e.message += `\n--- devsim stderr ---\n${sim.err.split('\n').slice(-30).join('\n')}`;
    throw e;
  }
}

test('a native camera (devsim, str0m) answers the dashboard and the package through the broker', { timeout: 150_000 }, async (t) => {
  const sim = await startCamera();

  await t.test('the dashboard lists it, Watch connects, telemetry streams in and a command gets its reply', T, async () => {
    const dash = await browser.page();
    pages.push(dash);
    await dash.goto(new URL(`/www/?broker=${encodeURIComponent(browser.env.ws)}`, dash.url()).href);
    await explain(dash, sim, async () => {
      await dash.waitForSelector('#state[data-state="connected"]', { timeout: 15_000 });
      const row = dash.locator(`#cameras .camera[data-peer="${CAMERA}"]`);
      await row.waitFor({ timeout: 10_000 });
      assert.equal(await row.locator('b').textContent(), 'Native camera 1');
      assert.match(await row.textContent(), /native device/);
      await row.getByRole('button', { name: 'Watch' }).click();
      // The data channel opens (the Send button), the peer connection is connected.
      await dash.waitForSelector('#chat-send:not([disabled])', { timeout: 15_000 });
      await dash.waitForFunction(() => document.getElementById('cam-stats').dataset.state === 'connected', null, { timeout: 10_000 });
      // Its video (H.264 made by devsim) plays: currentTime moves on, frames have its size.
      await dash.waitForFunction(() => document.getElementById('remote').currentTime > 0.5, null, { timeout: 15_000 });
      const t1 = await dash.$eval('#remote', (v) => v.currentTime);
      await dash.waitForTimeout(1000);
      const v = await dash.$eval('#remote', (e) => ({ t: e.currentTime, w: e.videoWidth, h: e.videoHeight, paused: e.paused }));
      assert.ok(v.t > t1 + 0.5, `currentTime ${t1} -> ${v.t}`);
      assert.deepEqual([v.w, v.h, v.paused], [176, 144, false]);
      // Telemetry: the line fills in, and its sequence number moves on (300 ms interval).
      await dash.waitForFunction(() => /^temperature -?\d+(\.\d+)? °C · humidity/.test(document.getElementById('cam-telemetry').textContent), null, { timeout: 5000 });
      const seq0 = Number(await dash.$eval('#cam-telemetry', (e) => e.dataset.seq));
      await dash.waitForFunction((s) => Number(document.getElementById('cam-telemetry').dataset.seq) >= s + 3, seq0, { timeout: 5000 });
      // A command typed in the dashboard goes over the channel; the reply comes back on it
      // and the telemetry follows the new setpoint.
      await dash.fill('#chat', '{"action":"setpoint","value":23.5,"id":"dash-1"}');
      await dash.click('#chat-send');
      await dash.waitForFunction(() => document.getElementById('chat-log').textContent.includes('camera: {"type":"reply","id":"dash-1","ok":true'), null, { timeout: 5000 });
      await dash.waitForFunction(() => JSON.parse(document.getElementById('cam-telemetry').dataset.state || '{}').setpoint === 23.5, null, { timeout: 5000 });
      // Not a command: an error reply, and the call goes on.
      await dash.fill('#chat', 'hello');
      await dash.click('#chat-send');
      await dash.waitForFunction(() => document.getElementById('chat-log').textContent.includes('"ok":false,"error":"malformed command'), null, { timeout: 5000 });
      await dash.waitForFunction(() => /^connected · 176×144 · rtt/.test(document.getElementById('cam-stats').textContent), null, { timeout: 5000 });
      mkdirSync(SHOTS, { recursive: true });
      await dash.locator('#viewer').scrollIntoViewIfNeeded();
      await dash.screenshot({ path: join(SHOTS, 'dashboard-native-camera.png') });
      await dash.click('#hangup');
      assert.equal(await dash.isHidden('#viewer'), true);
      const errors = dash.logs.filter((l) => l.startsWith('[pageerror]'));
      assert.deepEqual(errors, []);
    });
  });

  await t.test('through the package: telemetry objects, replies matched by id, a command split into chunks', T, async () => {
    const page = await browser.page();
    pages.push(page);
    await explain(page, sim, async () => {
      const r = await page.evaluate(async ({ ws, camera, run }) => {
        const pkg = await import('/pkg/mqtt_rtc.js');
        const peerId = `${run}-viewer`;
        const client = await pkg.MqttClient.connect(ws, { clientId: peerId, will: pkg.MqttSignaling.will('cameras', peerId) });
        const signaling = new pkg.MqttSignaling(client, { room: 'cameras', peerId, meta: { kind: 'viewer' } });
        await signaling.start();
        const wait = (cond, ms, what) => new Promise((ok, fail) => {
          const t0 = Date.now();
          const tick = () => (cond() ? ok() : Date.now() - t0 > ms ? fail(new Error(`timed out: ${what}`)) : setTimeout(tick, 20));
          tick();
        });
        await wait(() => signaling.peers().some((p) => p.peerId === camera && p.meta.kind === 'camera' && p.meta.native === 'true'), 10_000, 'camera presence');
        const t0 = performance.now();
        const peer = await signaling.call(camera);
        const channel = peer.createChannel('control');
        const messages = [];
        channel.on('message', (m) => messages.push(typeof m === 'string' ? JSON.parse(m) : { binary: m.length }));
        await wait(() => channel.readyState === 'open', 15_000, `channel open (peer ${peer.connectionState})`);
        const openMs = performance.now() - t0;
        await wait(() => messages.filter((m) => m.type === 'telemetry').length >= 3, 5000, 'three telemetry messages');
        const reply = (id) => messages.find((m) => m.type === 'reply' && m.id === id);
        await channel.send(JSON.stringify({ action: 'ping', id: 1 }));
        await channel.send(JSON.stringify({ action: 'setpoint', value: 99, id: 'too-hot' }));
        // 300 kB: more than one chunk whatever the connection's SCTP message size.
        await channel.send(JSON.stringify({ action: 'calibrate', id: 'big', pad: 'x'.repeat(300_000) }));
        await wait(() => reply(1) && reply('too-hot') && reply('big'), 5000, 'three replies');
        const stats = await peer.stats();
        const result = {
          openMs,
          state: peer.connectionState,
          telemetry: messages.filter((m) => m.type === 'telemetry').slice(0, 3),
          ping: reply(1), tooHot: reply('too-hot'), big: reply('big'),
          binary: messages.filter((m) => m.binary !== undefined).length,
          candidates: [stats.localCandidateType, stats.remoteCandidateType],
        };
        peer.close();
        await signaling.stop();
        await client.end();
        return result;
      }, { ws: browser.env.ws, camera: CAMERA, run: RUN });
      console.log(`native camera: channel open ${Math.round(r.openMs)} ms after call(), candidates ${r.candidates.join('/')}`);
      assert.equal(r.state, 'connected');
      assert.equal(r.binary, 0, 'every message arrives as text');
      const seqs = r.telemetry.map((m) => m.seq);
      assert.ok(seqs[0] < seqs[1] && seqs[1] < seqs[2], `telemetry sequence ${seqs}`);
      for (const m of r.telemetry) {
        assert.equal(m.id, CAMERA);
        assert.deepEqual(Object.keys(m.state).sort(), ['humidity', 'setpoint', 'temperature']);
      }
      assert.equal(r.ping.ok, true);
      assert.equal(typeof r.ping.state.temperature, 'number');
      assert.deepEqual([r.tooHot.ok, r.tooHot.error], [false, 'setpoint out of range 5..35']);
      assert.equal(r.big.ok, true, JSON.stringify(r.big));
    });
  });

  await t.test('SIGTERM clears its presence: the dashboard drops it from the list', T, async () => {
    const dash = pages[0];
    await explain(dash, sim, async () => {
      await dash.locator(`#cameras .camera[data-peer="${CAMERA}"]`).waitFor({ timeout: 5000 });
      sim.proc.kill('SIGTERM');
      const exit = await sim.exited;
      assert.equal(exit.code, 0, `devsim exit ${JSON.stringify(exit)}`);
      assert.match(sim.out, new RegExp(`stopped ${CAMERA}`));
      await dash.locator(`#cameras .camera[data-peer="${CAMERA}"]`).waitFor({ state: 'detached', timeout: 5000 });
    });
  });
});
