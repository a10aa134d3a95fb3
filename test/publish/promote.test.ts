import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHoistError } from '../../src/errors.ts';
import { parseManifest, type ReleaseManifest } from '../../src/manifest/schema.ts';
import { gateError, parseShare, planPromotion, promoteGate, type GateReport } from '../../src/publish/promote.ts';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const SHA = 'a'.repeat(64);
const H = 3_600_000;

function report(hostId: string, o: { sha?: string | null; state?: string; sinceMs?: number; ageMs?: number } = {}): GateReport {
  return {
    hostId,
    state: o.state ?? 'healthy',
    current: o.sha === null ? null : { sha256: o.sha ?? SHA, since: new Date(NOW - (o.sinceMs ?? 2 * H)).toISOString() },
    updatedAt: new Date(NOW - (o.ageMs ?? 1000)).toISOString(),
  };
}

test('promoteGate: only fresh reports of the exact artifact, healthy for long enough, count', () => {
  const base = { sha256: SHA, now: NOW, minAgeMs: H, staleAfterMs: 15 * 60_000 };
  const cases: Array<{ name: string; reports: Parameters<typeof promoteGate>[0]['reports']; minHealthy: number; pass: boolean; qualifying: number; needed: number; reasons?: string[] }> = [
    { name: 'all healthy', reports: [report('a'), report('b')], minHealthy: 1, pass: true, qualifying: 2, needed: 2 },
    { name: 'no reports', reports: [], minHealthy: 0.9, pass: false, qualifying: 0, needed: 1 },
    {
      name: 'each reason a host does not count',
      reports: [report('a'), report('b', { sha: 'b'.repeat(64) }), report('c', { state: 'rolled-back' }), report('d', { sinceMs: 60_000 }), report('e', { ageMs: H }), report('f', { sha: null }), { hostId: 'g', unreadable: 'not JSON' }],
      minHealthy: 0.1,
      pass: true,
      qualifying: 1,
      needed: 1,
      reasons: ['b: runs another artifact (bbbbbbbbbbbb)', 'c: rolled-back', 'd: healthy for 1m, under 1h', 'e: stale report', 'f: runs nothing', 'g: unreadable report (not JSON)'],
    },
    { name: '9 of 10 meets 90 %', reports: [...Array.from({ length: 9 }, (_, i) => report(`h${i}`)), report('x', { state: 'failed' })], minHealthy: 0.9, pass: true, qualifying: 9, needed: 9 },
    { name: '8 of 10 does not', reports: [...Array.from({ length: 8 }, (_, i) => report(`h${i}`)), report('x', { state: 'failed' }), report('y', { state: 'failed' })], minHealthy: 0.9, pass: false, qualifying: 8, needed: 9 },
    { name: '0.7 x 10 is 7, not 7.000000000000001', reports: Array.from({ length: 10 }, (_, i) => report(`h${i}`, { state: i < 7 ? 'healthy' : 'failed' })), minHealthy: 0.7, pass: true, qualifying: 7, needed: 7 },
  ];
  for (const c of cases) {
    const g = promoteGate({ ...base, reports: c.reports, minHealthy: c.minHealthy });
    assert.deepEqual([g.pass, g.qualifying, g.needed], [c.pass, c.qualifying, c.needed], c.name);
    if (c.reasons !== undefined) assert.deepEqual(g.not.map((n) => `${n.hostId}: ${n.reason}`), c.reasons, c.name);
  }
  const failed = promoteGate({ ...base, reports: [report('a'), report('b', { state: 'failed' })], minHealthy: 0.9 });
  const e = gateError(failed, { app: 'web', from: 'staging', version: '1.0.0', sha256: SHA, minHealthy: 0.9, minAgeMs: H });
  assert.equal(e.code, 'HOIST_PROMOTE_GATE');
  assert.match(e.message, /^1 of 2 reporting hosts of web\/staging \(50%\) run 1\.0\.0 \(aaaaaaaaaaaa\) healthy for at least 1h; --min-healthy 90% needs 2; not yet: b \(failed\); nothing was promoted$/);
  assert.match(gateError(promoteGate({ ...base, reports: [], minHealthy: 1 }), { app: 'web', from: 'staging', version: '1.0.0', sha256: SHA, minHealthy: 1, minAgeMs: H }).message, /no host of web\/staging reports/);
});

test('parseShare and planPromotion: the exact artifact and version, promotedFrom, the new rollout', () => {
  assert.equal(parseShare('90%', '--min-healthy'), 0.9);
  assert.equal(parseShare('100', '--min-healthy'), 1);
  assert.equal(parseShare('0.5', '--min-healthy'), 0.5);
  for (const bad of ['0%', '', 'most', '101%']) assert.throws(() => parseShare(bad, '--min-healthy'), (e: unknown) => isHoistError(e, 'HOIST_USAGE'), bad);
  const source = parseManifest({
    schema: 1, kind: 'release', app: 'web', env: 'staging', sequence: 41, version: '1.4.2',
    artifact: { key: `artifacts/web/${SHA}.tar.zst`, sha256: SHA, size: 1234, format: 'tar+zstd' },
    issuedAt: '2026-12-01T08:00:00Z', rollout: { percent: 10 }, notes: { commit: 'abc', by: 'ci', ticket: 'x', unpackedBytes: '4096' },
  }) as ReleaseManifest;
  const m = planPromotion({ source, to: 'prod', artifactKey: source.artifact.key, now: new Date(NOW), previousSequences: [NOW + 5], rollout: { steps: [{ percent: 5, after: '0s' }, { percent: 100, after: '1h' }] }, by: 'release-bot' });
  assert.equal(m.env, 'prod');
  assert.equal(m.version, '1.4.2');
  assert.deepEqual(m.artifact, source.artifact);
  assert.deepEqual(m.notes, { commit: 'abc', unpackedBytes: '4096', by: 'release-bot', promotedFrom: 'staging@41' }, 'the unpacked size carries over (the free-space check), the ticket does not');
  assert.deepEqual(m.rollout, { steps: [{ percent: 5, after: '0s' }, { percent: 100, after: '1h' }] });
  assert.equal(m.sequence, NOW + 6);
  assert.equal('retryFailed' in m, false, 'new fields only when used');
});
