/**
 * Which release directories to delete (`keep`). The plan is pure; the removal itself is the app
 * tree's (src/tree/app-tree.ts).
 */
import { basename } from 'node:path';

/** `<version>-<sha256[0..12]>`, the only names hoist creates under releases/. */
const RELEASE_DIR_RE = /^[A-Za-z0-9._+-]{1,64}-[0-9a-f]{12}$/;

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
  // staging (`.staging-*`) and trash (`.trash-*`) directories are work in progress, never releases
  return !name.startsWith('.') && RELEASE_DIR_RE.test(name);
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
