// The npm package as users get it: `npm pack` of pkg/ (built by tools/build-pkg.sh),
// checked for its contents, then installed from the tarball and used the three ways users
// do: a page loading it with no bundler, a Vite 7 app importing it by name (`vite build`,
// and the dev server with the one setting the README gives for it), and strict
// TypeScript (tsc 7 and 5.9) against its .d.ts. The
// fixtures are in tests/fixtures/; their node_modules come from tools/setup.sh, and the
// tarball is installed into them with `npm install --no-save`, so nothing is downloaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, relative, sep } from 'node:path';
import { useBrowser, withPage, brokerEnv } from '../lib/harness.js';
import { REPO_ROOT } from '../lib/server.js';

const PKG_DIR = join(REPO_ROOT, 'pkg');
const FIXTURES = join(REPO_ROOT, 'tests', 'fixtures');
const VITE_APP = join(FIXTURES, 'vite-app');
const TS_CONSUMER = join(FIXTURES, 'ts-consumer');
const T = { timeout: 120_000 };

const browser = useBrowser();
const state = {};

/** Runs a command; resolves with its output, rejects with the output in the message. */
function run(cmd, args, { cwd, allowFail = false } = {}) {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      if (code !== 0 && !allowFail) {
        fail(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${code}:\n${stdout}\n${stderr}`));
      } else {
        ok({ code, stdout, stderr });
      }
    });
  });
}

/** Installs the packed tarball into a fixture, as `npm install <tarball>` would. */
async function installTarball(fixture) {
  if (!existsSync(join(fixture, 'node_modules', '.package-lock.json'))) {
    throw new Error(`${relative(REPO_ROOT, fixture)}/node_modules is missing: run tools/setup.sh`);
  }
  await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefer-offline', state.tarball], { cwd: fixture });
  const installed = JSON.parse(await readFile(join(fixture, 'node_modules', 'mqtt-rtc', 'package.json'), 'utf8'));
  assert.equal(installed.version, state.packed.version, 'the fixture has the tarball just packed');
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** A static server on loopback; `routes` maps URL prefixes to directories. */
async function serve(routes) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [prefix, dir] = routes.find(([p]) => path.startsWith(p)) ?? [];
    let file = dir && normalize(join(dir, path.slice(prefix.length)));
    if (file && (file === dir || file.endsWith(sep))) file = join(file, 'index.html');
    try {
      if (!file || !file.startsWith(dir + sep)) throw new Error('outside');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

/** Opens `url` (a fixture page) and returns what its round trip wrote into #result. */
async function roundTrip(url) {
  return withPage(browser, async (page) => {
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('result')?.dataset.status !== 'pending', null, { timeout: 45_000 });
    const [status, text] = await page.$eval('#result', (el) => [el.dataset.status, el.textContent]);
    const result = JSON.parse(text);
    assert.equal(status, 'ok', `the page reported: ${result.error}\n--- page console ---\n${page.logs.join('\n')}`);
    return result;
  });
}

function assertRoundTrip(result, label) {
  assert.deepEqual(result, {
    topic: true,
    text: `hello from ${label} ✓`,
    qos: 1,
    granted: [1],
    reasonCode: 0,
    state: 'connected',
    errorClass: true,
  });
}

before(async () => {
  const pkg = JSON.parse(await readFile(join(PKG_DIR, 'package.json'), 'utf8').catch(() => '{}'));
  if (!pkg.exports) throw new Error('pkg/ is not the npm package: build it with tools/build-pkg.sh');
  state.tmp = await mkdtemp(join(tmpdir(), 'mqtt-rtc-package-'));
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', state.tmp], { cwd: PKG_DIR });
  [state.packed] = JSON.parse(stdout);
  state.tarball = join(state.tmp, state.packed.filename);
  state.unpacked = join(state.tmp, 'unpacked');
  await mkdir(state.unpacked);
  await run('tar', ['-xzf', state.tarball, '-C', state.unpacked, '--strip-components=1']);
});

after(async () => {
  if (state.tmp) await rm(state.tmp, { recursive: true, force: true });
});

test('the tarball holds exactly the package files, and package.json matches Cargo.toml', T, async () => {
  const files = state.packed.files.map((f) => f.path).sort();
  const isSnippet = (f) => /^(mqtt\/)?snippets\//.test(f);
  const snippets = files.filter(isSnippet);
  assert.deepEqual(files.filter((f) => !isSnippet(f)), [
    'LICENSE', 'README.md', 'mqtt/mqtt_rtc.d.ts', 'mqtt/mqtt_rtc.js', 'mqtt/mqtt_rtc_bg.wasm',
    'mqtt_rtc.d.ts', 'mqtt_rtc.js', 'mqtt_rtc_bg.wasm', 'package.json',
  ]);
  assert.ok(snippets.every((f) => f.endsWith('.js')), `only JS under snippets/: ${snippets}`);

  // Every module each entry's glue imports is shipped.
  for (const dir of ['', 'mqtt/']) {
    const glue = await readFile(join(state.unpacked, `${dir}mqtt_rtc.js`), 'utf8');
    const imports = [...glue.matchAll(/\bfrom\s*['"]\.\/([^'"]+)['"]/g)].map((m) => dir + m[1]);
    assert.ok(imports.some((f) => isSnippet(f)), `${dir}mqtt_rtc.js imports its snippets`);
    for (const f of imports) assert.ok(files.includes(f), `the glue imports ./${f}, which is not in the tarball`);
  }

  const { stdout } = await run('cargo', ['metadata', '--no-deps', '--format-version', '1', '--offline'], { cwd: REPO_ROOT });
  const crate = JSON.parse(stdout).packages.find((p) => p.name === 'mqtt-rtc');
  const pkg = JSON.parse(await readFile(join(state.unpacked, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'mqtt-rtc');
  assert.equal(pkg.version, crate.version);
  assert.equal(pkg.description, crate.description);
  assert.equal(pkg.license, crate.license);
  assert.deepEqual(pkg.keywords, crate.keywords);
  assert.match(pkg.repository.url, new RegExp(`^git\\+${crate.repository.replace(/[.]/g, '\\.')}(\\.git)?$`));
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.exports['.'], { types: './mqtt_rtc.d.ts', default: './mqtt_rtc.js' });
  assert.deepEqual(pkg.exports['./mqtt'], { types: './mqtt/mqtt_rtc.d.ts', default: './mqtt/mqtt_rtc.js' });
  const targets = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)))];
  for (const t of targets) assert.ok(files.includes(t.replace(/^\.\//, '')), `package.json points at ${t}, not in the tarball`);
  assert.ok(pkg.exports['./mqtt_rtc_bg.wasm'], 'the .wasm is importable as mqtt-rtc/mqtt_rtc_bg.wasm');
  // Tree-shaking may drop the glue when nothing is used from it (it has no effects
  // outside itself); the snippets are kept, whatever is in them.
  assert.deepEqual(pkg.sideEffects, ['./snippets/**', './mqtt/snippets/**']);
});

test('MqttError is an Error from the start: one constructed by the user before the library made any', T, async () => {
  // A fresh Node.js process, so no error was created before: the start function linked
  // MqttError.prototype to Error.prototype when the module initialised.
  const script = `
    import { readFileSync } from 'node:fs';
    const glue = await import(process.argv[1] + '/mqtt_rtc.js');
    glue.initSync({ module: readFileSync(process.argv[1] + '/mqtt_rtc_bg.wasm') });
    const e = new glue.MqttError('X', 'y');
    const coded = new glue.MqttError('NOT_AUTHORIZED', 'no', 135);
    console.log(JSON.stringify({
      error: e instanceof Error, mqttError: e instanceof glue.MqttError,
      code: e.code, message: e.message, name: e.name, text: String(e), reasonCode: e.reasonCode ?? null,
      stack: e.stack.startsWith('MqttError [X]: y'), coded: [coded instanceof Error, coded.reasonCode],
    }));`;
  const { stdout } = await run('node', ['--input-type=module', '-e', script, state.unpacked], { cwd: state.tmp });
  assert.deepEqual(JSON.parse(stdout), {
    error: true, mqttError: true, code: 'X', message: 'y', name: 'MqttError', text: 'MqttError [X]: y',
    reasonCode: null, stack: true, coded: [true, 135],
  });
});

test('without a bundler: a <script type="module"> page imports ./pkg/mqtt_rtc.js and round-trips a message', T, async () => {
  const site = join(state.tmp, 'plain');
  await mkdir(site);
  await copyFile(join(FIXTURES, 'plain-esm', 'index.html'), join(site, 'index.html'));
  await copyFile(join(VITE_APP, 'roundtrip.js'), join(site, 'roundtrip.js'));
  const server = await serve([['/pkg/', state.unpacked], ['/', site]]);
  try {
    const result = await roundTrip(`${server.url}/index.html?broker=${encodeURIComponent(brokerEnv().ws)}`);
    assertRoundTrip(result, 'plain-esm');
  } finally {
    await server.close();
  }
});

test('Vite 7 build: `import init, { MqttClient } from "mqtt-rtc"` with no config ships the .wasm and round-trips a message', T, async () => {
  await installTarball(VITE_APP);
  const dist = join(state.tmp, 'vite-dist');
  const { stdout, stderr } = await run('node', [join(VITE_APP, 'node_modules', 'vite', 'bin', 'vite.js'), 'build',
    '--outDir', dist, '--emptyOutDir', '--logLevel', 'info'], { cwd: VITE_APP });
  assert.doesNotMatch(`${stdout}\n${stderr}`, /warn|\(!\)/i, 'vite build printed a warning');
  // Vite found the .wasm through new URL(..., import.meta.url) and emitted it as is.
  const assets = await readdir(join(dist, 'assets'));
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `one .wasm in ${assets}`);
  assert.ok((await readFile(join(dist, 'assets', wasm[0]))).equals(await readFile(join(state.unpacked, 'mqtt_rtc_bg.wasm'))));

  const server = await serve([['/', dist]]);
  try {
    assertRoundTrip(await roundTrip(`${server.url}/?broker=${encodeURIComponent(brokerEnv().ws)}`), 'vite');
  } finally {
    await server.close();
  }
});

test('Vite 7 dev server: with optimizeDeps.exclude, as the README says, the same app works unbuilt', T, async () => {
  await installTarball(VITE_APP);
  const port = await new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port: p } = s.address(); s.close(() => ok(p)); });
  });
  // --force: the tarball changes without the lock file changing, so re-optimise.
  const vite = spawn('node', [join(VITE_APP, 'node_modules', 'vite', 'bin', 'vite.js'), '--host', '127.0.0.1',
    '--port', String(port), '--strictPort', '--force', '--clearScreen', 'false', '--config', 'vite.dev.config.js'], { cwd: VITE_APP, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  vite.stdout.on('data', (d) => { output += d; });
  vite.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((ok) => vite.once('exit', ok));
  try {
    await Promise.race([
      // Poll the port rather than read the banner: with CI=true Vite prints no "Local:" line.
      (async () => {
        for (let i = 0; i < 600; i++) {
          try {
            if ((await fetch(`http://127.0.0.1:${port}/`)).ok) return;
          } catch { /* not listening yet */ }
          await new Promise((ok) => setTimeout(ok, 100));
        }
        throw new Error(`the Vite dev server did not answer within 60 s:\n${output}`);
      })(),
      exited.then((code) => { throw new Error(`vite exited ${code}:\n${output}`); }),
    ]);
    const result = await roundTrip(`http://127.0.0.1:${port}/?broker=${encodeURIComponent(brokerEnv().ws)}`);
    assertRoundTrip(result, 'vite');
    assert.doesNotMatch(output, /warn|error/i, `the dev server printed:\n${output}`);
  } finally {
    vite.kill('SIGTERM');
    await exited;
  }
});

