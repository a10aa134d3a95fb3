/**
 * Shared unchanged files, the comparison on its own (src/unpack/dedup.ts) and inside the unpack:
 * which previous files may be sources at all, chunk-by-chunk comparison, the copy of a matching
 * prefix, and the links an unpack makes. Runs as root (owners are part of the rule).
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DedupSource, FileMatch } from '../../src/unpack/dedup.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { writeArchive, type TarEntrySpec } from '../helpers/tarballs.ts';
import { APP_USER, localUser } from '../helpers/users.ts';

const UMASK = 0o022;

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-dedup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A sealed previous release made by hand: root's, group `gid`, nothing writable by others. */
async function previous(dir: string, gid: number, files: Record<string, string | Buffer>): Promise<string> {
  const prev = path.join(dir, 'prev');
  await mkdir(prev, { mode: 0o755 });
  for (const [rel, body] of Object.entries(files)) {
    await mkdir(path.join(prev, path.dirname(rel)), { recursive: true, mode: 0o755 });
    const file = path.join(prev, rel);
    await writeFile(file, body);
    await chmod(file, 0o644);
    await chown(file, 0, gid);
  }
  return prev;
}

function expectMatch(m: FileMatch | undefined): FileMatch {
  assert.ok(m instanceof FileMatch, 'a source');
  return m;
}

describe('dedup source', () => {
  it('is only a directory owned by the writer\'s owner that nobody else can write', async (t) => {
    const dir = await scratch(t);
    const app = localUser(APP_USER);
    const owner = { uid: 0, gid: app.gid };
    const prev = await previous(dir, app.gid, { a: 'x' });
    assert.ok(DedupSource.open(prev, owner, UMASK) instanceof DedupSource);
    assert.equal(DedupSource.open(path.join(dir, 'missing'), owner, UMASK), 'missing');
    await symlink(prev, path.join(dir, 'link'));
    assert.equal(DedupSource.open(path.join(dir, 'link'), owner, UMASK), 'not-a-directory', 'a symlink is never followed');
    await chmod(prev, 0o775);
    assert.equal(DedupSource.open(prev, owner, UMASK), 'writable');
    await chmod(prev, 0o755);
    await chown(prev, app.uid, app.gid);
    assert.equal(DedupSource.open(prev, owner, UMASK), 'owner', 'a user-owned (writable) release is never a source');
  });

  it('offers a file only when type, size, owner, group and the mode the new file would get all match', async (t) => {
    const dir = await scratch(t);
    const app = localUser(APP_USER);
    const owner = { uid: 0, gid: app.gid };
    const prev = await previous(dir, app.gid, { 'lib/a.js': 'alpha', 'lib/b.js': 'bravo', 'lib/c.js': 'charl', 'd/x': 'x', 'e/x': 'x' });
    await chown(path.join(prev, 'lib/b.js'), 0, 0);
    await chmod(path.join(prev, 'lib/c.js'), 0o640);
    await mkdir(path.join(prev, 'sub'));
    await symlink('../lib/a.js', path.join(prev, 'sub', 'link.js'));
    const source = DedupSource.open(prev, owner, UMASK);
    assert.ok(source instanceof DedupSource);
    expectMatch(source.match('lib/a.js', 5, 0o644)).close();
    assert.equal(source.match('lib/a.js', 6, 0o644), undefined, 'size');
    assert.equal(source.match('lib/a.js', 5, 0o755), undefined, 'mode');
    expectMatch(source.match('lib/a.js', 5, 0o666)).close(); // the umask makes 0666 into 0644, as for a written file
    assert.equal(source.match('lib/b.js', 5, 0o644), undefined, 'group');
    assert.equal(source.match('lib/c.js', 5, 0o644), undefined, 'mode on disk');
    assert.equal(source.match('lib', 4096, 0o644), undefined, 'a directory');
    assert.equal(source.match('sub/link.js', 5, 0o644), undefined, 'a symlink');
    assert.equal(source.match('lib/none.js', 5, 0o644), undefined, 'missing');
    assert.equal(source.match('none/a.js', 5, 0o644), undefined, 'missing directory');
  });

  it('never reaches a file through a symlink, or a directory someone else owns or may write', async (t) => {
    const dir = await scratch(t);
    const app = localUser(APP_USER);
    const owner = { uid: 0, gid: app.gid };
    const prev = await previous(dir, app.gid, { 'real/f': 'same', 'theirs/f': 'same', 'open/f': 'same', 'open/deeper/f': 'same' });
    // a shared path in a release is a symlink into the app user's root/shared/
    await symlink('real', path.join(prev, 'log'));
    await chown(path.join(prev, 'theirs'), app.uid, app.gid);
    await chmod(path.join(prev, 'open'), 0o775);
    const source = DedupSource.open(prev, owner, UMASK);
    assert.ok(source instanceof DedupSource);
    expectMatch(source.match('real/f', 4, 0o644)).close();
    assert.equal(source.match('log/f', 4, 0o644), undefined, 'through a symlink');
    assert.equal(source.match('theirs/f', 4, 0o644), undefined, 'in a directory the app user owns');
    assert.equal(source.match('open/f', 4, 0o644), undefined, 'in a directory the group may write');
    assert.equal(source.match('open/deeper/f', 4, 0o644), undefined, 'anywhere below it');
  });

  it('compares chunk by chunk, and copies the matching prefix when the content turns out to differ', async (t) => {
    const dir = await scratch(t);
    const app = localUser(APP_USER);
    const body = Buffer.from('0123456789abcdefghij');
    const prev = await previous(dir, app.gid, { f: body });
    const source = DedupSource.open(prev, { uid: 0, gid: app.gid }, UMASK);
    assert.ok(source instanceof DedupSource);

    const same = expectMatch(source.match('f', body.length, 0o644));
    assert.equal(same.compare(body.subarray(0, 7)), true);
    assert.equal(same.compare(body.subarray(7)), true);
    assert.equal(same.complete, true);
    same.close();

    const changed = expectMatch(source.match('f', body.length, 0o644));
    assert.equal(changed.compare(body.subarray(0, 10)), true);
    assert.equal(changed.complete, false);
    assert.equal(changed.compare(Buffer.from('ABCDEFGHIJ')), false, 'a difference');
    assert.equal(changed.matched, 10, 'what matched before it');
    const out = path.join(dir, 'out');
    const fd = openSync(out, 'w');
    changed.copyPrefix(fd);
    closeSync(fd);
    changed.close();
    assert.equal(readFileSync(out, 'utf8'), '0123456789');

    const longer = expectMatch(source.match('f', body.length, 0o644));
    assert.equal(longer.compare(Buffer.concat([body, Buffer.from('!')])), false, 'more bytes than the entry has');
    longer.close();
  });
});

