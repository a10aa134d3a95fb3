import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactExtension, isUnpin, parseManifest, type Manifest } from '../../src/manifest/schema.ts';
import { HoistError } from '../../src/errors.ts';

const SHA = 'ab'.repeat(32);

function release(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1,
    kind: 'release',
    app: 'web',
    env: 'prod',
    sequence: 1764201234567,
    version: '1.4.2',
    artifact: { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 12345678, format: 'tar+gzip' },
    issuedAt: '2026-11-26T22:00:00Z',
    expiresAt: '2026-12-26T22:00:00Z',
    rollout: { percent: 100 },
    notes: { commit: 'abc123', by: 'ci' },
    ...overrides,
  };
}

function issuesOf(value: unknown): string[] {
  try {
    parseManifest(value);
  } catch (error) {
    assert.ok(error instanceof HoistError);
    assert.equal(error.code, 'HOIST_MANIFEST_INVALID');
    const issues = error.details?.issues;
    assert.ok(Array.isArray(issues));
    return issues as string[];
  }
  assert.fail('expected HOIST_MANIFEST_INVALID');
}

function artifact(overrides: Record<string, unknown>): Record<string, unknown> {
  return { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 1, format: 'tar+gzip', ...overrides };
}

test('the documented example release parses', () => {
  const m = parseManifest(release());
  assert.equal(m.kind, 'release');
  assert.equal(m.version, '1.4.2');
  assert.deepEqual(m.rollout, { percent: 100 });
});

test('rollout defaults to 100 percent; expiresAt and notes are optional', () => {
  const value = release();
  delete value.rollout;
  delete value.expiresAt;
  delete value.notes;
  const m = parseManifest(value);
  assert.deepEqual(m.rollout, { percent: 100 });
  assert.equal(m.expiresAt, undefined);
});

test('sequence bounds: 0 and 2^53-1 accepted', () => {
  assert.equal(parseManifest(release({ sequence: 0 })).sequence, 0);
  assert.equal(parseManifest(release({ sequence: Number.MAX_SAFE_INTEGER })).sequence, Number.MAX_SAFE_INTEGER);
});

const invalid: Array<[name: string, value: unknown, path: string]> = [
  ['not an object', 'hello', '(root)'],
  ['schema 2', release({ schema: 2 }), 'schema'],
  ['unknown kind', release({ kind: 'deploy' }), 'kind'],
  ['app with a slash', release({ app: 'a/b' }), 'app'],
  ['app ".."', release({ app: '..' }), 'app'],
  ['app "."', release({ app: '.' }), 'app'],
  ['app too long', release({ app: 'a'.repeat(65) }), 'app'],
  ['env empty', release({ env: '' }), 'env'],
  ['env ".."', release({ env: '..' }), 'env'],
  ['sequence above 2^53-1', release({ sequence: 2 ** 53 }), 'sequence'],
  ['sequence negative', release({ sequence: -1 }), 'sequence'],
  ['sequence not an integer', release({ sequence: 1.5 }), 'sequence'],
  ['sequence as a string', release({ sequence: '12' }), 'sequence'],
  ['version containing "/"', release({ version: '1.0/evil' }), 'version'],
  ['version ".."', release({ version: '..' }), 'version'],
  ['version "."', release({ version: '.' }), 'version'],
  ['version containing ".."', release({ version: '1..2' }), 'version'],
  ['version too long', release({ version: '1'.repeat(65) }), 'version'],
  ['release without version', release({ version: undefined }), 'version'],
  ['release with null artifact', release({ artifact: null }), 'artifact'],
  ['artifact key empty', release({ artifact: artifact({ key: '' }) }), 'artifact.key'],
  ['artifact key absolute', release({ artifact: artifact({ key: '/etc/passwd' }) }), 'artifact.key'],
  ['artifact key with ".." segment', release({ artifact: artifact({ key: 'artifacts/../x' }) }), 'artifact.key'],
  ['sha256 upper case', release({ artifact: artifact({ sha256: SHA.toUpperCase() }) }), 'artifact.sha256'],
  ['sha256 short', release({ artifact: artifact({ sha256: 'ab' }) }), 'artifact.sha256'],
  ['size negative', release({ artifact: artifact({ size: -1 }) }), 'artifact.size'],
  ['size unsafe', release({ artifact: artifact({ size: 2 ** 53 }) }), 'artifact.size'],
  ['format unknown', release({ artifact: artifact({ format: 'zip' }) }), 'artifact.format'],
  ['artifact unknown field', release({ artifact: artifact({ url: 'x' }) }), 'artifact'],
  ['issuedAt missing', release({ issuedAt: undefined }), 'issuedAt'],
  ['issuedAt not a date-time', release({ issuedAt: 'yesterday' }), 'issuedAt'],
  ['expiresAt not after issuedAt', release({ expiresAt: '2026-11-26T22:00:00Z' }), 'expiresAt'],
  ['rollout above 100', release({ rollout: { percent: 101 } }), 'rollout.percent'],
  ['rollout below 0', release({ rollout: { percent: -1 } }), 'rollout.percent'],
  ['notes not strings', release({ notes: { n: 1 } }), 'notes.n'],
  ['unknown top-level field', release({ extra: true }), '(root)'],
  ['hosts on a release', release({ hosts: ['h1'] }), '(root)'],
  ['pin with empty hosts', release({ kind: 'pin', hosts: [] }), 'hosts'],
  ['pin reason not a string', release({ kind: 'pin', reason: 5 }), 'reason'],
  ['pin with artifact but no version', release({ kind: 'pin', version: undefined }), 'version'],
];

