import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, readlink, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { isHoistError } from '../../src/errors.ts';
import { packDirectory } from '../../src/pack/pack.ts';
import { DEFAULT_UNPACK_LIMITS, syncTree, unpackArchive } from '../../src/unpack/unpack.ts';
import { compress, tarBytes, writeArchive } from '../helpers/tarballs.ts';
import { listTree, sandbox } from './sandbox.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

async function makeSource(root: string): Promise<string> {
  const src = path.join(root, 'src');
  await mkdir(path.join(src, 'bin'), { recursive: true });
  await mkdir(path.join(src, 'conf'), { recursive: true });
  await writeFile(path.join(src, 'bin', 'app'), '#!/bin/sh\n');
  await chmod(path.join(src, 'bin', 'app'), 0o755);
  await writeFile(path.join(src, 'bin', 'suid'), 'suid');
  await chmod(path.join(src, 'bin', 'suid'), 0o4755);
  await writeFile(path.join(src, 'conf', 'secret'), 'private');
  await chmod(path.join(src, 'conf', 'secret'), 0o600);
  await writeFile(path.join(src, 'README'), 'readme');
  await chmod(path.join(src, 'README'), 0o644);
  return src;
}

async function assertReleaseTree(dest: string, modes: Record<string, number>): Promise<void> {
  assert.deepEqual(await listTree(dest), ['README', 'bin', 'bin/app', 'bin/suid', 'conf', 'conf/secret']);
  assert.equal(await readFile(path.join(dest, 'conf', 'secret'), 'utf8'), 'private');
  for (const [rel, mode] of Object.entries(modes)) {
    assert.equal((await lstat(path.join(dest, rel))).mode & 0o7777, mode, rel);
  }
}

