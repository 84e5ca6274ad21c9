// A tiny static server for the browser tests: /pkg/* from the wasm-pack output
// (<repo>/pkg), /www/* from the sample dashboard (<repo>/www, which imports ../pkg/) and
// /* from tests/js/page (the test page and its browser-side helpers),
// on a free loopback port. WebAssembly must be served as application/wasm for
// WebAssembly.instantiateStreaming. `?csp=POLICY` serves a file under that
// Content-Security-Policy.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export const REPO_ROOT = resolve(here, '../../..');
const PKG_DIR = join(REPO_ROOT, 'pkg');
const PAGE_DIR = resolve(here, '../page');
const WWW_DIR = join(REPO_ROOT, 'www');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.ts': 'text/plain; charset=utf-8',
};

function fileFor(urlPath) {
  const path = decodeURIComponent(urlPath.split('?')[0]);
  const [root, rest] = path.startsWith('/pkg/') ? [PKG_DIR, path.slice(5)]
    : path.startsWith('/www/') ? [WWW_DIR, path.slice(5) || 'index.html']
      : [PAGE_DIR, path.slice(1) || 'index.html'];
  const full = normalize(join(root, rest));
  // Never serve anything outside the roots.
  return full === root || full.startsWith(root + sep) ? full : null;
}

/** Starts the server; resolves with { url, close() }. */
export async function startServer() {
  const server = createServer(async (req, res) => {
    const file = fileFor(req.url);
    try {
      if (!file) throw new Error('outside');
      const body = await readFile(file);
      // ?csp=POLICY: the page is served under that Content-Security-Policy.
      const csp = new URL(req.url, 'http://x').searchParams.get('csp');
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        ...(csp ? { 'content-security-policy': csp } : {}),
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}
