import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dueHostCount, formatMaxFailures, haltLimit, haltVerdict, parseMaxFailures } from '../../src/rollout/halt.ts';
import { cohortValue, scheduleOf, stepBound } from '../../src/rollout/schedule.ts';

test('parseMaxFailures: a count, or a share above 0 and at most 100 with two decimals', () => {
  const cases: Array<[unknown, ReturnType<typeof parseMaxFailures>]> = [
    [3, { kind: 'count', count: 3 }],
    [1, { kind: 'count', count: 1 }],
    ['5%', { kind: 'percent', percent: 5 }],
    ['2.5%', { kind: 'percent', percent: 2.5 }],
    ['100%', { kind: 'percent', percent: 100 }],
    [0, undefined],
    [2.5, undefined],
    ['0%', undefined],
    ['101%', undefined],
    ['1.234%', undefined],
    ['5', undefined],
    ['many', undefined],
    [null, undefined],
  ];
  for (const [value, want] of cases) assert.deepEqual(parseMaxFailures(value), want, String(value));
  assert.equal(formatMaxFailures({ kind: 'percent', percent: 2.5 }), '2.5%');
  assert.equal(formatMaxFailures({ kind: 'count', count: 3 }), '3');
});

test('haltLimit: the count, or max(1, ceil(percent x due))', () => {
  const cases: Array<[Parameters<typeof haltLimit>[0], number, number]> = [
    [{ kind: 'count', count: 3 }, 500, 3],
    [{ kind: 'percent', percent: 5 }, 100, 5],
    [{ kind: 'percent', percent: 5 }, 60, 3],
    [{ kind: 'percent', percent: 5 }, 61, 4],
    [{ kind: 'percent', percent: 5 }, 10, 1],
    [{ kind: 'percent', percent: 5 }, 0, 1],
    [{ kind: 'percent', percent: 2.5 }, 200, 5],
    [{ kind: 'percent', percent: 100 }, 7, 7],
  ];
  for (const [max, due, limit] of cases) assert.equal(haltLimit(max, due), limit, `${formatMaxFailures(max)} of ${due}`);
});

test('haltVerdict: distinct failed hosts at or over the limit halt', () => {
  const cases: Array<{ failed: string[]; max: Parameters<typeof haltLimit>[0]; due: number; halted: boolean; failures: number; limit: number }> = [
    { failed: [], max: { kind: 'count', count: 2 }, due: 0, halted: false, failures: 0, limit: 2 },
    { failed: ['a'], max: { kind: 'count', count: 2 }, due: 0, halted: false, failures: 1, limit: 2 },
    { failed: ['a', 'b'], max: { kind: 'count', count: 2 }, due: 0, halted: true, failures: 2, limit: 2 },
    { failed: ['a', 'a', 'b'], max: { kind: 'count', count: 3 }, due: 0, halted: false, failures: 2, limit: 3 },
    { failed: ['a'], max: { kind: 'percent', percent: 5 }, due: 10, halted: true, failures: 1, limit: 1 },
    { failed: ['a', 'b'], max: { kind: 'percent', percent: 5 }, due: 100, halted: false, failures: 2, limit: 5 },
  ];
  for (const c of cases) {
    const v = haltVerdict({ maxFailures: c.max, failedHosts: c.failed, dueHosts: c.due });
    assert.deepEqual([v.halted, v.failures, v.limit], [c.halted, c.failures, c.limit], JSON.stringify(c));
  }
});

test('dueHostCount: reporting hosts whose step is due, each once', () => {
  const T0 = Date.parse('2026-12-01T10:00:00Z');
  const schedule = scheduleOf({ steps: [{ percent: 5, after: '0s' }, { percent: 25, after: '30m' }, { percent: 100, after: '2h' }] }, T0);
  const hosts = Array.from({ length: 400 }, (_, i) => `h-${i}`);
  const band = (id: string): number => {
    const v = cohortValue(id, 'web', 'prod');
    return v < stepBound(5) ? 0 : v < stepBound(25) ? 1 : 2;
  };
  const inSteps = (n: number): number => hosts.filter((h) => band(h) <= n).length;
  assert.equal(dueHostCount(hosts, 'web', 'prod', schedule, T0), inSteps(0));
  assert.equal(dueHostCount([...hosts, ...hosts], 'web', 'prod', schedule, T0 + 30 * 60_000), inSteps(1));
  assert.equal(dueHostCount(hosts, 'web', 'prod', schedule, T0 + 120 * 60_000), 400);
  assert.equal(dueHostCount(hosts, 'web', 'prod', schedule, T0 - 1), 0);
  // A percent rollout: every host of the cohort is due.
  assert.equal(dueHostCount(hosts, 'web', 'prod', scheduleOf({ percent: 25 }, T0 + 999_999), T0), hosts.filter((h) => cohortValue(h, 'web', 'prod') < 2500).length);
});
