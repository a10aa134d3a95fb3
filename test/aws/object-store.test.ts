import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startAws, TEST_CREDENTIALS, TEST_REGION } from '../helpers/fauxqs.ts';
import {
  getObjectBytes,
  getObjectIfChanged,
  headObject,
  listKeys,
  putObjectBytes,
  putObjectJson,
} from '../../src/aws/object-store.ts';
import { isHoistError } from '../../src/errors.ts';

const BUCKET = 'hoist-test';

test('getObjectIfChanged: ok with an etag, then 304 with it, then ok again after a change', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'channels/web/prod.json', body: '{"v":1}' });

  const first = await getObjectIfChanged(aws.s3, { bucket: BUCKET, key: 'channels/web/prod.json', maxBytes: 1024 });
  assert.equal(first.status, 'ok');
  assert.ok(first.status === 'ok');
  assert.equal(first.body.toString(), '{"v":1}');
  assert.ok(first.etag !== undefined && first.etag.length > 0);

  const second = await getObjectIfChanged(aws.s3, { bucket: BUCKET, key: 'channels/web/prod.json', etag: first.etag, maxBytes: 1024 });
  assert.deepEqual(second, { status: 'not-modified' });

  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'channels/web/prod.json', body: '{"v":2}' });
  const third = await getObjectIfChanged(aws.s3, { bucket: BUCKET, key: 'channels/web/prod.json', etag: first.etag, maxBytes: 1024 });
  assert.ok(third.status === 'ok');
  assert.equal(third.body.toString(), '{"v":2}');
  assert.notEqual(third.etag, first.etag);
});

test('getObjectIfChanged: a missing key is "missing", with or without an etag', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  assert.deepEqual(await getObjectIfChanged(aws.s3, { bucket: BUCKET, key: 'pins/web/prod.json', maxBytes: 10 }), { status: 'missing' });
  assert.deepEqual(await getObjectIfChanged(aws.s3, { bucket: BUCKET, key: 'pins/web/prod.json', etag: '"abc"', maxBytes: 10 }), { status: 'missing' });
  assert.equal(await getObjectBytes(aws.s3, { bucket: BUCKET, key: 'pins/web/prod.json', maxBytes: 10 }), undefined);
});

test('getObjectIfChanged: a body over maxBytes is HOIST_ENVELOPE_TOO_LARGE; exactly maxBytes is fine', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'big.json', body: Buffer.alloc(200_000, 0x61) });
  await assert.rejects(
    getObjectIfChanged(aws.s3, { bucket: BUCKET, key: 'big.json', maxBytes: 65_536 }),
    (err) => isHoistError(err, 'HOIST_ENVELOPE_TOO_LARGE') && /65536/.test(err.message),
  );
  const exact = await getObjectBytes(aws.s3, { bucket: BUCKET, key: 'big.json', maxBytes: 200_000 });
  assert.equal(exact?.length, 200_000);
  // The client is still usable afterwards (the oversized body was released, not leaked).
  assert.deepEqual(await headObject(aws.s3, { bucket: BUCKET, key: 'big.json' }).then((h) => h?.size), 200_000);
});

test('getObjectIfChanged: other S3 failures become HOIST_S3; an abort rethrows the reason', async () => {
  await using aws = await startAws();
  await assert.rejects(
    getObjectIfChanged(aws.s3, { bucket: 'no-such-bucket', key: 'k', maxBytes: 10 }),
    (err) => isHoistError(err, 'HOIST_S3') && err.message.includes('s3://no-such-bucket/k'),
  );
  const controller = new AbortController();
  const reason = new Error('stop now');
  controller.abort(reason);
  await assert.rejects(getObjectIfChanged(aws.s3, { bucket: BUCKET, key: 'k', maxBytes: 10, signal: controller.signal }), (err) => err === reason);
});

