/**
 * Old releases beyond `keep` removed after every deploy outcome and at start (so one that could
 * not be removed is tried again, never left for good), with their cached downloads.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { removeDownload } from '../fetch/download.ts';
import type { AppTree } from '../tree/app-tree.ts';
import type { AppConfig, DeployEnv, Log } from './types.ts';

export async function pruneApp(app: AppConfig, tree: AppTree, env: DeployEnv, key: string, log: Log): Promise<void> {
  const s = env.keeper.app(key);
  try {
    const cleaned = await tree.cleanup();
    for (const f of cleaned.failed) log.warn({ step: 'prune', code: f.error.code, err: f.error.message, dir: f.name }, `could not remove ${f.name}; tried again after the next deploy and at start`);
    const result = await tree.prune({
      keep: app.keep,
      ...(s.current === undefined ? {} : { current: path.basename(s.current.dir) }),
      ...(s.previous === undefined ? {} : { previous: path.basename(s.previous.dir) }),
      ...(s.txn === undefined ? {} : { inFlight: path.basename(s.txn.target.dir) }),
    });
    if (result.removed.length > 0) log.info({ step: 'prune', removed: result.removed }, `pruned ${result.removed.length} old release(s)`);
    for (const f of result.failed) log.warn({ step: 'prune', code: f.error.code, err: f.error.message, release: f.name }, `could not remove the old release ${f.name}; tried again after the next deploy and at start`);
    await pruneDownloads(env, result.removed);
  } catch (err) {
    const e = err instanceof Error ? err.message : String(err);
    log.warn({ step: 'prune', err: e }, 'pruning old releases failed; tried again after the next deploy and at start');
  }
}

/**
 * Cached artifacts go with their releases: the download of each pruned release dir (whose name ends
 * in the digest's first 12 hex digits) is removed too.
 */
async function pruneDownloads(env: DeployEnv, removedDirs: readonly string[]): Promise<void> {
  if (removedDirs.length === 0) return;
  const dir = path.join(env.stateDir, 'downloads');
  const prefixes = new Set(removedDirs.map((name) => name.slice(-12)));
  for (const name of await readdir(dir).catch(() => [])) {
    const sha = /^([0-9a-f]{64})\.(?:tar\.gz|tar\.zst|part)$/.exec(name)?.[1];
    if (sha !== undefined && prefixes.has(sha.slice(0, 12))) await removeDownload(dir, sha);
  }
}

/** Frees the download cache's partial files (a full disk must still let the agent save its state). */
export async function reclaimPartials(stateDir: string): Promise<boolean> {
  const dir = path.join(stateDir, 'downloads');
  let freed = false;
  for (const name of await readdir(dir).catch(() => [])) {
    const sha = /^([0-9a-f]{64})\.part$/.exec(name)?.[1];
    if (sha === undefined) continue;
    await removeDownload(dir, sha).catch(() => undefined);
    freed = true;
  }
  return freed;
}
