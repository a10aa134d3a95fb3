/**
 * Shared unchanged files between releases of an app tree (`dedup`): what a second release links,
 * that nobody but root can change a shared file, that pruning keeps the newer release whole, and
 * that only a sealed, root-owned previous release is ever a source. Runs as root, with the test
 * users of the global set-up.
 */
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AppTree, type TreeUser } from '../../src/tree/app-tree.ts';
import { DEFAULT_UNPACK_LIMITS } from '../../src/unpack/unpack.ts';
import { attackAs } from '../helpers/attack.ts';
import { writeArchive, type TarEntrySpec } from '../helpers/tarballs.ts';
import { APP_USER, localUser } from '../helpers/users.ts';

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-dedup-tree-'));
  await chmod(dir, 0o755);
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function appUser(): TreeUser {
  const u = localUser(APP_USER);
  return { uid: u.uid, gid: u.gid, name: u.name };
}

const FILES = ['bin/run', 'lib/a.js', 'lib/b.js', 'lib/deep/c.js', 'README', 'log/keep.txt'];

function release(version: string, changed: readonly string[] = []): TarEntrySpec[] {
  return [
    { path: 'bin/', type: 'Directory', mode: 0o775 },
    ...FILES.map((rel) => ({
      path: rel,
      body: changed.includes(rel) ? `${rel} as of ${version}\n` : `${rel} unchanged\n`,
      mode: rel === 'bin/run' ? 0o775 : 0o664,
    })),
  ];
}

async function install(dir: string, tree: AppTree, name: string, entries: TarEntrySpec[]): Promise<string> {
  const archive = path.join(dir, `${name}.tar.gz`);
  await writeArchive(archive, entries);
  await tree.install({ archive, format: 'tar+gzip', name, limits: DEFAULT_UNPACK_LIMITS });
  await tree.flip(`releases/${name}`);
  return path.join(tree.releasesDir, name);
}

function sealedTree(dir: string, user: TreeUser, shared: string[] = []): AppTree {
  return new AppTree({ root: path.join(dir, 'root'), user, writableRelease: false, dedup: true, shared, allowSymlinks: false });
}

const ino = async (p: string): Promise<number> => (await lstat(p)).ino;

/** Appends to, truncates, chmods, removes and replaces every file given, as the app user. */
const TAMPER = `
i=0; won=0
for f in $FILES; do
  i=$((i + 1))
  before=$(cat "$f")
  (echo evil >> "$f") 2>/dev/null && won=$((won + 1))
  (true > "$f") 2>/dev/null && won=$((won + 1))
  chmod 666 "$f" 2>/dev/null && won=$((won + 1))
  rm -f "$f" 2>/dev/null; [ -e "$f" ] || won=$((won + 1))
  [ "$(cat "$f" 2>/dev/null)" = "$before" ] || won=$((won + 1))
done
echo "attempts=$i won=$won"
`;

test('a second release links every unchanged file to the first and writes the changed one; nobody but root can change either', async (t) => {
  const dir = await scratch(t);
  const user = appUser();
  const tree = sealedTree(dir, user);
  await tree.prepare('apps[0]');
  const one = await install(dir, tree, '1-aaaaaaaaaaaa', release('1'));
  const two = await install(dir, tree, '2-bbbbbbbbbbbb', release('2', ['lib/b.js']));
  for (const rel of FILES) {
    const [a, b] = await Promise.all([lstat(path.join(one, rel)), lstat(path.join(two, rel))]);
    if (rel === 'lib/b.js') {
      assert.notEqual(b.ino, a.ino, 'the changed file is a new one');
      assert.equal(b.nlink, 1);
      assert.equal(await readFile(path.join(two, rel), 'utf8'), 'lib/b.js as of 2\n');
      assert.equal(await readFile(path.join(one, rel), 'utf8'), 'lib/b.js unchanged\n');
    } else {
      assert.equal(b.ino, a.ino, `${rel} is shared`);
      assert.equal(b.nlink, 2, rel);
    }
    assert.deepEqual([b.uid, b.gid, b.mode & 0o7777], [0, user.gid, rel === 'bin/run' ? 0o755 : 0o644], `${rel}: root's, the app's group, read-only to it`);
  }
  assert.notEqual(await ino(path.join(two, 'lib')), await ino(path.join(one, 'lib')), 'directories are the release\'s own');
  const tampered = await attackAs(localUser(APP_USER), TAMPER, { FILES: [one, two].flatMap((r) => FILES.map((f) => path.join(r, f))).join(' ') });
  assert.equal(tampered.attempts, 2 * FILES.length);
  assert.equal(tampered.won, 0, tampered.output);
});

