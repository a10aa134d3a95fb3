import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Server, Socket } from 'node:net';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeOnce } from '../../src/health/probe.ts';
import { parseHostPort } from '../../src/health/tcp-probe.ts';
import { describeFetchError } from '../../src/health/http-probe.ts';
import { runCommand } from '../../src/proc/run.ts';
import { freePort, getApp, restartCommand, stopApp, writeAppRelease } from '../helpers/app.ts';

// One real app (the test fixture, started by its restart.sh) serves the HTTP and TCP probes.
let root = '';
let port = 0;
let pidFile = '';

async function release(name: string, options: Parameters<typeof writeAppRelease>[1]): Promise<string> {
  const dir = join(root, 'releases', name);
  await mkdir(dir, { recursive: true });
  await writeAppRelease(dir, options);
  return dir;
}

async function restart(dir: string): Promise<void> {
  await runCommand({ name: 'restart', command: restartCommand({ port, pidFile }), cwd: dir, timeoutMs: 20_000 });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hoist-probe-'));
  port = await freePort();
  pidFile = join(root, 'app.pid');
  await restart(await release('1.0.0', { version: '1.0.0' }));
});

after(async () => {
  await stopApp(pidFile);
  await rm(root, { recursive: true, force: true });
});

const opts = () => ({ timeoutMs: 5_000, cwd: root });

test('http: the right status and body is ok, and a restart to a new release serves the new version', async () => {
  const url = `http://127.0.0.1:${port}/healthz`;
  assert.deepEqual(await probeOnce({ http: { url, expectStatus: 200, bodyIncludes: 'ok 1.0.0' } }, opts()), {
    ok: true,
    detail: 'HTTP 200',
  });
  await restart(await release('2.0.0', { version: '2.0.0' }));
  assert.equal((await getApp(port, '/version')).body.trim(), '2.0.0');
  const result = await probeOnce({ http: { url, expectStatus: 200, bodyIncludes: 'ok 2.0.0' } }, opts());
  assert.equal(result.ok, true);
});

test('http: a wrong status is not ok and says which', async () => {
  const url = `http://127.0.0.1:${port}/nope`;
  assert.deepEqual(await probeOnce({ http: { url, expectStatus: 200 } }, opts()), {
    ok: false,
    answered: true,
    detail: 'HTTP 404 (expected 200)',
  });
});

test('http: a body without the expected text is not ok', async () => {
  const url = `http://127.0.0.1:${port}/healthz`;
  const result = await probeOnce({ http: { url, expectStatus: 200, bodyIncludes: 'definitely-not-there' } }, opts());
  assert.equal(result.ok, false);
  assert.match(result.detail, /HTTP 200 but body does not include "definitely-not-there"/);
});

test('http and tcp: connection refused is not ok and names the address', async () => {
  const closed = await freePort();
  const http = await probeOnce({ http: { url: `http://127.0.0.1:${closed}/healthz`, expectStatus: 200 } }, opts());
  assert.deepEqual(http, { ok: false, detail: `connect ECONNREFUSED 127.0.0.1:${closed}` });
  const tcp = await probeOnce({ tcp: `127.0.0.1:${closed}` }, opts());
  assert.deepEqual(tcp, { ok: false, detail: `connect ECONNREFUSED 127.0.0.1:${closed}` });
});

test('tcp: a listening port is ok', async () => {
  assert.deepEqual(await probeOnce({ tcp: `127.0.0.1:${port}` }, opts()), { ok: true, detail: `connected to 127.0.0.1:${port}` });
});

/** A server that accepts connections and never answers. */
async function silentServer(): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    server,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

test('http: a server that never answers times out, named by the timeout', async () => {
  const silent = await silentServer();
  try {
    const result = await probeOnce(
      { http: { url: `http://127.0.0.1:${silent.port}/healthz`, expectStatus: 200 } },
      { timeoutMs: 200, cwd: root },
    );
    assert.deepEqual(result, { ok: false, detail: 'timed out after 200ms' });
  } finally {
    await silent.close();
  }
});

