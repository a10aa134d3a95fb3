/** Resource exhaustion: depth, entry count, declared size, decompression bombs. */

import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import type { UnpackLimits } from '../../src/unpack/unpack.ts';
import { writeArchive, writeZeroBomb } from '../helpers/tarballs.ts';
import type { TarEntrySpec } from '../helpers/tarballs.ts';
import { listTree, sandbox } from './sandbox.ts';

const MiB = 1024 * 1024;

function limitError(cap: keyof UnpackLimits) {
  return (error: unknown): boolean => {
    assert.ok(isHoistError(error, 'HOIST_UNPACK_LIMIT'), String(error));
    assert.equal(error.details?.['limit'], cap);
    return true;
  };
}

/** Total bytes of regular files under dir. */
async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const name of await listTree(dir)) {
    const st = await stat(path.join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}

describe('attack: resource limits', () => {
  it('refuses 2,000-deep directories at the depth cap', async () => {
    await using box = await sandbox();
    const entries: TarEntrySpec[] = Array.from({ length: 2000 }, (_, i) => ({ path: 'd/'.repeat(i + 1), type: 'Directory' }));
    await writeArchive(box.archive, entries);
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }), limitError('maxDepth'));
    let depth = 0;
    for (let dir = box.dest; depth <= 2000; depth++) {
      const names = await readdir(dir);
      if (names.length === 0) break;
      dir = path.join(dir, 'd');
    }
    assert.ok(depth <= DEFAULT_UNPACK_LIMITS.maxDepth, `created ${depth} levels`);
    await box.assertNothingOutside();
  });

  it('refuses more entries than the cap', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, body: 'x' })));
    const limits = { ...DEFAULT_UNPACK_LIMITS, entries: 10 };
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits }), limitError('entries'));
    assert.ok((await listTree(box.dest)).length <= 10);
  });

  it('refuses content over the byte cap before writing it', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [{ path: 'small', body: 'x'.repeat(600) }, { path: 'big', body: Buffer.alloc(2000, 1) }]);
    const limits = { ...DEFAULT_UNPACK_LIMITS, unpackedBytes: 1000 };
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits }), limitError('unpackedBytes'));
    assert.ok(!(await listTree(box.dest)).includes('big'));
  });

  it('stops a 200 MiB zero-file bomb (gzip) at its header, writing none of it', async () => {
    await using box = await sandbox();
    await writeZeroBomb(box.archive, 200 * MiB, 'tar+gzip');
    const compressed = (await stat(box.archive)).size;
    assert.ok(compressed * 200 < 200 * MiB, `the bomb is compressed ${Math.round((200 * MiB) / compressed)}x`);
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }),
      limitError('maxDecompressionRatio'),
    );
    assert.equal(await bytesOnDisk(box.dest), 0);
    await box.assertNothingOutside();
  });

  it('stops a zstd bomb at the byte cap too', async () => {
    await using box = await sandbox();
    await writeZeroBomb(box.archive, 200 * MiB, 'tar+zstd');
    const limits = { ...DEFAULT_UNPACK_LIMITS, unpackedBytes: 50 * MiB, maxDecompressionRatio: Infinity };
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+zstd', dest: box.dest, limits }), limitError('unpackedBytes'));
    assert.equal(await bytesOnDisk(box.dest), 0);
  });

  it('stops a bomb hidden after the end of the archive, where no header declares it', async () => {
    await using box = await sandbox();
    await writeZeroBomb(box.archive, 200 * MiB, 'tar+gzip', { hidden: true });
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }),
      (error: unknown) => {
        limitError('maxDecompressionRatio')(error);
        const seen = (error as { details?: { bytes?: number } }).details?.bytes ?? Infinity;
        assert.ok(seen < 100 * MiB, `stopped after decompressing ${seen} bytes`);
        return true;
      },
    );
    assert.ok((await bytesOnDisk(box.dest)) < 1024, 'only the small decoy file may be written');
  });
});