test('pruning the older release leaves the newer one whole', async (t) => {
  const dir = await scratch(t);
  const user = appUser();
  const tree = sealedTree(dir, user);
  await tree.prepare('apps[0]');
  await install(dir, tree, '1-aaaaaaaaaaaa', release('1'));
  const two = await install(dir, tree, '2-bbbbbbbbbbbb', release('2', ['README']));
  const three = await install(dir, tree, '3-cccccccccccc', release('3', ['README', 'lib/a.js']));
  const result = await tree.prune({ keep: 2, current: 'releases/3-cccccccccccc', previous: '2-bbbbbbbbbbbb' });
  assert.deepEqual(result.removed, ['1-aaaaaaaaaaaa']);
  assert.deepEqual((await readdir(tree.releasesDir)).sort(), ['2-bbbbbbbbbbbb', '3-cccccccccccc']);
  const expected: Record<string, string> = { README: 'README as of 3\n', 'lib/a.js': 'lib/a.js as of 3\n' };
  for (const rel of FILES) {
    assert.equal(await readFile(path.join(three, rel), 'utf8'), expected[rel] ?? `${rel} unchanged\n`, rel);
    const st = await stat(path.join(three, rel));
    assert.equal(st.nlink, rel in expected ? 1 : 2, `${rel}: one name less, the file itself kept`);
  }
  assert.equal(await readFile(path.join(two, 'README'), 'utf8'), 'README as of 2\n');
  await tree.prune({ keep: 1, current: 'releases/3-cccccccccccc' });
  assert.deepEqual(await readdir(tree.releasesDir), ['3-cccccccccccc']);
  for (const rel of FILES) assert.equal((await stat(path.join(three, rel))).nlink, 1, rel);
  assert.equal(await readFile(path.join(three, 'lib/b.js'), 'utf8'), 'lib/b.js unchanged\n');
});

test('a writable app never shares files, even when told to', async (t) => {
  const dir = await scratch(t);
  const user = appUser();
  const tree = new AppTree({ root: path.join(dir, 'root'), user, writableRelease: true, dedup: true, shared: [], allowSymlinks: false });
  await tree.prepare('apps[0]');
  const one = await install(dir, tree, '1-aaaaaaaaaaaa', release('1'));
  const two = await install(dir, tree, '2-bbbbbbbbbbbb', release('2', ['lib/b.js']));
  for (const rel of FILES) {
    assert.notEqual(await ino(path.join(two, rel)), await ino(path.join(one, rel)), rel);
    assert.equal((await stat(path.join(two, rel))).uid, user.uid);
  }
});

test('a previous release the app user owns is never a source, nor is a file behind a shared path\'s link', async (t) => {
  const dir = await scratch(t);
  const user = appUser();
  // the first release was made while the app had writableRelease: true
  const writable = new AppTree({ root: path.join(dir, 'root'), user, writableRelease: true, shared: ['log'], allowSymlinks: false });
  await writable.prepare('apps[0]');
  const one = await install(dir, writable, '1-aaaaaaaaaaaa', release('1'));
  assert.equal((await stat(one)).uid, user.uid);
  const tree = sealedTree(dir, user, ['log']);
  const two = await install(dir, tree, '2-bbbbbbbbbbbb', release('2'));
  assert.equal((await stat(two)).uid, 0);
  for (const rel of FILES.filter((f) => !f.startsWith('log/'))) {
    assert.notEqual(await ino(path.join(two, rel)), await ino(path.join(one, rel)), `${rel} was not taken from the user's release`);
    assert.deepEqual([(await stat(path.join(two, rel))).uid, (await stat(path.join(two, rel))).nlink], [0, 1], rel);
  }

  // a root-owned, sealed release whose top directory the user was given later is no source either
  const three = await install(dir, tree, '3-cccccccccccc', release('3'));
  assert.equal(await ino(path.join(three, 'README')), await ino(path.join(two, 'README')), 'sealed: shared');
  await chown(three, user.uid, user.gid);
  const four = await install(dir, tree, '4-dddddddddddd', release('4'));
  assert.notEqual(await ino(path.join(four, 'README')), await ino(path.join(three, 'README')));

  // `log` in a release is a link into root/shared/, the app user's: nothing behind it is reached,
  // not even a file there that passes every other check (root's, the app's group, the same bytes:
  // what the app user could put there by hard-linking a release's file where fs.protected_hardlinks is 0)
  await tree.flip('releases/2-bbbbbbbbbbbb');
  assert.equal(await readlink(path.join(two, 'log')), '../../shared/log');
  const planted = path.join(tree.sharedRoot, 'log', 'keep.txt');
  await writeFile(planted, 'log/keep.txt unchanged\n');
  await chown(planted, 0, user.gid);
  await chmod(planted, 0o644);
  const archive = path.join(dir, 'five.tar.gz');
  await writeArchive(archive, [{ path: 'log/', type: 'Directory' }, { path: 'log/keep.txt', body: 'log/keep.txt unchanged\n', mode: 0o664 }]);
  const withoutShared = sealedTree(dir, user, []);
  const result = await withoutShared.install({ archive, format: 'tar+gzip', name: '5-eeeeeeeeeeee', limits: DEFAULT_UNPACK_LIMITS });
  assert.deepEqual(result.dedup, { files: 0, bytes: 0 });
  const five = path.join(tree.releasesDir, '5-eeeeeeeeeeee', 'log', 'keep.txt');
  assert.notEqual(await ino(five), await ino(planted));
  assert.equal((await stat(planted)).nlink, 1);
});
