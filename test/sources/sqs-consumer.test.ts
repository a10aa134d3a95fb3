import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { startAws } from '../helpers/fauxqs.ts';
import type { AwsEnv } from '../helpers/fauxqs.ts';
import { holdMessage, startSqsConsumer } from '../../src/sources/sqs-consumer.ts';
import type { SqsMessage } from '../../src/sources/sqs-consumer.ts';
import { isHoistError } from '../../src/errors.ts';
import { sleep } from '../../src/util/sleep.ts';

async function send(aws: AwsEnv, queueUrl: string, body: string): Promise<void> {
  await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

/** Waits (bounded) until `done()` holds. */
async function until(done: () => boolean, what: string, ms = 5000): Promise<void> {
  for (let waited = 0; !done(); waited += 25) {
    if (waited > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function queueCounts(aws: AwsEnv, name: string): { ready: number; inflight: number } {
  const q = aws.server.inspectQueue(name);
  assert.ok(q !== undefined);
  return { ready: q.messages.ready.length, inflight: q.messages.inflight.length };
}

/** Counts ChangeMessageVisibility requests the client sends. */
function spyVisibility(sqs: SQSClient): number[] {
  const timeouts: number[] = [];
  const original = sqs.send.bind(sqs) as (...args: unknown[]) => unknown;
  sqs.send = ((command: unknown, ...rest: unknown[]) => {
    if (command instanceof ChangeMessageVisibilityCommand) timeouts.push(command.input.VisibilityTimeout ?? -1);
    return original(command, ...rest);
  }) as typeof sqs.send;
  return timeouts;
}

test('a message is handled and deleted', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  await send(aws, queueUrl, 'hello');
  const controller = new AbortController();
  const seen: SqsMessage[] = [];
  const consumer = startSqsConsumer({
    sqs: aws.sqs,
    queueUrl,
    waitSeconds: 1,
    visibilityTimeoutSec: 30,
    signal: controller.signal,
    handle: (message) => {
      seen.push(message);
      return Promise.resolve('delete');
    },
  });
  try {
    await until(() => seen.length === 1, 'the message');
    assert.equal(seen[0]?.body, 'hello');
    assert.equal(seen[0]?.receiveCount, 1);
    assert.ok((seen[0]?.messageId ?? '') !== '' && (seen[0]?.receiptHandle ?? '') !== '');
    await until(() => queueCounts(aws, 'hoist-agent').inflight === 0, 'the delete');
    assert.deepEqual(queueCounts(aws, 'hoist-agent'), { ready: 0, inflight: 0 });
  } finally {
    await consumer.stop();
  }
});

test('"retry" leaves the message to be received again; a throwing handler is reported and retried too', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  await send(aws, queueUrl, 'flaky');
  const controller = new AbortController();
  const counts: number[] = [];
  const errors: unknown[] = [];
  const consumer = startSqsConsumer({
    sqs: aws.sqs,
    queueUrl,
    waitSeconds: 1,
    visibilityTimeoutSec: 30,
    retryDelaySec: 0,
    signal: controller.signal,
    onError: (err) => errors.push(err),
    handle: (message) => {
      counts.push(message.receiveCount);
      if (counts.length === 1) return Promise.resolve('retry');
      if (counts.length === 2) return Promise.reject(new Error('handler blew up'));
      return Promise.resolve('delete');
    },
  });
  try {
    await until(() => counts.length >= 3, 'three deliveries', 8000);
    assert.deepEqual(counts.slice(0, 3), [1, 2, 3]);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /handler blew up/);
    await until(() => queueCounts(aws, 'hoist-agent').inflight === 0, 'the delete');
    assert.deepEqual(queueCounts(aws, 'hoist-agent'), { ready: 0, inflight: 0 });
  } finally {
    await consumer.stop();
  }
  assert.equal(counts.length, 3);
});

test('stop() during a 20 s long poll returns in well under 3 s, and is idempotent', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  const controller = new AbortController();
  let handled = 0;
  const consumer = startSqsConsumer({
    sqs: aws.sqs,
    queueUrl,
    waitSeconds: 20,
    visibilityTimeoutSec: 30,
    signal: controller.signal,
    handle: () => {
      handled++;
      return Promise.resolve('delete');
    },
  });
  await sleep(300); // the long poll is now waiting on the server
  const before = Date.now();
  await consumer.stop();
  assert.ok(Date.now() - before < 3000, `stop took ${Date.now() - before} ms`);
  await consumer.stop();
  // Nothing is received after stop.
  await send(aws, queueUrl, 'late');
  await sleep(200);
  assert.equal(handled, 0);
  // The server may still pair the message with the abandoned long poll; it is not lost either way.
  const counts = queueCounts(aws, 'hoist-agent');
  assert.equal(counts.ready + counts.inflight, 1);
});

test('aborting the signal stops the consumer and aborts the running handler', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  await send(aws, queueUrl, 'long job');
  const controller = new AbortController();
  let started = false;
  let sawAbort = false;
  const consumer = startSqsConsumer({
    sqs: aws.sqs,
    queueUrl,
    waitSeconds: 1,
    visibilityTimeoutSec: 30,
    retryDelaySec: 0,
    signal: controller.signal,
    handle: async (_message, signal) => {
      started = true;
      await sleep(30_000, signal).catch(() => (sawAbort = true));
      return 'retry';
    },
  });
  await until(() => started, 'the handler');
  const before = Date.now();
  controller.abort();
  await consumer.stop();
  assert.ok(Date.now() - before < 3000);
  assert.equal(sawAbort, true);
  // 'retry' with retryDelaySec 0 hands the message straight back.
  await until(() => queueCounts(aws, 'hoist-agent').ready === 1, 'the message to be visible again');
});

