/**
 * An app's tree: `root/` with `releases/<version>-<sha12>/`, the `current` symlink, `shared/` and
 * the staging and trash directories of work under way. This module (with ops.ts and the tree
 * worker it starts) is the only code that creates, changes or removes anything in it.
 *
 * Rights. The agent runs as root, and root never works by path inside a directory that a less
 * privileged user can write:
 * - `root/` and `root/releases/` (and every directory above them) are root's alone, checked at
 *   start (HOIST_UNSAFE_ROOT). The agent renames, flips `current` and creates staging and trash
 *   directories only there.
 * - Default (`writableRelease: false`): root unpacks into a fresh root-only (0700) staging
 *   directory; the release it becomes is owned by root, group the app's, read-only to the app
 *   (no write bit for group or others). Nobody but root can change a tree root works in, so there
 *   is no race to win, and a compromised app cannot rewrite its own code. Removing such a tree is
 *   done by root.
 * - `root/shared/` is the app user's. Root creates that one directory (in root-owned `root/`) and
 *   gives it to the user; it never works inside it: `shared/<p>` directories are made by the tree
 *   worker as the user, and releases only hold symlinks to them.
 * - `writableRelease: true`: the staging directory is given to the app user and everything inside
 *   the tree (unpack, shared links, removal of a release or a staging dir) runs in the tree worker
 *   with the app user's uid, gid and supplementary groups. A hostile archive or a racing local
 *   user then gets what the app user has anyway. Root only renames the directory into place.
 * - Shared files (`dedup`, root-owned releases only): while root unpacks, a file that the release
 *   `current` points at holds unchanged is hard-linked to it instead of written (see
 *   src/unpack/dedup.ts). Only a release whose top directory is root's and writable by nobody else
 *   is a source, and only through directories that are root's alone; a writable (user-owned)
 *   release never is, and writable releases never dedup: the app user could change a shared file
 *   through its own release. Removing a release unlinks its names, never a newer release's files.
 * - A tree owned by someone who is neither root nor the app user is never removed (reported).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchownSync, openSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, rename, rmdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { HoistError } from '../errors.ts';
import { fsyncDir } from '../fs/atomic.ts';
import { flipSymlink, readSymlink, removeStaleTemps } from '../fs/symlink.ts';
import type { ArchiveFormat } from '../pack/pack.ts';
import { planPrune, type ReleaseDirEntry, type RetentionOptions } from '../state/retention.ts';
import type { UnpackLimits, UnpackResult } from '../unpack/unpack.ts';
import { fillStaging, makeSharedDirs, removeRootTree } from './ops.ts';
import { checkAppRoot } from './safe-root.ts';
import { testPause } from '../util/test-pause.ts';
import { callWorker } from './worker-client.ts';

export const STAGING_PREFIX = '.staging-';
export const TRASH_PREFIX = '.trash-';
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** The app user: owner of writable releases and of shared/; the tree worker runs as it. */
export interface TreeUser {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

export interface AppTreeOptions {
  readonly root: string;
  readonly user: TreeUser | undefined;
  readonly writableRelease: boolean;
  readonly shared: readonly string[];
  readonly allowSymlinks: boolean;
  /**
   * Hard-link files unchanged since the release `current` points at (root-owned releases only;
   * ignored with writableRelease). Default false.
   */
  readonly dedup?: boolean;
  /** Told about what went wrong but stops nothing (a shared dir the app user broke, say). */
  readonly onWarning?: (message: string, error: HoistError) => void;
}

export interface InstallOptions {
  /** The verified archive. */
  readonly archive: string;
  readonly format: ArchiveFormat;
  /** `<version>-<sha12>`, the release directory's name. */
  readonly name: string;
  readonly limits: UnpackLimits;
  readonly signal?: AbortSignal;
}

export interface PruneResult {
  readonly removed: readonly string[];
  readonly failed: ReadonlyArray<{ readonly name: string; readonly error: HoistError }>;
}

export class AppTree {
  readonly root: string;
  readonly releasesDir: string;
  readonly sharedRoot: string;
  readonly #options: AppTreeOptions;

