/**
 * What our tree writer does beyond the entry policy: entries repeated in an archive, modes that
 * would lock the writer out, a setgid staging directory, timestamps, and entry types node-tar
 * itself skips.
 */

import assert from 'node:assert/strict';
import { chmod, lstat, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Header } from 'tar';
import { isHoistError } from '../../src/errors.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import type { UnpackOptions } from '../../src/unpack/unpack.ts';
import { compress, tarBytes, writeArchive } from '../helpers/tarballs.ts';
import type { TarEntrySpec } from '../helpers/tarballs.ts';
import { listTree, sandbox } from './sandbox.ts';
import type { Sandbox } from './sandbox.ts';
import { writeFile } from 'node:fs/promises';

function unpack(box: Sandbox, options: Partial<UnpackOptions> = {}): ReturnType<typeof unpackArchive> {
  return unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, ...options });
}

async function refused(box: Sandbox, entries: TarEntrySpec[], pattern: RegExp, options: Partial<UnpackOptions> = {}): Promise<void> {
  await writeArchive(box.archive, entries);
  await assert.rejects(unpack(box, options), (error: unknown) => {
    assert.ok(isHoistError(error, 'HOIST_UNSAFE_ENTRY'), String(error));
    assert.match(error.message, pattern);
    return true;
  });
  await box.assertNothingOutside();
}

/** A tar header block for a regular file, with a type flag node-tar has no name for. */
function unknownTypeBlock(name: string, flag: string): Buffer {
  const block = Buffer.from(tarBytes([{ path: name, body: '' }], { end: false }));
  block.write(flag, 156, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  assert.equal(new Header(block).cksumValid, true, 'the forged header has a valid checksum');
  return block;
}

describe('tree writer', () => {
  it('lets a repeated file replace the earlier one (GNU tar order)', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [
      { path: 'conf/app.json', body: 'first' },
      { path: 'conf/app.json', body: 'second', mode: 0o600 },
    ]);
    const result = await unpack(box);
    assert.equal(result.entries, 2);
    assert.equal(await readFile(path.join(box.dest, 'conf/app.json'), 'utf8'), 'second');
    assert.equal((await stat(path.join(box.dest, 'conf/app.json'))).mode & 0o777, 0o600);
  });

  it('replaces a symlink by a later file of the same name without writing through it', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [
      { path: 'data/real', body: 'untouched' },
      { path: 'alias', type: 'SymbolicLink', linkpath: 'data/real' },
      { path: 'alias', body: 'own file' },
    ]);
    await unpack(box, { allowSymlinks: true });
    assert.equal(await readFile(path.join(box.dest, 'data/real'), 'utf8'), 'untouched');
    assert.equal((await lstat(path.join(box.dest, 'alias'))).isFile(), true);
    assert.equal(await readFile(path.join(box.dest, 'alias'), 'utf8'), 'own file');
  });

  it('replaces a file by a later directory, or by the parent a later entry needs', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [
      { path: 'a', body: 'file first' },
      { path: 'a/', type: 'Directory' },
      { path: 'a/x', body: 'x' },
      { path: 'b', body: 'file first' },
      { path: 'b/c/y', body: 'y' },
    ]);
    await unpack(box);
    assert.deepEqual(await listTree(box.dest), ['a', 'a/x', 'b', 'b/c', 'b/c/y']);
    assert.equal((await lstat(path.join(box.dest, 'b'))).isDirectory(), true);
  });

  it('never replaces a directory by a later file or symlink', async () => {
    await using box = await sandbox();
    await refused(box, [{ path: 'lib/', type: 'Directory' }, { path: 'lib/keep', body: 'k' }, { path: 'lib', body: 'flat' }], /replace a directory with a file/);
    await using box2 = await sandbox();
    await refused(
      box2,
      [{ path: 'lib/keep', body: 'k' }, { path: 'lib', type: 'SymbolicLink', linkpath: 'other' }],
      /replace a directory with a symlink/,
      { allowSymlinks: true },
    );
  });

  it('fills a read-only directory and gives it its mode at the end; missing parents get 0755 less the umask', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [
      { path: 'ro/', type: 'Directory', mode: 0o555 },
      { path: 'ro/inside', body: 'x', mode: 0o444 },
      { path: 'deep/er/file', body: 'y' },
    ]);
    await unpack(box);
    assert.equal((await stat(path.join(box.dest, 'ro'))).mode & 0o7777, 0o555);
    assert.equal(await readFile(path.join(box.dest, 'ro/inside'), 'utf8'), 'x');
    for (const dir of ['deep', 'deep/er']) {
      const mode = (await stat(path.join(box.dest, dir))).mode & 0o7777;
      assert.equal(mode & 0o700, 0o700, dir);
      assert.equal(mode & ~0o755, 0, dir);
    }
    await chmod(path.join(box.dest, 'ro'), 0o755); // so the sandbox can be removed without root
  });

  it('strips setgid from the staging directory before making anything, so nothing inherits it', async () => {
    await using box = await sandbox();
    await chmod(box.dest, 0o2770);
    await writeArchive(box.archive, [{ path: 'a/b/c', body: 'x' }, { path: 'd/', type: 'Directory', mode: 0o2755 }]);
    await unpack(box);
    for (const dir of ['.', 'a', 'a/b', 'd']) {
      assert.equal((await stat(path.join(box.dest, dir))).mode & 0o7000, 0, dir);
    }
  });

  it('keeps each file’s modification time', async () => {
    await using box = await sandbox();
    const mtime = new Date('2024-05-06T07:08:09Z');
    await writeArchive(box.archive, [{ path: 'f', body: 'x', mtime }]);
    await unpack(box);
    assert.equal((await stat(path.join(box.dest, 'f'))).mtime.getTime(), mtime.getTime());
  });

  it('refuses entry types node-tar skips: an unknown type flag and an over-sized pax header', async () => {
    await using box = await sandbox();
    const tar = Buffer.concat([tarBytes([{ path: 'ok', body: 'ok' }], { end: false }), unknownTypeBlock('odd', 'Z'), Buffer.alloc(1024)]);
    await writeFile(box.archive, compress(tar, 'tar+gzip'));
    await assert.rejects(unpack(box), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_UNSAFE_ENTRY'), String(error));
      assert.match(error.message, /"odd"/);
      return true;
    });
    await box.assertNothingOutside();

    await using box2 = await sandbox();
    await refused(box2, [{ path: `${'p'.repeat(1100 * 1024)}`, body: 'x' }], /header of \d+ bytes \(over 1 MiB\)/);
    assert.deepEqual(await listTree(box2.dest), []);
  });

  it('writes a symlink an archive allows with its target as given', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [{ path: 'bin/tool', body: '#!/bin/sh\n', mode: 0o755 }, { path: 'tool', type: 'SymbolicLink', linkpath: 'bin/tool' }]);
    await unpack(box, { allowSymlinks: true });
    assert.equal(await readlink(path.join(box.dest, 'tool')), 'bin/tool');
  });
});