test('messages received but not handled before stop are handed back at once', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  for (const body of ['a', 'b', 'c']) await send(aws, queueUrl, body);
  const controller = new AbortController();
  const bodies: string[] = [];
  let stopping: Promise<void> | undefined;
  const consumer = startSqsConsumer({
    sqs: aws.sqs,
    queueUrl,
    waitSeconds: 1,
    visibilityTimeoutSec: 60,
    maxMessages: 10,
    signal: controller.signal,
    handle: (message) => {
      bodies.push(message.body);
      stopping = consumer.stop(); // stop from inside: drains this one, releases the rest
      return Promise.resolve('delete');
    },
  });
  await until(() => stopping !== undefined, 'the first message');
  await stopping;
  assert.equal(bodies.length, 1);
  const rest = queueCounts(aws, 'hoist-agent');
  // fauxqs may hand out fewer than all three in one receive; none may stay in flight.
  assert.equal(rest.inflight, 0);
  assert.equal(rest.ready, 2);
});

test('the heartbeat extends visibility: a message held past its timeout is not redelivered', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  await send(aws, queueUrl, 'slow deploy');
  const timeouts = spyVisibility(aws.sqs);
  const controller = new AbortController();
  let phase: 'waiting' | 'holding' | 'done' = 'waiting';
  let finish: () => void = () => {};
  const consumer = startSqsConsumer({
    sqs: aws.sqs,
    queueUrl,
    waitSeconds: 1,
    visibilityTimeoutSec: 2,
    signal: controller.signal,
    handle: async () => {
      phase = 'holding';
      await new Promise<void>((resolve) => (finish = resolve));
      phase = 'done';
      return 'delete';
    },
  });
  try {
    await until(() => phase === 'holding', 'the handler');
    // A second receiver keeps asking for 4.5 s: over twice the 2 s visibility timeout.
    const stolen: string[] = [];
    const deadline = Date.now() + 4500;
    for (let i = 0; i < 20 && Date.now() < deadline; i++) {
      const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
      for (const m of out.Messages ?? []) stolen.push(m.Body ?? '');
      await sleep(250);
    }
    assert.deepEqual(stolen, []);
    assert.ok(timeouts.filter((t) => t === 2).length >= 2, `expected heartbeats, saw ${JSON.stringify(timeouts)}`);
    finish();
    await until(() => phase === 'done' && queueCounts(aws, 'hoist-agent').inflight === 0, 'the delete');
    assert.deepEqual(queueCounts(aws, 'hoist-agent'), { ready: 0, inflight: 0 });
  } finally {
    finish();
    await consumer.stop();
  }
});

test('holdMessage: without it the message comes back after its timeout; release stops the heartbeat', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  await send(aws, queueUrl, 'x');
  const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 1 }));
  const handle = out.Messages?.[0]?.ReceiptHandle;
  assert.ok(handle !== undefined);
  const timeouts = spyVisibility(aws.sqs);
  const hold = holdMessage(aws.sqs, queueUrl, handle, 1, undefined);
  const receiveOnce = async (): Promise<number> =>
    (await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }))).Messages?.length ?? 0;
  await sleep(1600);
  assert.equal(await receiveOnce(), 0, 'held past its 1 s timeout');
  await hold.release();
  const beats = timeouts.length;
  assert.ok(beats >= 2);
  let back = 0;
  for (let i = 0; i < 40 && back === 0; i++) {
    await sleep(100);
    back = await receiveOnce();
  }
  assert.equal(back, 1, 'released, the message comes back after its timeout');
  assert.equal(timeouts.length, beats, 'no beat after release');
});

test('holdMessage reports a failing extension through onError', async () => {
  await using aws = await startAws();
  const queueUrl = await aws.createQueue('hoist-agent');
  const errors: unknown[] = [];
  const hold = holdMessage(aws.sqs, queueUrl, 'not-a-receipt-handle', 1, undefined, (err) => errors.push(err));
  await until(() => errors.length > 0, 'the error');
  await hold.release();
  assert.ok(isHoistError(errors[0], 'HOIST_SQS'));
});

test('receive errors are reported and retried with backoff; stop ends the backoff wait', async () => {
  await using aws = await startAws();
  const queueUrl = aws.endpoint + '/000000000000/no-such-queue';
  const controller = new AbortController();
  const errors: unknown[] = [];
  const consumer = startSqsConsumer({
    sqs: aws.sqs,
    queueUrl,
    waitSeconds: 1,
    visibilityTimeoutSec: 30,
    signal: controller.signal,
    onError: (err) => errors.push(err),
    handle: () => Promise.resolve('delete'),
  });
  await until(() => errors.length >= 2, 'two failed receives');
  assert.ok(errors.every((e) => isHoistError(e, 'HOIST_SQS')));
  assert.ok(errors.length <= 3, `backoff keeps retries slow, saw ${errors.length}`);
  const before = Date.now();
  await consumer.stop();
  assert.ok(Date.now() - before < 1000);
});
