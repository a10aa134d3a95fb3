import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StallError, watchStall } from '../../src/fetch/stall.ts';
import { isRetryable } from '../../src/aws/errors.ts';
import { sleep } from '../../src/util/sleep.ts';

test('no bytes within the window aborts with a retryable StallError', async () => {
  using watch = watchStall(30, 1);
  await new Promise((resolve) => watch.signal.addEventListener('abort', resolve, { once: true }));
  const reason: unknown = watch.signal.reason;
  assert.ok(reason instanceof StallError);
  assert.equal(reason.code, 'HOIST_STALL');
  assert.equal(isRetryable(reason), true);
  assert.match(reason.message, /0 bytes in 30 ms/);
});

test('too few bytes per window (a trickle) also aborts', async () => {
  using watch = watchStall(30, 1000);
  const feeder = setInterval(() => watch.progress(10), 5);
  try {
    await new Promise((resolve) => watch.signal.addEventListener('abort', resolve, { once: true }));
  } finally {
    clearInterval(feeder);
  }
  assert.ok(watch.signal.reason instanceof StallError);
});

test('enough bytes in every window keep it alive; dispose stops it', async () => {
  // A generous window so a loaded machine's scheduling hiccups cannot starve it.
  const watch = watchStall(300, 100);
  // Bounded: about three windows of healthy progress.
  for (let i = 0; i < 45 && !watch.signal.aborted; i++) {
    watch.progress(1000);
    await sleep(20);
  }
  assert.equal(watch.signal.aborted, false);
  watch[Symbol.dispose]();
  await sleep(100);
  assert.equal(watch.signal.aborted, false, 'a disposed watch never fires');
  watch[Symbol.dispose](); // idempotent
});
