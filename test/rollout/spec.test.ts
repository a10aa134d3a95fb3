import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHoistError } from '../../src/errors.ts';
import { describeRollout, parseMaxFailuresOption, parseStartAt, parseStepsOption, rolloutFromOptions } from '../../src/rollout/spec.ts';
import { parseManifest } from '../../src/manifest/schema.ts';

const NOW = new Date('2026-12-01T10:00:00Z');
const usage = (e: unknown): boolean => isHoistError(e, 'HOIST_USAGE');

test('--steps, --start-at and --max-failures parse into exactly the rollout object written', () => {
  const cases: Array<[Parameters<typeof rolloutFromOptions>[0], unknown]> = [
    [{}, undefined],
    [{ rollout: '25' }, { percent: 25 }],
    [{ rollout: '12.5%' }, { percent: 12.5 }],
    [{ maxFailures: '3' }, { percent: 100, halt: { maxFailures: 3 } }],
    [{ steps: '5:0s,25:30m,100:2h' }, { steps: [{ percent: 5, after: '0s' }, { percent: 25, after: '30m' }, { percent: 100, after: '2h' }] }],
    [{ steps: '5:0s:10m,100:1h', startAt: '+2h', maxFailures: '5%' }, { steps: [{ percent: 5, after: '0s', spread: '10m' }, { percent: 100, after: '1h' }], startAt: '2026-12-01T12:00:00.000Z', halt: { maxFailures: '5%' } }],
    [{ steps: '100:0s', startAt: '2026-12-02T08:00:00+01:00' }, { steps: [{ percent: 100, after: '0s' }], startAt: '2026-12-02T07:00:00.000Z' }],
  ];
  for (const [opts, want] of cases) assert.deepEqual(rolloutFromOptions(opts, NOW), want, JSON.stringify(opts));
});

test('bad rollout options are usage errors that say what to write', () => {
  const cases: Array<[Parameters<typeof rolloutFromOptions>[0], RegExp]> = [
    [{ rollout: '10', steps: '100:0s' }, /either --rollout or --steps/],
    [{ startAt: '+1h' }, /--start-at schedules --steps/],
    [{ steps: '5' }, /"5" is not PERCENT:AFTER/],
    [{ steps: '5:soon' }, /"soon" is not a duration/],
    [{ steps: '5:0s:x' }, /the spread "x"/],
    [{ steps: '5:0s,,100:1h' }, /an empty step/],
    [{ steps: 'a:0s' }, /"a:0s" is not PERCENT:AFTER/],
    [{ steps: '100:0s', startAt: 'tomorrow' }, /is not a time/],
    [{ steps: '100:0s', startAt: '+later' }, /must be followed by a duration/],
    [{ maxFailures: '0' }, /neither a count/],
    [{ maxFailures: 'lots' }, /neither a count/],
    [{ rollout: '101' }, /not a percentage/],
    // checked as the agents check the manifest, before the artifact is read
    [{ steps: '5:1h,100:0s' }, /--steps, step 2 after: must be later than the previous step's 1h/],
    [{ steps: '50:0s,20:1h' }, /--steps, step 2 percent: must be above the previous step's 50/],
    [{ steps: '5.001:0s' }, /--steps, step 1 percent: at most two decimals/],
  ];
  for (const [opts, message] of cases) {
    assert.throws(() => rolloutFromOptions(opts, NOW), (e: unknown) => usage(e) && message.test((e as Error).message), JSON.stringify(opts));
  }
  assert.equal(parseMaxFailuresOption('7'), 7);
  assert.equal(parseStartAt('2026-12-01T10:00:00Z', NOW), '2026-12-01T10:00:00.000Z');
  assert.deepEqual(parseStepsOption('50%:0s,100:1h'), [{ percent: 50, after: '0s' }, { percent: 100, after: '1h' }]);
});

test('what parses is a valid manifest rollout; the schema catches a hand-written one out of order', () => {
  const rollout = rolloutFromOptions({ steps: '5:0s,25:30m,100:2h', startAt: '+1h', maxFailures: '3' }, NOW);
  const base = { schema: 1, kind: 'release', app: 'web', env: 'prod', sequence: 1, version: '1', artifact: { key: `artifacts/web/${'a'.repeat(64)}.tar.gz`, sha256: 'a'.repeat(64), size: 1, format: 'tar+gzip' }, issuedAt: NOW.toISOString() };
  assert.deepEqual(parseManifest({ ...base, rollout }).rollout, rollout);
  const outOfOrder = { steps: [{ percent: 25, after: '0s' }, { percent: 5, after: '1h' }] };
  assert.throws(() => parseManifest({ ...base, rollout: outOfOrder }), (e: unknown) => isHoistError(e, 'HOIST_MANIFEST_INVALID'));
});

test('describeRollout: one line for the command output', () => {
  assert.equal(describeRollout(undefined), '100%');
  assert.equal(describeRollout({ percent: 10, halt: { maxFailures: 1 } }), '10%, halts at 1 failed host');
  assert.equal(describeRollout({ steps: [{ percent: 5, after: '0s', spread: '5m' }, { percent: 100, after: '1h' }], halt: { maxFailures: '5%' } }), '5% at +0s (spread 5m), 100% at +1h from issue, halts once 5% of the hosts due have failed');
  assert.equal(describeRollout({ steps: [{ percent: 100, after: '0s' }], startAt: '2026-12-01T12:00:00.000Z', halt: { maxFailures: 3 } }), '100% at +0s from 2026-12-01T12:00:00.000Z, halts at 3 failed hosts');
});
