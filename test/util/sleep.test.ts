import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../../src/util/sleep.ts';

test('sleep resolves after the delay', async () => {
  const start = performance.now();
  await sleep(20);
  assert.ok(performance.now() - start >= 15);
});

test('sleep rejects at once with the reason of an already aborted signal', async () => {
  const reason = new Error('gone');
  await assert.rejects(sleep(60_000, AbortSignal.abort(reason)), (err) => err === reason);
});

test('sleep rejects with the reason when aborted during the wait, and leaves no timer behind', async () => {
  const controller = new AbortController();
  const reason = new Error('stop');
  const pending = sleep(60_000, controller.signal);
  setTimeout(() => controller.abort(reason), 5);
  // A leaked 60 s timer would keep this test file running for a minute; the runner would notice.
  await assert.rejects(pending, (err) => err === reason);
});

test('a finished sleep removes its abort listener', async () => {
  const controller = new AbortController();
  await sleep(1, controller.signal);
  // Aborting later must not throw or reject anything.
  controller.abort(new Error('late'));
  assert.equal(controller.signal.aborted, true);
});

test('negative delays resolve immediately', async () => {
  await sleep(-5);
});
