import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../../src/fs/atomic.ts';
import { isHoistError } from '../../src/errors.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('writeFileAtomic writes the complete content and leaves no temp file', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'state.json');
  await writeFileAtomic(path, '{"a":1}\n');
  assert.equal(await readFile(path, 'utf8'), '{"a":1}\n');
  const big = new Uint8Array(1024 * 1024).fill(7);
  await writeFileAtomic(path, big);
  assert.deepEqual(new Uint8Array(await readFile(path)), big);
  assert.deepEqual(await readdir(dir), ['state.json']);
});

test('writeFileAtomic sets the exact mode even under a umask', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'secret');
  await writeFileAtomic(path, 'x', { mode: 0o600 });
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  await writeFileAtomic(path, 'y', { mode: 0o640 });
  assert.equal((await stat(path)).mode & 0o777, 0o640);
});

test('concurrent atomic writes leave one complete version and no temp files', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'f');
  const versions = Array.from({ length: 20 }, (_, i) => `version ${i} `.repeat(5000));
  await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
  assert.ok(versions.includes(await readFile(path, 'utf8')));
  assert.deepEqual(await readdir(dir), ['f']);
});

test('writeFileAtomic fails with HOIST_IO and cleans up when the rename cannot happen', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'occupied');
  await mkdir(join(target, 'child'), { recursive: true });
  await assert.rejects(writeFileAtomic(target, 'x'), (err) => isHoistError(err, 'HOIST_IO'));
  assert.deepEqual(await readdir(dir), ['occupied']);
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'f'), 'x'), (err) => isHoistError(err, 'HOIST_IO'));
});

test('fsyncDir flushes an existing directory and reports a missing one', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a'), 'a');
  await fsyncDir(dir);
  await assert.rejects(fsyncDir(join(dir, 'nope')), (err) => isHoistError(err, 'HOIST_IO') && err.message.includes('nope'));
});
