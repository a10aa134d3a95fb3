import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { WakeTimer } from '../../src/agent/wake.ts';

test('WakeTimer fires once at the time set, moves with a new time, clears, and is idempotent', async () => {
  const fired: number[] = [];
  const timer = new WakeTimer(() => fired.push(Date.now()));
  const at = Date.now() + 50;
  timer.set(at);
  assert.equal(timer.at, at);
  timer.set(at); // the same time again changes nothing
  await delay(200);
  assert.equal(fired.length, 1);
  assert.ok((fired[0] ?? 0) >= at, 'never before the time');
  assert.equal(timer.at, undefined);

  timer.set(Date.now() + 10_000);
  timer.set(Date.now() + 20);
  await delay(150);
  assert.equal(fired.length, 2, 'moved to the earlier time');
  timer.set(Date.now() + 20);
  timer.clear();
  timer.set(undefined);
  await delay(100);
  assert.equal(fired.length, 2, 'cleared');
  timer.set(Date.now() - 1_000);
  await delay(50);
  assert.equal(fired.length, 3, 'a past time fires at once');
  timer.set(Number.NaN);
  assert.equal(timer.at, undefined);
});

test('WakeTimer reaches a time past setTimeout\'s limit in hops', () => {
  let now = 0;
  const timer = new WakeTimer(() => undefined, () => now);
  timer.set(40 * 86_400_000);
  assert.equal(timer.at, 40 * 86_400_000);
  now = 1;
  timer.clear();
  assert.equal(timer.at, undefined);
});
