import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { isHoistError } from '../../src/errors.ts';
import { fetchInstanceId, resolveHostId, sanitizeHostId } from '../../src/config/host-id.ts';

/** Loopback server on a free port, closed (connections destroyed) on dispose. */
async function listen(handler: http.RequestListener): Promise<{ url: string; requests: string[] } & AsyncDisposable> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** IMDSv2: a token from PUT, then the instance id only with that token. */
function fakeImds(instanceId: string): http.RequestListener {
  return (req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === undefined) {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('TOKEN-123');
      return;
    }
    if (req.method === 'GET' && req.url === '/latest/meta-data/instance-id') {
      if (req.headers['x-aws-ec2-metadata-token'] !== 'TOKEN-123') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(instanceId);
      return;
    }
    res.writeHead(404).end();
  };
}

/** A loopback port with nothing listening: bind, read the port, close. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a literal hostId is returned as is, without asking IMDS', async () => {
  await using imds = await listen(fakeImds('i-0abc'));
  assert.equal(await resolveHostId('web-01.prod', { imdsEndpoint: imds.url }), 'web-01.prod');
  assert.deepEqual(imds.requests, []);
});

test('an invalid literal hostId is HOIST_CONFIG_INVALID', async () => {
  await assert.rejects(resolveHostId('web 01/prod'), (error: unknown) => isHoistError(error, 'HOIST_CONFIG_INVALID'));
});

test('auto uses the EC2 instance id from IMDSv2 (token, then instance-id)', async () => {
  await using imds = await listen(fakeImds('i-0123456789abcdef0'));
  assert.equal(await resolveHostId('auto', { imdsEndpoint: `${imds.url}/` }), 'i-0123456789abcdef0');
  assert.deepEqual(imds.requests, ['PUT /latest/api/token', 'GET /latest/meta-data/instance-id']);
});

test('auto reads HOIST_IMDS_ENDPOINT when no endpoint is passed', async () => {
  await using imds = await listen(fakeImds('i-0fromenv'));
  const before = process.env.HOIST_IMDS_ENDPOINT;
  process.env.HOIST_IMDS_ENDPOINT = imds.url;
  try {
    assert.equal(await resolveHostId('auto'), 'i-0fromenv');
  } finally {
    if (before === undefined) delete process.env.HOIST_IMDS_ENDPOINT;
    else process.env.HOIST_IMDS_ENDPOINT = before;
  }
});

test('auto falls back to the hostname when IMDS refuses the connection', async () => {
  const port = await closedPort();
  const id = await resolveHostId('auto', { imdsEndpoint: `http://127.0.0.1:${port}` });
  assert.equal(id, sanitizeHostId(os.hostname()));
});

test('auto falls back to the hostname when IMDS never answers, bounded by the timeout', async () => {
  await using imds = await listen(() => {
    /* never answers */
  });
  const started = performance.now();
  const id = await resolveHostId('auto', { imdsEndpoint: imds.url, timeoutMs: 200, hostname: 'build-box' });
  const elapsed = performance.now() - started;
  assert.equal(id, 'build-box');
  assert.deepEqual(imds.requests, ['PUT /latest/api/token']);
  // Generous bound for a loaded machine: it must not hang anywhere near a default HTTP timeout.
  assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
});

test('auto falls back when IMDS answers with an error or a malformed id', async () => {
  await using denied = await listen((_req, res) => res.writeHead(403).end('nope'));
  assert.equal(await resolveHostId('auto', { imdsEndpoint: denied.url, hostname: 'h1' }), 'h1');
  await using weird = await listen(fakeImds('not an/id'));
  assert.equal(await resolveHostId('auto', { imdsEndpoint: weird.url, hostname: 'h2' }), 'h2');
});

test('the hostname is sanitised into a valid host id, or refused clearly', async () => {
  const port = await closedPort();
  const imdsEndpoint = `http://127.0.0.1:${port}`;
  assert.equal(await resolveHostId('auto', { imdsEndpoint, hostname: 'my host (dev)' }), 'my-host-dev');
  await assert.rejects(resolveHostId('auto', { imdsEndpoint, hostname: '***' }), (error: unknown) => {
    assert.ok(isHoistError(error, 'HOIST_CONFIG_INVALID'));
    assert.match(error.message, /set hostId to a literal/);
    return true;
  });
});

test('sanitizeHostId', () => {
  assert.equal(sanitizeHostId('ip-10-0-0-1.ec2.internal'), 'ip-10-0-0-1.ec2.internal');
  assert.equal(sanitizeHostId('  héllo wörld '), 'h-llo-w-rld');
  assert.equal(sanitizeHostId('x'.repeat(300))?.length, 128);
  assert.equal(sanitizeHostId(''), undefined);
  assert.equal(sanitizeHostId('..'), undefined);
});

test('aborting the caller signal rejects instead of falling back', async () => {
  await using imds = await listen(() => {
    /* never answers */
  });
  const controller = new AbortController();
  const pending = fetchInstanceId({ imdsEndpoint: imds.url, timeoutMs: 60_000, signal: controller.signal });
  // Abort once the request has reached the server, so the abort interrupts a live request.
  for (let i = 0; i < 500 && imds.requests.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  controller.abort(new Error('shutting down'));
  await assert.rejects(pending, /shutting down/);
});

test('auto falls back when IMDS answers too much, or stops in the middle of its answer', async () => {
  await using huge = await listen((_req, res) => res.writeHead(200).end('i'.repeat(10_000)));
  assert.equal(await resolveHostId('auto', { imdsEndpoint: huge.url, hostname: 'h3' }), 'h3');
  await using cut = await listen((_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('TOKEN');
    res.socket?.destroy();
  });
  assert.equal(await resolveHostId('auto', { imdsEndpoint: cut.url, hostname: 'h4' }), 'h4');
});

test('an IMDS lookup leaves undici (fetch) unloaded, so the agent never pays for it', async () => {
  await using imds = await listen(fakeImds('i-0undici'));
  // A fresh process: the module, one real lookup, then Node's list of loaded internals.
  const script = [
    `import { fetchInstanceId } from ${JSON.stringify(new URL('../../src/config/host-id.ts', import.meta.url).href)};`,
    `const id = await fetchInstanceId({ imdsEndpoint: ${JSON.stringify(imds.url)} });`,
    `console.log(JSON.stringify({ id, undici: process.moduleLoadList.some((m) => m.includes('undici')) }));`,
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  assert.deepEqual(JSON.parse(stdout), { id: 'i-0undici', undici: false });
});
