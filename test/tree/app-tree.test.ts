/** The app tree: who owns what it makes, and how it removes what it made. Runs as root (CI does). */
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { AppTree, type TreeUser } from '../../src/tree/app-tree.ts';
import { DEFAULT_UNPACK_LIMITS } from '../../src/unpack/unpack.ts';
import { writeArchive } from '../helpers/tarballs.ts';
import { APP_USER, OTHER_USER, localUser } from '../helpers/users.ts';

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-tree-'));
  await chmod(dir, 0o755);
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function treeUser(name: string): TreeUser {
  const u = localUser(name);
  return { uid: u.uid, gid: u.gid, name: u.name };
}

const ENTRIES = [
  { path: 'bin/', type: 'Directory' as const, mode: 0o775 },
  { path: 'bin/run', body: '#!/bin/sh\necho hi\n', mode: 0o770 },
  { path: 'secret.txt', body: 'owner only\n', mode: 0o600 },
  { path: 'log/', type: 'Directory' as const },
  { path: 'log/old.txt', body: 'replaced by the shared link\n' },
];

test('install (root-owned releases): root owns every entry, the app group reads, nobody else writes; shared paths are links', async (t) => {
  const dir = await scratch(t);
  const user = treeUser(APP_USER);
  const archive = path.join(dir, 'a.tar.gz');
  await writeArchive(archive, ENTRIES);
  const tree = new AppTree({ root: path.join(dir, 'root'), user, writableRelease: false, shared: ['log', 'data/cache'], allowSymlinks: false });
  await tree.prepare('apps[0]');
  const r = await tree.install({ archive, format: 'tar+gzip', name: '1.0.0-abcdef012345', limits: DEFAULT_UNPACK_LIMITS });
  assert.equal(r.entries, 5);
  const rel = path.join(tree.releasesDir, '1.0.0-abcdef012345');
  const top = await stat(rel);
  assert.equal(top.uid, 0);
  assert.equal(top.mode & 0o777, 0o755);
  const bin = await stat(path.join(rel, 'bin'));
  assert.deepEqual([bin.uid, bin.gid, bin.mode & 0o777], [0, user.gid, 0o755], 'group write dropped');
  const run = await stat(path.join(rel, 'bin', 'run'));
  assert.deepEqual([run.uid, run.gid, run.mode & 0o777], [0, user.gid, 0o750]);
  const secret = await stat(path.join(rel, 'secret.txt'));
  assert.equal(secret.mode & 0o777, 0o640, 'the app group reads what the owner reads');
  assert.equal(await readlink(path.join(rel, 'log')), '../../shared/log');
  assert.equal(await readlink(path.join(rel, 'data', 'cache')), '../../../shared/data/cache');
  assert.equal((await stat(path.join(tree.sharedRoot, 'data', 'cache'))).uid, user.uid, 'shared paths are the app user\'s');
  assert.equal((await stat(tree.sharedRoot)).uid, user.uid);
  assert.deepEqual((await readdir(tree.releasesDir)).filter((n) => n.startsWith('.')), [], 'no staging dir left');
  // installing the same release again keeps the existing one
  await tree.install({ archive, format: 'tar+gzip', name: '1.0.0-abcdef012345', limits: DEFAULT_UNPACK_LIMITS });
  assert.deepEqual(await readdir(tree.releasesDir), ['1.0.0-abcdef012345']);
  await tree.flip('releases/1.0.0-abcdef012345');
  assert.equal(await tree.current(), 'releases/1.0.0-abcdef012345');
});

test('install (writable releases): the tree worker unpacks as the app user', async (t) => {
  const dir = await scratch(t);
  const user = treeUser(APP_USER);
  const archive = path.join(dir, 'a.tar.gz');
  await writeArchive(archive, ENTRIES);
  const tree = new AppTree({ root: path.join(dir, 'root'), user, writableRelease: true, shared: ['log'], allowSymlinks: false });
  await tree.prepare('apps[0]');
  await tree.install({ archive, format: 'tar+gzip', name: '1.0.0-abcdef012345', limits: DEFAULT_UNPACK_LIMITS });
  const rel = path.join(tree.releasesDir, '1.0.0-abcdef012345');
  for (const p of ['.', 'bin', 'bin/run', 'secret.txt', 'log']) assert.equal((await lstat(path.join(rel, p))).uid, user.uid, p);
  assert.equal((await stat(path.join(rel, 'bin', 'run'))).mode & 0o777, 0o750, 'the archive\'s modes under the umask, as GNU tar run by the user');
  assert.equal(await readFile(path.join(rel, 'secret.txt'), 'utf8'), 'owner only\n');
  // a failing unpack in the worker comes back with its code, and leaves no staging dir
  const bad = path.join(dir, 'bad.tar.gz');
  await writeArchive(bad, [{ path: '../escape', body: 'x' }]);
  await assert.rejects(tree.install({ archive: bad, format: 'tar+gzip', name: '2.0.0-abcdef012345', limits: DEFAULT_UNPACK_LIMITS }), (e: unknown) => isHoistError(e, 'HOIST_UNSAFE_ENTRY'));
  assert.deepEqual(await readdir(tree.releasesDir), ['1.0.0-abcdef012345']);
});

