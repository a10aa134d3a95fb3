import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { startAws, TEST_CREDENTIALS, TEST_REGION } from '../helpers/fauxqs.ts';
import { httpStatus, isNotFound, isNotModified, isRetryable, wrapAwsError } from '../../src/aws/errors.ts';
import { HoistError } from '../../src/errors.ts';
import { StallError } from '../../src/fetch/stall.ts';

/** An SDK-shaped service error. */
function sdkError(name: string, status: number, message = name): Error {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });
}

function netError(code: string, message = `connect ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

test('isRetryable: the one retry predicate', () => {
  const table: [label: string, err: unknown, expected: boolean][] = [
    ['ECONNRESET', netError('ECONNRESET'), true],
    ['ECONNREFUSED', netError('ECONNREFUSED'), true],
    ['ETIMEDOUT', netError('ETIMEDOUT'), true],
    ['EPIPE', netError('EPIPE'), true],
    ['EAI_AGAIN', netError('EAI_AGAIN'), true],
    ['socket hang up', new Error('socket hang up'), true],
    ['node "aborted" body error', new Error('aborted'), true],
    ['SDK TimeoutError', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), true],
    ['AbortSignal.timeout reason', new DOMException('signal timed out', 'TimeoutError'), true],
    ['our stall', new StallError(300, 10, 1024), true],
    ['short read marker', netError('HOIST_SHORT_READ', 'ended early'), true],
    ['500', sdkError('InternalError', 500), true],
    ['502 unknown', sdkError('UnknownError', 502), true],
    ['503 SlowDown', sdkError('SlowDown', 503), true],
    ['429', sdkError('TooManyRequests', 429), true],
    ['408', sdkError('RequestTimeout', 408), true],
    ['SQS throttling (400)', sdkError('ThrottlingException', 400), true],
    ['cause chain', new Error('wrapped', { cause: netError('ECONNRESET') }), true],
    ['HoistError wrapping a reset', new HoistError('HOIST_S3', 'x', { cause: netError('ECONNRESET') }), true],
    ['403', sdkError('AccessDenied', 403), false],
    ['404 NoSuchKey', sdkError('NoSuchKey', 404), false],
    ['404 NoSuchBucket', sdkError('NoSuchBucket', 404), false],
    ['400', sdkError('InvalidArgument', 400), false],
    ['416', sdkError('InvalidRange', 416), false],
    ['403 that says aborted', sdkError('AccessDenied', 403, 'request aborted'), false],
    ['AbortError', new DOMException('aborted', 'AbortError'), false],
    ['HOIST_DIGEST_MISMATCH', new HoistError('HOIST_DIGEST_MISMATCH', 'x', { cause: netError('ECONNRESET') }), false],
    ['HOIST_SIZE_EXCEEDED', new HoistError('HOIST_SIZE_EXCEEDED', 'x'), false],
    ['HOIST_ARTIFACT_NOT_FOUND', new HoistError('HOIST_ARTIFACT_NOT_FOUND', 'x'), false],
    ['a bare HoistError', new HoistError('HOIST_IO', 'disk full'), false],
    ['a plain error', new Error('bug'), false],
    ['ENOSPC', netError('ENOSPC', 'no space'), false],
    ['a string', 'ECONNRESET', false],
    ['null', null, false],
    ['undefined', undefined, false],
    ['$retryable flag', Object.assign(new Error('x'), { $retryable: { throttling: true } }), true],
  ];
  for (const [label, err, expected] of table) assert.equal(isRetryable(err), expected, label);
});

test('a cyclic cause chain does not loop forever', () => {
  const a = new Error('a') as Error & { cause?: unknown };
  const b = new Error('b', { cause: a });
  a.cause = b;
  assert.equal(isRetryable(a), false);
});

test('isNotFound, isNotModified and httpStatus', () => {
  assert.equal(isNotFound(sdkError('NoSuchKey', 404)), true);
  assert.equal(isNotFound(sdkError('NotFound', 404)), true); // HeadObject
  assert.equal(isNotFound(sdkError('UnknownError', 404)), true);
  assert.equal(isNotFound(sdkError('NoSuchBucket', 404)), false); // a config problem, not a missing object
  assert.equal(isNotFound(sdkError('AccessDenied', 403)), false);
  assert.equal(isNotFound(new HoistError('HOIST_ARTIFACT_NOT_FOUND', 'x')), true);
  assert.equal(isNotFound(new HoistError('HOIST_S3', 'x')), false);
  assert.equal(isNotFound(undefined), false);
  assert.equal(isNotModified(sdkError('NotModified', 304)), true);
  assert.equal(isNotModified(sdkError('UnknownError', 304)), true);
  assert.equal(isNotModified(sdkError('NoSuchKey', 404)), false);
  assert.equal(isNotModified(new Error('x')), false);
  assert.equal(httpStatus(sdkError('X', 418)), 418);
  assert.equal(httpStatus(new Error('x')), undefined);
});

test('wrapAwsError: messages name the operation, the cause and what to check', () => {
  const denied = wrapAwsError(sdkError('AccessDenied', 403, 'Access Denied'), 'S3', 'GetObject s3://b/k');
  assert.equal(denied.code, 'HOIST_S3');
  assert.match(denied.message, /^S3 GetObject s3:\/\/b\/k failed: access denied; /);
  assert.match(denied.message, /IAM policy/);
  assert.deepEqual(denied.details, { service: 'S3', operation: 'GetObject s3://b/k', awsError: 'AccessDenied', httpStatus: 403 });
  assert.ok(denied.cause instanceof S3ServiceException);

  const bucket = wrapAwsError(sdkError('NoSuchBucket', 404), 'S3', 'GetObject s3://nope/k');
  assert.match(bucket.message, /bucket does not exist/);

  const queue = wrapAwsError(sdkError('QueueDoesNotExist', 400), 'SQS', 'ReceiveMessage https://q');
  assert.equal(queue.code, 'HOIST_SQS');
  assert.match(queue.message, /queue does not exist; check the queue URL/);

  const topic = wrapAwsError(sdkError('NotFound', 404), 'SNS', 'Publish arn:aws:sns:x');
  assert.equal(topic.code, 'HOIST_SNS');
  assert.match(topic.message, /topic does not exist/);

  const creds = wrapAwsError(sdkError('InvalidAccessKeyId', 403), 'S3', 'PutObject s3://b/k');
  assert.match(creds.message, /access denied|credentials/);
  const sig = wrapAwsError(sdkError('SignatureDoesNotMatch', 400), 'S3', 'PutObject s3://b/k');
  assert.match(sig.message, /credentials were rejected \(SignatureDoesNotMatch\)/);

  const noCreds = wrapAwsError(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'SQS', 'ReceiveMessage q');
  assert.match(noCreds.message, /no AWS credentials were found/);

  const net = wrapAwsError(netError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'SQS', 'ReceiveMessage q');
  assert.match(net.message, /network error ECONNREFUSED .*check network access to the SQS endpoint/);

  const transient = wrapAwsError(sdkError('InternalError', 500, 'We encountered an internal error'), 'S3', 'GetObject s3://b/k');
  assert.match(transient.message, /transient failure \(InternalError HTTP 500: We encountered an internal error\)/);

  const other = wrapAwsError(sdkError('InvalidArgument', 400, 'bad'), 'SNS', 'Publish t');
  assert.match(other.message, /InvalidArgument, HTTP 400: bad/);

  const weird = wrapAwsError('a string', 'S3', 'ListObjectsV2 s3://b');
  assert.match(weird.message, /unknown error/);

  const existing = new HoistError('HOIST_DIGEST_MISMATCH', 'x');
  assert.equal(wrapAwsError(existing, 'S3', 'GetObject'), existing);
});

test('real SDK errors from fauxqs and a dead port are classified', async () => {
  await using aws = await startAws();
  await aws.createBucket('hoist-errors');
  await aws.s3.send(new PutObjectCommand({ Bucket: 'hoist-errors', Key: 'k', Body: 'hello' }));

  const missing = await aws.s3.send(new GetObjectCommand({ Bucket: 'hoist-errors', Key: 'missing' })).catch((e: unknown) => e);
  assert.equal(isNotFound(missing), true);
  assert.equal(isRetryable(missing), false);

  const noBucket = await aws.s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket-here', Key: 'k' })).catch((e: unknown) => e);
  assert.equal(isNotFound(noBucket), false);
  assert.match(wrapAwsError(noBucket, 'S3', 'GetObject s3://no-such-bucket-here/k').message, /bucket does not exist/);

  const head = await aws.s3.send(new GetObjectCommand({ Bucket: 'hoist-errors', Key: 'k' }));
  await head.Body?.transformToString();
  const notModified = await aws.s3.send(new GetObjectCommand({ Bucket: 'hoist-errors', Key: 'k', IfNoneMatch: head.ETag })).catch((e: unknown) => e);
  assert.equal(isNotModified(notModified), true);
  assert.equal(isRetryable(notModified), false);

  const noQueue = await aws.sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' })).catch((e: unknown) => e);
  assert.equal(isRetryable(noQueue), false);
  assert.equal(wrapAwsError(noQueue, 'SQS', 'GetQueueUrl nope').code, 'HOIST_SQS');

  // A port nobody listens on: connection refused, retryable.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const dead = new S3Client({ endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  const refused = await dead.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })).catch((e: unknown) => e);
  dead.destroy();
  assert.equal(isRetryable(refused), true);
  assert.match(wrapAwsError(refused, 'S3', 'GetObject s3://b/k').message, /network error ECONNREFUSED/);
});
