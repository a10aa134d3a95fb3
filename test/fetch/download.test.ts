import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startAws, TEST_CREDENTIALS, TEST_REGION } from '../helpers/fauxqs.ts';
import type { AwsEnv } from '../helpers/fauxqs.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import type { FaultProxy } from '../helpers/fault-proxy.ts';
import { artifactPath, downloadArtifact, partPath, removeDownload } from '../../src/fetch/download.ts';
import type { DownloadOptions } from '../../src/fetch/download.ts';
import { isHoistError } from '../../src/errors.ts';
import type { RetryInfo } from '../../src/util/retry.ts';

const BUCKET = 'hoist-test';
let aws: AwsEnv;
let keyCounter = 0;

before(async () => {
  aws = await startAws();
  await aws.createBucket(BUCKET);
});

after(async () => {
  await aws.stop();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Fixture extends AsyncDisposable {
  readonly proxy: FaultProxy;
  readonly s3: S3Client;
  readonly dir: string;
  readonly key: string;
  readonly body: Buffer;
  readonly options: DownloadOptions;
  readonly retries: RetryInfo[];
  readonly progress: number[];
  gets(): { range: string | undefined; status: number; fault: string }[];
}

/** An object in fauxqs, a fault proxy in front of it, a client with SDK retries off, a temp dir. */
async function fixture(body: Buffer, stored: Buffer = body): Promise<Fixture> {
  const key = `artifacts/web/${++keyCounter}.tar.gz`;
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: stored }));
  const proxy = await startFaultProxy(aws.endpoint);
  // maxAttempts 1: the retries under test are hoist's own, not the SDK's.
  const s3 = new S3Client({ endpoint: proxy.url, forcePathStyle: true, region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  const root = await mkdtemp(join(tmpdir(), 'hoist-dl-'));
  const dir = join(root, 'downloads');
  const retries: RetryInfo[] = [];
  const progress: number[] = [];
  const options: DownloadOptions = {
    s3,
    bucket: BUCKET,
    key,
    sha256: sha(body),
    size: body.length,
    format: 'tar+gzip',
    dir,
    baseDelayMs: 10,
    maxDelayMs: 50,
    onRetry: (info) => retries.push(info),
    onProgress: (p) => progress.push(p.received),
  };
  return {
    proxy,
    s3,
    dir,
    key,
    body,
    options,
    retries,
    progress,
    gets: () => proxy.requests.filter((r) => r.method === 'GET' && r.url.includes(key)).map(({ range, status, fault }) => ({ range, status, fault })),
    async [Symbol.asyncDispose]() {
      s3.destroy();
      await proxy.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

test('downloads, verifies and renames into the cache; .part is gone', async () => {
  await using f = await fixture(randomBytes(150_000));
  const result = await downloadArtifact(f.options);
  assert.deepEqual(result, { path: artifactPath(f.dir, f.options.sha256, 'tar+gzip'), resumed: false, cached: false });
  assert.ok(result.path.endsWith(`${f.options.sha256}.tar.gz`));
  assert.deepEqual(await readFile(result.path), f.body);
  assert.equal(await exists(partPath(f.dir, f.options.sha256)), false);
  assert.equal(f.progress.at(-1), f.body.length);
  assert.equal(f.gets().length, 1);
});

test('a second call is served from the cache without any GET', async () => {
  await using f = await fixture(randomBytes(20_000));
  await downloadArtifact(f.options);
  f.proxy.reset();
  const again = await downloadArtifact(f.options);
  assert.equal(again.cached, true);
  assert.deepEqual(await readFile(again.path), f.body);
  assert.equal(f.proxy.requests.length, 0);
});

test('zstd artifacts get the .tar.zst name', async () => {
  await using f = await fixture(randomBytes(1000));
  const result = await downloadArtifact({ ...f.options, format: 'tar+zstd' });
  assert.ok(result.path.endsWith(`${f.options.sha256}.tar.zst`));
});

test('a corrupt cached file is deleted and downloaded again', async () => {
  await using f = await fixture(randomBytes(20_000));
  await mkdir(f.dir, { recursive: true });
  const final = artifactPath(f.dir, f.options.sha256, 'tar+gzip');
  await writeFile(final, randomBytes(20_000)); // right size, wrong bytes
  const result = await downloadArtifact(f.options);
  assert.equal(result.cached, false);
  assert.deepEqual(await readFile(final), f.body);
  await writeFile(final, 'short'); // wrong size
  assert.equal((await downloadArtifact(f.options)).cached, false);
  assert.deepEqual(await readFile(final), f.body);
});

test('digest mismatch: HOIST_DIGEST_MISMATCH, not retried, nothing left behind', async () => {
  const signed = randomBytes(30_000);
  await using f = await fixture(signed, randomBytes(30_000));
  await assert.rejects(downloadArtifact(f.options), (err) => isHoistError(err, 'HOIST_DIGEST_MISMATCH') && err.message.includes(f.options.sha256));
  assert.deepEqual(await readdir(f.dir), []);
  assert.equal(f.gets().length, 1);
  assert.equal(f.retries.length, 0);
});

test('an object larger than its signed size: HOIST_SIZE_EXCEEDED, reading stopped at the cap', async () => {
  const stored = randomBytes(400_000);
  const signed = stored.subarray(0, 10_000);
  await using f = await fixture(signed, stored);
  await assert.rejects(downloadArtifact(f.options), (err) => isHoistError(err, 'HOIST_SIZE_EXCEEDED'));
  assert.deepEqual(await readdir(f.dir), []);
  assert.ok(f.progress.every((n) => n <= signed.length), 'never wrote past the signed size');
  assert.equal(f.gets().length, 1);
  assert.equal(f.retries.length, 0);
});

test('an object shorter than its signed size: HOIST_SIZE_MISMATCH, not retried', async () => {
  const signed = randomBytes(5000);
  await using f = await fixture(signed, signed.subarray(0, 3000));
  await assert.rejects(downloadArtifact(f.options), (err) => isHoistError(err, 'HOIST_SIZE_MISMATCH'));
  assert.deepEqual(await readdir(f.dir), []);
  assert.equal(f.gets().length, 1);
});

test('a missing key: HOIST_ARTIFACT_NOT_FOUND without retries', async () => {
  await using f = await fixture(randomBytes(100));
  const options = { ...f.options, key: 'artifacts/web/missing.tar.gz' };
  await assert.rejects(downloadArtifact(options), (err) => isHoistError(err, 'HOIST_ARTIFACT_NOT_FOUND') && err.message.includes('missing.tar.gz'));
  assert.equal(f.proxy.requests.length, 1);
  assert.equal(f.retries.length, 0);
});

test('503 for the first three requests, then success', async () => {
  await using f = await fixture(randomBytes(50_000));
  f.proxy.failNext(3, 503);
  const result = await downloadArtifact(f.options);
  assert.deepEqual(await readFile(result.path), f.body);
  assert.deepEqual(f.gets().map((g) => g.status), [503, 503, 503, 200]);
  assert.deepEqual(f.retries.map((r) => r.attempt), [1, 2, 3]);
  assert.ok(f.retries.every((r) => r.delayMs >= 0 && r.delayMs <= 50));
});

test('a connection reset mid-body is resumed with Range', async () => {
  await using f = await fixture(randomBytes(300_000));
  f.proxy.resetAfter(100_000);
  const result = await downloadArtifact(f.options);
  assert.equal(result.resumed, true);
  assert.deepEqual(await readFile(result.path), f.body);
  const gets = f.gets();
  assert.equal(gets.length, 2);
  assert.equal(gets[0]?.fault, 'reset');
  const range = /^bytes=(\d+)-$/.exec(gets[1]?.range ?? '');
  assert.ok(range, `second GET carries a Range header, got ${String(gets[1]?.range)}`);
  assert.ok(Number(range[1]) > 0 && Number(range[1]) <= 100_000);
  assert.equal(gets[1]?.status, 206);
  assert.equal(await exists(partPath(f.dir, f.options.sha256)), false);
});

test('a trickle is abandoned by the stall watchdog and retried', async () => {
  await using f = await fixture(randomBytes(200_000));
  f.proxy.trickle(1000);
  const result = await downloadArtifact({ ...f.options, stallTimeoutMs: 500 });
  assert.deepEqual(await readFile(result.path), f.body);
  assert.ok(f.retries.length >= 1);
  assert.equal((f.retries[0]?.error as { code?: string }).code, 'HOIST_STALL');
  const gets = f.gets();
  assert.equal(gets[0]?.fault, 'trickle');
  assert.ok(gets.length >= 2);
});

test('an attempt deadline aborts a slow attempt, which is retried', async () => {
  await using f = await fixture(randomBytes(100_000));
  f.proxy.trickle(20_000);
  const result = await downloadArtifact({ ...f.options, attemptTimeoutMs: 1500 });
  assert.deepEqual(await readFile(result.path), f.body);
  assert.equal((f.retries[0]?.error as Error).name, 'TimeoutError');
});

test('abort mid-download leaves a .part that a later call resumes', async () => {
  await using f = await fixture(randomBytes(200_000));
  f.proxy.trickle(20_000);
  const controller = new AbortController();
  const reason = new Error('shutting down');
  await assert.rejects(
    downloadArtifact({
      ...f.options,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.received >= 4000) controller.abort(reason);
      },
    }),
    (err) => err === reason,
  );
  const part = partPath(f.dir, f.options.sha256);
  const kept = (await stat(part)).size;
  assert.ok(kept >= 4000 && kept < f.body.length, `kept ${kept} bytes`);
  assert.equal(await exists(artifactPath(f.dir, f.options.sha256, 'tar+gzip')), false);

  f.proxy.reset();
  const result = await downloadArtifact(f.options);
  assert.equal(result.resumed, true);
  assert.deepEqual(await readFile(result.path), f.body);
  assert.deepEqual(f.gets().map((g) => g.range), [`bytes=${kept}-`]);
});

test('an already aborted signal makes no request', async () => {
  await using f = await fixture(randomBytes(100));
  const reason = new Error('stop');
  await assert.rejects(downloadArtifact({ ...f.options, signal: AbortSignal.abort(reason) }), (err) => err === reason);
  assert.equal(f.proxy.requests.length, 0);
});

test('a complete .part from an earlier run is verified and committed without a GET', async () => {
  await using f = await fixture(randomBytes(10_000));
  await mkdir(f.dir, { recursive: true });
  await writeFile(partPath(f.dir, f.options.sha256), f.body);
  const result = await downloadArtifact(f.options);
  assert.deepEqual(await readFile(result.path), f.body);
  assert.equal(f.proxy.requests.length, 0);
});

test('a corrupt complete .part is discarded and downloaded afresh', async () => {
  await using f = await fixture(randomBytes(10_000));
  await mkdir(f.dir, { recursive: true });
  await writeFile(partPath(f.dir, f.options.sha256), randomBytes(10_000));
  const result = await downloadArtifact(f.options);
  assert.deepEqual(await readFile(result.path), f.body);
  assert.deepEqual(f.gets().map((g) => g.range), [undefined]);
});

test('a .part longer than the signed size is discarded', async () => {
  await using f = await fixture(randomBytes(10_000));
  await mkdir(f.dir, { recursive: true });
  await writeFile(partPath(f.dir, f.options.sha256), randomBytes(20_000));
  const result = await downloadArtifact(f.options);
  assert.deepEqual(await readFile(result.path), f.body);
});

test('a resumed download whose digest fails starts over once from byte 0', async () => {
  await using f = await fixture(randomBytes(10_000));
  await mkdir(f.dir, { recursive: true });
  // A prefix of other bytes, as a power cut can leave: the resumed result cannot match.
  await writeFile(partPath(f.dir, f.options.sha256), randomBytes(4000));
  const result = await downloadArtifact(f.options);
  assert.deepEqual(await readFile(result.path), f.body);
  assert.equal(result.resumed, false);
  assert.deepEqual(f.gets().map((g) => g.range), ['bytes=4000-', undefined]);
});

test('a .part beyond the end of a short object: 416 restarts, then HOIST_SIZE_MISMATCH', async () => {
  const signed = randomBytes(5000);
  await using f = await fixture(signed, signed.subarray(0, 3000));
  await mkdir(f.dir, { recursive: true });
  await writeFile(partPath(f.dir, f.options.sha256), signed.subarray(0, 4000));
  await assert.rejects(downloadArtifact(f.options), (err) => isHoistError(err, 'HOIST_SIZE_MISMATCH'));
  assert.deepEqual(f.gets().map((g) => [g.range, g.status]), [['bytes=4000-', 416], [undefined, 200]]);
  assert.deepEqual(await readdir(f.dir), []);
});

test('a server that ignores Range and answers 200 makes the download start over', async () => {
  await using f = await fixture(randomBytes(50_000));
  await mkdir(f.dir, { recursive: true });
  await writeFile(partPath(f.dir, f.options.sha256), f.body.subarray(0, 20_000));
  f.proxy.ignoreRange();
  const result = await downloadArtifact(f.options);
  assert.equal(result.resumed, false);
  assert.deepEqual(await readFile(result.path), f.body);
  assert.deepEqual(f.gets().map((g) => [g.range, g.status]), [['bytes=20000-', 200]]);
});

test('filesystem failures become HOIST_IO and are not retried', async () => {
  await using f = await fixture(randomBytes(1000));
  // A directory where the .part file should be: nothing can be written there.
  await mkdir(join(partPath(f.dir, f.options.sha256), 'blocker'), { recursive: true });
  await assert.rejects(downloadArtifact(f.options), (err) => isHoistError(err, 'HOIST_IO'));
  assert.equal(f.retries.length, 0);
  // A file where the downloads directory should be.
  await rm(f.dir, { recursive: true });
  await writeFile(f.dir, 'not a directory');
  await assert.rejects(downloadArtifact(f.options), (err) => isHoistError(err, 'HOIST_IO') && err.message.includes('download cache'));
});

test('retries exhausted: HOIST_DOWNLOAD_FAILED with the last error as cause', async () => {
  await using f = await fixture(randomBytes(1000));
  f.proxy.failNext(100, 500);
  await assert.rejects(downloadArtifact({ ...f.options, attempts: 3 }), (err) => {
    assert.ok(isHoistError(err, 'HOIST_DOWNLOAD_FAILED'));
    assert.equal((err.cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 500);
    assert.match(err.message, /3 times/);
    return true;
  });
  assert.equal(f.gets().length, 3);
  assert.equal(f.retries.length, 2);
});

test('access denied is not retried and becomes HOIST_S3', async () => {
  await using f = await fixture(randomBytes(1000));
  f.proxy.failNext(1, 403);
  await assert.rejects(downloadArtifact(f.options), (err) => isHoistError(err, 'HOIST_S3') && /access denied/i.test(err.message));
  assert.equal(f.gets().length, 1);
});

test('an empty artifact downloads', async () => {
  await using f = await fixture(Buffer.alloc(0));
  const result = await downloadArtifact(f.options);
  assert.equal((await stat(result.path)).size, 0);
});

test('bad digests and sizes are refused before any I/O', async () => {
  await using f = await fixture(randomBytes(10));
  await assert.rejects(downloadArtifact({ ...f.options, sha256: '../../etc/passwd' }), (err) => isHoistError(err, 'HOIST_MANIFEST_INVALID'));
  await assert.rejects(downloadArtifact({ ...f.options, size: -1 }), (err) => isHoistError(err, 'HOIST_MANIFEST_INVALID'));
  assert.equal(await exists(f.dir), false);
});

test('removeDownload deletes the cached file and any .part', async () => {
  await using f = await fixture(randomBytes(1000));
  const { path } = await downloadArtifact(f.options);
  await writeFile(partPath(f.dir, f.options.sha256), 'x');
  await removeDownload(f.dir, f.options.sha256);
  assert.deepEqual(await readdir(f.dir), []);
  assert.equal(await exists(path), false);
  await removeDownload(f.dir, f.options.sha256); // idempotent
});