  constructor(options: AppTreeOptions) {
    this.#options = options;
    this.root = options.root;
    this.releasesDir = path.join(options.root, 'releases');
    this.sharedRoot = path.join(options.root, 'shared');
  }

  /** Whether the worker (the app user) owns what is inside releases, rather than root. */
  get #userOwned(): boolean {
    return this.#options.writableRelease && this.#options.user !== undefined;
  }

  /**
   * At start: refuses an unsafe root (HOIST_UNSAFE_ROOT, naming `where`), creates root/ and
   * releases/ when missing, and shared/ with its paths (as the app user).
   */
  async prepare(where: string): Promise<void> {
    await checkAppRoot(this.root, this.#options.user?.uid, where);
    await this.ensureShared();
  }

  /**
   * `root/shared/` (the app user's) and each `shared/<p>` in it, made as the app user. What the
   * user does in there is the user's business: a path it broke is reported, and the release
   * links to it all the same.
   */
  async ensureShared(signal?: AbortSignal): Promise<void> {
    try {
      await this.#ensureShared(signal);
    } catch (error) {
      if (isAbort(error)) throw error;
      this.#options.onWarning?.(`could not make the shared paths under ${this.sharedRoot}: ${ioError(error, 'shared').message}; the release links to them anyway`, ioError(error, 'shared'));
    }
  }

  async #ensureShared(signal?: AbortSignal): Promise<void> {
    const { shared, user } = this.#options;
    if (shared.length === 0) return;
    if ((await lstatOrUndefined(this.sharedRoot)) === undefined) {
      await mkdir(this.sharedRoot, { mode: 0o755 });
      if (user !== undefined) chownDir(this.sharedRoot, user.uid, user.gid);
    }
    // Looking is harmless; creating inside a directory the user owns is for the user to do.
    const missing: string[] = [];
    for (const rel of shared) if ((await lstatOrUndefined(path.join(this.sharedRoot, rel))) === undefined) missing.push(rel);
    if (missing.length === 0) return;
    if (user === undefined) await makeSharedDirs(this.sharedRoot, missing);
    else await callWorker({ request: { op: 'shared-dirs', user, sharedRoot: this.sharedRoot, shared: missing }, ...(signal === undefined ? {} : { signal }) });
  }

  /**
   * Unpacks the archive into a new staging directory, links the shared paths and renames it to
   * `releases/<name>`. When that release exists already it is kept (releases are only ever made
   * by this rename, so an existing one is complete) and the staging directory removed.
   */
  async install(options: InstallOptions): Promise<UnpackResult> {
    const { user, shared, allowSymlinks } = this.#options;
    await this.ensureShared(options.signal);
    const staging = await mkdtemp(path.join(this.releasesDir, STAGING_PREFIX)); // mode 0700
    try {
      const common = { dest: staging, format: options.format, limits: options.limits, allowSymlinks, releasesDir: this.releasesDir, sharedRoot: this.sharedRoot, shared: [...shared] };
      let result: UnpackResult;
      if (this.#userOwned && user !== undefined) {
        chownDir(staging, user.uid, user.gid);
        const archive = await open(options.archive, 'r');
        try {
          result = (await callWorker({ request: { op: 'fill-staging', user, ...common }, stdin: archive.fd, ...(options.signal === undefined ? {} : { signal: options.signal }) })) as UnpackResult;
        } finally {
          await archive.close();
        }
      } else {
        const owner = user === undefined ? undefined : { uid: 0, gid: user.gid };
        const dedupFrom = this.#options.dedup === true && !this.#options.writableRelease ? await this.#currentDir() : undefined;
        result = await fillStaging({ ...common, ...(owner === undefined ? {} : { owner }), sealed: true, dedupFrom }, options.archive, options.signal);
      }
      try {
        await rename(staging, path.join(this.releasesDir, options.name));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        await this.#remove(staging);
      }
      await fsyncDir(this.releasesDir);
      return result;
    } catch (error) {
      await this.#remove(staging).catch(() => undefined);
      throw isAbort(error) ? error : ioError(error, `installing ${options.name} into ${this.releasesDir}`);
    }
  }

  /** Points `current` at `releases/<name>` atomically (rename of a new link over the old). */
  async flip(dir: string): Promise<void> {
    await flipSymlink(path.join(this.root, 'current'), dir);
  }

