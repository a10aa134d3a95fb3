/**
 * The operations inside an app's tree, each run by whoever may run it (see app-tree.ts): by the
 * agent (root) only in directories no other user can write (a root-only staging dir, a
 * root-owned release), otherwise by the tree worker with the app user's rights alone. None of
 * them checks who runs it; app-tree.ts decides that.
 */
import { closeSync, constants, fchmodSync, fchownSync, lstatSync, mkdirSync, openSync, rmSync, symlinkSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm, rmdir, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { HoistError } from '../errors.ts';
import type { ArchiveFormat } from '../pack/pack.ts';
import { unpackArchive, type UnpackLimits, type UnpackResult } from '../unpack/unpack.ts';
import { testPause } from '../util/test-pause.ts';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export interface StagingRequest {
  /** The staging directory (empty), inside `releasesDir`. */
  readonly dest: string;
  readonly format: ArchiveFormat;
  readonly limits: UnpackLimits;
  readonly allowSymlinks: boolean;
  /** `root/releases`: shared links are made relative to a release dir in it. */
  readonly releasesDir: string;
  /** `root/shared`. */
  readonly sharedRoot: string;
  readonly shared: readonly string[];
  /** Owner given to every entry (root unpacking for the app's group); absent: whoever runs it. */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined;
  /** Read-only release modes (no write bit for group or others). */
  readonly sealed: boolean;
  /** Sealed only: the previous release, whose unchanged files are linked instead of written. */
  readonly dedupFrom?: string | undefined;
}

/**
 * Unpacks the archive into the staging dir, links the shared paths into it and makes it
 * readable (0755) so it can be renamed into place.
 */
export async function fillStaging(request: StagingRequest, archive: string | { fd: number }, signal?: AbortSignal): Promise<UnpackResult> {
  const result = await unpackArchive({
    file: archive,
    format: request.format,
    dest: request.dest,
    limits: request.limits,
    allowSymlinks: request.allowSymlinks,
    ...(request.owner === undefined ? {} : { owner: request.owner }),
    sealed: request.sealed,
    ...(request.sealed && request.dedupFrom !== undefined ? { dedupFrom: request.dedupFrom } : {}),
    ...(signal === undefined ? {} : { signal }),
  });
  linkShared(request);
  const fd = openSync(request.dest, DIR_FLAGS);
  try {
    fchmodSync(fd, 0o755);
  } finally {
    closeSync(fd);
  }
  return result;
}

/**
 * `root/shared/<p>` linked into the release at `<p>`, relative, so the app root can move. Every
 * directory on the way to `<p>` inside the release must be a real directory (missing ones are
 * made): a shared path never passes through a symlink of the archive. What the archive had at
 * `<p>` itself is replaced by the link.
 */
export function linkShared(request: StagingRequest): void {
  for (const rel of request.shared) {
    const parts = rel.split('/');
    let dir = request.dest;
    for (const part of parts.slice(0, -1)) {
      dir = path.join(dir, part);
      const st = lstatOrUndefined(dir);
      if (st === undefined) {
        mkdirSync(dir, 0o755);
        if (request.owner !== undefined) {
          const fd = openSync(dir, DIR_FLAGS);
          try {
            fchownSync(fd, request.owner.uid, request.owner.gid);
          } finally {
            closeSync(fd);
          }
        }
      } else if (!st.isDirectory()) {
        throw new HoistError(
          'HOIST_UNSAFE_ENTRY',
          `shared path ${JSON.stringify(rel)} would pass through ${JSON.stringify(path.relative(request.dest, dir))}, which the archive made a ${st.isSymbolicLink() ? 'symlink' : 'file'}; shared paths are only linked through real directories. Fix the archive or the app's shared list`,
          { details: { shared: rel, path: path.relative(request.dest, dir) } },
        );
      }
    }
    const link = path.join(request.dest, rel);
    rmSync(link, { recursive: true, force: true });
    const finalDir = path.join(request.releasesDir, 'release', path.dirname(rel));
    symlinkSync(path.relative(finalDir, path.join(request.sharedRoot, rel)), link);
  }
}

/** `root/shared/<p>` for each shared path, made as the app user (it owns `root/shared`). */
export async function makeSharedDirs(sharedRoot: string, shared: readonly string[]): Promise<void> {
  for (const rel of shared) await mkdir(path.join(sharedRoot, rel), { recursive: true, mode: 0o755 });
}

/**
 * Empties a tree that the caller owns (the directory itself stays: it sits in root's releases/,
 * where only root may remove it). An unprivileged owner cannot delete the entries of its own
 * read-only directories, so each directory is made writable (by its owner) first. Never follows a
 * symlink it meets: links are unlinked.
 */
export async function emptyOwnTree(dir: string): Promise<void> {
  let paused = false;
  const walk = async (p: string): Promise<void> => {
    const st = await lstatOrMissing(p);
    if (st === undefined) return;
    if (!st.isDirectory()) {
      await unlink(p);
      return;
    }
    if (p !== dir && !paused) {
      paused = true;
      await testPause('remove-dir');
    }
    if ((st.mode & 0o700) !== 0o700) await chmod(p, (st.mode & 0o7777) | 0o700);
    for (const name of await readdir(p)) await walk(path.join(p, name));
    if (p !== dir) await rmdir(p);
  };
  await walk(dir);
}

/** Removes a tree nobody but root can write (a root-only staging dir, a sealed release). */
export async function removeRootTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function lstatOrMissing(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