describe('unpackArchive', () => {
  for (const format of ['tar+gzip', 'tar+zstd'] as const) {
    it(`unpacks a ${format} archive made by GNU tar, stripping setuid`, async () => {
      await using box = await sandbox();
      const src = await makeSource(box.root);
      const flag = format === 'tar+zstd' ? '--zstd' : '--gzip';
      await run('tar', ['-c', flag, '-f', box.archive, '-C', src, '.']);
      const result = await unpackArchive({ file: box.archive, format, dest: box.dest, limits: DEFAULT_UNPACK_LIMITS });
      assert.equal(result.entries, 7, './ plus six entries');
      assert.equal(result.bytes, 10 + 4 + 7 + 6);
      await assertReleaseTree(box.dest, { 'bin/app': 0o755, 'bin/suid': 0o755, 'conf/secret': 0o600, README: 0o644 });
      await box.assertNothingOutside();
    });
  }

  it('unpacks what packDirectory made, with its normalised modes', async () => {
    await using box = await sandbox();
    const src = await makeSource(box.root);
    await symlink('bin/app', path.join(src, 'run'));
    for (const zstd of [false, true]) {
      const file = path.join(box.root, 'archive');
      const packed = await packDirectory(src, file, { zstd });
      const dest = path.join(box.dest, zstd ? 'z' : 'g');
      await mkdir(dest);
      const result = await unpackArchive({ file, format: packed.format, dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks: true });
      assert.equal(result.entries, packed.entries);
      assert.equal(await readlink(path.join(dest, 'run')), 'bin/app');
      for (const [rel, mode] of Object.entries({ 'bin/app': 0o755, 'bin/suid': 0o755, 'conf/secret': 0o644, README: 0o644, bin: 0o755 })) {
        assert.equal((await lstat(path.join(dest, rel))).mode & 0o7777, mode, rel);
      }
    }
  });

  it('sets the owner of every entry and of dest when asked (as root), else leaves the caller as owner', async () => {
    await using box = await sandbox();
    const src = await makeSource(box.root);
    await run('tar', ['-czf', box.archive, '-C', src, '.']);
    if (isRoot) {
      const owner = { uid: 65534, gid: 65533 };
      await unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, owner });
      for (const rel of ['', ...(await listTree(box.dest))]) {
        const st = await lstat(path.join(box.dest, rel));
        assert.deepEqual({ uid: st.uid, gid: st.gid }, owner, rel || 'dest');
      }
      // chown must not bring the setuid bit back, nor strip what should stay
      assert.equal((await lstat(path.join(box.dest, 'bin/suid'))).mode & 0o7777, 0o755);
    } else {
      await unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS });
      for (const rel of await listTree(box.dest)) {
        assert.equal((await lstat(path.join(box.dest, rel))).uid, process.getuid?.(), rel);
      }
    }
  });

  it('does not take the owner from the archive', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [{ path: 'owned', body: 'x', uid: 4242, gid: 4242 }]);
    await unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS });
    assert.equal((await lstat(path.join(box.dest, 'owned'))).uid, process.getuid?.());
  });

  it('fails on a truncated archive (compressed stream cut short)', async () => {
    await using box = await sandbox();
    const bytes = compress(tarBytes([{ path: 'big', body: Buffer.alloc(256 * 1024, 7) }]), 'tar+gzip');
    await writeFile(box.archive, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }),
      (e: unknown) => isHoistError(e, 'HOIST_ARCHIVE_TRUNCATED'),
    );
    await box.assertNothingOutside();
  });

  it('fails on a truncated tar inside a valid compressed stream', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [{ path: 'short', body: 'only a little', size: 100_000 }], 'tar+zstd', { end: false });
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+zstd', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }),
      (e: unknown) => isHoistError(e, 'HOIST_UNPACK_FAILED') && /truncated|Truncated/.test(e.message),
    );
  });

  it('fails on a corrupt header checksum, a non-tar, and the wrong compression', async () => {
    await using box = await sandbox();
    const tar = tarBytes([{ path: 'a', body: 'a' }]);
    tar[0] = 'b'.charCodeAt(0); // name changes, checksum does not
    await writeFile(box.archive, compress(tar, 'tar+gzip'));
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }), (e: unknown) =>
      isHoistError(e, 'HOIST_UNPACK_FAILED'),
    );
    await writeFile(box.archive, compress(Buffer.from('just some text, not a tar at all\n'.repeat(100)), 'tar+gzip'));
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }), (e: unknown) =>
      isHoistError(e, 'HOIST_UNPACK_FAILED'),
    );
    await writeArchive(box.archive, [{ path: 'a', body: 'a' }], 'tar+gzip');
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+zstd', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }), (e: unknown) =>
      isHoistError(e, 'HOIST_UNPACK_FAILED'),
    );
  });

  it('refuses an archive compressed twice (node-tar would decompress the inner layer unchecked)', async () => {
    await using box = await sandbox();
    await writeFile(box.archive, compress(compress(tarBytes([{ path: 'a', body: 'a' }]), 'tar+gzip'), 'tar+gzip'));
    await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }), (e: unknown) =>
      isHoistError(e, 'HOIST_UNPACK_FAILED') && /twice/.test(e.message),
    );
  });

  it('rejects a dest that is not a directory, and a missing file', async () => {
    await using box = await sandbox();
    await writeArchive(box.archive, [{ path: 'a', body: 'a' }]);
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.archive, limits: DEFAULT_UNPACK_LIMITS }),
      (e: unknown) => isHoistError(e, 'HOIST_IO'),
    );
    await assert.rejects(
      unpackArchive({ file: path.join(box.root, 'missing'), format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }),
      { code: 'ENOENT' },
    );
  });

  it('stops when the signal is aborted, before or during the unpack, and leaves dest removable', async () => {
    await using box = await sandbox();
    const before = new AbortController();
    before.abort(new Error('shutting down'));
    await writeArchive(box.archive, [{ path: 'a', body: 'a' }]);
    await assert.rejects(
      unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, signal: before.signal }),
      /shutting down/,
    );
    assert.deepEqual(await listTree(box.dest), []);

    // 48 MiB of poorly compressible data takes far longer to unpack than one turn of the event loop
    const noise = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const entries = Array.from({ length: 24 }, (_, i) => ({ path: `d/f${i}`, body: noise }));
    await writeArchive(box.archive, entries, 'tar+zstd');
    const during = new AbortController();
    const unpacking = unpackArchive({ file: box.archive, format: 'tar+zstd', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, signal: during.signal });
    setImmediate(() => during.abort(new Error('stop now')));
    await assert.rejects(unpacking, /stop now/);
    await box.assertNothingOutside();
  });

  it('syncTree flushes a tree without changing it', async () => {
    await using box = await sandbox();
    await mkdir(path.join(box.dest, 'a', 'b'), { recursive: true });
    await writeFile(path.join(box.dest, 'a', 'b', 'f'), 'data');
    await symlink('a/b/f', path.join(box.dest, 'l'));
    await truncate(path.join(box.dest, 'a', 'b', 'f'), 2);
    await syncTree(box.dest);
    assert.deepEqual(await listTree(box.dest), ['a', 'a/b', 'a/b/f', 'l']);
    assert.equal(await readFile(path.join(box.dest, 'l'), 'utf8'), 'da');
  });
});
