/**
 * Truncated streams: an archive whose decoder stops early deploys part of a release as if it were
 * all of it. node:zlib's zstd decoder stopped after the first frame (a `.tar.zst` of several
 * frames, from `cat`, pzstd or a tar split across frames, unpacked to its first frame and was
 * reported healthy) and decoded nothing after a leading skippable frame; its gunzip dropped a member
 * that followed zero bytes in the same read. Each archive here is built by the real tools, and
 * unpacked with both zstd decoders (HOIST_ZSTD=node and binary).
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync, zstdDecompressSync } from 'node:zlib';
import { isHoistError } from '../../src/errors.ts';
import type { HoistErrorCode } from '../../src/errors.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { tarBytes } from '../helpers/tarballs.ts';
import type { TarEntrySpec } from '../helpers/tarballs.ts';
import { skippableFrame } from './frame-builders.ts';
import { listTree, sandbox } from './sandbox.ts';

let dirs = 0;
/** A new empty staging directory inside the sandbox's dest, one per unpack. */
async function freshDir(parent: string): Promise<string> {
  const dir = path.join(parent, `staging-${++dirs}`);
  await mkdir(dir);
  return dir;
}

/** Pipes `input` through a command (zstd, gzip, pzstd) and returns its stdout. */
async function through(command: string, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('bash', ['-c', command], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (error: Error | null, stdout: Buffer) => {
      if (error === null) resolve(stdout);
      else reject(error);
    });
    child.stdin?.end(input);
  });
}

function noise(bytes: number, seed: number): Buffer {
  const random = mulberry32(seed);
  const out = Buffer.alloc(bytes);
  for (let k = 0; k < bytes; k++) out[k] = Math.floor(random() * 256);
  return out;
}

const firstHalf: TarEntrySpec[] = [{ path: 'app/' }, { path: 'app/server.js', body: 'listen(8080)\n' }, { path: 'app/VERSION', body: '2.0.0\n' }];
const secondHalf: TarEntrySpec[] = [{ path: 'app/lib/' }, { path: 'app/lib/auth.js', body: 'checkToken()\n' }, { path: 'app/lib/blob.bin', body: noise(64 * 1024, 9) }];
const WHOLE = ['app', 'app/VERSION', 'app/lib', 'app/lib/auth.js', 'app/lib/blob.bin', 'app/server.js'];

/** The first half ends at an entry boundary without end-of-archive blocks: a tar reader stops there cleanly. */
const halves = (): [Buffer, Buffer] => [tarBytes(firstHalf, { end: false }), tarBytes(secondHalf)];

function refusedWith(code: HoistErrorCode, message: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isHoistError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  };
}

