/**
 * Attack class: commands running with the wrong identity. Hooks lost the app user's supplementary
 * groups (spawn with uid/gid drops them); `restart` ran as the app user, so
 * `systemctl restart web` could not work, and running it as root from a release would run the
 * archive's code as root. Now hooks and health commands run as the app user with its groups,
 * restart as root in the app root (or as restart.user), and the config check refuses a restart
 * that names a file of a release.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createHarness } from '../helpers/harness.ts';
import { APP_USER, EXTRA_GROUP, groupId, localUser } from '../helpers/users.ts';

async function outDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-ids-'));
  await chmod(dir, 0o1777);
  return dir;
}

test('attack: hook identity: hooks and health commands run as the app user with its groups, restart as root in the app root', async (t) => {
  const user = localUser(APP_USER);
  const out = await outDir();
  t.after(() => rm(out, { recursive: true, force: true }));
  await using h = await createHarness();
  await h.writeConfig({
    app: {
      user: APP_USER,
      hooks: { preActivate: { run: `id -u > ${out}/pre; id -G >> ${out}/pre; touch ./written-into-the-release 2>/dev/null && echo writable >> ${out}/pre || true` } },
      restart: { run: `{ id -u; pwd; } > ${out}/restart; ${h.restart}`, timeout: '20s' },
    },
    health: { http: undefined, command: `id -G > ${out}/health`, timeout: '5s', successThreshold: 1 },
  });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  const [preUid, preGroups, writable] = (await readFile(path.join(out, 'pre'), 'utf8')).trim().split('\n');
  assert.equal(Number(preUid), user.uid);
  assert.ok((preGroups ?? '').split(' ').map(Number).includes(groupId(EXTRA_GROUP)), `supplementary group kept: ${preGroups}`);
  assert.equal(writable, undefined, 'the release is read-only to the app user');
  const [restartUid, restartCwd] = (await readFile(path.join(out, 'restart'), 'utf8')).trim().split('\n');
  assert.equal(Number(restartUid), 0, 'restart runs as root');
  assert.equal(restartCwd, h.root, 'restart runs in the app root');
  assert.ok((await readFile(path.join(out, 'health'), 'utf8')).trim().split(' ').map(Number).includes(groupId(EXTRA_GROUP)));
});

test('restart.user runs the restart command as that user', async (t) => {
  const user = localUser(APP_USER);
  const out = await outDir();
  t.after(() => rm(out, { recursive: true, force: true }));
  await using h = await createHarness();
  await h.writeConfig({ app: { user: APP_USER, restart: { run: `id -u > ${out}/restart`, user: APP_USER } }, health: { http: undefined, command: 'true', successThreshold: 1 } });
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(Number((await readFile(path.join(out, 'restart'), 'utf8')).trim()), user.uid);
});

test('attack: hook identity: a restart command that runs a file of a release is refused at start (exit 2)', async () => {
  await using h = await createHarness();
  for (const run of ['./current/bin/restart', `${h.root}/current/restart.sh --now`, 'sh "$HOIST_RELEASE_DIR/restart.sh"', 'cd current && ./restart.sh']) {
    await h.writeConfig({ app: { restart: { run } } });
    const r = await h.once();
    assert.equal(r.code, 2, `${run}: ${r.stderr}`);
    assert.match(r.stderr, /apps\[0\]\.restart\.run: .*restart runs as root and may not run a file of a release/, run);
  }
  // names outside the root are fine (nothing is published: the run has nothing to do)
  await h.writeConfig({ app: { restart: { run: 'systemctl restart web.service' } } });
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
});
