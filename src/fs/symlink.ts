/**
 * The `current` symlink flip. A symlink cannot be replaced in place, and
 * unlink-then-symlink leaves a window where `current` is missing. Instead a new link is made under
 * a temp name and rename()d over the old one: rename(2) replaces the directory entry atomically,
 * so every reader resolves either the old or the new release.
 */
import { readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { HoistError } from '../errors.ts';
import { fsyncDir } from './atomic.ts';

const TEMP_INFIX = '.tmp-';

/**
 * Points `linkPath` at `target` atomically and durably. `target` must be relative (e.g.
 * `releases/1.4.2-abcdef012345`) so the app root can be moved or bind-mounted.
 */
export async function flipSymlink(linkPath: string, target: string): Promise<void> {
  if (isAbsolute(target)) {
    throw new HoistError('HOIST_INTERNAL', `flipSymlink needs a relative target, got ${target}.`);
  }
  const dir = dirname(linkPath);
  const temp = join(dir, `${basename(linkPath)}${TEMP_INFIX}${randomBytes(6).toString('hex')}`);
  try {
    await symlink(target, temp);
    await rename(temp, linkPath);
  } catch (err) {
    await rm(temp, { force: true });
    throw new HoistError(
      'HOIST_IO',
      `Could not point ${linkPath} at ${target}: ${err instanceof Error ? err.message : String(err)}.`,
      { cause: err, details: { path: linkPath, target } },
    );
  }
  await fsyncDir(dir);
}

/** The target of the symlink at `linkPath`, or undefined when there is no such link. */
export async function readSymlink(linkPath: string): Promise<string | undefined> {
  try {
    return await readlink(linkPath);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined;
    throw new HoistError(
      'HOIST_IO',
      `Could not read the symlink ${linkPath}: ${err instanceof Error ? err.message : String(err)}.`,
      { cause: err, details: { path: linkPath } },
    );
  }
}

/**
 * Removes `<name>.tmp-*` leftovers of flips interrupted by a crash; returns the names removed.
 * A missing `dir` has nothing to clean.
 */
export async function removeStaleTemps(dir: string, name: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    throw new HoistError('HOIST_IO', `Could not list ${dir}: ${err instanceof Error ? err.message : String(err)}.`, {
      cause: err,
      details: { path: dir },
    });
  }
  const prefix = `${name}${TEMP_INFIX}`;
  const stale = entries.filter((entry) => entry.startsWith(prefix));
  for (const entry of stale) await rm(join(dir, entry), { force: true });
  if (stale.length > 0) await fsyncDir(dir);
  return stale;
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
