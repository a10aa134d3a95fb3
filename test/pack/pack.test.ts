import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { isHoistError, type HoistError } from '../../src/errors.ts';
import { symlinkStaysInside } from '../../src/pack/entries.ts';
import { normalisePackMode } from '../../src/pack/mode.ts';
import { defaultPackMtime, packDirectory } from '../../src/pack/pack.ts';
import { portableGzipHeader } from '../../src/pack/compress.ts';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { FIXED_TREE_ENTRIES, FIXED_TREE_TAR_SHA256, makeFixedTree } from './fixture.ts';

const run = promisify(execFile);
const tar = async (...args: string[]): Promise<string> =>
  (await run('tar', args, { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } })).stdout;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-pack-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A small release: nested dirs, an executable, a private file, a setuid file, a relative symlink. */
async function makeRelease(root: string): Promise<string> {
  const src = path.join(root, 'src');
  await mkdir(path.join(src, 'bin'), { recursive: true });
  await mkdir(path.join(src, 'lib', 'deep'), { recursive: true });
  await mkdir(path.join(src, 'empty'));
  await writeFile(path.join(src, 'bin', 'app'), '#!/bin/sh\necho app\n');
  await chmod(path.join(src, 'bin', 'app'), 0o700);
  await writeFile(path.join(src, 'bin', 'suid'), 'x');
  await chmod(path.join(src, 'bin', 'suid'), 0o4755);
  await writeFile(path.join(src, 'lib', 'deep', 'data.json'), '{"a":1}');
  await chmod(path.join(src, 'lib', 'deep', 'data.json'), 0o600);
  await writeFile(path.join(src, 'lib-a.txt'), 'sorted between lib and lib/');
  await writeFile(path.join(src, 'README'), 'hello');
  await chmod(path.join(src, 'lib'), 0o700);
  await symlink('../lib/deep/data.json', path.join(src, 'bin', 'data'));
  return src;
}

