/** Symlinks: out of the tree, through which a later entry writes, or not allowed at all. */

import assert from 'node:assert/strict';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { writeArchive } from '../helpers/tarballs.ts';
import type { TarEntrySpec } from '../helpers/tarballs.ts';
import { sandbox } from './sandbox.ts';

async function assertRefused(entries: (canary: string) => TarEntrySpec[], allowSymlinks: boolean, pattern: RegExp): Promise<void> {
  await using box = await sandbox();
  await writeArchive(box.archive, entries(box.canary));
  await assert.rejects(
    unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks }),
    (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_UNSAFE_ENTRY'), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
  await box.assertNothingOutside();
}

const linkThenWrite = (target: string): TarEntrySpec[] => [
  { path: 'link', type: 'SymbolicLink', linkpath: target },
  { path: 'link/evil', body: 'pwned' },
];

describe('attack: symlinks', () => {
  it('refuses link -> /abs/canary followed by link/evil', async () => {
    await assertRefused((canary) => linkThenWrite(canary), true, /absolute/);
  });

  it('refuses link -> ../canary followed by link/evil', async () => {
    await assertRefused(() => linkThenWrite('../canary'), true, /leaves the release/);
  });

  it('refuses an escaping symlink deeper in the tree', async () => {
    await assertRefused(() => [{ path: 'a/b/up', type: 'SymbolicLink', linkpath: '../../../canary' }], true, /leaves the release/);
  });

  it('refuses the same attack when symlinks are not allowed, at the symlink itself', async () => {
    await assertRefused((canary) => linkThenWrite(canary), false, /symlinks are not allowed/);
  });

  it('refuses a symlink that stays inside when symlinks are not allowed', async () => {
    await assertRefused(() => [{ path: 'bin/', type: 'Directory' }, { path: 'bin/run', type: 'SymbolicLink', linkpath: 'app' }], false, /symlinks are not allowed/);
  });

  it('refuses writing through a symlink that stays inside', async () => {
    await assertRefused(
      () => [{ path: 'sub/', type: 'Directory' }, { path: 'link', type: 'SymbolicLink', linkpath: 'sub' }, { path: 'link/evil', body: 'x' }],
      true,
      /through the symlink link/,
    );
  });

  it('refuses a symlink without a target (node-tar reports it as an invalid entry)', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [{ path: 'empty', type: 'SymbolicLink', linkpath: '' }]);
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks: true }),
      (e: unknown) => isHoistError(e, 'HOIST_UNPACK_FAILED') && /linkpath required/.test(e.message),
    );
    await box.assertNothingOutside();
  });

  it('keeps an allowed symlink that stays inside', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [
      { path: 'lib/', type: 'Directory' },
      { path: 'lib/a', body: 'a' },
      { path: 'bin/', type: 'Directory' },
      { path: 'bin/a', type: 'SymbolicLink', linkpath: '../lib/a' },
    ]);
    const result = await unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks: true });
    assert.equal(result.entries, 4);
    assert.ok((await lstat(path.join(box.dest, 'bin', 'a'))).isSymbolicLink());
  });
});
