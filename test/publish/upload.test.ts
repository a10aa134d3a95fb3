import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { startAws } from '../helpers/fauxqs.ts';
import { inspectArtifact, uploadArtifact } from '../../src/publish/upload.ts';
import { createProgress } from '../../src/publish/progress.ts';
import { notify, assertNotified, describeNotified } from '../../src/publish/notify.ts';
import { isHoistError } from '../../src/errors.ts';

test('a large artifact goes up in parts, reports progress, and is skipped the second time', async (t) => {
  await using aws = await startAws();
  await aws.createBucket('hoist-up');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-upload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'big.tar.gz');
  await writeFile(file, Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(11 * 1024 * 1024)]));
  const info = await inspectArtifact(file);
  assert.equal(info.format, 'tar+gzip');
  assert.equal(info.size, 11 * 1024 * 1024 + 2);
  const seen: number[] = [];
  const outcome = await uploadArtifact(aws.s3, { bucket: 'hoist-up', key: 'k', file, size: info.size, partSize: 5 * 1024 * 1024, onProgress: (loaded) => seen.push(loaded) });
  assert.equal(outcome, 'uploaded');
  assert.ok(seen.length >= 3, `progress per part: ${seen.join(',')}`);
  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: 'hoist-up', Key: 'k' }));
  assert.equal(head.ContentLength, info.size);
  assert.equal(await uploadArtifact(aws.s3, { bucket: 'hoist-up', key: 'k', file, size: info.size }), 'skipped');
  // Same key, other size (a truncated earlier upload): uploaded again.
  const small = path.join(dir, 'small.tar.gz');
  await writeFile(small, Buffer.from([0x1f, 0x8b, 0, 0]));
  assert.equal(await uploadArtifact(aws.s3, { bucket: 'hoist-up', key: 'k', file: small, size: 4 }), 'uploaded');
  // An aborted upload rethrows the reason.
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(uploadArtifact(aws.s3, { bucket: 'hoist-up', key: 'k2', file, size: info.size, signal: ac.signal }), /stop/);
  await assert.rejects(uploadArtifact(aws.s3, { bucket: 'missing-bucket', key: 'k', file: small, size: 4 }), (e: unknown) => isHoistError(e, 'HOIST_S3'));
});

test('progress is drawn on a TTY only', () => {
  const written: string[] = [];
  const tty = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  let clock = 0;
  const p = createProgress(tty, 'uploading', () => clock);
  clock = 2000;
  p.update(2 * 1024 * 1024, 4 * 1024 * 1024);
  p.done();
  assert.match(written[0] ?? '', /uploading 2\.0 MiB \/ 4\.0 MiB \(1\.0 MiB\/s\)/);
  assert.equal(written[1], '\n');
  const quiet: string[] = [];
  const pipe = { isTTY: false, write: (s: string) => quiet.push(s) } as unknown as NodeJS.WriteStream;
  const q = createProgress(pipe, 'uploading');
  q.update(1, 2);
  q.done();
  assert.deepEqual(quiet, []);
});

test('notify reports SNS and SQS failures after trying every target', async () => {
  await using aws = await startAws();
  const queue = await aws.createQueue('q');
  const { topicArn } = aws.server.createTopic('t');
  const results = await notify(aws, { sqs: [queue, `${aws.endpoint}/000000000000/nope`], sns: [topicArn, 'arn:aws:sns:us-east-1:000000000000:nope'] }, '{}');
  assert.deepEqual(results.map((r) => r.ok), [true, false, true, false]);
  assert.match(describeNotified(results), /notified +sqs .*\nnotified +sns /);
  assert.throws(() => assertNotified(results), (e: unknown) => isHoistError(e, 'HOIST_SQS') && /2 notifications failed/.test(e.message));
  assert.doesNotThrow(() => assertNotified(results.filter((r) => r.ok)));
});

test('inspectArtifact refuses missing files and directories', async () => {
  await assert.rejects(inspectArtifact('/nonexistent/x.tar.gz'), (e: unknown) => isHoistError(e, 'HOIST_USAGE'));
  await assert.rejects(inspectArtifact(os.tmpdir()), (e: unknown) => isHoistError(e, 'HOIST_USAGE'));
});
