/**
 * Which release directories to delete. The plan is pure; the
 * pruning itself is a thin shell around it.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { HoistError } from '../errors.ts';

/** `<version>-<sha256[0..12]>`, the only names hoist creates under releases/. */
const RELEASE_DIR_RE = /^[A-Za-z0-9._+-]{1,64}-[0-9a-f]{12}$/;
const STAGING_PREFIX = '.staging-';

export interface RetentionOptions {
  /** How many releases stay on disk, counting the protected ones below. */
  readonly keep: number;
  /** Release dir names (or `releases/<name>` paths) that are never removed. */
  readonly current?: string | undefined;
  readonly previous?: string | undefined;
  readonly inFlight?: string | undefined;
}

export interface ReleaseDirEntry {
  readonly name: string;
  readonly mtimeMs: number;
}

export function isReleaseDirName(name: string): boolean {
  return !name.startsWith(STAGING_PREFIX) && RELEASE_DIR_RE.test(name);
}

/**
 * Keeps current, previous and in-flight, then the newest others until `keep` are kept; plans to
 * remove the rest. Staging dirs and anything that is not a release dir are left alone.
 */
export function planPrune(releases: ReadonlyArray<ReleaseDirEntry>, options: RetentionOptions): { remove: string[] } {
  const protectedNames = new Set(
    [options.current, options.previous, options.inFlight].filter((n): n is string => n !== undefined).map((n) => basename(n)),
  );
  const candidates = releases
    .filter((r) => isReleaseDirName(r.name))
    // Newest first; equal mtimes ordered by name so the plan is deterministic.
    .toSorted((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  const kept = new Set(candidates.filter((r) => protectedNames.has(r.name)).map((r) => r.name));
  const remove: string[] = [];
  for (const release of candidates) {
    if (kept.has(release.name)) continue;
    if (kept.size < options.keep) kept.add(release.name);
    else remove.push(release.name);
  }
  return { remove };
}

/** Applies planPrune to `<root>/releases`; returns the names removed (oldest last). */
export async function pruneReleases(
  root: string,
  options: RetentionOptions & { readonly signal?: AbortSignal | undefined },
): Promise<string[]> {
  const dir = join(root, 'releases');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(`Could not list ${dir}`, err, dir);
  }
  const entries: ReleaseDirEntry[] = [];
  for (const name of names) {
    if (!isReleaseDirName(name)) continue;
    try {
      const stats = await lstat(join(dir, name));
      if (stats.isDirectory()) entries.push({ name, mtimeMs: stats.mtimeMs });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`Could not stat ${join(dir, name)}`, err, dir);
    }
  }
  const { remove } = planPrune(entries, options);
  const removed: string[] = [];
  for (const name of remove) {
    options.signal?.throwIfAborted();
    try {
      await rm(join(dir, name), { recursive: true, force: true });
    } catch (err) {
      throw ioError(`Could not remove the old release ${join(dir, name)}`, err, dir);
    }
    removed.push(name);
  }
  return removed;
}

function ioError(what: string, err: unknown, path: string): HoistError {
  return new HoistError('HOIST_IO', `${what}: ${err instanceof Error ? err.message : String(err)}.`, {
    cause: err,
    details: { path },
  });
}