const EXPECTED_NAMES = [
  'README',
  'bin/',
  'bin/app',
  'bin/data',
  'bin/suid',
  'empty/',
  'lib-a.txt',
  'lib/',
  'lib/deep/',
  'lib/deep/data.json',
];

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('packDirectory', () => {
  it('packs the fixed tree to the tar it has always packed to (uncompressed digest), gzip and zstd', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    for (const [zstd, zstdEngine] of [[false, undefined], [true, 'node'], [true, 'binary']] as const) {
      const label = zstd ? `zstd (${zstdEngine})` : 'gzip';
      const out = path.join(root, zstd ? `r-${zstdEngine}.tar.zst` : 'r.tar.gz');
      const result = await packDirectory(src, out, { zstd, zstdEngine, mtime: new Date(0) });
      assert.equal(result.entries, FIXED_TREE_ENTRIES);
      const compressed = await readFile(out);
      // what it reports is the file it wrote (the `zstd` executable writes it, and it is hashed after)
      assert.equal(result.sha256, sha256(compressed), label);
      assert.equal(result.size, compressed.length, label);
      const tarBytes = zstd ? zstdDecompressSync(compressed) : gunzipSync(compressed);
      assert.equal(sha256(tarBytes), FIXED_TREE_TAR_SHA256, label);
    }
  });

  it('a zstd executable that fails while compressing fails the pack with its exit status, and leaves no file', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    // a zstd that reads a little and dies, on a PATH of its own (root-owned and not group-writable, as the lookup wants)
    const bin = path.join(root, 'bin');
    await mkdir(bin, { mode: 0o755 });
    await writeFile(path.join(bin, 'zstd'), '#!/bin/sh\nhead -c 100 >/dev/null\necho "zstd: out of luck" >&2\nexit 3\n', { mode: 0o755 });
    await chmod(root, 0o755);
    const saved = process.env['PATH'];
    process.env['PATH'] = `${bin}${path.delimiter}${saved ?? ''}`;
    try {
      const out = path.join(root, 'broken.tar.zst');
      await assert.rejects(packDirectory(src, out, { zstd: true, zstdEngine: 'binary' }), (error: HoistError) => {
        assert.equal(error.code, 'HOIST_PACK_FAILED');
        assert.match(error.message, /exited with 3: zstd: out of luck while compressing the archive; set HOIST_ZSTD=node/);
        return true;
      });
      assert.deepEqual((await readdir(root)).filter((n) => n.includes('broken')), []);
    } finally {
      process.env['PATH'] = saved;
    }
  });

  it('compresses to the same bytes whatever the buffer size, and zstd to a single frame', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    for (const zstd of [false, true]) {
      const digests = new Set<string>();
      for (const [chunkBytes, chunks] of [
        [4096, 2],
        [64 * 1024, 4],
        [undefined, undefined],
      ] as const) {
        const out = path.join(root, `r-${chunkBytes ?? 'default'}.${zstd ? 'zst' : 'gz'}`);
        digests.add((await packDirectory(src, out, { zstd, ...(chunkBytes === undefined ? {} : { chunkBytes, chunks }) })).sha256);
        if (zstd) assert.match((await run('zstd', ['-lv', out])).stdout, /# Zstandard Frames: 1\n/);
      }
      assert.equal(digests.size, 1, zstd ? 'zstd' : 'gzip');
    }
  });

  it('is reproducible: the same tree packed twice, with new timestamps, gives the same bytes', async (t) => {
    const root = await tempDir(t);
    const src = await makeRelease(root);
    const first = await packDirectory(src, path.join(root, 'a.tar.gz'));
    await utimes(path.join(src, 'README'), new Date(), new Date('2001-01-01T00:00:00Z'));
    const second = await packDirectory(src, path.join(root, 'b.tar.gz'));
    assert.equal(first.sha256, second.sha256);
    assert.equal(first.size, second.size);
    assert.equal(first.entries, EXPECTED_NAMES.length);
    assert.equal(first.format, 'tar+gzip');
    const bytes = await readFile(path.join(root, 'a.tar.gz'));
    assert.deepEqual(bytes, await readFile(path.join(root, 'b.tar.gz')));
    assert.equal(bytes.length, first.size);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), first.sha256);
    // gzip header: no timestamp (bytes 4-7) and the "unknown" OS byte, so no host leaks in
    assert.deepEqual([...bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    // no temp file left next to the output
    assert.deepEqual((await readdir(root)).sort(), ['a.tar.gz', 'b.tar.gz', 'src']);
  });

  it('lists sorted names, uid/gid 0, the fixed mtime and normalised modes to GNU tar', async (t) => {
    const root = await tempDir(t);
    const src = await makeRelease(root);
    const out = path.join(root, 'r.tar.gz');
    await packDirectory(src, out, { mtime: new Date('2024-01-02T03:04:05Z') });
    const lines = (await tar('--numeric-owner', '--full-time', '-tvzf', out)).trim().split('\n');
    const rows = lines.map((line) => {
      const [mode, owner, , date, time, name, arrow, target] = line.split(/\s+/);
      return { mode, owner, date, time, name, arrow, target };
    });
    assert.deepEqual(
      rows.map((r) => r.name),
      EXPECTED_NAMES,
    );
    for (const row of rows) {
      assert.equal(row.owner, '0/0', row.name);
      assert.equal(`${row.date} ${row.time}`, '2024-01-02 03:04:05', row.name);
    }
    const modeOf = (name: string): string | undefined => rows.find((r) => r.name === name)?.mode;
    assert.equal(modeOf('bin/'), 'drwxr-xr-x');
    assert.equal(modeOf('lib/'), 'drwxr-xr-x', 'a 0700 directory is packed 0755');
    assert.equal(modeOf('bin/app'), '-rwxr-xr-x', 'any execute bit gives 0755');
    assert.equal(modeOf('bin/suid'), '-rwxr-xr-x', 'setuid is not packed');
    assert.equal(modeOf('lib/deep/data.json'), '-rw-r--r--');
    assert.equal(modeOf('README'), '-rw-r--r--');
    const link = rows.find((r) => r.name === 'bin/data');
    assert.equal(link?.mode?.[0], 'l');
    assert.equal(link?.target, '../lib/deep/data.json');
  });

  it('writes zstd that GNU tar extracts to the same files and modes', async (t) => {
    const root = await tempDir(t);
    const src = await makeRelease(root);
    const out = path.join(root, 'r.tar.zst');
    const result = await packDirectory(src, out, { zstd: true });
    assert.equal(result.format, 'tar+zstd');
    assert.deepEqual([...(await readFile(out)).subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
    const again = await packDirectory(src, path.join(root, 'again.tar.zst'), { zstd: true });
    assert.equal(again.sha256, result.sha256);

    const dest = path.join(root, 'x');
    await mkdir(dest);
    await run('tar', ['--zstd', '-xf', out, '-C', dest]);
    for (const [rel, mode] of [
      ['bin/app', 0o755],
      ['bin/suid', 0o755],
      ['README', 0o644],
      ['lib/deep/data.json', 0o644],
      ['lib', 0o755],
    ] as const) {
      assert.equal((await lstat(path.join(dest, rel))).mode & 0o7777, mode, rel);
    }
    assert.equal(await readFile(path.join(dest, 'bin/app'), 'utf8'), '#!/bin/sh\necho app\n');
    assert.equal(await readFile(path.join(dest, 'lib-a.txt'), 'utf8'), 'sorted between lib and lib/');
    assert.equal(await readlink(path.join(dest, 'bin/data')), '../lib/deep/data.json');
    assert.ok((await lstat(path.join(dest, 'empty'))).isDirectory());
  });

  it('packs long names (pax) and hardlinked files as plain files', async (t) => {
    const root = await tempDir(t);
    const src = path.join(root, 'src');
    const longDir = path.join(src, 'a'.repeat(80), 'b'.repeat(80));
    await mkdir(longDir, { recursive: true });
    await writeFile(path.join(longDir, 'c'.repeat(60)), 'long');
    await writeFile(path.join(src, 'one'), 'same inode');
    await link(path.join(src, 'one'), path.join(src, 'two'));
    const out = path.join(root, 'r.tar.gz');
    const result = await packDirectory(src, out);
    assert.equal(result.entries, 5);
    const listing = await tar('-tvzf', out);
    assert.match(listing, new RegExp(`${'b'.repeat(80)}/${'c'.repeat(60)}`));
    assert.doesNotMatch(listing, /^h/m, 'no hardlink entries');
    const dest = path.join(root, 'x');
    await mkdir(dest);
    await run('tar', ['-xzf', out, '-C', dest]);
    assert.equal(await readFile(path.join(dest, 'two'), 'utf8'), 'same inode');
    assert.equal(await readFile(path.join(longDir.replace(src, dest), 'c'.repeat(60)), 'utf8'), 'long');
  });

  it('refuses a symlink pointing outside the directory, naming it', async (t) => {
    const root = await tempDir(t);
    const src = path.join(root, 'src');
    await mkdir(path.join(src, 'sub'), { recursive: true });
    await symlink('../../etc/passwd', path.join(src, 'sub', 'escape'));
    const out = path.join(root, 'r.tar.gz');
    await assert.rejects(packDirectory(src, out), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_PACK_FAILED'));
      assert.match(error.message, /sub\/escape/);
      return true;
    });
    await assert.rejects(readFile(out), { code: 'ENOENT' });
  });

  it('refuses absolute symlinks and special files', async (t) => {
    const root = await tempDir(t);
    const abs = path.join(root, 'abs');
    await mkdir(abs);
    await symlink('/etc/hostname', path.join(abs, 'host'));
    await assert.rejects(packDirectory(abs, path.join(root, 'a.tgz')), (e: unknown) => isHoistError(e, 'HOIST_PACK_FAILED') && /host/.test(e.message));

    const fifo = path.join(root, 'fifo');
    await mkdir(fifo);
    await run('mkfifo', [path.join(fifo, 'pipe')]);
    await assert.rejects(packDirectory(fifo, path.join(root, 'b.tgz')), (e: unknown) => isHoistError(e, 'HOIST_PACK_FAILED') && /pipe/.test(e.message));
  });

  it('fails clearly on a missing directory, a file, and an unwritable output', async (t) => {
    const root = await tempDir(t);
    await assert.rejects(packDirectory(path.join(root, 'nope'), path.join(root, 'o.tgz')), (e: unknown) => isHoistError(e, 'HOIST_PACK_FAILED'));
    await writeFile(path.join(root, 'file'), 'x');
    await assert.rejects(packDirectory(path.join(root, 'file'), path.join(root, 'o.tgz')), (e: unknown) => isHoistError(e, 'HOIST_PACK_FAILED'));
    await mkdir(path.join(root, 'src'));
    await assert.rejects(packDirectory(path.join(root, 'src'), path.join(root, 'no-dir', 'o.tgz')), (e: unknown) => isHoistError(e, 'HOIST_PACK_FAILED'));
  });

  it('packs an empty directory to a valid, empty archive', async (t) => {
    const root = await tempDir(t);
    await mkdir(path.join(root, 'src'));
    const result = await packDirectory(path.join(root, 'src'), path.join(root, 'o.tgz'));
    assert.equal(result.entries, 0);
    assert.equal(await tar('-tzf', path.join(root, 'o.tgz')), '');
  });

  it('honours an aborted signal and leaves no temp file', async (t) => {
    const root = await tempDir(t);
    const src = await makeRelease(root);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await assert.rejects(packDirectory(src, path.join(root, 'o.tgz'), { signal: controller.signal }), /stop/);

    // abort while the archive is being written
    const big = path.join(root, 'big');
    await mkdir(big);
    for (let i = 0; i < 8; i++) await writeFile(path.join(big, `f${i}`), Buffer.alloc(4 * 1024 * 1024, i));
    for (const options of [{}, { zstd: true, zstdEngine: 'binary' }] as const) {
      const late = new AbortController();
      const packing = packDirectory(big, path.join(root, 'big.tar'), { ...options, signal: late.signal });
      setImmediate(() => late.abort(new Error('late stop')));
      await assert.rejects(packing, /stop/);
      assert.deepEqual((await readdir(root)).sort(), ['big', 'src'], JSON.stringify(options));
    }
  });
});

