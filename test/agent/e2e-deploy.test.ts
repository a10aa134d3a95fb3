/**
 * The deploy transaction end to end: the real `hoist agent --once` against fauxqs, deploying the
 * test HTTP app into real directories and health-checking it over loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, createHarness } from '../helpers/harness.ts';

test('S3 polling: v1 deploys healthy, v2 flips current, v1 stays as previous', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  const first = await h.once();
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.equal(await h.current(), '1.0.0');
  assert.equal(await h.served(), '1.0.0');
  assert.equal(await readlink(path.join(h.root, 'current')), `releases/1.0.0-${v1.sha256.slice(0, 12)}`);

  const v2 = await h.artifact('2.0.0', 'healthy', { zstd: true });
  await h.publish('2.0.0', v2);
  const second = await h.once();
  assert.equal(second.code, 0, second.stderr);
  assert.equal(await h.current(), '2.0.0');
  assert.equal(await h.served(), '2.0.0');
  const s = await h.appState();
  assert.equal(s.state, 'healthy');
  assert.equal(s.current?.version, '2.0.0');
  assert.equal(s.previous?.version, '1.0.0');
  assert.equal(s.txn, undefined);

  // Nothing new: a no-op that exits 0 and touches nothing.
  const third = await h.once();
  assert.equal(third.code, 0);
  assert.equal(await h.current(), '2.0.0');

  // The status report reached S3.
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const obj = await h.aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'status/web/prod/host-1.json' }));
  const report = JSON.parse(await obj.Body!.transformToString()) as Record<string, unknown>;
  assert.equal(report.hostId, 'host-1');
  assert.equal(report.state, 'healthy');
  assert.equal((report.current as { version: string }).version, '2.0.0');
});

test('unhealthy v3 rolls back to v2; the same v3 is not retried; a new artifact deploys; bake failure rolls back', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v2 = await h.artifact('2.0.0');
  await h.publish('2.0.0', v2);
  assert.equal((await h.once()).code, 0);

  const v3 = await h.artifact('3.0.0', 'unhealthy');
  const v3text = await h.publish('3.0.0', v3);
  const bad = await h.once();
  assert.equal(bad.code, 1, 'a rolled-back deploy exits 1');
  assert.match(bad.stderr, /HOIST_HEALTH_FAILED/);
  assert.equal(await h.current(), '2.0.0');
  assert.equal(await h.served(), '2.0.0');
  let s = await h.appState();
  assert.equal(s.state, 'rolled-back');
  assert.ok(s.failed.includes(v3.sha256));
  assert.equal(s.lastAttempt?.outcome, 'rolled-back');
  assert.equal(s.lastAttempt?.code, 'HOIST_HEALTH_FAILED');

  // The same v3 manifest again: not retried, and said so (exit 1, skipped: failed-list).
  await h.putChannel(v3text);
  const again = await h.once();
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr, /HOIST_FAILED_LIST/);
  assert.equal(await h.current(), '2.0.0');
  assert.equal((await h.appState() as { skipped?: { reason: string } }).skipped?.reason, 'failed-list');
  // A higher sequence naming the same broken artifact is not retried either.
  await h.publish('3.0.0', v3);
  assert.equal((await h.once()).code, 1);
  assert.equal(await h.current(), '2.0.0');

  // A higher sequence with a new artifact deploys.
  const v31 = await h.artifact('3.0.1');
  await h.publish('3.0.1', v31);
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '3.0.1');
  s = await h.appState();
  assert.equal(s.state, 'healthy');

  // Healthy at first, failing during bake: rolled back too.
  await h.writeConfig({ health: { bake: '3s' } });
  const v4 = await h.artifact('4.0.0', { failAfterMs: 1200 });
  await h.publish('4.0.0', v4);
  const baked = await h.once();
  assert.equal(baked.code, 1);
  assert.equal(await h.current(), '3.0.1');
  assert.equal(await h.served(), '3.0.1');
  s = await h.appState();
  assert.equal(s.state, 'rolled-back');
  assert.match(JSON.stringify(s.lastAttempt), /bake/);
});

test('first deploy that fails health is reported failed and nothing is flipped back', async () => {
  await using h = await createHarness();
  await h.writeConfig({ health: { startPeriod: '1500ms' } });
  const v1 = await h.artifact('1.0.0', 'unhealthy');
  await h.publish('1.0.0', v1);
  const r = await h.once();
  assert.equal(r.code, 1);
  const s = await h.appState();
  assert.equal(s.state, 'failed');
  assert.equal(s.current, undefined);
  assert.ok(s.failed.includes(v1.sha256));
});

test('digest mismatch, size over the signed size and a missing artifact: nothing unpacked, current unchanged', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const releasesBefore = await readdir(path.join(h.root, 'releases'));

  const cases: Array<{ name: string; code: string; make: () => Promise<void> }> = [
    {
      name: 'digest mismatch',
      code: 'HOIST_DIGEST_MISMATCH',
      make: async () => {
        const v2 = await h.artifact('2.0.0');
        // Same size, different bytes under the signed key.
        const other = await h.artifact('2.0.1');
        const { readFile } = await import('node:fs/promises');
        const body = Buffer.alloc(v2.size);
        (await readFile(other.file)).copy(body);
        await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: v2.key, Body: body }));
        await h.publish('2.0.0', v2);
      },
    },
    {
      name: 'larger than signed',
      code: 'HOIST_SIZE_EXCEEDED',
      make: async () => {
        const v3 = await h.artifact('3.0.0');
        await h.publish('3.0.0', { ...v3, size: v3.size - 100 });
      },
    },
    {
      name: 'missing artifact',
      code: 'HOIST_ARTIFACT_NOT_FOUND',
      make: async () => {
        const v4 = await h.artifact('4.0.0');
        await h.publish('4.0.0', { ...v4, key: `artifacts/web/${'0'.repeat(64)}.tar.gz` });
      },
    },
  ];
  for (const c of cases) {
    await c.make();
    const r = await h.once();
    assert.equal(r.code, 1, `${c.name}: --once reports the failed deploy`);
    assert.match(r.stderr, new RegExp(c.code));
    const s = await h.appState();
    assert.equal(s.lastAttempt?.outcome, 'failed', c.name);
    assert.equal(s.lastAttempt?.code, c.code, c.name);
    assert.equal(s.state, 'healthy', c.name);
    assert.equal(await h.current(), '1.0.0', c.name);
    assert.equal(await h.served(), '1.0.0', c.name);
    assert.deepEqual(await readdir(path.join(h.root, 'releases')), releasesBefore, `${c.name}: nothing unpacked`);
  }
});

test('a hostile artifact is refused through the agent and nothing is written outside staging', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);

  // GNU tar writes a `../escape` member when asked to keep it.
  const { execFileSync } = await import('node:child_process');
  const { mkdir, readFile, stat } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const work = path.join(h.dir, 'evil', 'inner');
  await mkdir(work, { recursive: true });
  await writeFile(path.join(h.dir, 'evil', 'escape'), 'pwned');
  const tarFile = path.join(h.dir, 'evil.tar.gz');
  execFileSync('tar', ['-czf', tarFile, '-C', work, '--absolute-names', '../escape']);
  const body = await readFile(tarFile);
  const sha = createHash('sha256').update(body).digest('hex');
  const key = `artifacts/web/${sha}.tar.gz`;
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  await h.publish('6.6.6', { key, sha256: sha, size: body.length, format: 'tar+gzip', file: tarFile });
  const r = await h.once();
  assert.equal(r.code, 1);
  const s = await h.appState();
  assert.equal(s.lastAttempt?.code, 'HOIST_UNSAFE_ENTRY');
  assert.equal(s.state, 'healthy', 'the release that was serving keeps serving');
  assert.equal(await h.current(), '1.0.0');
  await assert.rejects(stat(path.join(h.root, 'escape')));
  await assert.rejects(stat(path.join(h.root, 'releases', 'escape')));
  const left = await readdir(path.join(h.root, 'releases'));
  assert.deepEqual(left.filter((n) => n.startsWith('.staging')), []);
});

test('a bucket prefix: channel under <prefix>channels/, artifact key written with or without the prefix', async () => {
  await using h = await createHarness();
  await h.writeConfig({ source: { s3: { bucket: BUCKET, prefix: 'hoist/', poll: '*/1 * * * * *', jitter: '0s' } } });
  const { readFile } = await import('node:fs/promises');
  const { nextSequence } = await import('../helpers/harness.ts');
  const put = (key: string, body: string | Buffer) => h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  const release = (version: string, key: string, a: { sha256: string; size: number }) =>
    h.sign({
      schema: 1,
      kind: 'release',
      app: 'web',
      env: 'prod',
      sequence: nextSequence(),
      version,
      artifact: { key, sha256: a.sha256, size: a.size, format: 'tar+gzip' },
      issuedAt: new Date(Date.now() - 1000).toISOString(),
    });
  // As the documented example reads: the key relative to the prefix.
  const v1 = await h.artifact('1.0.0');
  await put(`hoist/artifacts/web/${v1.sha256}.tar.gz`, await readFile(v1.file));
  await put('hoist/channels/web/prod.json', release('1.0.0', `artifacts/web/${v1.sha256}.tar.gz`, v1));
  const r1 = await h.once();
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(await h.current(), '1.0.0');
  // As `hoist publish` writes it: the full object key.
  const v2 = await h.artifact('2.0.0');
  await put(`hoist/artifacts/web/${v2.sha256}.tar.gz`, await readFile(v2.file));
  await put('hoist/channels/web/prod.json', release('2.0.0', `hoist/artifacts/web/${v2.sha256}.tar.gz`, v2));
  const r2 = await h.once();
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(await h.current(), '2.0.0');
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const report = await h.aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hoist/status/web/prod/host-1.json' }));
  assert.match(await report.Body!.transformToString(), /"version": "2\.0\.0"/);
});
