import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  classifySequence,
  cohortValue,
  decide,
  haltDecision,
  inCohort,
  pinApplies,
  releaseDirName,
  wakeAt,
  type DecideInput,
  type ManifestView,
} from '../../src/agent/decide.ts';
import { stepBound } from '../../src/rollout/schedule.ts';

const shaA = 'a'.repeat(64);
const shaB = 'b'.repeat(64);
const shaC = 'c'.repeat(64);

function release(sha: string, version: string, sequence: number, percent?: number): ManifestView {
  return {
    kind: 'release',
    sequence,
    version,
    artifact: { key: `artifacts/web/${sha}.tar.gz`, sha256: sha, size: 10, format: 'tar+gzip' },
    ...(percent === undefined ? {} : { rollout: { percent } }),
  };
}

function pin(sha: string | null, sequence: number, hosts?: string[]): ManifestView {
  return {
    kind: 'pin',
    sequence,
    version: sha === null ? undefined : 'pinned',
    artifact: sha === null ? null : { key: `artifacts/web/${sha}.tar.gz`, sha256: sha, size: 10, format: 'tar+gzip' },
    hosts,
  };
}

const base: DecideInput = {
  hostId: 'host-1',
  app: 'web',
  env: 'prod',
  release: undefined,
  pin: undefined,
  currentSha256: undefined,
  failed: [],
  windowOpen: true,
  now: Date.parse('2026-12-01T10:00:00Z'),
};

test('cohortValue is the documented formula', () => {
  const digest = createHash('sha256').update('host-1:web:prod').digest();
  assert.equal(cohortValue('host-1', 'web', 'prod'), digest.readUInt32BE(0) % 10_000);
  assert.equal(inCohort('host-1', 'web', 'prod', 100), true);
  assert.equal(inCohort('host-1', 'web', 'prod', 0), false);
});

test('rollout 10% takes close to 10% of 2,000 hosts, and the same ones each time', () => {
  const hosts = Array.from({ length: 2000 }, (_, i) => `i-${i.toString(16).padStart(8, '0')}`);
  const canaries = hosts.filter((h) => inCohort(h, 'web', 'prod', 10));
  assert.ok(canaries.length > 140 && canaries.length < 260, `got ${canaries.length}`);
  assert.deepEqual(hosts.filter((h) => inCohort(h, 'web', 'prod', 10)), canaries);
  // Raising the percentage only adds hosts.
  const wider = new Set(hosts.filter((h) => inCohort(h, 'web', 'prod', 50)));
  for (const h of canaries) assert.ok(wider.has(h));
});

test('classifySequence: new, duplicate, replay, conflict', () => {
  const mark = { sequence: 10, digest: 'd1' };
  assert.equal(classifySequence(undefined, 1, 'x'), 'new');
  assert.equal(classifySequence(mark, 11, 'x'), 'new');
  assert.equal(classifySequence(mark, 10, 'd1'), 'duplicate');
  assert.equal(classifySequence(mark, 10, 'd2'), 'conflict');
  assert.equal(classifySequence(mark, 9, 'd1'), 'replay');
});

test('pinApplies: whole env or listed hosts only', () => {
  assert.equal(pinApplies(pin(shaA, 1), 'host-1'), true);
  assert.equal(pinApplies(pin(shaA, 1, ['host-1']), 'host-1'), true);
  assert.equal(pinApplies(pin(shaA, 1, ['host-2']), 'host-1'), false);
});

test('decide table', () => {
  const cases: Array<{ name: string; input: Partial<DecideInput>; action: string; version?: string; kind?: string }> = [
    { name: 'nothing published', input: {}, action: 'none' },
    { name: 'first deploy', input: { release: release(shaA, '1.0.0', 1) }, action: 'deploy', version: '1.0.0' },
    { name: 'already running', input: { release: release(shaA, '1.0.0', 1), currentSha256: shaA }, action: 'none' },
    { name: 'new release', input: { release: release(shaB, '2.0.0', 2), currentSha256: shaA }, action: 'deploy', version: '2.0.0' },
    { name: 'failed before', input: { release: release(shaB, '2.0.0', 3), currentSha256: shaA, failed: [shaB] }, action: 'none' },
    { name: 'rollout 0%', input: { release: release(shaB, '2.0.0', 2, 0), currentSha256: shaA }, action: 'none' },
    { name: 'rollout 100%', input: { release: release(shaB, '2.0.0', 2, 100), currentSha256: shaA }, action: 'deploy', version: '2.0.0' },
    { name: 'window closed', input: { release: release(shaB, '2.0.0', 2), currentSha256: shaA, windowOpen: false }, action: 'wait' },
    {
      name: 'pin wins over channel',
      input: { release: release(shaB, '2.0.0', 2), pin: pin(shaC, 5), currentSha256: shaB },
      action: 'deploy',
      kind: 'pin',
    },
    {
      name: 'pin for another host is ignored',
      input: { release: release(shaB, '2.0.0', 2), pin: pin(shaC, 5, ['host-9']), currentSha256: shaB },
      action: 'none',
    },
    {
      name: 'unpin returns to the channel',
      input: { release: release(shaB, '2.0.0', 2), pin: pin(null, 6), currentSha256: shaC },
      action: 'deploy',
      version: '2.0.0',
      kind: 'release',
    },
    {
      name: 'pin ignores the rollout cohort',
      input: { release: release(shaB, '2.0.0', 2, 0), pin: pin(shaC, 5), currentSha256: shaA },
      action: 'deploy',
      kind: 'pin',
    },
  ];
  for (const c of cases) {
    const d = decide({ ...base, ...c.input });
    assert.equal(d.action, c.action, c.name);
    if (c.version !== undefined && d.action === 'deploy') assert.equal(d.target.version, c.version, c.name);
    if (c.kind !== undefined && d.action === 'deploy') assert.equal(d.target.kind, c.kind, c.name);
  }
});

