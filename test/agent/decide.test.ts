import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  classifySequence,
  cohortValue,
  decide,
  inCohort,
  pinApplies,
  releaseDirName,
  type DecideInput,
  type ManifestView,
} from '../../src/agent/decide.ts';

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

test('releaseDirName uses the first 12 hex digits of the digest', () => {
  assert.equal(releaseDirName('1.4.2', shaA), `1.4.2-${'a'.repeat(12)}`);
});
