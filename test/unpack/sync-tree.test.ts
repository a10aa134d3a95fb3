import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishTree, syncFileSystem } from '../../src/unpack/sync-tree.ts';

async function tree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-sync-'));
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'file'), 'x');
  await chmod(join(dir, 'sub', 'file'), 0o4755);
  await chmod(join(dir, 'sub'), 0o3755);
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

test('without sync on PATH every entry is fsynced instead, and special bits are still stripped', async () => {
  const dir = await tree();
  const path = process.env.PATH;
  process.env.PATH = join(dir, 'no-such-bin');
  try {
    assert.equal(await syncFileSystem(dir), false);
    await finishTree(dir);
  } finally {
    process.env.PATH = path;
  }
  try {
    assert.equal((await stat(join(dir, 'sub', 'file'))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(dir, 'sub'))).mode & 0o7777, 0o755);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
