// The sample dashboard (www/) end to end: the device simulator (tools/devsim) on the test
// broker, the dashboard page and a camera page (www/camera.html) in headless Chromium.
// Device tiles appear from retained status/meta and their values move; a command gets the
// device's reply (MQTT 5 request/response); a camera found through MqttSignaling presence
// plays in the dashboard and echoes over the data channel; a stopped simulator (SIGTERM:
// clean `offline`) and a killed one (SIGKILL: the Will) turn their tiles offline.
// Screenshots go to .test-run/screenshots/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useBrowser } from '../lib/harness.js';
import { REPO_ROOT } from '../lib/server.js';

const browser = useBrowser();
const SHOTS = join(REPO_ROOT, '.test-run', 'screenshots');
const RUN = `dash${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const T = { timeout: 60_000 };
const LAPTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

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

/** Starts a simulator; resolves once each of its `count` devices printed `online <id>`. */
async function startSim(idPrefix, devices, count) {
  const args = ['--host', '127.0.0.1', '--port', String(browser.env.tcpPort), '--interval-ms', '300',
    '--id-prefix', idPrefix, '--devices', devices];
  const proc = spawn(devsimBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const sim = { proc, out: '', err: '', exited: new Promise((ok) => proc.once('exit', (code, signal) => ok({ code, signal }))) };
  sims.push(sim);
  proc.stdout.setEncoding('utf8').on('data', (d) => { sim.out += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { sim.err += d; });
  const t0 = Date.now();
  while ((sim.out.match(/^online /gm) ?? []).length < count) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`devsim exited: ${sim.err}`);
    if (Date.now() - t0 > 10_000) throw new Error(`devsim: devices not online in 10 s\n${sim.out}\n${sim.err}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return sim;
}

async function stopSim(sim, signal) {
  if (sim.proc.exitCode === null && sim.proc.signalCode === null) sim.proc.kill(signal);
  return sim.exited;
}

before(() => mkdirSync(SHOTS, { recursive: true }));
after(async () => {
  for (const sim of sims) await stopSim(sim, 'SIGKILL');
  for (const p of pages) await p.close().catch(() => {});
});

/** A page of the harness's browser, navigated to `path` under /www/ of its static server. */
async function open(path, viewport = LAPTOP) {
  const page = await browser.page();
  pages.push(page);
  await page.setViewportSize(viewport);
  await page.goto(new URL(`/www/${path}`, page.url()).href);
  return page;
}

/** Adds the page's console to an assertion failure: that is what tells why it failed. */
async function explain(page, fn) {
  try {
    return await fn();
  } catch (e) {
    if (page.logs.length) e.message += `\n--- page console ---\n${page.logs.slice(-30).join('\n')}`;
    throw e;
  }
}

const tile = (id) => `article.tile[data-device="${id}"]`;
const metricValue = (page, id, metric) => page.textContent(`${tile(id)} .metric[data-metric="${metric}"] .value`);