const T0 = Date.parse('2026-12-01T10:00:00Z');
const MIN = 60_000;

function stepped(sha: string, sequence: number, extra: Partial<ManifestView> = {}): ManifestView {
  return {
    ...release(sha, '2.0.0', sequence),
    issuedAt: new Date(T0).toISOString(),
    rollout: { steps: [{ percent: 5, after: '0s' }, { percent: 25, after: '30m' }, { percent: 50, after: '2h' }], halt: { maxFailures: 2 } },
    ...extra,
  };
}

/** A host id whose cohort value falls in [lo, hi). */
function hostIn(lo: number, hi: number): string {
  for (let i = 0; i < 100_000; i++) {
    const id = `h-${i}`;
    const v = cohortValue(id, 'web', 'prod');
    if (v >= lo && v < hi) return id;
  }
  throw new Error(`no host in [${lo}, ${hi})`);
}

test('decide with rollout steps: due, later (with eligibleAt), never reached, already running, halted', () => {
  const first = hostIn(0, 1); // the very start of step 1: eligible at T0
  const second = hostIn(stepBound(5), stepBound(5) + 1); // start of step 2: due at T0 + 30m
  const beyond = hostIn(stepBound(50), 10_000); // past the last step (50 %)
  const cases: Array<{ name: string; input: Partial<DecideInput>; action: string; skip?: string; eligibleAt?: string; desired?: boolean }> = [
    { name: 'step 1 due', input: { hostId: first, release: stepped(shaB, 2), currentSha256: shaA }, action: 'deploy' },
    { name: 'step 2 not yet', input: { hostId: second, release: stepped(shaB, 2), currentSha256: shaA }, action: 'none', skip: 'step', eligibleAt: new Date(T0 + 30 * MIN).toISOString(), desired: false },
    { name: 'step 2 due', input: { hostId: second, release: stepped(shaB, 2), currentSha256: shaA, now: T0 + 30 * MIN }, action: 'deploy' },
    { name: 'startAt moves every step', input: { hostId: first, release: stepped(shaB, 2, { rollout: { startAt: new Date(T0 + 5 * MIN).toISOString(), steps: [{ percent: 5, after: '0s' }, { percent: 100, after: '1h' }] } }), currentSha256: shaA }, action: 'none', skip: 'step', eligibleAt: new Date(T0 + 5 * MIN).toISOString() },
    { name: 'past the last step', input: { hostId: beyond, release: stepped(shaB, 2), currentSha256: shaA, now: T0 + 999 * MIN }, action: 'none', skip: 'cohort', desired: false },
    { name: 'a host of a later step that runs it already desires it', input: { hostId: second, release: stepped(shaB, 2), currentSha256: shaB }, action: 'none', desired: true },
    { name: 'halted here before', input: { hostId: first, release: stepped(shaB, 2), currentSha256: shaA, haltedSequence: 2 }, action: 'none', skip: 'halted', desired: true },
    { name: 'a new manifest after a halt', input: { hostId: first, release: stepped(shaC, 3), currentSha256: shaA, haltedSequence: 2 }, action: 'deploy' },
    { name: 'due, but the window is closed', input: { hostId: first, release: stepped(shaB, 2), currentSha256: shaA, windowOpen: false }, action: 'wait', skip: 'window' },
    { name: 'a pin ignores the steps', input: { hostId: second, release: stepped(shaB, 2), pin: pin(shaC, 5), currentSha256: shaA }, action: 'deploy' },
  ];
  for (const c of cases) {
    const d = decide({ ...base, ...c.input });
    assert.equal(d.action, c.action, c.name);
    if (d.action === 'deploy') continue;
    assert.equal(d.skip?.reason, c.skip, c.name);
    if (c.eligibleAt !== undefined) assert.equal(d.skip?.eligibleAt, c.eligibleAt, c.name);
    if (c.desired !== undefined) assert.equal(d.desired !== undefined, c.desired, c.name);
  }
});

test('haltDecision turns a deploy into a halted skip only when the limit is reached; wakeAt reads a step skip', () => {
  const deploy = decide({ ...base, hostId: hostIn(0, 1), release: stepped(shaB, 2), currentSha256: shaA });
  assert.equal(deploy.action, 'deploy');
  assert.equal(haltDecision(deploy, undefined), deploy);
  assert.equal(haltDecision(deploy, { halted: false, failures: 1, limit: 2, text: '2' }), deploy);
  const halted = haltDecision(deploy, { halted: true, failures: 2, limit: 2, text: '2' });
  assert.equal(halted.action, 'none');
  assert.equal(halted.action === 'none' ? halted.skip?.reason : undefined, 'halted');
  assert.match(halted.reason, /2 hosts failed it, the limit is 2 \(maxFailures 2\)/);
  const none = decide({ ...base });
  assert.equal(haltDecision(none, { halted: true, failures: 9, limit: 1, text: '1' }), none);

  const later = decide({ ...base, hostId: hostIn(stepBound(5), stepBound(5) + 1), release: stepped(shaB, 2), currentSha256: shaA });
  assert.equal(wakeAt(later), T0 + 30 * MIN);
  assert.equal(wakeAt(deploy), undefined);
  assert.equal(wakeAt(halted), undefined);
});

test('releaseDirName uses the first 12 hex digits of the digest', () => {
  assert.equal(releaseDirName('1.4.2', shaA), `1.4.2-${'a'.repeat(12)}`);
});
