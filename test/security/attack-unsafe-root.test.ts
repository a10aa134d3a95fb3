/**
 * Attack class: an app root someone else can write. The agent (root) renames, flips and creates
 * in `root/` and `root/releases/`: if the app user (or anyone) can write there or above, they can
 * swap what root is about to use. The agent refuses to start (exit 2, HOIST_UNSAFE_ROOT) and says
 * which directory and how to fix it; a root-owned sticky directory such as /tmp is a fine parent.
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { judgeDir } from '../../src/tree/safe-root.ts';
import { createHarness } from '../helpers/harness.ts';
import { APP_USER, localUser } from '../helpers/users.ts';

test('judgeDir: who may write a directory the agent works in (table)', () => {
  const dir = { uid: 0, gid: 0, mode: 0o40755, isDirectory: true };
  const cases: Array<[string, Parameters<typeof judgeDir>[0], Parameters<typeof judgeDir>[1], RegExp | undefined]> = [
    ['root 0755', dir, 'root', undefined],
    ['root group-writable by group root', { ...dir, mode: 0o40775 }, 'root', undefined],
    ['owned by the app user', { ...dir, uid: 1001 }, 'root', /owned by the app user/],
    ['owned by another user', { ...dir, uid: 1002 }, 'parent', /a user other than root/],
    ['group-writable by another group', { ...dir, gid: 100, mode: 0o40775 }, 'releases', /writable by its group/],
    ['world-writable releases', { ...dir, mode: 0o40777 }, 'releases', /writable by others/],
    ['world-writable sticky root', { ...dir, mode: 0o41777 }, 'root', /writable by others/],
    ['world-writable sticky parent (/tmp)', { ...dir, mode: 0o41777 }, 'parent', undefined],
    ['world-writable parent without sticky', { ...dir, mode: 0o40777 }, 'parent', /writable by others/],
    ['not a directory', { ...dir, isDirectory: false }, 'root', /not a directory/],
  ];
  for (const [name, facts, role, expected] of cases) {
    const why = judgeDir(facts, role, 1001);
    if (expected === undefined) assert.equal(why, undefined, name);
    else assert.match(why ?? '', expected, name);
  }
});

test('attack: an app root the app user can write: the agent refuses to start, touching nothing', async () => {
  const user = localUser(APP_USER);
  await using h = await createHarness();
  await h.writeConfig({ app: { user: APP_USER } });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);

  const check = async (what: RegExp): Promise<void> => {
    const r = await h.once();
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /HOIST_UNSAFE_ROOT/);
    assert.match(r.stderr, what);
    assert.match(r.stderr, /chown root:root .* && chmod go-w/);
    assert.equal(await h.current(), undefined, 'nothing was deployed');
  };

  await mkdir(path.join(h.root, 'releases'), { recursive: true });
  await chown(h.root, user.uid, user.gid);
  await check(/apps\[0\] \(web\/prod\): the app root .*srv\/web is owned by the app user/);
  await chown(h.root, 0, 0);

  await chmod(path.join(h.root, 'releases'), 0o777);
  await check(/releases \(the releases directory\) is writable by others/);
  await chmod(path.join(h.root, 'releases'), 0o755);

  const srv = path.dirname(h.root);
  await chown(srv, 0, user.gid);
  await chmod(srv, 0o775);
  await check(/srv, a parent of the app root .* is writable by its group/);
  await chmod(srv, 0o755);
  assert.deepEqual(await readdir(path.join(h.root, 'releases')), [], 'no staging dir was made');

  // fixed: the same host deploys (its parents include the sticky /tmp)
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.served(), '1.0.0');
});
