// `npm run test:firefox`: the test files that drive a browser, in Firefox ESR. Files listed
// in CHROMIUM_ONLY (lib/firefox.js) are left out, each with its reason printed. Extra
// arguments name test files to run instead of all of them.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, basename } from 'node:path';
import { CHROMIUM_ONLY } from './firefox.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const named = process.argv.slice(2);
const all = named.length ? named.map((f) => basename(f)) : readdirSync(join(root, 'test')).filter((f) => f.endsWith('.test.js')).sort();
for (const f of all.filter((f) => CHROMIUM_ONLY[f])) console.log(`# ${f}: Chromium only (${CHROMIUM_ONLY[f]})`);
const files = all.filter((f) => !CHROMIUM_ONLY[f]).map((f) => join('test', f));
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, MQTT_RTC_BROWSER: 'firefox' },
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : code));