  /** Where `current` points (`releases/<name>`), or undefined. */
  current(): Promise<string | undefined> {
    return readSymlink(path.join(this.root, 'current'));
  }

  /** `releases/<name>` as `current` names it, absolute; undefined when it names anything else. */
  async #currentDir(): Promise<string | undefined> {
    const target = await this.current().catch(() => undefined);
    const name = target === undefined ? undefined : /^releases\/([^/]+)$/.exec(target)?.[1];
    if (name === undefined || name.startsWith('.')) return undefined;
    return path.join(this.releasesDir, name);
  }

  /** Removes staging and trash directories and temp links left by an interrupted run. */
  async cleanup(): Promise<{ removed: string[]; failed: Array<{ name: string; error: HoistError }> }> {
    await removeStaleTemps(this.root, 'current');
    const removed: string[] = [];
    const failed: Array<{ name: string; error: HoistError }> = [];
    for (const name of await this.#list()) {
      if (!name.startsWith(STAGING_PREFIX) && !name.startsWith(TRASH_PREFIX)) continue;
      try {
        await this.#remove(path.join(this.releasesDir, name));
        removed.push(name);
      } catch (error) {
        failed.push({ name, error: ioError(error, `removing ${name}`) });
      }
    }
    return { removed, failed };
  }

  /**
   * Removes releases beyond `keep` (never current, previous or in flight). Each goes to a trash
   * name first, so a removal cut short never leaves something that looks like a release; trash
   * left behind is removed by the next cleanup. One release that cannot be removed does not stop
   * the others.
   */
  async prune(options: RetentionOptions): Promise<PruneResult> {
    const entries: ReleaseDirEntry[] = [];
    for (const name of await this.#list()) {
      const st = await lstatOrUndefined(path.join(this.releasesDir, name));
      if (st?.isDirectory() === true) entries.push({ name, mtimeMs: st.mtimeMs });
    }
    const removed: string[] = [];
    const failed: Array<{ name: string; error: HoistError }> = [];
    for (const name of planPrune(entries, options).remove) {
      const trash = path.join(this.releasesDir, `${TRASH_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
      try {
        await rename(path.join(this.releasesDir, name), trash);
        removed.push(name);
        await testPause('prune-remove');
        await this.#remove(trash);
      } catch (error) {
        failed.push({ name, error: ioError(error, `removing the old release ${name}`) });
      }
    }
    if (removed.length > 0) await fsyncDir(this.releasesDir);
    return { removed, failed };
  }

  async #list(): Promise<string[]> {
    try {
      return await readdir(this.releasesDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError(error, `listing ${this.releasesDir}`);
    }
  }

  /** Removes a directory of releases/ by whoever may: root for root's trees, else the app user. */
  async #remove(dir: string): Promise<void> {
    const st = await lstatOrUndefined(dir);
    if (st === undefined) return;
    const { user } = this.#options;
    if (st.isDirectory() && st.uid === 0) {
      await removeRootTree(dir);
    } else if (st.isDirectory() && user !== undefined && st.uid === user.uid) {
      // the user empties its tree; root removes the empty directory from its own releases/
      // (rmdir refuses a directory that is not empty, and never follows a link)
      await callWorker({ request: { op: 'empty', user, path: dir } });
      await rmdir(dir);
    } else if (!st.isDirectory()) {
      // an entry of root's own releases/: unlinking it touches nothing behind it
      await removeRootTree(dir);
    } else {
      throw new HoistError('HOIST_IO', `${dir} is owned by uid ${st.uid}, neither root nor the app user; hoist leaves it alone: remove it by hand`, { details: { path: dir, uid: st.uid } });
    }
  }
}

function chownDir(dir: string, uid: number, gid: number): void {
  const fd = openSync(dir, DIR_FLAGS);
  try {
    fchownSync(fd, uid, gid);
  } finally {
    closeSync(fd);
  }
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

function ioError(error: unknown, what: string): HoistError {
  if (error instanceof HoistError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new HoistError('HOIST_NO_SPACE', `${what}: ${message}; free space in the app root`, { cause: error });
  return new HoistError('HOIST_IO', `${what}: ${message}`, { cause: error });
}
