/** Entries whose names point outside the release: `..` segments and absolute paths. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import path from 'node:path';
import { isHoistError } from '../../src/errors.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { writeArchive } from '../helpers/tarballs.ts';
import type { TarEntrySpec } from '../helpers/tarballs.ts';
import { listTree, sandbox } from './sandbox.ts';

async function assertRefused(entries: (canary: string) => TarEntrySpec[], pattern: RegExp): Promise<void> {
  await using box = await sandbox();
  await writeArchive(box.archive, entries(box.canary));
  await assert.rejects(
    unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks: true }),
    (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_UNSAFE_ENTRY'), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
  await box.assertNothingOutside();
}

describe('attack: path traversal', () => {
  it('refuses ../escape', async () => {
    await assertRefused(() => [{ path: '../canary/escape', body: 'pwned' }], /\.\.\/canary\/escape.*`\.\.`/);
  });

  it('refuses a `..` hidden in the middle of a path', async () => {
    await assertRefused(() => [{ path: 'ok/', type: 'Directory' }, { path: 'ok/../../canary/x', body: 'pwned' }], /`\.\.`/);
  });

  it('refuses a `..` hidden in a pax long name', async () => {
    await assertRefused(() => [{ path: `${'a/'.repeat(60)}${'../'.repeat(61)}canary/x`, body: 'pwned' }], /`\.\.`/);
  });

  it('refuses /abs/path (node-tar alone would strip the / and write it inside)', async () => {
    await assertRefused((canary) => [{ path: path.join(canary, 'abs'), body: 'pwned' }], /absolute/);
  });

  it('refuses a Windows drive path', async () => {
    await assertRefused(() => [{ path: 'c:/windows/x', body: 'pwned' }], /absolute/);
  });

  it('writes nothing from the entries before a refused one that could be used later', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [{ path: 'first', body: 'fine' }, { path: '../canary/second', body: 'pwned' }]);
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }),
      (e: unknown) => isHoistError(e, 'HOIST_UNSAFE_ENTRY'),
    );
    // the staging dir is discarded by the caller; what matters is that nothing escaped it
    assert.ok((await listTree(box.dest)).every((name) => name === 'first'));
    await box.assertNothingOutside();
  });
});
