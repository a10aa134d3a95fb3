/** What publish reads from its artifact: the unpacked size, and that the archive is whole. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { archiveFacts } from '../../src/publish/archive-facts.ts';
import { compress, tarBytes } from '../helpers/tarballs.ts';

const ENTRIES = [
  { path: 'a/', type: 'Directory' as const },
  { path: 'a/one', body: 'x'.repeat(1000) },
  { path: 'two', body: 'y'.repeat(24) },
  { path: 'link', type: 'SymbolicLink' as const, linkpath: 'two' },
];

test('archiveFacts: the bytes of the regular files, for both formats; a cut or bogus archive is refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-facts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const format of ['tar+gzip', 'tar+zstd'] as const) {
    const whole = path.join(dir, `whole-${format}`);
    await writeFile(whole, compress(tarBytes(ENTRIES), format));
    assert.deepEqual(await archiveFacts(whole, format), { unpackedBytes: 1024, entries: 4 });
    const cut = path.join(dir, `cut-${format}`);
    await writeFile(cut, compress(tarBytes(ENTRIES, { end: false }), format));
    await assert.rejects(archiveFacts(cut, format), (e: unknown) => isHoistError(e, 'HOIST_ARCHIVE_TRUNCATED'));
  }
  const bogus = path.join(dir, 'bogus');
  await writeFile(bogus, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8]));
  await assert.rejects(archiveFacts(bogus, 'tar+gzip'), (e: unknown) => isHoistError(e));
});
