import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appKey,
  emptyAppState,
  emptyState,
  getAppState,
  loadState,
  removeStaleStateTemps,
  saveState,
  withAppState,
  withFailed,
  FAILED_LIST_MAX,
} from '../../src/state/store.ts';
import type { AgentState, AppState, ReleaseRecord } from '../../src/state/schema.ts';
import { isHoistError } from '../../src/errors.ts';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

async function stateDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-state-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function release(version: string, sha256: string, sequence: number): ReleaseRecord {
  return { version, sha256, sequence, dir: `releases/${version}-${sha256.slice(0, 12)}`, since: '2026-01-01T00:00:00.000Z', kind: 'release' };
}

function fullAppState(): AppState {
  return {
    current: release('1.4.2', SHA_B, 20),
    previous: release('1.4.1', SHA_A, 10),
    highWater: { release: { sequence: 20, digest: SHA_B }, pin: { sequence: 5, digest: SHA_A } },
    failed: [SHA_A],
    lastAttempt: { version: '1.4.2', sha256: SHA_B, sequence: 20, outcome: 'healthy', at: '2026-01-01T00:00:00.000Z' },
    state: 'healthy',
    pin: { sequence: 5, artifactSha256: null, hosts: ['i-1'] },
    envelopes: { release: '{"payloadType":"x"}', pin: '{"payloadType":"y"}' },
    txn: { id: 't1', step: 'flipped', target: release('1.4.3', SHA_A, 21), from: release('1.4.2', SHA_B, 20), startedAt: '2026-01-01T00:00:00.000Z' },
  };
}

test('appKey, emptyState and emptyAppState', () => {
  assert.equal(appKey('web', 'prod'), 'web/prod');
  assert.deepEqual(emptyState(), { schema: 1, apps: {} });
  assert.deepEqual(emptyAppState(), { highWater: {}, failed: [], state: 'idle' });
});

test('withAppState replaces one app without touching the input', () => {
  const before: AgentState = emptyState();
  const after = withAppState(before, 'web/prod', (app) => ({ ...app, state: 'deploying' }));
  assert.deepEqual(before.apps, {});
  assert.equal(after.apps['web/prod']?.state, 'deploying');
  const again = withAppState(after, 'api/prod', (app) => withFailed(app, SHA_A));
  assert.equal(again.apps['web/prod']?.state, 'deploying');
  assert.deepEqual(again.apps['api/prod']?.failed, [SHA_A]);
  assert.deepEqual(getAppState(again, 'nope/prod'), emptyAppState());
  const app = getAppState(again, 'api/prod');
  assert.equal(withFailed(app, SHA_A), app, 'adding a digest twice changes nothing');
  let full = emptyAppState();
  for (let i = 0; i <= FAILED_LIST_MAX; i++) full = withFailed(full, i.toString(16).padStart(64, '0'));
  assert.equal(full.failed.length, FAILED_LIST_MAX, 'the failed list is capped');
  assert.equal(full.failed[0], (1).toString(16).padStart(64, '0'), 'the oldest digest drops off');
});

test('a missing state file loads as the empty state', async (t) => {
  const dir = await stateDir(t);
  assert.deepEqual(await loadState(dir), { state: emptyState() });
  assert.deepEqual(await loadState(join(dir, 'not-created-yet')), { state: emptyState() });
});

test('state round-trips through saveState/loadState, mode 0640 with the group of stateDir', async (t) => {
  const dir = await stateDir(t);
  const nested = join(dir, 'var', 'lib', 'hoist');
  const state = withAppState(emptyState(), appKey('web', 'prod'), () => fullAppState());
  await saveState(nested, state);
  const loaded = await loadState(nested);
  assert.deepEqual(loaded, { state });
  const st = await stat(join(nested, 'state.json'));
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal(st.gid, (await stat(nested)).gid);
  assert.deepEqual(await readdir(nested), ['state.json']);
  // Saving again replaces it completely.
  const next = withAppState(state, 'web/prod', (app) => ({ ...app, state: 'deploying' }));
  await saveState(nested, next);
  assert.equal((await loadState(nested)).state.apps['web/prod']?.state, 'deploying');
});

