/**
 * A scratch tree for unpack tests: `dest/` (the staging dir) beside a `canary/` that must stay
 * empty, so a test can prove that nothing was written outside `dest`.
 */

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface Sandbox extends AsyncDisposable {
  readonly root: string;
  readonly dest: string;
  readonly canary: string;
  /** Path for the archive, inside root but outside dest. */
  readonly archive: string;
  /** Asserts the canary is empty and root holds nothing but dest, canary, the archive and src (a test's source tree). */
  assertNothingOutside(): Promise<void>;
}

export async function sandbox(): Promise<Sandbox> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hoist-unpack-'));
  const dest = path.join(root, 'dest');
  const canary = path.join(root, 'canary');
  await mkdir(dest, { mode: 0o700 });
  await mkdir(canary);
  return {
    root,
    dest,
    canary,
    archive: path.join(root, 'archive'),
    async assertNothingOutside() {
      assert.deepEqual(await readdir(canary), [], 'the canary directory stays empty');
      const allowed = new Set(['dest', 'canary', 'archive', 'src']);
      assert.deepEqual(
        (await readdir(root)).filter((n) => !allowed.has(n)),
        [],
        'nothing is written beside dest',
      );
    },
    async [Symbol.asyncDispose]() {
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every path under dir, relative, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true });
  return names.map(String).sort();
}
