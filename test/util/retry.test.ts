import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, retry } from '../../src/util/retry.ts';
import type { RetryInfo } from '../../src/util/retry.ts';

test('backoffDelay: full jitter under a doubling, capped ceiling', () => {
  const table: [attempt: number, base: number, max: number, random: number, expected: number][] = [
    [1, 100, 10_000, 0, 0],
    [1, 100, 10_000, 0.5, 50],
    [1, 100, 10_000, 0.999999, 99],
    [2, 100, 10_000, 0.5, 100],
    [3, 100, 10_000, 0.5, 200],
    [4, 100, 10_000, 0.5, 400],
    [8, 100, 10_000, 0.5, 5000], // ceiling 12 800 capped at 10 000
    [60, 100, 10_000, 0.5, 5000], // huge exponents stay finite
    [2000, 500, 30_000, 0.999, 29_970],
    [0, 100, 10_000, 0.5, 50], // attempt 0 treated as the first
    [3, 100, 150, 0.5, 75],
    [1, 100, 10_000, 1, 100], // random() == 1 (out of contract) still respects the ceiling
    [1, 100, 10_000, -1, 0],
    [5, 0, 1000, 0.7, 0],
  ];
  for (const [attempt, base, max, random, expected] of table) {
    assert.equal(backoffDelay(attempt, base, max, () => random), expected, `attempt ${attempt} base ${base} max ${max} random ${random}`);
  }
});

test('retry returns the first success and passes attempt numbers', async () => {
  const seen: number[] = [];
  const result = await retry(
    (attempt) => {
      seen.push(attempt);
      return attempt < 3 ? Promise.reject(new Error(`fail ${attempt}`)) : Promise.resolve('ok');
    },
    { attempts: 5, baseMs: 1, maxMs: 2 },
  );
  assert.equal(result, 'ok');
  assert.deepEqual(seen, [1, 2, 3]);
});

test('retry rethrows the last error when attempts run out and reports each retry', async () => {
  const retries: RetryInfo[] = [];
  let calls = 0;
  await assert.rejects(
    retry(
      (attempt) => {
        calls++;
        return Promise.reject(new Error(`fail ${attempt}`));
      },
      { attempts: 3, baseMs: 10, maxMs: 100, random: () => 0.5, onRetry: (info) => retries.push(info) },
    ),
    /fail 3/,
  );
  assert.equal(calls, 3);
  assert.deepEqual(
    retries.map((r) => [r.attempt, r.delayMs, (r.error as Error).message]),
    [
      [1, 5, 'fail 1'],
      [2, 10, 'fail 2'],
    ],
  );
});

test('retry gives up at once on a non-retryable error', async () => {
  let calls = 0;
  const final = new Error('403');
  await assert.rejects(
    retry(
      () => {
        calls++;
        return Promise.reject(final);
      },
      { attempts: 5, baseMs: 1, maxMs: 1, isRetryable: (e) => e !== final },
    ),
    (err) => err === final,
  );
  assert.equal(calls, 1);
});

test('retry with attempts < 1 still makes one attempt', async () => {
  let calls = 0;
  await assert.rejects(
    retry(
      () => {
        calls++;
        return Promise.reject(new Error('x'));
      },
      { attempts: 0, baseMs: 1, maxMs: 1 },
    ),
  );
  assert.equal(calls, 1);
});

test('retry stops during the backoff wait when aborted, with the abort reason', async () => {
  const controller = new AbortController();
  const reason = new Error('shutdown');
  let calls = 0;
  const pending = retry(
    () => {
      calls++;
      return Promise.reject(new Error('transient'));
    },
    {
      attempts: 10,
      baseMs: 60_000,
      maxMs: 60_000,
      random: () => 0.9,
      signal: controller.signal,
      onRetry: () => setImmediate(() => controller.abort(reason)),
    },
  );
  await assert.rejects(pending, (err) => err === reason);
  assert.equal(calls, 1);
});

test('retry hands the signal to the attempt and reports the abort, not the attempt error', async () => {
  const controller = new AbortController();
  const reason = new Error('now');
  await assert.rejects(
    retry(
      (_attempt, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('attempt saw abort')), { once: true });
          controller.abort(reason);
        }),
      { attempts: 3, baseMs: 1, maxMs: 1, signal: controller.signal },
    ),
    (err) => err === reason,
  );
});

test('retry with an already aborted signal does not call fn', async () => {
  let calls = 0;
  await assert.rejects(
    retry(
      () => {
        calls++;
        return Promise.resolve(1);
      },
      { attempts: 3, baseMs: 1, maxMs: 1, signal: AbortSignal.abort() },
    ),
    { name: 'AbortError' },
  );
  assert.equal(calls, 0);
});
