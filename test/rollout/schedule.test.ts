import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cohortValue, eligibleAt, percentBound, placement, planSteps, scheduleOf, stepBound, stepDue, stepOf, type Schedule } from '../../src/rollout/schedule.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const MIN = 60_000;
const THREE = { steps: [{ percent: 5, after: '0s' }, { percent: 25, after: '30m' }, { percent: 100, after: '2h' }] };

test('cohortValue is uint32(sha256(hostId:app:env)[0..4]) % 10000', () => {
  for (const host of ['host-1', 'i-0abc', 'sim-0001']) {
    assert.equal(cohortValue(host, 'web', 'prod'), createHash('sha256').update(`${host}:web:prod`).digest().readUInt32BE(0) % 10_000);
  }
});

test('bounds: round(percent x 100) for percent, floor(percent x 100) for steps, without binary rounding errors', () => {
  const cases: Array<[number, number, number]> = [
    [0.29, 29, 29],
    [0.57, 57, 57],
    [1.13, 113, 113],
    [12.5, 1250, 1250],
    [33.33, 3333, 3333],
    [99.99, 9999, 9999],
    [100, 10_000, 10_000],
  ];
  for (const [percent, round, floor] of cases) {
    assert.equal(percentBound(percent), round, `percent ${percent}`);
    assert.equal(stepBound(percent), floor, `step ${percent}`);
  }
});

test('scheduleOf: percent, steps with due times and spreads, startAt over issuedAt', () => {
  const cases: Array<{ name: string; rollout: Parameters<typeof scheduleOf>[0]; want: Schedule }> = [
    { name: 'absent is 100 %', rollout: undefined, want: { kind: 'percent', percent: 100, steps: [{ index: 0, percent: 100, lower: 0, upper: 10_000, dueAt: T0, spreadMs: 0 }] } },
    { name: 'percent 12.5', rollout: { percent: 12.5 }, want: { kind: 'percent', percent: 12.5, steps: [{ index: 0, percent: 12.5, lower: 0, upper: 1250, dueAt: T0, spreadMs: 0 }] } },
    {
      name: 'three steps: spread half the gap, 0 for the last',
      rollout: THREE,
      want: {
        kind: 'steps',
        start: T0,
        steps: [
          { index: 0, percent: 5, lower: 0, upper: 500, dueAt: T0, spreadMs: 15 * MIN },
          { index: 1, percent: 25, lower: 500, upper: 2500, dueAt: T0 + 30 * MIN, spreadMs: 45 * MIN },
          { index: 2, percent: 100, lower: 2500, upper: 10_000, dueAt: T0 + 120 * MIN, spreadMs: 0 },
        ],
      },
    },
    {
      name: 'startAt and explicit spreads (the last step too)',
      rollout: { startAt: '2026-12-01T12:00:00Z', steps: [{ percent: 0.29, after: '0s', spread: '10m' }, { percent: 50, after: '1h', spread: '5m' }] },
      want: {
        kind: 'steps',
        start: T0 + 120 * MIN,
        steps: [
          { index: 0, percent: 0.29, lower: 0, upper: 29, dueAt: T0 + 120 * MIN, spreadMs: 10 * MIN },
          { index: 1, percent: 50, lower: 29, upper: 5000, dueAt: T0 + 180 * MIN, spreadMs: 5 * MIN },
        ],
      },
    },
  ];
  for (const c of cases) assert.deepEqual(scheduleOf(c.rollout, T0), c.want, c.name);
  assert.deepEqual(planSteps([{ percent: 100, afterMs: 0 }], T0), [{ index: 0, percent: 100, lower: 0, upper: 10_000, dueAt: T0, spreadMs: 0 }]);
});

test('eligibleAt and placement: a host starts at its place in its band over the spread', () => {
  const s = scheduleOf(THREE, T0);
  const cases: Array<{ cohort: number; now: number; kind: string; step?: number; at?: number }> = [
    { cohort: 0, now: T0, kind: 'eligible', step: 0, at: T0 },
    { cohort: 250, now: T0, kind: 'later', step: 0, at: T0 + 7.5 * MIN },
    { cohort: 250, now: T0 + 7.5 * MIN, kind: 'eligible', step: 0, at: T0 + 7.5 * MIN },
    { cohort: 499, now: T0, kind: 'later', step: 0, at: T0 + Math.floor((15 * MIN * 499) / 500) },
    { cohort: 500, now: T0 + 30 * MIN - 1, kind: 'later', step: 1, at: T0 + 30 * MIN },
    { cohort: 1500, now: T0 + 40 * MIN, kind: 'later', step: 1, at: T0 + 30 * MIN + Math.floor((45 * MIN * 1000) / 2000) },
    { cohort: 9_999, now: T0 + 120 * MIN, kind: 'eligible', step: 2, at: T0 + 120 * MIN },
  ];
  for (const c of cases) {
    const p = placement(s, c.cohort, c.now);
    assert.equal(p.kind, c.kind, `cohort ${c.cohort}`);
    if (p.kind !== 'outside') {
      assert.equal(p.step.index, c.step, `cohort ${c.cohort}`);
      assert.equal(p.eligibleAt, c.at, `cohort ${c.cohort}`);
      assert.equal(eligibleAt(p.step, c.cohort), c.at);
    }
  }
  // A schedule that stops at 50 % never reaches the upper half; a percent rollout takes effect at once.
  const half = scheduleOf({ steps: [{ percent: 50, after: '1h' }] }, T0);
  assert.deepEqual(placement(half, 5_000, T0 + 999 * MIN), { kind: 'outside', reach: 50 });
  assert.equal(placement(scheduleOf({ percent: 10 }, T0 + 60 * MIN), 999, T0).kind, 'eligible');
  assert.equal(placement(scheduleOf({ percent: 10 }, T0), 1000, T0).kind, 'outside');
  assert.equal(stepOf(s.steps, 10_000), undefined);
  assert.equal(stepDue(s, s.steps[1] ?? assert.fail(), T0 + 30 * MIN), true);
  assert.equal(stepDue(s, s.steps[2] ?? assert.fail(), T0 + 30 * MIN), false);
});

test('a zero-width band (two steps with the same floor) starts at its due time', () => {
  const steps = planSteps([{ percent: 0.001, afterMs: 0 }, { percent: 100, afterMs: 60_000 }], T0);
  assert.equal(steps[0]?.upper, 0);
  assert.equal(eligibleAt(steps[0] ?? assert.fail(), 0), T0);
});