for (const engine of ['node', 'binary'] as const) {
  describe(`truncated zstd streams (HOIST_ZSTD=${engine})`, () => {
    async function unpack(file: string, dest: string): Promise<string[]> {
      const saved = process.env['HOIST_ZSTD'];
      process.env['HOIST_ZSTD'] = engine;
      try {
        await unpackArchive({ file, format: 'tar+zstd', dest, limits: DEFAULT_UNPACK_LIMITS });
      } finally {
        if (saved === undefined) delete process.env['HOIST_ZSTD'];
        else process.env['HOIST_ZSTD'] = saved;
      }
      return listTree(dest);
    }

    it('unpacks every frame of `cat first.tar.zst second.tar.zst`, not just the first half of the release', async () => {
      await using box = await sandbox();
      const [first, second] = halves();
      const archive = Buffer.concat([await through('zstd -q -c', first), await through('zstd -q -c --long', second)]);
      // the hole: node:zlib alone gives the first frame and says nothing
      assert.deepEqual(zstdDecompressSync(archive), first);
      await writeFile(box.archive, archive);
      assert.deepEqual(await unpack(box.archive, box.dest), WHOLE);
      assert.equal(await readFile(path.join(box.dest, 'app/lib/auth.js'), 'utf8'), 'checkToken()\n');
    });

    it('unpacks a tar cut anywhere (head -c / tail -c), each part compressed, then concatenated', async () => {
      await using box = await sandbox();
      const tar = Buffer.concat(halves());
      for (const cut of [700, 1536, tar.length - 1100]) {
        const archive = Buffer.concat([await through('zstd -q -c', tar.subarray(0, cut)), await through('zstd -q -c -19', tar.subarray(cut))]);
        await writeFile(box.archive, archive);
        assert.deepEqual(await unpack(box.archive, await freshDir(box.dest)), WHOLE, `cut at ${cut}`);
      }
    });

    it("unpacks pzstd's output: several frames, each behind a skippable frame", async () => {
      await using box = await sandbox();
      const big: TarEntrySpec[] = [{ path: 'data/' }, ...Array.from({ length: 6 }, (_, k) => ({ path: `data/part-${k}.bin`, body: noise(2 * 1024 * 1024, k) }))];
      const archive = await through('pzstd -q -p 2 -c', tarBytes(big));
      assert.equal(archive.readUInt32LE(0), 0x184d2a50, 'pzstd opens with a skippable frame');
      await writeFile(box.archive, archive);
      assert.deepEqual(await unpack(box.archive, box.dest), ['data', ...big.slice(1).map((e) => e.path)].sort());
    });

    it('unpacks an archive that starts with a skippable frame (node:zlib alone decoded nothing)', async () => {
      await using box = await sandbox();
      const frame = await through('zstd -q -c', Buffer.concat(halves()));
      const archive = Buffer.concat([skippableFrame('build metadata'), frame]);
      assert.equal(zstdDecompressSync(archive).length, 0);
      await writeFile(box.archive, archive);
      assert.deepEqual(await unpack(box.archive, box.dest), WHOLE);
    });

    it('refuses a stream cut inside a frame header, inside a block, or before the checksum: HOIST_ARCHIVE_TRUNCATED', async () => {
      await using box = await sandbox();
      const [first, second] = halves();
      const one = await through('zstd -q -c', first);
      const two = await through('zstd -q -c', second);
      for (const [bytes, where] of [
        [Buffer.concat([one, two.subarray(0, 5)]), /inside the header of frame 2/],
        [Buffer.concat([one, two.subarray(0, two.length - 30)]), /inside block 1 of frame 2/],
        [Buffer.concat([one, two.subarray(0, two.length - 4)]), /inside the content checksum of frame 2/],
      ] as const) {
        await writeFile(box.archive, bytes);
        await assert.rejects(unpack(box.archive, await freshDir(box.dest)), refusedWith('HOIST_ARCHIVE_TRUNCATED', where));
      }
    });

    it('refuses trailing data after the last frame, and accepts trailing zero padding', async () => {
      await using box = await sandbox();
      const frame = await through('zstd -q -c', Buffer.concat(halves()));
      await writeFile(box.archive, Buffer.concat([frame, Buffer.from('#!/bin/sh\nrm -rf /\n')]));
      await assert.rejects(unpack(box.archive, box.dest), refusedWith('HOIST_UNPACK_FAILED', /trailing data after the compressed archive/));
      await writeFile(box.archive, Buffer.concat([frame, Buffer.alloc(10240)]));
      assert.deepEqual(await unpack(box.archive, await freshDir(box.dest)), WHOLE);
    });
  });
}

describe('truncated gzip streams', () => {
  const unpack = async (file: string, dest: string): Promise<string[]> => {
    await unpackArchive({ file, format: 'tar+gzip', dest, limits: DEFAULT_UNPACK_LIMITS });
    return listTree(dest);
  };

  it('unpacks every member of `cat first.tar.gz second.tar.gz`', async () => {
    await using box = await sandbox();
    const [first, second] = halves();
    await writeFile(box.archive, Buffer.concat([await through('gzip -c', first), await through('gzip -9 -c', second)]));
    assert.deepEqual(await unpack(box.archive, box.dest), WHOLE);
  });

  it('refuses a member hidden behind zero padding (node:zlib dropped it when both came in one read)', async () => {
    await using box = await sandbox();
    const [first, second] = halves();
    await writeFile(box.archive, Buffer.concat([gzipSync(first), Buffer.alloc(512), gzipSync(second)]));
    await assert.rejects(unpack(box.archive, box.dest), refusedWith('HOIST_UNPACK_FAILED', /trailing data after the compressed archive/));
  });

  it('refuses a stream cut in a header, the deflate data or the trailer: HOIST_ARCHIVE_TRUNCATED, not a zlib error', async () => {
    await using box = await sandbox();
    const archive = await through('gzip -c', Buffer.concat(halves()));
    for (const [cut, where] of [
      [4, /inside the header of member 1/],
      [Math.floor(archive.length / 2), /inside the compressed data of member 1/],
      [archive.length - 2, /inside the trailer/],
    ] as const) {
      await writeFile(box.archive, archive.subarray(0, cut));
      await assert.rejects(unpack(box.archive, await freshDir(box.dest)), refusedWith('HOIST_ARCHIVE_TRUNCATED', where));
    }
  });

  it('refuses trailing data after the last member, and accepts trailing zero padding, as for zstd', async () => {
    await using box = await sandbox();
    const archive = await through('gzip -c', Buffer.concat(halves()));
    await writeFile(box.archive, Buffer.concat([archive, Buffer.from('#!/bin/sh\nrm -rf /\n')]));
    await assert.rejects(unpack(box.archive, box.dest), refusedWith('HOIST_UNPACK_FAILED', /trailing data after the compressed archive/));
    await writeFile(box.archive, Buffer.concat([archive, Buffer.alloc(10240)]));
    assert.deepEqual(await unpack(box.archive, await freshDir(box.dest)), WHOLE);
  });
});