test('prune removes old releases beyond keep, never current or previous, and nothing else; cleanup removes staging and trash', async (t) => {
  const dir = await scratch(t);
  const user = treeUser(APP_USER);
  const tree = new AppTree({ root: path.join(dir, 'root'), user, writableRelease: true, shared: [], allowSymlinks: false });
  await tree.prepare('apps[0]');
  const n = (v: string): string => `${v}-0123456789ab`;
  const base = Date.now() / 1000 - 10_000;
  for (let i = 1; i <= 5; i++) {
    const rel = path.join(tree.releasesDir, n(String(i)));
    await mkdir(path.join(rel, 'lib'), { recursive: true });
    await writeFile(path.join(rel, 'lib', 'file'), String(i));
    // releases 2 and 3 are the app user's (writable), the others root's
    if (i === 2 || i === 3) for (const p of [rel, path.join(rel, 'lib'), path.join(rel, 'lib', 'file')]) await chown(p, user.uid, user.gid);
    if (i === 3) await chmod(path.join(rel, 'lib'), 0o555);
    await utimes(rel, base + i * 60, base + i * 60);
  }
  await writeFile(path.join(tree.releasesDir, '9-0123456789ab'), 'a file shaped like a release name');
  await symlink(n('5'), path.join(tree.releasesDir, '8-0123456789ab'));
  const result = await tree.prune({ keep: 3, current: `releases/${n('1')}`, previous: n('5') });
  assert.deepEqual(result.removed, [n('3'), n('2')]);
  assert.deepEqual(result.failed, []);
  assert.deepEqual((await readdir(tree.releasesDir)).sort(), [n('1'), n('4'), n('5'), '8-0123456789ab', '9-0123456789ab'].sort());

  await mkdir(path.join(tree.releasesDir, '.staging-x', 'deep'), { recursive: true });
  await mkdir(path.join(tree.releasesDir, '.trash-y'), { recursive: true });
  await chown(path.join(tree.releasesDir, '.trash-y'), user.uid, user.gid);
  await symlink('releases/x', path.join(tree.root, 'current.tmp-abc'));
  const cleaned = await tree.cleanup();
  assert.deepEqual(cleaned.removed.sort(), ['.staging-x', '.trash-y']);
  assert.deepEqual((await readdir(tree.root)).sort(), ['releases']);
});

test('a tree owned by neither root nor the app user is never removed', async (t) => {
  const dir = await scratch(t);
  const other = localUser(OTHER_USER);
  const tree = new AppTree({ root: path.join(dir, 'root'), user: treeUser(APP_USER), writableRelease: true, shared: [], allowSymlinks: false });
  await tree.prepare('apps[0]');
  const foreign = path.join(tree.releasesDir, '1-0123456789ab');
  await mkdir(foreign);
  await chown(foreign, other.uid, other.gid);
  await mkdir(path.join(tree.releasesDir, '2-0123456789ab'));
  const result = await tree.prune({ keep: 1 });
  assert.deepEqual([...result.removed].sort(), ['1-0123456789ab'], 'renamed to trash...');
  const failed = result.failed[0];
  assert.ok(failed !== undefined && isHoistError(failed.error, 'HOIST_IO'));
  assert.match(failed.error.message, /neither root nor the app user; hoist leaves it alone/);
  assert.equal((await readdir(tree.releasesDir)).filter((n) => n.startsWith('.trash-1-')).length, 1, '...and left there');
});

test('a root app (no user): shared dirs are made by root, releases are root\'s', async (t) => {
  const dir = await scratch(t);
  const archive = path.join(dir, 'a.tar.gz');
  await writeArchive(archive, ENTRIES);
  const tree = new AppTree({ root: path.join(dir, 'root'), user: undefined, writableRelease: false, shared: ['log'], allowSymlinks: false });
  await tree.prepare('apps[0]');
  await tree.install({ archive, format: 'tar+gzip', name: '1.0.0-abcdef012345', limits: DEFAULT_UNPACK_LIMITS });
  assert.equal((await stat(path.join(tree.sharedRoot, 'log'))).uid, 0);
  assert.equal((await stat(path.join(tree.releasesDir, '1.0.0-abcdef012345', 'bin'))).gid, 0);
});
