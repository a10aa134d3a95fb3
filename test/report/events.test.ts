import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alreadyWritten, buildEvent, eventOutcomeOf, REMEMBERED_EVENTS, withWritten } from '../../src/report/events.ts';

const target = { kind: 'release' as const, version: '1.0.0', sequence: 7, sha256: 'a'.repeat(64) };
const at = new Date('2026-12-01T10:00:00Z');

test('buildEvent: the fields of the layout, code and message only when not healthy', () => {
  assert.deepEqual(buildEvent({ hostId: 'h', app: 'web', env: 'prod', target, outcome: 'healthy', at, durationSeconds: 1.23456, error: { code: 'X', message: 'y' } }), {
    hostId: 'h', app: 'web', env: 'prod', sequence: 7, kind: 'release', version: '1.0.0', sha256: 'a'.repeat(64), outcome: 'healthy', at: '2026-12-01T10:00:00.000Z', duration: 1.235,
  });
  const failed = buildEvent({ hostId: 'h', app: 'web', env: 'prod', target, outcome: 'rolled-back', at, error: { code: 'HOIST_HEALTH_FAILED', message: 'm'.repeat(900) } });
  assert.equal(failed.code, 'HOIST_HEALTH_FAILED');
  assert.equal(failed.message?.length, 500);
  assert.equal('duration' in failed, false);
});

test('eventOutcomeOf and the written list: once per (sequence, outcome), bounded', () => {
  assert.deepEqual(['healthy', 'rolled-back', 'failed', 'aborted', 'interrupted'].map(eventOutcomeOf), ['healthy', 'rolled-back', 'failed', undefined, undefined]);
  let list = withWritten(undefined, 1, 'failed');
  list = withWritten(list, 1, 'healthy');
  list = withWritten(list, 1, 'failed');
  assert.deepEqual(list, [{ sequence: 1, outcome: 'healthy' }, { sequence: 1, outcome: 'failed' }]);
  assert.equal(alreadyWritten(list, 1, 'failed'), true);
  assert.equal(alreadyWritten(list, 2, 'failed'), false);
  assert.equal(alreadyWritten(undefined, 1, 'failed'), false);
  for (let i = 2; i < 40; i++) list = withWritten(list, i, 'healthy');
  assert.equal(list.length, REMEMBERED_EVENTS);
  assert.deepEqual(list.at(-1), { sequence: 39, outcome: 'healthy' });
});
