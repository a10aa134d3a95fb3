/**
 * Ctrl-C during `hoist publish`: a real SIGINT to the child while a multipart upload is under way.
 * The upload goes through a forward proxy that forwards request bodies at 1 MB/s, so the first
 * part (8 MiB) takes seconds and the signal is sent when the proxy has seen that part begin: it
 * lands mid-upload every time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import { BUCKET, HOIST_BIN, TEST_AWS_ENV, createHarness, eventually } from '../helpers/harness.ts';
import { compress, tarBytes } from '../helpers/tarballs.ts';
import { startForwardProxy } from '../helpers/forward-proxy.ts';
import { CREDS, listAll, ops, publishArgs } from './ops.ts';

test('SIGINT during a multipart upload aborts it, says nothing was published, exits 130; a later publish succeeds', async () => {
  await using h = await createHarness();
  await using proxy = await startForwardProxy();
  proxy.throttleUploads(1_000_000);
  // a real archive of 20 MiB that does not compress: three parts
  const file = path.join(h.dir, 'big.tar.gz');
  await writeFile(file, compress(tarBytes([{ path: 'blob.bin', body: randomBytes(20 * 1024 * 1024) }]), 'tar+gzip'));
  const args = [...publishArgs(h, '9.9.9', file), '--bucket', BUCKET, '--endpoint', h.aws.endpoint, '--region', 'us-east-1'];
  const child = spawn(process.execPath, [HOIST_BIN, ...args], { env: { ...process.env, ...TEST_AWS_ENV, ...CREDS, HTTP_PROXY: proxy.url } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const partStarted = (): boolean => proxy.requests.some((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.target));
  await eventually(() => Promise.resolve(partStarted()), 'the first part upload began', 30_000);
  child.kill('SIGINT');
  const { code } = await exited;
  assert.equal(code, 130, `${stdout}\n${stderr}`);
  assert.match(stderr, /interrupted: nothing was published/);
  assert.equal(stdout, '', 'no release lines were printed');

  // The channel and history are untouched, and the multipart upload is gone from S3.
  assert.deepEqual(await listAll(h, 'channels/'), []);
  assert.deepEqual(await listAll(h, 'history/'), []);
  assert.deepEqual(await listAll(h, 'artifacts/'), []);
  const aborts = proxy.requests.filter((r) => r.method === 'DELETE' && /[?&]uploadId=/.test(r.target));
  assert.equal(aborts.length >= 1, true, 'AbortMultipartUpload was sent');
  const uploadId = new URL(aborts[0]?.target ?? '').searchParams.get('uploadId') ?? '';
  const key = decodeURIComponent(new URL(aborts[0]?.target ?? '').pathname.replace(`/${BUCKET}/`, ''));
  await assert.rejects(h.aws.s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })), (e: Error) => e.name === 'NoSuchUpload');

  // Publishing the same version again works (straight to fauxqs this time).
  const again = await ops(h, publishArgs(h, '9.9.9', file));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /artifact +uploaded/);
  assert.deepEqual(await listAll(h, 'channels/'), ['channels/web/prod.json']);
});
