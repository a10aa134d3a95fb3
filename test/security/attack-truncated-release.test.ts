/**
 * Attack class: a truncated release deployed as healthy. A tar that stops between two entries
 * (a cut upload, a build that died, or a hand-made archive) has no end-of-archive marker; it was
 * unpacked as far as it went and deployed as if whole. The marker is now required
 * (HOIST_ARCHIVE_TRUNCATED); every frame of a compressed stream is decoded (see
 * test/unpack/attack-truncated-stream.test.ts for the compressed layer).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { writeAppRelease } from '../helpers/app.ts';
import { createHarness } from '../helpers/harness.ts';
import { compress, tarBytes, type TarEntrySpec } from '../helpers/tarballs.ts';
import { writeFile } from 'node:fs/promises';
import { sandbox } from '../unpack/sandbox.ts';

const ENTRIES: TarEntrySpec[] = [
  { path: 'a/', type: 'Directory' },
  { path: 'a/one.txt', body: 'one\n' },
  { path: 'b/', type: 'Directory' },
  { path: 'b/two.txt', body: 'two\n' },
];

for (const format of ['tar+gzip', 'tar+zstd'] as const) {
  test(`attack: truncated release (${format}): a tar cut between entries, or after one zero block, is refused`, async () => {
    const whole = tarBytes(ENTRIES);
    const cuts: Array<[string, Buffer]> = [
      ['no end-of-archive marker', tarBytes(ENTRIES, { end: false })],
      ['cut after the first two entries', tarBytes(ENTRIES.slice(0, 2), { end: false })],
      ['a single zero block', whole.subarray(0, whole.length - 512)],
    ];
    for (const [what, tar] of cuts) {
      await using box = await sandbox();
      await writeFile(box.archive, compress(tar, format));
      await assert.rejects(unpackArchive({ file: box.archive, format, dest: box.dest, limits: DEFAULT_UNPACK_LIMITS }), (error: unknown) => {
        assert.ok(isHoistError(error, 'HOIST_ARCHIVE_TRUNCATED'), `${what}: ${String(error)}`);
        assert.match(error.message, /without the tar end-of-archive marker/);
        return true;
      });
      await box.assertNothingOutside();
    }
    // the whole archive unpacks
    await using box = await sandbox();
    await writeFile(box.archive, compress(whole, format));
    const r = await unpackArchive({ file: box.archive, format, dest: box.dest, limits: DEFAULT_UNPACK_LIMITS });
    assert.equal(r.entries, 4);
    assert.deepEqual((await readdir(box.dest)).sort(), ['a', 'b']);
  });
}

test('attack: truncated release through the agent: refused with HOIST_ARCHIVE_TRUNCATED, the serving release keeps serving', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  assert.equal((await h.once()).code, 0);
  const cut = await h.artifactWith('2.0.0', ENTRIES, { end: false });
  await h.publish('2.0.0', cut);
  const r = await h.once();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /HOIST_ARCHIVE_TRUNCATED/);
  assert.equal((await h.appState()).lastAttempt?.code, 'HOIST_ARCHIVE_TRUNCATED');
  assert.equal(await h.served(), '1.0.0');
  assert.equal(await h.current(), '1.0.0');
});

test('a .tar.zst split across frames by the zstd CLI deploys whole through the agent', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  // the test app plus 300 files, tarred by GNU tar, cut in the middle, each half its own zstd frame
  const src = path.join(h.dir, 'multi-src');
  await mkdir(src, { recursive: true });
  await writeAppRelease(src, { version: '3.0.0' });
  for (let i = 0; i < 300; i++) await writeFile(path.join(src, `data-${String(i).padStart(3, '0')}.txt`), `file ${i}\n`.repeat(50));
  const tar = path.join(h.dir, 'multi.tar');
  execFileSync('tar', ['-C', src, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-cf', tar, '.']);
  const bytes = await readFile(tar);
  const half = Math.floor(bytes.length / 2);
  const frames = Buffer.concat([zstd(bytes.subarray(0, half)), zstd(bytes.subarray(half))]);
  await h.publish('3.0.0', await h.upload(frames, 'tar+zstd'));
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.served(), '3.0.0');
  const files = (await readdir(path.join(h.root, 'current'))).filter((n) => n.startsWith('data-'));
  assert.equal(files.length, 300, 'every file of both frames is there');
});

function zstd(data: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 64 * 1024 * 1024 });
}
