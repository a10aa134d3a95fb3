import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextSequence, historyKeySequence } from '../../src/publish/sequence.ts';
import { detectFormat } from '../../src/publish/format.ts';
import { parseHosts, planPin, planRelease, planUnpin, rollbackMatcher, DEFAULT_EXPIRES_MS } from '../../src/publish/plan.ts';
import { parsePercent, parseExpires, defaultBy } from '../../src/publish/options.ts';
import type { ArtifactRef, Manifest, ReleaseManifest } from '../../src/manifest/schema.ts';
import { isHoistError } from '../../src/errors.ts';

const A: ArtifactRef = { key: 'artifacts/web/' + 'a'.repeat(64) + '.tar.gz', sha256: 'a'.repeat(64), size: 10, format: 'tar+gzip' };
const B: ArtifactRef = { ...A, key: 'artifacts/web/' + 'b'.repeat(64) + '.tar.gz', sha256: 'b'.repeat(64) };
const NOW = new Date('2026-01-01T00:00:00.000Z');

test('nextSequence is max(now, every previous + 1)', () => {
  const cases: Array<[number, Array<number | undefined>, number]> = [
    [1000, [], 1000],
    [1000, [undefined], 1000],
    [1000, [999], 1000],
    [1000, [1000], 1001], // same millisecond
    [1000, [5000], 5001], // clock behind the last publish
    [1000, [5000, 7000], 7001], // history newer than the channel
    [1000.7, [undefined, 3], 1000],
  ];
  for (const [now, prev, want] of cases) assert.equal(nextSequence(now, ...prev), want, `${now} ${JSON.stringify(prev)}`);
  // Two publishes in the same millisecond strictly increase.
  const first = nextSequence(42);
  assert.ok(nextSequence(42, first) > first);
});

test('historyKeySequence reads <prefix><sequence>.json only', () => {
  const p = 'history/web/prod/';
  assert.equal(historyKeySequence(p, `${p}123.json`), 123);
  assert.equal(historyKeySequence(p, `${p}abc.json`), undefined);
  assert.equal(historyKeySequence(p, `${p}12/3.json`), undefined);
  assert.equal(historyKeySequence(p, 'history/web/test/1.json'), undefined);
  assert.equal(historyKeySequence(p, `${p}99999999999999999.json`), undefined);
});

test('detectFormat from magic bytes', () => {
  const cases: Array<[number[], string | undefined]> = [
    [[0x1f, 0x8b, 8, 0], 'tar+gzip'],
    [[0x28, 0xb5, 0x2f, 0xfd], 'tar+zstd'],
    [[0x50, 0x4b, 3, 4], undefined], // zip
    [[0x1f], undefined],
    [[], undefined],
  ];
  for (const [bytes, want] of cases) assert.equal(detectFormat(Buffer.from(bytes)), want);
});

test('planRelease builds a valid manifest', () => {
  const m = planRelease({ app: 'web', env: 'prod', version: '1.4.2', artifact: A, now: NOW, previousSequences: [undefined], notes: { commit: 'abc', by: 'ci', empty: '' } });
  assert.equal(m.kind, 'release');
  assert.equal(m.sequence, NOW.getTime());
  assert.equal(m.issuedAt, NOW.toISOString());
  assert.equal(m.expiresAt, new Date(NOW.getTime() + DEFAULT_EXPIRES_MS).toISOString());
  assert.deepEqual(m.rollout, { percent: 100 });
  assert.deepEqual(m.notes, { commit: 'abc', by: 'ci' });
  assert.deepEqual(m.artifact, A);
  const later = planRelease({ app: 'web', env: 'prod', version: '1', artifact: A, now: NOW, expiresInMs: 3_600_000, rolloutPercent: 25, previousSequences: [NOW.getTime() + 5] });
  assert.equal(later.sequence, NOW.getTime() + 6);
  assert.equal(later.rollout.percent, 25);
  assert.equal(later.notes, undefined);
});

test('planRelease refuses bad input as a usage error', () => {
  const bad: Array<Partial<Parameters<typeof planRelease>[0]>> = [{ version: '../x' }, { version: '' }, { app: 'a/b' }, { rolloutPercent: 101 }, { expiresInMs: 0 }];
  for (const override of bad) {
    assert.throws(
      () => planRelease({ app: 'web', env: 'prod', version: '1', artifact: A, now: NOW, previousSequences: [], ...override }),
      (e: unknown) => isHoistError(e, 'HOIST_USAGE'),
      JSON.stringify(override),
    );
  }
});

