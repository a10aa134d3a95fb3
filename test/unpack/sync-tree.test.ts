import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncFileSystem, syncTree } from '../../src/unpack/sync-tree.ts';

async function tree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-sync-'));
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'file'), 'x', { mode: 0o640 });
  await symlink('sub/file', join(dir, 'link'));
  return dir;
}

test('syncFileSystem flushes with sync -f where coreutils has it', async () => {
  const dir = await tree();
  try {
    assert.equal(await syncFileSystem(dir), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without sync on PATH every entry is fsynced instead, and the tree is left as it was', async () => {
  const dir = await tree();
  const path = process.env.PATH;
  process.env.PATH = join(dir, 'no-such-bin');
  try {
    assert.equal(await syncFileSystem(dir), false);
    await syncTree(dir);
  } finally {
    process.env.PATH = path;
  }
  try {
    assert.equal((await stat(join(dir, 'sub', 'file'))).mode & 0o7777, 0o640);
    assert.equal(await readFile(join(dir, 'sub', 'file'), 'utf8'), 'x');
    assert.equal(await readlink(join(dir, 'link')), 'sub/file');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