describe('unpack with dedup', () => {
  // incompressible, and long enough to span several chunks of the decompressor
  const random = mulberry32(17);
  const big = Buffer.from(Array.from({ length: 1_300_000 }, () => Math.floor(random() * 256)));
  const entries = (changed: Partial<Record<string, string | Buffer>> = {}): TarEntrySpec[] => [
    { path: 'bin/', type: 'Directory' },
    { path: 'bin/run', body: changed['bin/run'] ?? '#!/bin/sh\n', mode: 0o755 },
    { path: 'lib/', type: 'Directory' },
    { path: 'lib/a.js', body: changed['lib/a.js'] ?? 'module.exports = 1;\n' },
    { path: 'lib/big.bin', body: changed['lib/big.bin'] ?? big },
    { path: 'empty', body: '' },
  ];

  async function release(dir: string, name: string, spec: TarEntrySpec[], owner: { uid: number; gid: number }, from?: string) {
    const archive = path.join(dir, `${name}.tar.gz`);
    await writeArchive(archive, spec);
    const dest = path.join(dir, name);
    await mkdir(dest, { mode: 0o700 });
    const result = await unpackArchive({ file: archive, format: 'tar+gzip', dest, limits: DEFAULT_UNPACK_LIMITS, owner, sealed: true, ...(from === undefined ? {} : { dedupFrom: from }) });
    await chmod(dest, 0o755);
    return { dest, result };
  }

  it('links unchanged files and writes the changed ones, also when they differ only past the first chunk', async (t) => {
    const dir = await scratch(t);
    const app = localUser(APP_USER);
    const owner = { uid: 0, gid: app.gid };
    const one = await release(dir, 'one', entries(), owner);
    const late = Buffer.from(big);
    late[late.length - 10] = 0x79;
    const two = await release(dir, 'two', entries({ 'lib/a.js': 'module.exports = 2;\n', 'lib/big.bin': late }), owner, one.dest);
    assert.deepEqual(two.result.dedup, { files: 2, bytes: '#!/bin/sh\n'.length }, 'bin/run and empty linked');
    const ino = async (r: { dest: string }, rel: string) => (await lstat(path.join(r.dest, rel))).ino;
    assert.equal(await ino(two, 'bin/run'), await ino(one, 'bin/run'));
    assert.equal(await ino(two, 'empty'), await ino(one, 'empty'));
    assert.notEqual(await ino(two, 'lib/a.js'), await ino(one, 'lib/a.js'));
    assert.notEqual(await ino(two, 'lib/big.bin'), await ino(one, 'lib/big.bin'));
    assert.deepEqual(await readFile(path.join(two.dest, 'lib/big.bin')), late, 'prefix copied from the old file, the rest from the archive');
    assert.deepEqual(await readFile(path.join(one.dest, 'lib/big.bin')), big, 'the previous release is unchanged');
    assert.equal(await readFile(path.join(two.dest, 'lib/a.js'), 'utf8'), 'module.exports = 2;\n');
    for (const rel of ['bin/run', 'lib/a.js', 'lib/big.bin', 'empty']) {
      const st = await stat(path.join(two.dest, rel));
      assert.deepEqual([st.uid, st.gid], [0, app.gid], rel);
      assert.equal(st.mode & 0o022, 0, `${rel}: nobody but root writes`);
    }
    assert.equal((await stat(path.join(two.dest, 'bin/run'))).nlink, 2);

    // a third release from the second: a file linked twice over is still one inode
    const three = await release(dir, 'three', entries({ 'lib/a.js': 'module.exports = 2;\n', 'lib/big.bin': late }), owner, two.dest);
    assert.deepEqual(three.result.dedup, { files: 4, bytes: '#!/bin/sh\n'.length + 'module.exports = 2;\n'.length + late.length });
    assert.equal((await stat(path.join(three.dest, 'bin/run'))).nlink, 3);
  });

  it('a file repeated in the archive ends as its last entry, linked or written', async (t) => {
    const dir = await scratch(t);
    const app = localUser(APP_USER);
    const owner = { uid: 0, gid: app.gid };
    const one = await release(dir, 'one', [{ path: 'a', body: 'first' }, { path: 'b', body: 'bee' }], owner);
    const two = await release(dir, 'two', [{ path: 'a', body: 'first' }, { path: 'a', body: 'other' }, { path: 'b', body: 'xyz' }, { path: 'b', body: 'bee' }], owner, one.dest);
    assert.equal(await readFile(path.join(two.dest, 'a'), 'utf8'), 'other');
    assert.equal(await readFile(path.join(two.dest, 'b'), 'utf8'), 'bee');
    assert.equal((await lstat(path.join(two.dest, 'b'))).ino, (await lstat(path.join(one.dest, 'b'))).ino);
    assert.equal(await readFile(path.join(one.dest, 'a'), 'utf8'), 'first', 'replacing a linked name never touches the shared file');
  });

  it('does nothing without sealed modes, or from a source that is not one; says why', async (t) => {
    const dir = await scratch(t);
    const app = localUser(APP_USER);
    const owner = { uid: 0, gid: app.gid };
    const one = await release(dir, 'one', entries(), owner);
    await chown(one.dest, app.uid, app.gid);
    const two = await release(dir, 'two', entries(), owner, one.dest);
    assert.deepEqual(two.result.dedup, { skipped: 'owner' });
    assert.equal((await stat(path.join(two.dest, 'bin/run'))).nlink, 1);

    const archive = path.join(dir, 'plain.tar.gz');
    await writeArchive(archive, entries());
    const dest = path.join(dir, 'plain');
    await mkdir(dest, { mode: 0o700 });
    const plain = await unpackArchive({ file: archive, format: 'tar+gzip', dest, limits: DEFAULT_UNPACK_LIMITS, owner, dedupFrom: two.dest });
    assert.equal(plain.dedup, undefined, 'only sealed releases share files');
    assert.equal((await stat(path.join(dest, 'bin/run'))).nlink, 1);
  });
});