test('the dashboard: live device tiles, commands with replies, a camera, devices going offline', { timeout: 120_000 }, async (t) => {
  const ids = { thermostat: `${RUN}-thermostat-1`, air: `${RUN}-air-1`, lock: `${RUN}-lock-1` };
  const sim = await startSim(RUN, 'thermostat:1,air:1,lock:1', 3);
  const broker = encodeURIComponent(browser.env.ws);
  const dash = await open(`?broker=${broker}`);

  await t.test('connects and shows a tile per device, online, with values that change and charts', T, () => explain(dash, async () => {
    await dash.waitForSelector('#state[data-state="connected"]', { timeout: 15_000 });
    for (const id of Object.values(ids)) await dash.waitForSelector(`${tile(id)}[data-status="online"]:not(.offline)`, { timeout: 10_000 });
    // Every metric row has a value (meta creates the rows, telemetry fills them).
    await dash.waitForFunction((run) => {
      const rows = [...document.querySelectorAll('article.tile .metric')].filter((r) => r.closest('article').dataset.device.startsWith(`${run}-`));
      return rows.length === 8 && rows.every((r) => r.dataset.value !== undefined);
    }, RUN, { timeout: 5000 });
    assert.equal(await dash.textContent(`${tile(ids.thermostat)} h3`), 'Thermostat 1');
    assert.equal(await dash.textContent(`${tile(ids.lock)} h3`), 'Door lock 1');
    assert.match(await metricValue(dash, ids.thermostat, 'temperature'), /^-?\d+(\.\d+)? °C$/);
    assert.match(await metricValue(dash, ids.lock, 'locked'), /^(locked|unlocked)$/);
    // Values move: at 300 ms per sample, several of the eight metrics change within 3 s.
    const snapshot = () => dash.$$eval('article.tile .metric', (rows, run) => rows
      .filter((r) => r.closest('article').dataset.device.startsWith(`${run}-`))
      .map((r) => `${r.closest('article').dataset.device}/${r.dataset.metric}=${r.dataset.value}`), RUN);
    const first = await snapshot();
    assert.equal(first.length, 8, `metric rows: ${first}`);
    let changed = 0;
    for (let i = 0; i < 30 && changed < 3; i++) {
      await dash.waitForTimeout(100);
      const now = await snapshot();
      changed = now.filter((v, k) => v !== first[k]).length;
    }
    assert.ok(changed >= 3, `only ${changed} of 8 values changed in 3 s`);
    // The sparkline of the temperature has a line drawn on it (more than the dot of one sample).
    await dash.waitForFunction((sel) => {
      const c = document.querySelector(sel);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n > 100;
    }, `${tile(ids.thermostat)} .metric[data-metric="temperature"] canvas`, { timeout: 3000 });
    // The stats count what came in; the topic explorer logs it.
    await dash.waitForFunction(() => Number(document.querySelector('#stats div:nth-child(2) b')?.textContent) > 10, null, { timeout: 3000 });
    await dash.fill('#log-filter', `${ids.air}/co2`);
    await dash.waitForFunction((topic) => [...document.querySelectorAll('#log .line .t')].some((e) => e.textContent === topic), `sensors/${ids.air}/co2`);
    await dash.fill('#log-filter', '');
  }));

  await t.test('commands are MQTT 5 requests whose replies show in the tile', T, () => explain(dash, async () => {
    // Thermostat: set the setpoint; the reply carries the new state, the metric follows.
    const setpoint = `${tile(ids.thermostat)} .commands input[data-action="setpoint"]`;
    await dash.fill(setpoint, '23.5');
    await dash.click(`${tile(ids.thermostat)} .commands button[data-action="setpoint"]`);
    await dash.waitForSelector(`${tile(ids.thermostat)} .reply.ok`, { timeout: 5000 });
    const reply = await dash.textContent(`${tile(ids.thermostat)} .reply`);
    assert.match(reply, /setpoint: ok/);
    assert.match(reply, /setpoint 23\.5 °C/);
    await dash.waitForFunction((sel) => document.querySelector(sel)?.dataset.value === '23.5',
      `${tile(ids.thermostat)} .metric[data-metric="setpoint"]`, { timeout: 3000 });
    // Lock: the opposite of what it is now, and the `locked` metric shows it.
    const wasLocked = (await metricValue(dash, ids.lock, 'locked')) === 'locked';
    const action = wasLocked ? 'unlock' : 'lock';
    await dash.click(`${tile(ids.lock)} .commands button[data-action="${action}"]`);
    await dash.waitForSelector(`${tile(ids.lock)} .reply.ok`, { timeout: 5000 });
    assert.match(await dash.textContent(`${tile(ids.lock)} .reply`), new RegExp(`${action}: ok — locked ${wasLocked ? 'unlocked' : 'locked'}`));
    await dash.waitForFunction(([sel, want]) => document.querySelector(sel)?.textContent === want,
      [`${tile(ids.lock)} .metric[data-metric="locked"] .value`, wasLocked ? 'unlocked' : 'locked'], { timeout: 3000 });
    await dash.screenshot({ path: join(SHOTS, 'dashboard-devices.png') });
  }));

  await t.test('fits a phone: no sideways scrolling, tiles in one column', T, () => explain(dash, async () => {
    await dash.setViewportSize(PHONE);
    await dash.waitForTimeout(300);
    const layout = await dash.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      tileWidths: [...document.querySelectorAll('article.tile')].map((e) => e.getBoundingClientRect().width),
    }));
    assert.ok(layout.scrollWidth <= 390, `page is ${layout.scrollWidth} px wide on a 390 px screen`);
    assert.ok(layout.tileWidths.every((w) => w > 300), `tile widths ${layout.tileWidths}`);
    await dash.screenshot({ path: join(SHOTS, 'dashboard-phone.png') });
    await dash.setViewportSize(LAPTOP);
  }));

  await t.test('a camera tab appears in the list; Watch plays its video and the data channel echoes', T, async () => {
    const name = `Camera ${RUN}`;
    const cam = await open(`camera.html?autostart=1&source=canvas&name=${encodeURIComponent(name)}&broker=${broker}`);
    await explain(cam, () => cam.waitForSelector('body[data-live="true"]', { timeout: 15_000 }));
    await explain(dash, async () => {
      const row = dash.locator('#cameras .camera', { hasText: name });
      await row.waitFor({ timeout: 10_000 });
      await row.getByRole('button', { name: 'Watch' }).click();
      // The video plays: currentTime moves on, frames have a size.
      await dash.waitForFunction(() => document.getElementById('remote').currentTime > 0.5, null, { timeout: 15_000 });
      const t1 = await dash.$eval('#remote', (v) => v.currentTime);
      await dash.waitForTimeout(1000);
      const v = await dash.$eval('#remote', (e) => ({ t: e.currentTime, w: e.videoWidth, h: e.videoHeight, paused: e.paused }));
      assert.ok(v.t > t1 + 0.5, `currentTime ${t1} -> ${v.t}`);
      assert.deepEqual([v.w, v.h, v.paused], [640, 480, false]);
      // The data channel: the camera echoes what the dashboard sends.
      await dash.waitForSelector('#chat-send:not([disabled])', { timeout: 10_000 });
      await dash.fill('#chat', `hello ${RUN}`);
      await dash.click('#chat-send');
      await dash.waitForFunction((want) => document.getElementById('chat-log').textContent.includes(want), `camera: echo: hello ${RUN}`, { timeout: 5000 });
      await dash.waitForFunction(() => /^connected · 640×480 · rtt/.test(document.getElementById('cam-stats').textContent), null, { timeout: 5000 });
      assert.equal(await cam.textContent('#viewers'), '1 viewer');
      await dash.locator('#viewer').scrollIntoViewIfNeeded();
      await dash.screenshot({ path: join(SHOTS, 'dashboard-camera.png') });
      // The camera tab closes (its Will clears the presence): the dashboard drops it.
      await cam.close();
      await row.waitFor({ state: 'detached', timeout: 5000 });
      assert.match(await dash.textContent('#cam-note'), /went offline|ended/);
      assert.equal(await dash.isHidden('#viewer'), true);
    });
  });

  await t.test('a stopped simulator (SIGTERM) and a killed one (SIGKILL, the Will) turn their tiles offline', T, () => explain(dash, async () => {
    await dash.evaluate(() => window.scrollTo(0, 0));
    const exit = await stopSim(sim, 'SIGTERM');
    assert.equal(exit.code, 0, `devsim exit ${JSON.stringify(exit)}: ${sim.err}`);
    for (const id of Object.values(ids)) await dash.waitForSelector(`${tile(id)}.offline[data-status="offline"]`, { timeout: 5000 });
    // Greyed out (once the fade is over).
    await dash.waitForFunction((sel) => {
      const style = getComputedStyle(document.querySelector(sel));
      return style.filter === 'grayscale(1)' && Number(style.opacity) < 0.6;
    }, tile(ids.thermostat), { timeout: 2000 });
    assert.equal(await dash.textContent(`${tile(ids.thermostat)} .pill`), 'offline');
    assert.equal(await dash.$eval(`${tile(ids.lock)} .commands button[data-action="ping"]`, (b) => b.disabled), true);

    const killed = `${RUN}k`;
    const lockId = `${killed}-lock-1`;
    const sim2 = await startSim(killed, 'lock:1', 1);
    await dash.waitForSelector(`${tile(lockId)}[data-status="online"]`, { timeout: 5000 });
    await stopSim(sim2, 'SIGKILL');
    await dash.waitForSelector(`${tile(lockId)}.offline[data-status="offline"]`, { timeout: 5000 });
    assert.equal(await dash.$eval('#state', (e) => e.dataset.state), 'connected');
    const errors = dash.logs.filter((l) => l.startsWith('[pageerror]'));
    assert.deepEqual(errors, []);
  }));
});
