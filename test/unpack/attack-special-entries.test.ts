/** Entry types a release may not hold (hardlinks, devices, FIFOs) and privilege bits. */

import assert from 'node:assert/strict';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { writeArchive } from '../helpers/tarballs.ts';
import type { TarEntrySpec } from '../helpers/tarballs.ts';
import { listTree, sandbox } from './sandbox.ts';

async function assertRefused(entries: (canary: string) => TarEntrySpec[], pattern: RegExp): Promise<void> {
  await using box = await sandbox();
  await writeArchive(box.archive, entries(box.canary), 'tar+zstd');
  await assert.rejects(
    unpackArchive({ file: box.archive, format: 'tar+zstd', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks: true }),
    (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_UNSAFE_ENTRY'), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
  await box.assertNothingOutside();
  for (const name of await listTree(box.dest)) {
    const st = await lstat(path.join(box.dest, name));
    assert.ok(st.isFile() || st.isDirectory(), `${name} is a plain file or directory`);
  }
}

describe('attack: special entries', () => {
  it('refuses a hardlink (even to a file inside)', async () => {
    await assertRefused(() => [{ path: 'a', body: 'a' }, { path: 'b', type: 'Link', linkpath: 'a' }], /hardlink/);
  });

  it('refuses a hardlink to a file outside', async () => {
    await assertRefused(() => [{ path: 'passwd', type: 'Link', linkpath: '/etc/passwd' }], /hardlink/);
  });

  it('refuses a character device', async () => {
    await assertRefused(() => [{ path: 'null', type: 'CharacterDevice' }], /device/);
  });

  it('refuses a block device', async () => {
    await assertRefused(() => [{ path: 'sda', type: 'BlockDevice' }], /device/);
  });

  it('refuses a FIFO', async () => {
    await assertRefused(() => [{ path: 'pipe', type: 'FIFO' }], /FIFO/);
  });

  it('refuses other types (GNU dump dir)', async () => {
    await assertRefused(() => [{ path: 'dump/', type: 'GNUDumpDir' }], /GNUDumpDir/);
  });

  it('strips setuid, setgid and sticky bits from files and directories', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [
      { path: 'sticky/', type: 'Directory', mode: 0o1755 },
      { path: 'sgid/', type: 'Directory', mode: 0o2755 },
      { path: 'sgid/implicit/file', body: 'inherits setgid from its parent without the strip' },
      { path: 'suid', body: '#!/bin/sh\n', mode: 0o4755 },
      { path: 'sgidfile', body: 'x', mode: 0o2711 },
      { path: 'root-only', body: 'x', mode: 0o6700 },
    ]);
    await unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS });
    const expected: Record<string, number> = {
      sticky: 0o755,
      sgid: 0o755,
      'sgid/implicit': 0o755,
      'sgid/implicit/file': 0o644,
      suid: 0o755,
      sgidfile: 0o711,
      'root-only': 0o700,
    };
    assert.deepEqual(await listTree(box.dest), Object.keys(expected).sort());
    for (const [rel, mode] of Object.entries(expected)) {
      assert.equal((await lstat(path.join(box.dest, rel))).mode & 0o7777, mode, rel);
    }
  });
});