test('putObjectJson writes JSON with a content type; headObject reports size and etag', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  await putObjectJson(aws.s3, { bucket: BUCKET, key: 'status/web/prod/h1.json', value: { state: 'healthy' } });
  const bytes = await getObjectBytes(aws.s3, { bucket: BUCKET, key: 'status/web/prod/h1.json', maxBytes: 1024 });
  assert.deepEqual(JSON.parse(bytes?.toString() ?? ''), { state: 'healthy' });
  const head = await headObject(aws.s3, { bucket: BUCKET, key: 'status/web/prod/h1.json' });
  assert.equal(head?.size, bytes?.length);
  assert.ok(head?.etag !== undefined);
  assert.equal(await headObject(aws.s3, { bucket: BUCKET, key: 'nope.json' }), undefined);
  await assert.rejects(putObjectJson(aws.s3, { bucket: 'no-such-bucket', key: 'k', value: 1 }), (err) => isHoistError(err, 'HOIST_S3'));
  const raw = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'status/web/prod/h1.json' }));
  assert.equal(raw.ContentType, 'application/json');
});

test('listKeys paginates through every key under the prefix', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  const expected: string[] = [];
  for (let i = 0; i < 7; i++) {
    const key = `history/web/prod/${1000 + i}.json`;
    expected.push(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `{"i":${i}}` }));
  }
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'history/web/staging/1.json', Body: '{}' }));

  const pages: number[] = [];
  const original = aws.s3.send.bind(aws.s3);
  // Count the ListObjectsV2 requests to prove the listing really was paginated.
  aws.s3.send = ((command: { constructor: { name: string } }, ...rest: unknown[]) => {
    if (command.constructor.name === 'ListObjectsV2Command') pages.push(1);
    return (original as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof aws.s3.send;

  const seen: Array<{ key: string; size: number; lastModified?: Date }> = [];
  for await (const item of listKeys(aws.s3, { bucket: BUCKET, prefix: 'history/web/prod/', pageSize: 2 })) seen.push(item);
  assert.deepEqual(seen.map((s) => s.key).sort(), expected);
  assert.ok(seen.every((s) => s.size === 7 && s.lastModified instanceof Date));
  assert.equal(pages.length, 4);

  const none: string[] = [];
  for await (const item of listKeys(aws.s3, { bucket: BUCKET, prefix: 'history/api/' })) none.push(item.key);
  assert.deepEqual(none, []);
  await assert.rejects(async () => {
    for await (const _ of listKeys(aws.s3, { bucket: 'no-such-bucket', prefix: '' })) break;
  }, (err) => isHoistError(err, 'HOIST_S3'));
});

/** A bare HTTP server posing as S3, for bodies fauxqs never sends: chunked (no length) or stalled. */
async function fakeS3(respond: (res: ServerResponse) => void): Promise<{ s3: S3Client } & AsyncDisposable> {
  const server = createServer((_req, res) => respond(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: TEST_REGION, credentials: TEST_CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
  return {
    s3,
    async [Symbol.asyncDispose]() {
      s3.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('getObjectIfChanged: a chunked body without Content-Length is cut off just past maxBytes', async () => {
  await using fake = await fakeS3((res) => {
    let written = 0;
    res.writeHead(200, { ETag: '"e1"', 'Content-Type': 'application/json' });
    // Up to 1 MiB in 16 KiB chunks, stopping early once the client has gone away.
    const chunk = Buffer.alloc(16_384, 0x61);
    const pump = (): void => {
      while (written < 1_048_576 && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await assert.rejects(
    getObjectIfChanged(fake.s3, { bucket: BUCKET, key: 'channels/web/prod.json', maxBytes: 20_000 }),
    (err) => isHoistError(err, 'HOIST_ENVELOPE_TOO_LARGE'),
  );
  const small = await getObjectIfChanged(fake.s3, { bucket: BUCKET, key: 'channels/web/prod.json', maxBytes: 2_000_000 });
  assert.ok(small.status === 'ok' && small.body.length === 1_048_576 && small.etag === '"e1"');
});

test('getObjectIfChanged: an abort while the body streams rejects with the abort reason', async () => {
  await using fake = await fakeS3((res) => {
    res.writeHead(200, { ETag: '"e1"' });
    res.write('{"partial":'); // then stall
  });
  const controller = new AbortController();
  const reason = new Error('shutting down');
  const pending = getObjectIfChanged(fake.s3, { bucket: BUCKET, key: 'k', maxBytes: 1000, signal: controller.signal });
  setTimeout(() => controller.abort(reason), 200);
  await assert.rejects(pending, (err) => err === reason);
});
