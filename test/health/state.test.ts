import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HealthPolicy, HealthStep } from '../../src/health/state.ts';
import { initialHealthState, nextHealthState } from '../../src/health/state.ts';

const policy: HealthPolicy = { startPeriodMs: 1000, intervalMs: 100, successThreshold: 3, bakeMs: 500 };

/** Feeds `[ok, at]` results from t=0 and returns every step. */
function run(results: Array<[boolean, number]>, p: HealthPolicy = policy): HealthStep[] {
  let state = initialHealthState(0);
  const steps: HealthStep[] = [];
  for (const [ok, at] of results) {
    const step = nextHealthState(state, { ok, detail: ok ? 'HTTP 200' : `HTTP 500 at ${at}` }, at, p);
    steps.push(step);
    if (step.kind !== 'continue') break;
    state = step.state;
  }
  return steps;
}

const cases: Array<{
  name: string;
  results: Array<[boolean, number]>;
  policy?: HealthPolicy;
  kinds: string;
  end: Partial<{ phase: string; reason: RegExp; consecutive: number; probes: number; waitMs: number }>;
}> = [
  {
    name: 'threshold reached then bake passes → healthy',
    results: [[true, 0], [true, 100], [true, 200], [true, 300], [true, 400], [true, 500], [true, 600], [true, 700]],
    kinds: 'continue continue continue continue continue continue continue healthy',
    end: { consecutive: 8, probes: 8 },
  },
  {
    name: 'a failure in start resets the count',
    results: [[true, 0], [true, 100], [false, 200], [true, 300], [true, 400]],
    kinds: 'continue continue continue continue continue',
    end: { consecutive: 2, waitMs: 100 },
  },
  {
    name: 'never healthy within startPeriod → unhealthy in start, with the last failure',
    results: Array.from({ length: 20 }, (_, i): [boolean, number] => [false, i * 100]),
    kinds: 'continue '.repeat(10) + 'unhealthy',
    end: { phase: 'start', reason: /startPeriod 1s.*HTTP 500 at 1000/ },
  },
  {
    name: 'flapping never reaches the threshold → unhealthy in start',
    results: Array.from({ length: 20 }, (_, i): [boolean, number] => [i % 3 !== 2, i * 100]),
    kinds: 'continue '.repeat(10) + 'unhealthy',
    end: { phase: 'start', reason: /2 of 3 consecutive.*HTTP 500 at 800/ },
  },
  {
    name: 'a failure during bake → unhealthy in bake',
    results: [[true, 0], [true, 100], [true, 200], [true, 300], [false, 400]],
    kinds: 'continue continue continue continue unhealthy',
    end: { phase: 'bake', reason: /during bake, 200ms after.*HTTP 500 at 400/ },
  },
  {
    name: 'no bake → healthy at the threshold',
    results: [[true, 0], [true, 100], [true, 200]],
    policy: { ...policy, bakeMs: 0 },
    kinds: 'continue continue healthy',
    end: { probes: 3 },
  },
  {
    name: 'threshold 1, success on the first probe after a slow start',
    results: [[false, 0], [true, 900], [true, 1000]],
    policy: { ...policy, successThreshold: 1, bakeMs: 100 },
    kinds: 'continue continue healthy',
    end: {},
  },
  {
    name: 'the wait shrinks to land the last start probe on the deadline',
    results: [[false, 0], [false, 950]],
    kinds: 'continue continue',
    end: { waitMs: 50 },
  },
];

for (const c of cases) {
  test(`nextHealthState: ${c.name}`, () => {
    const steps = run(c.results, c.policy);
    assert.equal(steps.map((s) => s.kind).join(' '), c.kinds.trim());
    const last = steps.at(-1);
    assert.ok(last);
    if (c.end.phase !== undefined) assert.equal(last.kind === 'unhealthy' && last.phase, c.end.phase);
    if (c.end.reason) assert.match(last.kind === 'unhealthy' ? last.reason : '', c.end.reason);
    if (c.end.consecutive !== undefined) assert.equal(last.state.consecutive, c.end.consecutive);
    if (c.end.probes !== undefined) assert.equal(last.state.probes, c.end.probes);
    if (c.end.waitMs !== undefined) assert.equal(last.kind === 'continue' && last.waitMs, c.end.waitMs);
  });
}

