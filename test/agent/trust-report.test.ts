import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HoistError } from '../../src/errors.ts';
import { droppedAttempt, withheldAttempt } from '../../src/agent/trust-report.ts';

const NOW = new Date('2026-07-01T00:00:00Z');
const SHA = 'ab'.repeat(32);
const artifact = { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 1, format: 'tar+gzip' as const };

test('a dropped release, pin and unpin are recorded as skipped with the verification code', () => {
  const untrusted = new HoistError('HOIST_SIGNATURE_UNTRUSTED', 'no trusted signature');
  const release = droppedAttempt('release', { kind: 'release', sequence: 5, version: '1.0.0', artifact }, untrusted, 3, NOW);
  assert.deepEqual(release, {
    version: '1.0.0',
    sequence: 5,
    outcome: 'skipped',
    code: 'HOIST_SIGNATURE_UNTRUSTED',
    message: 'the held release 1.0.0 (sequence 5) no longer verifies under trust version 3; dropped (never deployed from now on; a release already serving keeps serving): no trusted signature',
    at: NOW.toISOString(),
  });
  const unpin = droppedAttempt('pin', { kind: 'pin', sequence: 6, artifact: null }, untrusted, 3, NOW);
  assert.equal('version' in unpin, false);
  assert.match(unpin.message ?? '', /^the held unpin \(sequence 6\)/);
});

test('a withheld activation is recorded once per target', () => {
  const expired = new HoistError('HOIST_TRUST_EXPIRED', 'trust version 2 expired');
  const target = { version: '2.0.0', sequence: 9 };
  const first = withheldAttempt(undefined, target, expired, NOW);
  assert.deepEqual(first, { version: '2.0.0', sequence: 9, outcome: 'skipped', code: 'HOIST_TRUST_EXPIRED', message: 'trust version 2 expired', at: NOW.toISOString() });
  assert.equal(withheldAttempt(first, target, expired, NOW), undefined);
  assert.ok(withheldAttempt(first, { version: '3.0.0', sequence: 10 }, expired, NOW) !== undefined);
  assert.ok(withheldAttempt({ ...first, code: 'HOIST_HEALTH_FAILED' }, target, expired, NOW) !== undefined);
});
