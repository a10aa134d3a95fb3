/**
 * Staging directories: a release is unpacked into `releases/.staging-<random>` (mode 0700, so
 * nothing can use a half-written release) and renamed into place only once it is complete.
 */

import { chmod, mkdir, mkdtemp, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.ts';

export const STAGING_PREFIX = '.staging-';

export interface Staging extends AsyncDisposable {
  /** The staging directory, empty when created. */
  readonly path: string;
  /**
   * Publishes the staging directory as `finalPath` (in the same releases directory) and makes the
   * rename durable. When `finalPath` already holds a release, that one is kept and the staging
   * directory removed: releases are only ever created by this rename, so an existing one is complete.
   */
  commit(finalPath: string): Promise<void>;
}

export async function createStaging(releasesDir: string): Promise<Staging> {
  try {
    await mkdir(releasesDir, { recursive: true, mode: 0o755 });
    // mkdtemp creates the directory with mode 0700
    const dir = await mkdtemp(path.join(releasesDir, STAGING_PREFIX));
    return new StagingDir(releasesDir, dir);
  } catch (cause) {
    throw ioError(`cannot create a staging directory in ${releasesDir}`, cause);
  }
}

class StagingDir implements Staging {
  readonly path: string;
  readonly #releasesDir: string;
  #done = false;

  constructor(releasesDir: string, dir: string) {
    this.#releasesDir = releasesDir;
    this.path = dir;
  }

  async commit(finalPath: string): Promise<void> {
    if (this.#done) throw new HoistError('HOIST_INTERNAL', `staging directory ${this.path} was already committed or removed`);
    try {
      await chmod(this.path, 0o755);
      try {
        await rename(this.path, finalPath);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        await removeDir(this.path);
      }
      this.#done = true;
      await fsyncDir(this.#releasesDir);
    } catch (cause) {
      throw ioError(`cannot move ${this.path} to ${finalPath}`, cause);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await removeDir(this.path);
  }
}

/** Removes every `.staging-*` directory left in `releasesDir` by a crash; returns their paths. */
export async function removeStaleStaging(releasesDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(releasesDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(`cannot list ${releasesDir}`, error);
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => n.startsWith(STAGING_PREFIX)).sort()) {
    const dir = path.join(releasesDir, name);
    await removeDir(dir);
    removed.push(dir);
  }
  return removed;
}

async function removeDir(dir: string): Promise<void> {
  try {
    // retries cover ENOTEMPTY when something still writes into the directory as it is removed
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  } catch (cause) {
    throw ioError(`cannot remove ${dir}`, cause);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function ioError(what: string, cause: unknown): HoistError {
  if (cause instanceof HoistError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new HoistError('HOIST_IO', `${what}: ${message}`, { cause });
}