test('nextHealthState: a start that ends on successes short of the threshold says so', () => {
  const steps = run([[true, 0], [true, 1000]]);
  const last = steps.at(-1);
  assert.ok(last?.kind === 'unhealthy');
  assert.match(last.reason, /2 of 3 consecutive successes/);
  assert.match(last.reason, /too few probes/);
});

/** Feeds `[kind, at]`: ok, an answered failure (`bad`), or no answer (`refused`). */
function runAnswers(results: Array<['ok' | 'bad' | 'refused', number]>, p: HealthPolicy): HealthStep[] {
  let state = initialHealthState(0);
  const steps: HealthStep[] = [];
  for (const [kind, at] of results) {
    const result = kind === 'ok' ? { ok: true, detail: 'HTTP 200' } : kind === 'bad' ? { ok: false, answered: true, detail: 'HTTP 503 (expected 200)' } : { ok: false, answered: false, detail: 'connect ECONNREFUSED' };
    const step = nextHealthState(state, result, at, p);
    steps.push(step);
    if (step.kind !== 'continue') break;
    state = step.state;
  }
  return steps;
}

test('failureThreshold: failed answers fail the release at once inside startPeriod; refusals neither count nor break the run', () => {
  const p: HealthPolicy = { startPeriodMs: 60_000, intervalMs: 100, successThreshold: 3, failureThreshold: 3, bakeMs: 500 };
  const table: Array<{ name: string; results: Array<['ok' | 'bad' | 'refused', number]>; kinds: string; reason?: RegExp }> = [
    { name: 'three 503s in a row', results: [['bad', 0], ['bad', 100], ['bad', 200]], kinds: 'continue continue unhealthy', reason: /3 failed answers in a row \(failureThreshold 3\), 200ms into startPeriod: HTTP 503/ },
    { name: 'refusals while starting do not count', results: [['refused', 0], ['refused', 100], ['refused', 200], ['refused', 300], ['bad', 400], ['bad', 500]], kinds: 'continue continue continue continue continue continue' },
    { name: 'a refusal between failed answers does not break their run', results: [['bad', 0], ['refused', 100], ['bad', 200], ['bad', 300]], kinds: 'continue continue continue unhealthy' },
    { name: 'a success resets the run', results: [['bad', 0], ['bad', 100], ['ok', 200], ['bad', 300], ['bad', 400]], kinds: 'continue continue continue continue continue' },
    { name: 'in bake one flaky probe is forgiven, failureThreshold failures of any kind roll back', results: [['ok', 0], ['ok', 100], ['ok', 200], ['refused', 300], ['ok', 400], ['bad', 450], ['refused', 460], ['bad', 470]], kinds: 'continue continue continue continue continue continue continue unhealthy', reason: /failed during bake, .* \(3 failures in a row\)/ },
  ];
  for (const c of table) {
    const steps = runAnswers(c.results, p);
    assert.equal(steps.map((s) => s.kind).join(' '), c.kinds, c.name);
    const last = steps.at(-1);
    if (c.reason !== undefined) assert.match(last?.kind === 'unhealthy' ? last.reason : '', c.reason, c.name);
  }
  // without failureThreshold (the policy of older configs) start never fails early and bake fails at the first failure
  const old: HealthPolicy = { startPeriodMs: 60_000, intervalMs: 100, successThreshold: 1, bakeMs: 500 };
  assert.equal(runAnswers([['bad', 0], ['bad', 100], ['bad', 200], ['bad', 300]], old).map((s) => s.kind).join(' '), 'continue continue continue continue');
  assert.equal(runAnswers([['ok', 0], ['bad', 100]], old).map((s) => s.kind).join(' '), 'continue unhealthy');
});