// The TypeScript files to check: MqttClient, WebRTC and signaling. The package must
// declare RtcPeer and MqttSignaling: their typings missing is a failure. Each
// `// @ts-expect-error TSnnnn why` line in an expect-errors file names the error the next
// line must cause.
async function typeScriptFiles() {
  const dts = await readFile(join(TS_CONSUMER, 'node_modules', 'mqtt-rtc', 'mqtt_rtc.d.ts'), 'utf8');
  for (const cls of ['MqttClient', 'MqttError', 'RtcPeer', 'RtcChannel', 'MqttSignaling']) {
    assert.match(dts, new RegExp(`^export class ${cls}\\b`, 'm'), `mqtt_rtc.d.ts declares ${cls}`);
  }
  return {
    mqtt: ['good.ts', 'expect-errors.ts'],
    rtc: ['rtc/good.ts', 'rtc/expect-errors.ts'],
    signaling: ['signaling/good.ts', 'signaling/expect-errors.ts'],
  };
}

async function expectedErrors(file) {
  const lines = (await readFile(join(TS_CONSUMER, file), 'utf8')).split('\n');
  const expected = [];
  lines.forEach((l, i) => {
    const m = /^\s*\/\/ @ts-expect-error (TS\d+) /.exec(l);
    if (m) expected.push(`${i + 2}: ${m[1]}`);
  });
  return { lines, expected };
}