for (const [name, value, path] of invalid) {
  test(`rejects ${name}`, () => {
    const issues = issuesOf(value);
    assert.ok(
      issues.some((issue) => issue.startsWith(`${path}: `)),
      `expected an issue at ${path}, got ${JSON.stringify(issues)}`,
    );
  });
}

test('every issue is collected, each with its path', () => {
  const issues = issuesOf(
    release({ app: '..', env: 'a b', sequence: 2 ** 53, version: 'x/y', artifact: artifact({ sha256: 'zz', size: -5, format: 'rar' }), extra: 1 }),
  );
  for (const path of ['app', 'env', 'sequence', 'version', 'artifact.sha256', 'artifact.size', 'artifact.format', '(root)']) {
    assert.ok(issues.some((issue) => issue.startsWith(`${path}: `)), `missing ${path} in ${JSON.stringify(issues)}`);
  }
});

test('the error message lists the problems', () => {
  assert.throws(() => parseManifest(release({ app: 'a/b' })), (error: unknown) => {
    assert.ok(error instanceof HoistError);
    assert.match(error.message, /app: /);
    return true;
  });
});

test('a pin names a release, optionally hosts and a reason', () => {
  const m = parseManifest(release({ kind: 'pin', hosts: ['i-0abc'], reason: 'incident 42' }));
  assert.equal(m.kind, 'pin');
  assert.ok(m.kind === 'pin');
  assert.deepEqual(m.hosts, ['i-0abc']);
  assert.equal(isUnpin(m), false);
});

test('an unpin is a pin with a null artifact; its version may be omitted', () => {
  const value = release({ kind: 'pin', artifact: null });
  delete value.version;
  const m: Manifest = parseManifest(value);
  assert.equal(isUnpin(m), true);
  assert.equal(isUnpin(parseManifest(release())), false);
});

test('artifactExtension', () => {
  assert.equal(artifactExtension('tar+gzip'), 'tar.gz');
  assert.equal(artifactExtension('tar+zstd'), 'tar.zst');
});

test('rollout.steps, startAt and halt: what parses and what is refused, with the path', () => {
  const steps = [{ percent: 5, after: '0s' }, { percent: 25, after: '30m', spread: '10m' }, { percent: 100, after: '2h' }];
  const ok = parseManifest(release({ rollout: { steps, startAt: '2026-11-27T08:00:00Z', halt: { maxFailures: '5%' } } }));
  assert.deepEqual(ok.rollout, { steps, startAt: '2026-11-27T08:00:00Z', halt: { maxFailures: '5%' } });
  assert.deepEqual(parseManifest(release({ rollout: { percent: 10, halt: { maxFailures: 3 } } })).rollout, { percent: 10, halt: { maxFailures: 3 } });
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ percent: 50, steps }, /^rollout\.percent: give either rollout\.percent or rollout\.steps/],
    [{ startAt: '2026-11-27T08:00:00Z' }, /^rollout\.startAt: rollout\.startAt schedules rollout\.steps/],
    [{ steps: [{ percent: 50, after: '0s' }, { percent: 25, after: '1h' }] }, /^rollout\.steps\[1\]\.percent: must be above the previous step's 50/],
    [{ steps: [{ percent: 5, after: '1h' }, { percent: 25, after: '1h' }] }, /^rollout\.steps\[1\]\.after: must be later than the previous step's 1h/],
    [{ steps: [{ percent: 5.555, after: '0s' }] }, /^rollout\.steps\[0\]\.percent: at most two decimals/],
    [{ steps: [{ percent: 0, after: '0s' }] }, /^rollout\.steps\[0\]\.percent: must be above 0/],
    [{ steps: [{ percent: 5, after: 'soon' }] }, /^rollout\.steps\[0\]\.after: expected a duration/],
    [{ steps: [{ percent: 5, after: '0s', spread: 7 }] }, /^rollout\.steps\[0\]\.spread/],
    [{ steps: [{ percent: 5, after: '0s', extra: 1 }] }, /^rollout\.steps\[0\]/],
    [{ steps: [] }, /^rollout\.steps: list at least one step/],
    [{ halt: { maxFailures: 0 } }, /^rollout\.halt\.maxFailures/],
    [{ halt: { maxFailures: '0%' } }, /^rollout\.halt\.maxFailures/],
    [{ halt: { maxFailures: 'many' } }, /^rollout\.halt\.maxFailures/],
  ];
  for (const [rollout, want] of cases) {
    const issues = issuesOf(release({ rollout }));
    assert.ok(issues.some((i) => want.test(i)), `${JSON.stringify(rollout)}: ${issues.join('; ')}`);
  }
  // A pin applies at once: no schedule, no halt.
  const pin = { ...release({ kind: 'pin', reason: 'hold', rollout: { steps: [{ percent: 5, after: '0s' }] } }) };
  assert.ok(issuesOf(pin).some((i) => /^rollout: a pin applies at once/.test(i)));
});
