import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startAws, TEST_CREDENTIALS, TEST_REGION } from '../helpers/fauxqs.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';

test('the fault proxy passes signed requests through and injects faults on demand', async () => {
  await using aws = await startAws();
  await aws.createBucket('hoist-proxy');
  const body = Buffer.alloc(50_000, 1);
  await aws.s3.send(new PutObjectCommand({ Bucket: 'hoist-proxy', Key: 'a', Body: body }));
  await aws.s3.send(new PutObjectCommand({ Bucket: 'hoist-proxy', Key: 'b', Body: 'bee' }));
  await using proxy = await startFaultProxy(aws.endpoint);
  const s3 = new S3Client({ endpoint: proxy.url, forcePathStyle: true, region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  const get = async (key: string, range?: string): Promise<Buffer> => {
    const out = await s3.send(new GetObjectCommand({ Bucket: 'hoist-proxy', Key: key, ...(range ? { Range: range } : {}) }));
    return Buffer.from(await out.Body!.transformToByteArray());
  };
  try {
    // Pass-through, including a PUT with a body and a signed Range.
    await s3.send(new PutObjectCommand({ Bucket: 'hoist-proxy', Key: 'c', Body: 'through the proxy' }));
    assert.equal((await get('c')).toString(), 'through the proxy');
    assert.equal((await get('a', 'bytes=49990-')).length, 10);
    assert.equal(proxy.requests.at(-1)?.range, 'bytes=49990-');
    assert.equal(proxy.requests.at(-1)?.status, 206);

    // failNext with a matcher only hits matching requests, with an S3-style error the SDK parses.
    proxy.failNext(1, 403, (r) => r.url.includes('/a'));
    assert.equal((await get('b')).toString(), 'bee');
    await assert.rejects(get('a'), { name: 'AccessDenied' });
    assert.deepEqual(await get('a'), body);

    // resetAfter: the client sees a broken body.
    proxy.resetAfter(1000);
    await assert.rejects(get('a'));
    assert.equal(proxy.requests.at(-1)?.fault, 'reset');
    assert.deepEqual(await get('a'), body);

    // trickle and latency still deliver the right bytes.
    proxy.trickle(100_000);
    proxy.latency(20);
    assert.deepEqual(await get('a'), body);
    assert.equal(proxy.requests.at(-1)?.fault, 'trickle');

    proxy.reset();
    assert.equal(proxy.requests.length, 0);
    assert.equal((await get('b')).toString(), 'bee');
    assert.equal(proxy.requests.length, 1);
  } finally {
    s3.destroy();
  }
});

test('stop() ends a response that is still trickling, and is idempotent', async () => {
  await using aws = await startAws();
  await aws.createBucket('hoist-proxy');
  await aws.s3.send(new PutObjectCommand({ Bucket: 'hoist-proxy', Key: 'slow', Body: Buffer.alloc(100_000) }));
  const proxy = await startFaultProxy(aws.endpoint);
  const s3 = new S3Client({ endpoint: proxy.url, forcePathStyle: true, region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  try {
    proxy.trickle(100);
    const out = await s3.send(new GetObjectCommand({ Bucket: 'hoist-proxy', Key: 'slow' }));
    const reading = out.Body!.transformToByteArray();
    await proxy.stop();
    await assert.rejects(reading);
    await proxy.stop();
  } finally {
    s3.destroy();
  }
});
