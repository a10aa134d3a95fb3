import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProbeReport } from '../../src/health/check.ts';
import { checkHealth } from '../../src/health/check.ts';

/** A probe that returns the scripted results in order, then repeats the last one. */
function scripted(results: boolean[]): () => Promise<{ ok: boolean; detail: string }> {
  let i = 0;
  return () => {
    const ok = results[Math.min(i, results.length - 1)] ?? false;
    i++;
    return Promise.resolve({ ok, detail: ok ? 'HTTP 200' : `HTTP 500 #${i}` });
  };
}

const fast = { intervalMs: 10, startPeriodMs: 5_000, successThreshold: 3, bakeMs: 0 };

test('checkHealth: healthy after successThreshold consecutive successes', async () => {
  const reports: ProbeReport[] = [];
  const outcome = await checkHealth(scripted([false, true, true, true]), { ...fast, onProbe: (r) => reports.push(r) });
  assert.deepEqual(outcome, { healthy: true, probes: 4 });
  assert.deepEqual(
    reports.map((r) => [r.ok, r.consecutive, r.phase]),
    [[false, 0, 'start'], [true, 1, 'start'], [true, 2, 'start'], [true, 3, 'start']],
  );
});

test('checkHealth: flapping resets the count', async () => {
  const reports: ProbeReport[] = [];
  const outcome = await checkHealth(scripted([true, true, false, true, true, false, true, true, true]), {
    ...fast,
    onProbe: (r) => reports.push(r),
  });
  assert.deepEqual(outcome, { healthy: true, probes: 9 });
  assert.deepEqual(reports.map((r) => r.consecutive), [1, 2, 0, 1, 2, 0, 1, 2, 3]);
});

test('checkHealth: never healthy within startPeriod → unhealthy in phase start with the last failure', async () => {
  const outcome = await checkHealth(scripted([false]), { ...fast, startPeriodMs: 150 });
  assert.equal(outcome.healthy, false);
  assert.ok(!outcome.healthy);
  assert.equal(outcome.phase, 'start');
  assert.match(outcome.reason, /startPeriod 150ms.*HTTP 500 #\d+/);
  assert.ok(outcome.probes >= 2);
});

test('checkHealth: a failure during bake → unhealthy in phase bake', async () => {
  const reports: ProbeReport[] = [];
  const outcome = await checkHealth(scripted([true, true, true, true, true, false]), {
    ...fast,
    bakeMs: 10_000,
    onProbe: (r) => reports.push(r),
  });
  assert.ok(!outcome.healthy);
  assert.equal(outcome.phase, 'bake');
  assert.match(outcome.reason, /HTTP 500 #6/);
  assert.equal(outcome.probes, 6);
  assert.deepEqual(reports.map((r) => r.phase), ['start', 'start', 'start', 'bake', 'bake', 'bake']);
});

test('checkHealth: healthy once bake passes without failure, using the given clock', async () => {
  let clock = 0;
  const outcome = await checkHealth(scripted([true]), {
    ...fast,
    bakeMs: 1_000,
    now: () => (clock += 100), // each decision is 100 "ms" later
  });
  // 3 probes to the threshold, then bake ends after 1000 clock ms of probes.
  assert.deepEqual(outcome, { healthy: true, probes: 13 });
});

test('checkHealth: abort during a wait rejects with the reason at once, and stops probing', async () => {
  const controller = new AbortController();
  const reason = new Error('shutting down');
  let probes = 0;
  const started = performance.now();
  const running = checkHealth(
    () => {
      probes++;
      setImmediate(() => controller.abort(reason)); // abort while checkHealth waits
      return Promise.resolve({ ok: false, detail: 'HTTP 500' });
    },
    // One-minute interval: only the abort can end this promptly.
    { ...fast, intervalMs: 60_000, startPeriodMs: 600_000, signal: controller.signal },
  );
  await assert.rejects(running, (e) => e === reason);
  assert.equal(probes, 1);
  assert.ok(performance.now() - started < 30_000);
});

test('checkHealth: an already aborted signal rejects before probing', async () => {
  const reason = new Error('stop');
  let probes = 0;
  const probe = () => {
    probes++;
    return Promise.resolve({ ok: true, detail: 'HTTP 200' });
  };
  await assert.rejects(checkHealth(probe, { ...fast, signal: AbortSignal.abort(reason) }), (e) => e === reason);
  assert.equal(probes, 0);
});

test('checkHealth: an abort during a probe rejects with the reason', async () => {
  const controller = new AbortController();
  const reason = new Error('stop');
  const probe = () => {
    controller.abort(reason); // the probe itself finishes, but the result is not used
    return Promise.resolve({ ok: true, detail: 'HTTP 200' });
  };
  await assert.rejects(checkHealth(probe, { ...fast, successThreshold: 1, signal: controller.signal }), (e) => e === reason);
});

test('checkHealth: bakeSignal ends a bake early as healthy, but never shortens the start phase', async () => {
  const drain = new AbortController();
  drain.abort();
  // Already aborted: the start phase still needs its 3 successes, then the bake is skipped.
  const skipped = await checkHealth(scripted([false, true, true, true]), { ...fast, bakeMs: 600_000, bakeSignal: drain.signal });
  assert.deepEqual(skipped, { healthy: true, probes: 4 });
  const failing = await checkHealth(scripted([false]), { ...fast, startPeriodMs: 100, bakeMs: 600_000, bakeSignal: drain.signal });
  assert.equal(failing.healthy, false);

  // Aborted while waiting between bake probes (interval one minute): ends at once.
  const later = new AbortController();
  let probes = 0;
  const outcome = await checkHealth(
    () => {
      probes++;
      setImmediate(() => later.abort()); // fires while checkHealth waits for the next bake probe
      return Promise.resolve({ ok: true, detail: 'HTTP 200' });
    },
    { intervalMs: 60_000, startPeriodMs: 600_000, successThreshold: 1, bakeMs: 600_000, bakeSignal: later.signal, now: () => probes },
  );
  assert.deepEqual(outcome, { healthy: true, probes: 1 });
});
