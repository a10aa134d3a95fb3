import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '../../src/metrics/create.ts';
import { HoistError } from '../../src/errors.ts';
import { parseExposition, valueOf } from '../helpers/prometheus-text.ts';
import { eventually } from '../helpers/harness.ts';
import { FAMILIES } from '../helpers/metric-families.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoist-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the endpoint answers GET /metrics in the Prometheus text format with every family', async () => {
  await using metrics = await createMetrics({ listen: '127.0.0.1:0' });
  assert.match(metrics.url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  metrics.deployFinished('web', 'prod', 'healthy', { fetch: 1, unpack: 1, activate: 0.1, health: 3 });
  metrics.releaseChanged('web', 'prod', { version: '1.0.0', sha256: 'c'.repeat(64) });
  metrics.stateChanged('web', 'prod', 'healthy');
  metrics.manifestRejected('web', 'prod', 'HOIST_SIGNATURE_UNTRUSTED');
  metrics.polled(new Date(1_800_000_000_000));
  metrics.trustExpires(new Date(1_900_000_000_000));
  const res = await fetch(metrics.url ?? '');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const families = parseExposition(await res.text());
  for (const [name, type, labels] of FAMILIES) {
    const family = families.get(name);
    assert.equal(family?.type, type, name);
    assert.ok((family?.samples.length ?? 0) > 0, `${name} has samples`);
    for (const s of family?.samples ?? []) assert.deepEqual(Object.keys(s.labels).filter((l) => l !== 'le').sort(), [...labels].sort(), s.name);
  }
  assert.equal(valueOf(families, 'hoist_deploys_total', { outcome: 'healthy' }), 1);
  assert.equal(valueOf(families, 'hoist_trust_expires_timestamp_seconds'), 1_900_000_000);
  // a second scrape after a change sees it
  metrics.deployFinished('web', 'prod', 'rolled-back', {});
  const again = parseExposition(await (await fetch(metrics.url ?? '')).text());
  assert.equal(valueOf(again, 'hoist_deploys_total', { outcome: 'rolled-back' }), 1);
});

test('other paths are 404, other methods 405, HEAD has no body', async () => {
  await using metrics = await createMetrics({ listen: '127.0.0.1:0' });
  const base = new URL(metrics.url ?? '');
  assert.equal((await fetch(new URL('/', base))).status, 404);
  assert.equal((await fetch(new URL('/metrics/x', base))).status, 404);
  const post = await fetch(base, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const head = await fetch(base, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  assert.equal((await fetch(`${base.href}?name[]=x`)).status, 200);
});

test('close() stops listening, ends keep-alive connections and leaves no handle: the process exits by itself', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/serve-and-close.ts', import.meta.url));
  const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  // killed by the spawn timeout (SIGTERM) if a handle kept it alive
  assert.equal(signal, null, `the process did not exit by itself: ${out}${err}`);
  assert.equal(code, 0, err);
  assert.deepEqual(JSON.parse(out) as unknown, { first: 200, after: 'ECONNREFUSED' });
});

test('a port already taken is HOIST_METRICS_UNAVAILABLE naming the address', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = blocker.address() as { port: number };
    await assert.rejects(createMetrics({ listen: `127.0.0.1:${port}` }), (e: unknown) => {
      assert.ok(e instanceof HoistError);
      assert.equal(e.code, 'HOIST_METRICS_UNAVAILABLE');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
      return true;
    });
  } finally {
    blocker.close();
  }
});