test('saveState refuses a state it could not load back', async (t) => {
  const dir = await stateDir(t);
  const bad = withAppState(emptyState(), 'web/prod', (app) => ({ ...app, failed: ['not-a-digest'] }));
  await assert.rejects(saveState(dir, bad), (err) => isHoistError(err, 'HOIST_INTERNAL') && err.message.includes('failed'));
  assert.deepEqual(await readdir(dir), []);
});

test('an unparsable state file is moved aside and the agent starts empty', async (t) => {
  const dir = await stateDir(t);
  await writeFile(join(dir, 'state.json'), '{"schema":1,"apps":{"web/pr');
  const loaded = await loadState(dir, { now: () => new Date('2026-03-04T05:06:07.089Z') });
  assert.deepEqual(loaded.state, emptyState());
  assert.equal(loaded.recoveredFromCorrupt, join(dir, 'state.json.corrupt-2026-03-04T05-06-07-089Z'));
  assert.match(loaded.corruptReason ?? '', /not JSON/);
  assert.deepEqual(await readdir(dir), ['state.json.corrupt-2026-03-04T05-06-07-089Z']);
  assert.equal(await readFile(loaded.recoveredFromCorrupt, 'utf8'), '{"schema":1,"apps":{"web/pr');
});

test('a state file of the wrong shape is moved aside with the reason', async (t) => {
  const dir = await stateDir(t);
  await writeFile(join(dir, 'state.json'), JSON.stringify({ schema: 2, apps: { 'web/prod': { state: 'dancing' } } }));
  const loaded = await loadState(dir);
  assert.deepEqual(loaded.state, emptyState());
  assert.ok(loaded.recoveredFromCorrupt?.startsWith(join(dir, 'state.json.corrupt-')));
  assert.match(loaded.corruptReason ?? '', /schema/);
  assert.match(loaded.corruptReason ?? '', /apps\.web\/prod\.state|state/);
  const files = await readdir(dir);
  assert.equal(files.length, 1);
  assert.ok(files[0]?.startsWith('state.json.corrupt-'));
});

test('an unreadable state path is an I/O error, not silently empty', async (t) => {
  const dir = await stateDir(t);
  await mkdir(join(dir, 'state.json'));
  await assert.rejects(loadState(dir), (err) => isHoistError(err, 'HOIST_IO'));
});

test('a corrupt state that cannot be moved aside is HOIST_STATE_CORRUPT', async (t) => {
  const dir = await stateDir(t);
  await writeFile(join(dir, 'state.json'), 'garbage');
  // A non-empty directory where the moved-aside file should go makes the rename fail.
  await mkdir(join(dir, 'state.json.corrupt-2026-03-04T05-06-07-089Z', 'x'), { recursive: true });
  await assert.rejects(
    loadState(dir, { now: () => new Date('2026-03-04T05:06:07.089Z') }),
    (err) => isHoistError(err, 'HOIST_STATE_CORRUPT'),
  );
  assert.equal(await readFile(join(dir, 'state.json'), 'utf8'), 'garbage');
});

test('readOnly loading never moves a corrupt file', async (t) => {
  const dir = await stateDir(t);
  await writeFile(join(dir, 'state.json'), 'garbage');
  await assert.rejects(loadState(dir, { readOnly: true }), (err) => isHoistError(err, 'HOIST_STATE_CORRUPT'));
  assert.deepEqual(await readdir(dir), ['state.json']);
});

test('removeStaleStateTemps clears leftovers of an interrupted save', async (t) => {
  const dir = await stateDir(t);
  await saveState(dir, emptyState());
  await writeFile(join(dir, '.state.json.tmp-0badc0ffee00'), '{"schema":1,"ap');
  assert.deepEqual(await removeStaleStateTemps(dir), ['.state.json.tmp-0badc0ffee00']);
  assert.deepEqual(await readdir(dir), ['state.json']);
  assert.deepEqual((await loadState(dir)).state, emptyState());
});
