/**
 * Flushing an unpacked release to disk (a release can hold 500 000 entries). Never follows symlinks.
 *
 * One `sync -f <dir>` (coreutils; syncfs(2) on the file system holding the release) instead of an
 * open + fsync + close per entry. syncfs writes back every dirty page and inode of that file system
 * and commits its journal before it returns, so everything under `dir` is at least as durable as
 * after fsyncing each entry (a fresh staging directory holds no mount points, so nothing in it
 * lives on another file system). Since Linux 5.8 syncfs also reports writeback errors, and `sync`
 * exits non-zero on them: that fails the unpack. Where `sync -f` is missing (no coreutils, an old
 * busybox) every entry is fsynced as before. Owners and modes are the tree writer's job.
 */

import { execFile } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';

/** fs calls in flight at once: journalling filesystems batch fsyncs, one at a time is slow. */
const CONCURRENCY = 32;

/** Flushes every file and directory under `dir`, and `dir` itself, to disk. */
export async function syncTree(dir: string, signal?: AbortSignal): Promise<void> {
  if (await syncFileSystem(dir, signal)) return;
  const paths = await listTree(dir, signal);
  await eachBounded(paths, signal, fsyncEntry);
}

async function eachBounded(items: readonly TreeItem[], signal: AbortSignal | undefined, fn: (item: TreeItem) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++];
      if (item !== undefined) await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

/**
 * `sync -f dir`: true once the file system holding `dir` is flushed, false when this host has no
 * `sync -f` (the caller then fsyncs entry by entry). A flush that fails is an error.
 */
export function syncFileSystem(dir: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', '--', dir], { ...(signal === undefined ? {} : { signal }), timeout: 10 * 60_000 }, (error, _stdout, stderr) => {
      if (error === null) {
        resolve(true);
        return;
      }
      if (signal?.aborted === true) {
        reject(signal.reason instanceof Error ? signal.reason : error);
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      // missing binary, or a sync without -f (usage error): fall back to fsync per entry
      if (code === 'ENOENT' || code === 'EACCES' || /unrecognized|invalid option|usage/i.test(stderr)) {
        resolve(false);
        return;
      }
      reject(Object.assign(new Error(`sync -f ${dir} failed: ${stderr.trim() || error.message}`, { cause: error }), { code: 'EIO' }));
    });
  });
}

interface TreeItem {
  readonly path: string;
  readonly kind: 'file' | 'directory' | 'other';
}

async function listTree(root: string, signal: AbortSignal | undefined): Promise<TreeItem[]> {
  const items: TreeItem[] = [];
  const pending = [root];
  while (pending.length > 0) {
    signal?.throwIfAborted();
    const dir = pending.pop() ?? root;
    const children: Dirent[] = await readdir(dir, { withFileTypes: true });
    for (const child of children) {
      const full = path.join(dir, child.name);
      if (child.isDirectory()) {
        pending.push(full);
        items.push({ path: full, kind: 'directory' });
      } else {
        items.push({ path: full, kind: child.isFile() ? 'file' : 'other' });
      }
    }
  }
  // every item is flushed before syncTree returns; the root goes last only for tidiness
  items.push({ path: root, kind: 'directory' });
  return items;
}

async function fsyncEntry(item: TreeItem): Promise<void> {
  if (item.kind === 'other') return; // symlinks: durable with their directory's fsync
  const handle = await open(item.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
