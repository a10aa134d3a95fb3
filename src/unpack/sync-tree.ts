/**
 * After extraction: make ownership and modes final and flush everything to disk, in one pass over
 * the tree (a release can hold 500 000 entries). Never follows symlinks.
 */

import type { Dirent } from 'node:fs';
import { constants } from 'node:fs';
import { chmod, lchown, lstat, open, readdir } from 'node:fs/promises';
import path from 'node:path';

export interface FinishTreeOptions {
  /** lchown every entry (and the root) to this owner. */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** fsync calls in flight at once: journalling filesystems batch them, one at a time is slow. */
const CONCURRENCY = 32;
const SPECIAL_BITS = 0o7000;

/** fsync every file and directory under `dir`, and `dir` itself. */
export async function syncTree(dir: string, signal?: AbortSignal): Promise<void> {
  await finishTree(dir, { signal });
}

/**
 * Sets the owner when asked, strips setuid/setgid/sticky from every file and directory (also
 * from directories that inherited setgid from their parent), then fsyncs them.
 */
export async function finishTree(dir: string, options: FinishTreeOptions = {}): Promise<void> {
  const { owner, signal } = options;
  const paths = await listTree(dir, signal);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      signal?.throwIfAborted();
      const item = paths[next++];
      if (item !== undefined) await finishEntry(item, owner);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, paths.length) }, worker));
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
  // every item is flushed before finishTree returns; the root goes last only for tidiness
  items.push({ path: root, kind: 'directory' });
  return items;
}

async function finishEntry(item: TreeItem, owner: FinishTreeOptions['owner']): Promise<void> {
  if (owner !== undefined) await lchown(item.path, owner.uid, owner.gid);
  if (item.kind === 'other') return; // symlinks: no mode of their own, durable with their directory's fsync
  // chown clears setuid on files but not the sticky bit or a directory's setgid: check after it
  const { mode } = await lstat(item.path);
  if ((mode & SPECIAL_BITS) !== 0) await chmod(item.path, mode & 0o777);
  const handle = await open(item.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
