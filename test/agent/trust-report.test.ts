import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HoistError } from '../../src/errors.ts';
import { withheldAttempt } from '../../src/agent/trust-report.ts';

const NOW = new Date('2026-07-01T00:00:00Z');

test('a withheld activation is recorded once per target', () => {
  const expired = new HoistError('HOIST_TRUST_EXPIRED', 'trust version 2 expired');
  const target = { version: '2.0.0', sequence: 9 };
  const first = withheldAttempt(undefined, target, expired, NOW);
  assert.deepEqual(first, { version: '2.0.0', sequence: 9, outcome: 'skipped', code: 'HOIST_TRUST_EXPIRED', message: 'trust version 2 expired', at: NOW.toISOString() });
  assert.equal(withheldAttempt(first, target, expired, NOW), undefined);
  assert.ok(withheldAttempt(first, { version: '3.0.0', sequence: 10 }, expired, NOW) !== undefined);
  assert.ok(withheldAttempt({ ...first, code: 'HOIST_HEALTH_FAILED' }, target, expired, NOW) !== undefined);
});
