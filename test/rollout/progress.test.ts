import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolloutProgress, type HostReport } from '../../src/rollout/progress.ts';
import { cohortValue, stepBound } from '../../src/rollout/schedule.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const SHA = 'a'.repeat(64);
const OLD = 'b'.repeat(64);

function hostsIn(lo: number, hi: number, n: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (cohortValue(`${tag}${i}`, 'web', 'prod') >= lo && cohortValue(`${tag}${i}`, 'web', 'prod') < hi) out.push(`${tag}${i}`);
  return out;
}

const release = {
  app: 'web',
  env: 'prod',
  sequence: 5,
  version: '2.0.0',
  sha256: SHA,
  issuedAt: new Date(T0).toISOString(),
  rollout: { steps: [{ percent: 10, after: '0s' }, { percent: 50, after: '1h' }, { percent: 100, after: '2h' }], halt: { maxFailures: 2 } },
};

test('rolloutProgress: hosts per step, outcomes from events first, halt as the agents count it', () => {
  const [a, b, c] = [hostsIn(0, stepBound(10), 4, 'a'), hostsIn(stepBound(10), stepBound(50), 3, 'b'), hostsIn(stepBound(50), 10_000, 3, 'c')];
  const r = (hostId: string, state: string, current: string | null, skipped?: HostReport['skipped']): HostReport => ({ hostId, state, currentSha256: current, ...(skipped === undefined ? {} : { skipped }) });
  const reports = [
    r(a[0] ?? '', 'healthy', SHA),
    r(a[1] ?? '', 'rolled-back', OLD),
    r(a[2] ?? '', 'healthy', SHA),
    r(a[3] ?? '', 'deploying', OLD),
    r(b[0] ?? '', 'waiting', OLD, { reason: 'step', eligibleAt: new Date(T0 + 3_600_000).toISOString() }),
    r(b[1] ?? '', 'waiting', OLD),
    r(b[2] ?? '', 'healthy', OLD),
    ...c.map((id) => r(id, 'waiting', OLD)),
  ];
  const events = new Map([['healthy', [a[0] ?? '', a[2] ?? '']], ['rolled-back', [a[1] ?? '']], ['failed', ['gone-host']]]);
  const p = rolloutProgress(release, reports, events, T0 + 30 * 60_000);
  assert.deepEqual(
    p.steps.map((s) => [s.index, s.fromPercent, s.percent, s.due, s.hosts, s.counts.healthy, s.counts['rolled-back'], s.counts.failed, s.counts.halted, s.counts.waiting, s.counts.other]),
    [
      [0, 0, 10, true, 4, 2, 1, 0, 0, 0, 1],
      [1, 10, 50, false, 3, 0, 0, 0, 0, 2, 1],
      [2, 50, 100, false, 3, 0, 0, 0, 0, 3, 0],
    ],
  );
  assert.equal(p.unreported, 1, 'gone-host has an event but no report');
  assert.deepEqual(p.halt && [p.halt.failures, p.halt.limit, p.halt.halted], [2, 2, true], 'a-1 and gone-host failed it');
  assert.equal(p.halted, true);
  assert.equal(p.complete, false);
  // the same without the gone host's failure: proceeding
  const q = rolloutProgress(release, reports, new Map([['rolled-back', [a[1] ?? '']]]), T0 + 30 * 60_000);
  assert.equal(q.halted, false);
  assert.equal(q.halt?.failures, 1);
});

test('rolloutProgress: a percent rollout is one step due at once; a halted event halts whatever the count; complete when all are healthy', () => {
  const ids = hostsIn(0, 10_000, 6, 'p');
  const plain = { ...release, rollout: { percent: 100 } };
  const all = rolloutProgress(plain, ids.map((id) => ({ hostId: id, state: 'healthy', currentSha256: SHA })), new Map(), T0 - 1);
  assert.equal(all.schedule, 'percent');
  assert.equal(all.steps.length, 1);
  assert.equal(all.steps[0]?.due, true);
  assert.equal(all.complete, true);
  assert.equal(all.halt, null);
  const stopped = rolloutProgress(plain, ids.map((id) => ({ hostId: id, state: 'halted', currentSha256: OLD })), new Map([['halted', [ids[0] ?? '']]]), T0);
  assert.equal(stopped.halted, true);
  assert.equal(stopped.steps[0]?.counts.halted, 6);
  const pct = rolloutProgress({ ...release, rollout: { percent: 50, halt: { maxFailures: '50%' } } }, ids.map((id) => ({ hostId: id, state: 'healthy', currentSha256: OLD })), new Map([['failed', ['x']]]), T0);
  assert.equal(pct.halt?.limit, Math.max(1, Math.ceil(0.5 * (pct.halt?.dueHosts ?? 0))));
  assert.equal(pct.outside + (pct.steps[0]?.hosts ?? 0), 6);
});