test('planPin: pins, host pins and unpins', () => {
  const pin = planPin({ app: 'web', env: 'prod', version: '1.0', artifact: A, hosts: ['h1'], reason: 'why', now: NOW, previousSequences: [NOW.getTime()] });
  assert.equal(pin.kind, 'pin');
  assert.equal(pin.sequence, NOW.getTime() + 1);
  assert.deepEqual(pin.hosts, ['h1']);
  assert.equal(pin.reason, 'why');
  const unpin = planPin({ app: 'web', env: 'prod', artifact: null, now: NOW, previousSequences: [] });
  assert.equal(unpin.artifact, null);
  assert.equal(unpin.version, undefined);
  assert.equal(unpin.hosts, undefined);
  assert.throws(() => planPin({ app: 'web', env: 'prod', artifact: A, now: NOW, previousSequences: [] }), (e: unknown) => isHoistError(e, 'HOIST_USAGE'));
});

test('planUnpin narrows host pins and refuses to split a whole-env pin', () => {
  const hostPin = planPin({ app: 'web', env: 'prod', version: '1.0', artifact: A, hosts: ['h1', 'h2'], now: NOW, previousSequences: [] });
  const envPin = planPin({ app: 'web', env: 'prod', version: '1.0', artifact: A, now: NOW, previousSequences: [] });
  const unpin = planPin({ app: 'web', env: 'prod', artifact: null, now: NOW, previousSequences: [] });
  assert.deepEqual(planUnpin(undefined, ['h1']), { action: 'unpin' });
  assert.deepEqual(planUnpin(hostPin, undefined), { action: 'unpin' });
  assert.deepEqual(planUnpin(unpin, ['h1']), { action: 'unpin' });
  assert.deepEqual(planUnpin(hostPin, ['h1']), { action: 'narrow', hosts: ['h2'], version: '1.0', artifact: A });
  assert.deepEqual(planUnpin(hostPin, ['h1', 'h2']), { action: 'unpin' });
  assert.throws(() => planUnpin(envPin, ['h1']), (e: unknown) => isHoistError(e, 'HOIST_USAGE'));
});

test('rollbackMatcher: previous artifact, or a named version', () => {
  const rel = (version: string, artifact: ArtifactRef, sequence: number): ReleaseManifest =>
    planRelease({ app: 'web', env: 'prod', version, artifact, now: NOW, previousSequences: [sequence] });
  const current = rel('2.0', B, 3);
  const history: Manifest[] = [current, rel('2.0-again', B, 2), rel('1.0', A, 1)]; // newest first
  const pin = planPin({ app: 'web', env: 'prod', version: '1.0', artifact: A, now: NOW, previousSequences: [] });
  assert.equal([pin, ...history].find(rollbackMatcher(current, undefined))?.version, '1.0');
  assert.equal(history.find(rollbackMatcher(current, '2.0-again'))?.version, '2.0-again');
  assert.equal(history.find(rollbackMatcher(current, '9.9')), undefined);
  assert.equal(history.find(rollbackMatcher(undefined, undefined))?.version, '2.0');
});

test('option parsers', () => {
  assert.deepEqual(parseHosts(' a, b,,a '), ['a', 'b']);
  assert.equal(parseHosts(undefined), undefined);
  assert.throws(() => parseHosts(' , '), (e: unknown) => isHoistError(e, 'HOIST_USAGE'));
  assert.equal(parsePercent('25'), 25);
  assert.equal(parsePercent('12.5%'), 12.5);
  assert.equal(parsePercent(undefined), undefined);
  for (const bad of ['', 'x', '-1', '101']) assert.throws(() => parsePercent(bad), (e: unknown) => isHoistError(e, 'HOIST_USAGE'));
  assert.equal(parseExpires('30d'), 30 * 86_400_000);
  assert.equal(parseExpires(undefined), undefined);
  assert.throws(() => parseExpires('soon'), (e: unknown) => isHoistError(e, 'HOIST_USAGE'));
  assert.equal(defaultBy('ci'), 'ci');
  assert.ok(defaultBy(undefined).length > 0);
});
