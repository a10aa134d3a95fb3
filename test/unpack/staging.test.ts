import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { createStaging, removeStaleStaging } from '../../src/unpack/staging.ts';

async function releasesDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hoist-staging-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return path.join(root, 'releases');
}

describe('staging', () => {
  it('creates a fresh 0700 .staging-* directory, creating the releases dir, and removes it on dispose', async (t) => {
    const releases = await releasesDir(t);
    {
      await using staging = await createStaging(releases);
      const dir = staging.path;
      assert.equal(path.dirname(dir), releases);
      assert.match(path.basename(dir), /^\.staging-.+/);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      await mkdir(path.join(dir, 'sub'));
      await writeFile(path.join(dir, 'sub', 'f'), 'x');
      const other = await createStaging(releases);
      assert.notEqual(other.path, dir);
      await other[Symbol.asyncDispose]();
      await other[Symbol.asyncDispose](); // idempotent
    }
    assert.deepEqual(await readdir(releases), []);
  });

  it('commit renames to the final path with mode 0755, and dispose then keeps it', async (t) => {
    const releases = await releasesDir(t);
    const final = path.join(releases, '1.0.0-abcdef012345');
    {
      await using staging = await createStaging(releases);
      await writeFile(path.join(staging.path, 'app'), 'v1');
      await staging.commit(final);
      await assert.rejects(staging.commit(final), (e: unknown) => isHoistError(e, 'HOIST_INTERNAL'));
    }
    assert.deepEqual(await readdir(releases), ['1.0.0-abcdef012345']);
    assert.equal((await stat(final)).mode & 0o777, 0o755);
    assert.equal(await readFile(path.join(final, 'app'), 'utf8'), 'v1');
  });

  it('keeps an existing complete release and drops the new staging', async (t) => {
    const releases = await releasesDir(t);
    const final = path.join(releases, '1.0.0-abcdef012345');
    await mkdir(final, { recursive: true });
    await writeFile(path.join(final, 'app'), 'already there');
    await using staging = await createStaging(releases);
    await writeFile(path.join(staging.path, 'app'), 'new copy');
    await staging.commit(final);
    assert.deepEqual(await readdir(releases), ['1.0.0-abcdef012345']);
    assert.equal(await readFile(path.join(final, 'app'), 'utf8'), 'already there');
  });

  it('reports a commit that cannot rename as HOIST_IO', async (t) => {
    const releases = await releasesDir(t);
    await using staging = await createStaging(releases);
    await assert.rejects(staging.commit(path.join(releases, 'missing-parent', 'x')), (e: unknown) => isHoistError(e, 'HOIST_IO'));
  });

  it('removeStaleStaging deletes every .staging-* and nothing else', async (t) => {
    const releases = await releasesDir(t);
    assert.deepEqual(await removeStaleStaging(releases), [], 'a missing releases dir has nothing stale');
    await mkdir(path.join(releases, '.staging-abc', 'deep'), { recursive: true });
    await writeFile(path.join(releases, '.staging-abc', 'deep', 'f'), 'x');
    await mkdir(path.join(releases, '.staging-def'));
    await mkdir(path.join(releases, '1.0.0-abcdef012345'));
    const removed = await removeStaleStaging(releases);
    assert.deepEqual(removed, [path.join(releases, '.staging-abc'), path.join(releases, '.staging-def')]);
    assert.deepEqual(await readdir(releases), ['1.0.0-abcdef012345']);
  });

  it('fails with HOIST_IO when the releases dir cannot be made or listed', async (t) => {
    const releases = await releasesDir(t);
    await mkdir(path.dirname(releases), { recursive: true });
    await writeFile(releases, 'a file where the directory should be');
    await assert.rejects(createStaging(releases), (e: unknown) => isHoistError(e, 'HOIST_IO'));
    await assert.rejects(removeStaleStaging(releases), (e: unknown) => isHoistError(e, 'HOIST_IO'));
  });
});