test('http: the caller aborting is rethrown, not reported as a failed probe', async () => {
  const silent = await silentServer();
  try {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const probing = probeOnce(
      { http: { url: `http://127.0.0.1:${silent.port}/healthz`, expectStatus: 200 } },
      { timeoutMs: 60_000, cwd: root, signal: controller.signal },
    );
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(probing, (e) => e === reason);
    await assert.rejects(
      probeOnce({ tcp: `127.0.0.1:${silent.port}` }, { timeoutMs: 1000, cwd: root, signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    await assert.rejects(
      probeOnce({ command: 'true' }, { timeoutMs: 1000, cwd: root, signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
  } finally {
    await silent.close();
  }
});

test('tcp: an unparseable target is not ok; parseHostPort reads v4, names and [v6]', async () => {
  assert.deepEqual(await probeOnce({ tcp: 'nonsense' }, opts()), { ok: false, detail: 'not a host:port: "nonsense"' });
  assert.deepEqual(parseHostPort('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  assert.deepEqual(parseHostPort('localhost:8080'), { host: 'localhost', port: 8080 });
  assert.deepEqual(parseHostPort('[::1]:443'), { host: '::1', port: 443 });
  assert.equal(parseHostPort('1.2.3.4:0'), undefined);
  assert.equal(parseHostPort('1.2.3.4:70000'), undefined);
});

test('command: exit 0 is ok; a failure says the exit code and last output line; a hang times out', async () => {
  const env = { WANT: 'yes' };
  assert.deepEqual(await probeOnce({ command: 'test "$WANT" = yes' }, { ...opts(), env }), { ok: true, detail: 'exit 0' });
  assert.deepEqual(await probeOnce({ command: 'echo "db: connection refused"; exit 2' }, opts()), {
    ok: false,
    answered: true,
    detail: 'exit 2: db: connection refused',
  });
  assert.deepEqual(await probeOnce({ command: 'exit 1' }, opts()), { ok: false, answered: true, detail: 'exit 1' });
  assert.deepEqual(await probeOnce({ command: 'sleep 1000' }, { timeoutMs: 200, cwd: root }), {
    ok: false,
    detail: 'timed out after 200ms',
  });
  assert.deepEqual(await probeOnce({ command: 'kill -TERM $$' }, opts()), { ok: false, answered: false, detail: 'killed by SIGTERM' });
});

test('several kinds at once must all pass; none at all is trivially ok', async () => {
  const http = { url: `http://127.0.0.1:${port}/healthz`, expectStatus: 200 };
  const both = await probeOnce({ http, tcp: `127.0.0.1:${port}`, command: 'true' }, opts());
  assert.equal(both.ok, true);
  assert.match(both.detail, /HTTP 200; connected to .*; exit 0/);
  assert.deepEqual(await probeOnce({ http, command: 'exit 7' }, opts()), { ok: false, answered: true, detail: 'exit 7' });
  assert.equal((await probeOnce({}, opts())).ok, true);
});

test('http: only the first 64 KiB of the body are searched', async () => {
  const big = createHttpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    // 1 MiB: "early" at the start, "late" past 64 KiB.
    res.end(`early${'x'.repeat(1024 * 1024)}late`);
  });
  await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
  try {
    const address = big.address();
    assert.ok(address && typeof address === 'object');
    const url = `http://127.0.0.1:${address.port}/`;
    assert.equal((await probeOnce({ http: { url, expectStatus: 200, bodyIncludes: 'early' } }, opts())).ok, true);
    assert.equal((await probeOnce({ http: { url, expectStatus: 200, bodyIncludes: 'late' } }, opts())).ok, false);
  } finally {
    big.closeAllConnections();
    await new Promise((resolve) => big.close(resolve));
  }
});

test('describeFetchError falls back to the error message', () => {
  assert.equal(describeFetchError(new TypeError('Invalid URL'), 1000), 'Invalid URL');
  assert.equal(describeFetchError('weird', 1000), 'weird');
});

test('http: a probe leaves undici (fetch, WebSocket) unloaded, so the agent never pays for it', async () => {
  // A fresh process: the probe module and one real probe of the app, then Node's list of loaded
  // internals. A dynamic import('node:http') would build an ES module facade whose lazy WebSocket
  // export loads undici; fetch() would too.
  const script = [
    `import { probeHttp } from ${JSON.stringify(new URL('../../src/health/http-probe.ts', import.meta.url).href)};`,
    `const r = await probeHttp({ url: 'http://127.0.0.1:${port}/healthz', expectStatus: 200, bodyIncludes: 'ok' }, { timeoutMs: 5000 });`,
    `console.log(JSON.stringify({ ok: r.ok, undici: process.moduleLoadList.some((m) => m.includes('undici')) }));`,
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 20_000 });
  assert.deepEqual(JSON.parse(stdout), { ok: true, undici: false });
});