describe('pack helpers', () => {
  it('marks the gzip header "unknown OS" wherever the first chunks end', () => {
    const header = (): Buffer => Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xaa]);
    for (const split of [1, 5, 9, 10, 11]) {
      const whole = header();
      const first = whole.subarray(0, split);
      const rest = whole.subarray(split);
      portableGzipHeader(first, 0);
      portableGzipHeader(rest, split);
      assert.deepEqual([...whole], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xaa], `split at ${split}`);
    }
    const later = Buffer.from([9, 9]);
    portableGzipHeader(later, 100);
    assert.deepEqual([...later], [9, 9], 'only the header is touched');
  });

  it('normalises modes', () => {
    const table: [Parameters<typeof normalisePackMode>[0], number, number][] = [
      ['directory', 0o700, 0o755],
      ['directory', 0o2775, 0o755],
      ['file', 0o600, 0o644],
      ['file', 0o4755, 0o755],
      ['file', 0o610, 0o755],
      ['file', 0o1666, 0o644],
      ['symlink', 0o777, 0o755],
    ];
    for (const [type, mode, expected] of table) assert.equal(normalisePackMode(type, mode), expected, `${type} ${mode.toString(8)}`);
  });

  it('decides which symlink targets stay inside', () => {
    assert.equal(symlinkStaysInside('bin/x', '../lib/y'), true);
    assert.equal(symlinkStaysInside('x', 'a/../b'), true);
    assert.equal(symlinkStaysInside('x', '.'), true);
    assert.equal(symlinkStaysInside('bin/x', '../../y'), false);
    assert.equal(symlinkStaysInside('x', '..'), false);
    assert.equal(symlinkStaysInside('x', '/etc'), false);
    assert.equal(symlinkStaysInside('x', ''), false);
  });

  it('takes the default mtime from SOURCE_DATE_EPOCH', () => {
    assert.equal(defaultPackMtime({}).getTime(), 0);
    assert.equal(defaultPackMtime({ SOURCE_DATE_EPOCH: '' }).getTime(), 0);
    assert.equal(defaultPackMtime({ SOURCE_DATE_EPOCH: '1700000000' }).toISOString(), '2023-11-14T22:13:20.000Z');
    assert.throws(() => defaultPackMtime({ SOURCE_DATE_EPOCH: 'yesterday' }), (e: unknown) => isHoistError(e, 'HOIST_PACK_FAILED'));
  });
});