test('the textfile is written at start, then atomically (a new inode each time) after changes, and a last time on close', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'hoist.prom');
  const metrics = await createMetrics({ textfile: file }, { textfileIntervalMs: 0 });
  assert.equal(metrics.url, undefined);
  const first = await stat(file);
  assert.equal(first.mode & 0o777, 0o644);
  // held open: the first file's inode cannot be reused, and shows whether it was replaced or rewritten
  await using original = await open(file, 'r');
  const originalText = await readFile(file, 'utf8');
  assert.deepEqual([...parseExposition(await readFile(file, 'utf8')).keys()].sort(), FAMILIES.map(([n]) => n).sort());
  // a reader in the same directory while many writes happen never sees a partial file
  let reads = 0;
  let reading = true;
  const reader = (async () => {
    while (reading) {
      parseExposition(await readFile(file, 'utf8'));
      reads++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  for (let i = 0; i < 40; i++) {
    metrics.manifestRejected('web', 'prod', 'HOIST_SIGNATURE_UNTRUSTED');
    metrics.releaseChanged('web', 'prod', { version: `1.0.${i}`, sha256: 'd'.repeat(64) });
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await eventually(async () => valueOf(parseExposition(await readFile(file, 'utf8')), 'hoist_manifests_rejected_total', { code: 'HOIST_SIGNATURE_UNTRUSTED' }) === 40, 'the textfile shows the 40th rejection');
  reading = false;
  await reader;
  assert.ok(reads > 0);
  assert.notEqual((await stat(file)).ino, first.ino, 'replaced by a rename, not rewritten in place');
  assert.equal((await original.stat()).nlink, 0, 'the first file was unlinked by the rename');
  assert.equal(await original.readFile('utf8'), originalText, 'and never written to');
  metrics.stateChanged('web', 'prod', 'healthy');
  await metrics.close();
  await metrics.close();
  const last = parseExposition(await readFile(file, 'utf8'));
  assert.equal(valueOf(last, 'hoist_state', { state: 'healthy' }), 1);
  assert.equal(valueOf(last, 'hoist_release_info', { version: '1.0.39' }), 1);
  // nothing left behind but the file (no temp files node_exporter could see)
  assert.deepEqual(await readdir(dir), ['hoist.prom']);
});

test('textfile writes are coalesced: changes inside the interval wait for it, close() writes them', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'hoist.prom');
  // an hour: nothing but the start and close may write
  const metrics = await createMetrics({ textfile: file }, { textfileIntervalMs: 3_600_000 });
  const started = await stat(file);
  metrics.manifestRejected('web', 'prod', 'HOIST_REPLAY');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((await stat(file)).ino, started.ino, 'not written again inside the interval');
  await metrics.close();
  assert.equal(valueOf(parseExposition(await readFile(file, 'utf8')), 'hoist_manifests_rejected_total', { code: 'HOIST_REPLAY' }), 1);
});

test('a textfile whose directory is missing is HOIST_METRICS_UNAVAILABLE at start; a later failing write is logged once and retried', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(createMetrics({ textfile: path.join(dir, 'missing', 'hoist.prom') }), (e: unknown) => {
    assert.ok(e instanceof HoistError);
    assert.equal(e.code, 'HOIST_METRICS_UNAVAILABLE');
    assert.match(e.message, /missing\/hoist\.prom/);
    return true;
  });
  const sub = path.join(dir, 'sub');
  await mkdir(sub);
  const warnings: Array<Record<string, unknown>> = [];
  const infos: string[] = [];
  const metrics = await createMetrics({ textfile: path.join(sub, 'hoist.prom') }, { textfileIntervalMs: 0, log: { warn: (o) => warnings.push(o), info: (_o, m) => infos.push(m ?? '') } });
  await rm(sub, { recursive: true });
  metrics.manifestRejected('web', 'prod', 'A');
  await eventually(() => Promise.resolve(warnings.length === 1), 'the failed write is logged');
  metrics.manifestRejected('web', 'prod', 'B');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(warnings.length, 1, 'the same failure is logged once');
  assert.equal(warnings[0]?.code, 'HOIST_IO');
  await mkdir(sub);
  metrics.manifestRejected('web', 'prod', 'C');
  await eventually(() => Promise.resolve(infos.includes('metrics textfile written again')), 'the recovery is logged');
  await metrics.close();
  const text = parseExposition(await readFile(path.join(sub, 'hoist.prom'), 'utf8'));
  assert.equal(valueOf(text, 'hoist_manifests_rejected_total', { code: 'A' }), 1);
  assert.equal(valueOf(text, 'hoist_manifests_rejected_total', { code: 'C' }), 1);
});

test('a config with neither listen nor textfile, or a listen that is not host:port, is refused', async () => {
  await assert.rejects(createMetrics({}), { code: 'HOIST_METRICS_UNAVAILABLE' });
  await assert.rejects(createMetrics({ listen: 'nowhere' }), { code: 'HOIST_METRICS_UNAVAILABLE' });
});
