/**
 * Lists what `hoist pack` puts into a release, in archive order, refusing what a release may not
 * hold: only regular files, directories, and relative symlinks that stay inside the directory.
 */

import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.ts';
import type { PackEntryType } from './mode.ts';

export interface PackEntry {
  /** Path relative to the packed directory, `/`-separated, without a trailing slash. */
  readonly path: string;
  /** The name written into the archive: `path`, plus a trailing `/` for directories. */
  readonly name: string;
  readonly type: PackEntryType;
}

/** Sorts by the bytes of the archive name, so the order never depends on locale or platform. */
export function compareEntryNames(a: { name: string }, b: { name: string }): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

/** True when a symlink at `entryPath` (relative, posix) pointing to `target` stays inside the root. */
export function symlinkStaysInside(entryPath: string, target: string): boolean {
  if (target === '' || path.posix.isAbsolute(target)) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(entryPath), target));
  return resolved !== '..' && !resolved.startsWith('../') && !path.posix.isAbsolute(resolved);
}

export async function listPackEntries(root: string, signal?: AbortSignal): Promise<PackEntry[]> {
  const rootStat = await lstat(root).catch((cause: unknown) => {
    throw new HoistError('HOIST_PACK_FAILED', `cannot read the directory to pack ${root}: ${String(cause)}`, { cause });
  });
  if (!rootStat.isDirectory()) {
    throw new HoistError('HOIST_PACK_FAILED', `${root} is not a directory; give hoist pack the release directory`);
  }
  const entries: PackEntry[] = [];
  // Iterative walk with an explicit stack: depth is bounded by the filesystem, not the JS stack.
  const pending: string[] = [''];
  while (pending.length > 0) {
    signal?.throwIfAborted();
    const dir = pending.pop() ?? '';
    const names = await readdir(path.join(root, dir));
    for (const name of names) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      const abs = path.join(root, rel);
      const stat = await lstat(abs);
      if (stat.isDirectory()) {
        entries.push({ path: rel, name: `${rel}/`, type: 'directory' });
        pending.push(rel);
      } else if (stat.isFile()) {
        entries.push({ path: rel, name: rel, type: 'file' });
      } else if (stat.isSymbolicLink()) {
        const target = await readlink(abs);
        if (!symlinkStaysInside(rel, target)) {
          throw new HoistError(
            'HOIST_PACK_FAILED',
            `${rel} is a symlink to ${target}, which is absolute or leaves the directory; make it relative and inside, or copy the target in`,
            { details: { path: rel, target } },
          );
        }
        entries.push({ path: rel, name: rel, type: 'symlink' });
      } else {
        throw new HoistError(
          'HOIST_PACK_FAILED',
          `${rel} is not a regular file, directory or symlink (socket, FIFO or device); remove it from the release`,
          { details: { path: rel } },
        );
      }
    }
  }
  return entries.sort(compareEntryNames);
}