for (const [compiler, dir] of [['TypeScript 7', 'typescript'], ['TypeScript 5.9', 'typescript-5']]) {
  test(`${compiler} --strict: good.ts type-checks, and each wrong use in expect-errors.ts fails with its expected error`, T, async (t) => {
    await installTarball(TS_CONSUMER);
    const tsc = join(TS_CONSUMER, 'node_modules', dir, 'bin', 'tsc');
    const groups = await typeScriptFiles();
    t.diagnostic(`checked: ${Object.values(groups).flat().join(', ')}`);
    // A work dir inside the fixture, so "mqtt-rtc" resolves from its node_modules.
    const work = join(TS_CONSUMER, 'node_modules', '.mqtt-rtc-test');
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    const tsconfig = (files) => JSON.stringify({ extends: '../../tsconfig.json', include: [], files });
    try {
      await writeFile(join(work, 'tsconfig.json'), tsconfig(Object.values(groups).flat().map((f) => `../../${f}`)));
      const ok = await run('node', [tsc, '-p', work, '--pretty', 'false'], { cwd: TS_CONSUMER, allowFail: true });
      assert.equal(ok.code, 0, `tsc on ${Object.values(groups).flat()}:\n${ok.stdout}${ok.stderr}`);

      // The same wrong uses without their directives: exactly the expected errors, each
      // on its line.
      // The MQTT-only entry: good.ts type-checks against "mqtt-rtc/mqtt" as it is, and
      // the WebRTC classes are not there.
      const good = await readFile(join(TS_CONSUMER, 'good.ts'), 'utf8');
      await writeFile(join(work, 'mqtt-entry.ts'), good.replaceAll('from "mqtt-rtc";', 'from "mqtt-rtc/mqtt";'));
      await writeFile(join(work, 'mqtt-entry-rtc.ts'), 'import { RtcPeer } from "mqtt-rtc/mqtt";\nexport const p: unknown = RtcPeer;\n');
      await writeFile(join(work, 'tsconfig.json'), tsconfig(['mqtt-entry.ts']));
      const entry = await run('node', [tsc, '-p', work, '--pretty', 'false'], { cwd: TS_CONSUMER, allowFail: true });
      assert.equal(entry.code, 0, `tsc on good.ts importing "mqtt-rtc/mqtt":\n${entry.stdout}${entry.stderr}`);
      await writeFile(join(work, 'tsconfig.json'), tsconfig(['mqtt-entry-rtc.ts']));
      const noRtc = await run('node', [tsc, '-p', work, '--pretty', 'false'], { cwd: TS_CONSUMER, allowFail: true });
      assert.match(noRtc.stdout, /mqtt-entry-rtc\.ts\(1,\d+\): error TS(2305|2614):.*RtcPeer/, `tsc output:\n${noRtc.stdout}${noRtc.stderr}`);

      for (const [name, [, errorsFile]] of Object.entries(groups)) {
        const { lines, expected } = await expectedErrors(errorsFile);
        assert.ok(expected.length >= 10, `${errorsFile} lists ${expected.length} wrong uses`);
        const stripped = `stripped-${name}.ts`;
        await writeFile(join(work, stripped), lines.map((l) => l.replace(/\/\/ @ts-expect-error .*/, '')).join('\n'));
        await writeFile(join(work, 'tsconfig.json'), tsconfig([stripped]));
        const bad = await run('node', [tsc, '-p', work, '--pretty', 'false'], { cwd: TS_CONSUMER, allowFail: true });
        const got = [...bad.stdout.matchAll(/^(.*)\((\d+),\d+\): error (TS\d+):/gm)].map((m) => {
          assert.ok(m[1].endsWith(stripped), `an error outside the wrong uses:\n${bad.stdout}`);
          return `${m[2]}: ${m[3]}`;
        });
        assert.deepEqual(got, expected, `${errorsFile} without its directives; tsc output:\n${bad.stdout}${bad.stderr}`);
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}
