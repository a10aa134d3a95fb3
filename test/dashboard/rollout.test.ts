import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eligibleAt, haltLimit, planRollout, stepBound, stepOf } from '../../src/dashboard/rollout.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const MIN = 60_000;

test('planRollout: percent, steps with due times and spreads, and what it refuses', () => {
  const cases: Array<{ name: string; rollout: Record<string, unknown> | undefined; issuedAt?: null; want: unknown }> = [
    { name: 'no rollout is 100 % at issue time', rollout: undefined, want: { kind: 'percent', percent: 100, steps: [{ index: 0, percent: 100, lower: 0, upper: 10_000, dueAt: T0, spreadMs: 0 }] } },
    { name: 'percent uses the agent bound round(percent x 100)', rollout: { percent: 12.5 }, want: { kind: 'percent', percent: 12.5, steps: [{ index: 0, percent: 12.5, lower: 0, upper: 1250, dueAt: T0, spreadMs: 0 }] } },
    {
      name: 'steps: start + after, spread half the gap to the next step, 0 for the last',
      rollout: { steps: [{ percent: 5, after: '0s' }, { percent: 25, after: '30m' }, { percent: 100, after: '2h' }] },
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
      name: 'startAt replaces issuedAt; a step may carry its spread',
      rollout: { startAt: '2026-12-01T12:00:00Z', steps: [{ percent: 0.29, after: '0s', spread: '10m' }, { percent: 100, after: '1h', spread: '5m' }] },
      want: {
        kind: 'steps',
        start: T0 + 120 * MIN,
        steps: [
          { index: 0, percent: 0.29, lower: 0, upper: 29, dueAt: T0 + 120 * MIN, spreadMs: 10 * MIN },
          { index: 1, percent: 100, lower: 29, upper: 10_000, dueAt: T0 + 180 * MIN, spreadMs: 5 * MIN },
        ],
      },
    },
    { name: 'percents must increase', rollout: { steps: [{ percent: 50, after: '0s' }, { percent: 25, after: '1h' }] }, want: { kind: 'invalid', reason: "rollout.steps[1].percent: must be above the previous step's 50" } },
    { name: 'after must be a duration', rollout: { steps: [{ percent: 50, after: 'soon' }] }, want: { kind: 'invalid', reason: 'rollout.steps[0].after: expected a duration like "0s", "30m" or "2h"' } },
    { name: 'a bad spread', rollout: { steps: [{ percent: 50, after: '0s', spread: 7 }] }, want: { kind: 'invalid', reason: 'rollout.steps[0].spread: Invalid input: expected string, received number' } },
    { name: 'a percent out of range', rollout: { steps: [{ percent: 0, after: '0s' }] }, want: { kind: 'invalid', reason: 'rollout.steps[0].percent: must be above 0' } },
    { name: 'steps that are not a list', rollout: { steps: 'all' }, want: { kind: 'invalid', reason: 'rollout.steps: Invalid input: expected array, received string' } },
    { name: 'a bad startAt', rollout: { startAt: 'monday', steps: [{ percent: 100, after: '0s' }] }, want: { kind: 'invalid', reason: 'rollout.startAt: Invalid ISO datetime' } },
    { name: 'steps with no issuedAt or startAt to count from', rollout: { steps: [{ percent: 100, after: '0s' }] }, issuedAt: null, want: { kind: 'invalid', reason: 'rollout.steps count from issuedAt, which the manifest lacks' } },
    { name: 'a bad percent', rollout: { percent: 'half' }, want: { kind: 'invalid', reason: 'rollout.percent: Invalid input: expected number, received string' } },
  ];
  for (const c of cases) assert.deepEqual(planRollout(c.rollout, c.issuedAt === null ? undefined : T0), c.want, c.name);
});

test('stepBound floors percent x 100 without binary rounding errors', () => {
  for (const [percent, bound] of [[0.29, 29], [0.57, 57], [1.13, 113], [33.33, 3333], [99.99, 9999], [100, 10_000], [12.345, 1234]] as const) {
    assert.equal(stepBound(percent), bound, String(percent));
  }
});

test('stepOf and eligibleAt: a host of a band starts at its place in the spread', () => {
  const plan = planRollout({ steps: [{ percent: 5, after: '0s' }, { percent: 25, after: '30m' }, { percent: 100, after: '2h' }] }, T0);
  const cases: Array<[number, number | undefined, number | undefined]> = [
    [0, 0, T0],
    [250, 0, T0 + 7.5 * MIN],
    [499, 0, T0 + Math.floor((15 * MIN * 499) / 500)],
    [500, 1, T0 + 30 * MIN],
    [9_999, 2, T0 + 120 * MIN],
  ];
  for (const [cohort, index, at] of cases) {
    const step = stepOf(plan, cohort);
    assert.equal(step?.index, index, `cohort ${cohort}`);
    assert.equal(step === undefined ? undefined : eligibleAt(step, cohort), at, `cohort ${cohort}`);
  }
  const half = planRollout({ percent: 50 }, T0);
  assert.equal(stepOf(half, 4_999)?.index, 0);
  assert.equal(stepOf(half, 5_000), undefined);
  assert.equal(stepOf({ kind: 'invalid', reason: 'x' }, 1), undefined);
});

test('haltLimit: a count, or max(1, ceil(percent of the hosts due so far))', () => {
  const cases: Array<[unknown, number, number | undefined, string | undefined]> = [
    [3, 100, 3, '3'],
    ['5%', 100, 5, '5%'],
    ['5%', 10, 1, '5%'],
    ['5%', 0, 1, '5%'],
    ['2.5%', 200, 5, '2.5%'],
    [0, 100, undefined, undefined],
    ['0%', 100, undefined, undefined],
    ['many', 100, undefined, undefined],
    [undefined, 100, undefined, undefined],
  ];
  for (const [maxFailures, due, limit, text] of cases) {
    const got = haltLimit(maxFailures === undefined ? {} : { halt: { maxFailures } }, due);
    assert.deepEqual(got === undefined ? undefined : [got.limit, got.text], limit === undefined ? undefined : [limit, text], `${String(maxFailures)} of ${due}`);
  }
});
