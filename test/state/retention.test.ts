import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReleaseDirName, planPrune } from '../../src/state/retention.ts';
import type { ReleaseDirEntry, RetentionOptions } from '../../src/state/retention.ts';

const r = (version: string, mtimeMs: number): ReleaseDirEntry => ({ name: `${version}-0123456789ab`, mtimeMs });
const n = (version: string): string => `${version}-0123456789ab`;

const cases: Array<{ name: string; releases: ReleaseDirEntry[]; options: RetentionOptions; remove: string[] }> = [
  { name: 'nothing on disk', releases: [], options: { keep: 3 }, remove: [] },
  { name: 'fewer than keep', releases: [r('1', 1), r('2', 2)], options: { keep: 3 }, remove: [] },
  { name: 'exactly keep', releases: [r('1', 1), r('2', 2), r('3', 3)], options: { keep: 3 }, remove: [] },
  {
    name: 'removes the oldest beyond keep, newest first',
    releases: [r('1', 1), r('4', 4), r('2', 2), r('5', 5), r('3', 3)],
    options: { keep: 2 },
    remove: [n('3'), n('2'), n('1')],
  },
  {
    name: 'current and previous count toward keep and are never removed even when oldest',
    releases: [r('1', 1), r('2', 2), r('3', 3), r('4', 4), r('5', 5)],
    options: { keep: 3, current: n('1'), previous: n('2') },
    remove: [n('4'), n('3')],
  },
  {
    name: 'protected releases survive keep: 0',
    releases: [r('1', 1), r('2', 2), r('3', 3)],
    options: { keep: 0, current: n('2'), previous: n('1'), inFlight: n('3') },
    remove: [],
  },
  {
    name: 'keep smaller than the protected set still removes the unprotected',
    releases: [r('1', 1), r('2', 2), r('3', 3), r('4', 4)],
    options: { keep: 1, current: n('3'), inFlight: n('1') },
    remove: [n('4'), n('2')],
  },
  {
    name: 'protected names may be given as releases/<name> paths',
    releases: [r('1', 1), r('2', 2), r('3', 3)],
    options: { keep: 1, current: `releases/${n('1')}` },
    remove: [n('3'), n('2')],
  },
  {
    name: 'staging dirs and foreign names are ignored',
    releases: [
      { name: '.staging-abc123', mtimeMs: 0 },
      { name: '.staging-1.0-0123456789ab', mtimeMs: 0 },
      { name: 'lost+found', mtimeMs: 0 },
      { name: 'notes.txt', mtimeMs: 0 },
      { name: '1.0-0123456789AB', mtimeMs: 0 },
      r('1', 1),
      r('2', 2),
    ],
    options: { keep: 1 },
    remove: [n('1')],
  },
  {
    name: 'equal mtimes are ordered by name, deterministically',
    releases: [r('a', 5), r('c', 5), r('b', 5)],
    options: { keep: 1 },
    remove: [n('b'), n('a')],
  },
  {
    name: 'a protected name that is not on disk changes nothing',
    releases: [r('1', 1), r('2', 2)],
    options: { keep: 1, current: n('9') },
    remove: [n('1')],
  },
];

for (const c of cases) {
  test(`planPrune: ${c.name}`, () => {
    assert.deepEqual(planPrune(c.releases, c.options), { remove: c.remove });
  });
}

test('isReleaseDirName', () => {
  assert.equal(isReleaseDirName('1.4.2-abcdef012345'), true);
  assert.equal(isReleaseDirName('1.4.2+build.7-abcdef012345'), true);
  assert.equal(isReleaseDirName('.staging-1.4.2-abcdef012345'), false);
  assert.equal(isReleaseDirName('.trash-1.4.2-abcdef012345'), false);
  assert.equal(isReleaseDirName('1.4.2'), false);
  assert.equal(isReleaseDirName('1.4.2-abcdef01234'), false);
});
