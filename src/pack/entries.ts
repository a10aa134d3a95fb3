/**
 * Walks what `hoist pack` puts into a release, in archive order, refusing what a release may not
 * hold: only regular files, directories, and relative symlinks that stay inside the directory.
 *
 * The order is the byte order of the archive names (directories carry a trailing `/`) over the
 * whole tree, produced without holding the tree: sorting each directory's names with that key
 * and descending into a directory right after its own entry gives exactly the global order,
 * since every name under `d/` sorts after `d/` and before anything that sorts after `d/`. Memory
 * is one directory listing per level of the path being walked, not the tree.
 *
 * Synchronous on purpose (like GNU tar): one `readdir` per directory and, for files, nothing here
 * (the tar writer opens and `fstat`s them); no hand-off to the thread pool per entry.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { HoistError } from '../errors.ts';
import type { PackEntryType } from './mode.ts';

export interface PackEntry {
  /** Path relative to the packed directory, `/`-separated, without a trailing slash. */
  readonly path: string;
  /** The name written into the archive: `path`, plus a trailing `/` for directories. */
  readonly name: string;
  readonly type: PackEntryType;
  /** The symlink's target (symlinks only). */
  readonly target?: string;
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/**
 * UTF-8 byte order, so the archive order never depends on locale or platform. It is code point
 * order, which JavaScript's `<` (UTF-16 code units) agrees with except around surrogate pairs;
 * ASCII, the common case, compares as strings.
 */
export function compareUtf8(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** True when a symlink at `entryPath` (relative, posix) pointing to `target` stays inside the root. */
export function symlinkStaysInside(entryPath: string, target: string): boolean {
  if (target === '' || path.posix.isAbsolute(target)) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(entryPath), target));
  return resolved !== '..' && !resolved.startsWith('../') && !path.posix.isAbsolute(resolved);
}

interface Level {
  /** Relative path of the directory ('' for the root). */
  readonly dir: string;
  /** The children's names in archive order, a directory's with its `/` (the sort key). */
  readonly keys: string[];
  /** Children that are symlinks, and that are neither file, directory nor symlink; usually none. */
  readonly symlinks: ReadonlySet<string> | undefined;
  readonly special: ReadonlySet<string> | undefined;
  next: number;
}

/**
 * The entries under `root` (an existing directory), in archive order, one per `next()` call
 * (`undefined` at the end). Throws `HOIST_PACK_FAILED` naming the entry for a special file or an
 * escaping symlink; fs errors are thrown as they are. A class rather than a generator: the tar
 * writer calls it once per entry, tens of thousands of times.
 */
export class PackWalker {
  readonly #root: string;
  readonly #stack: Level[];

  constructor(root: string) {
    this.#root = root;
    this.#stack = [readLevel(root, '')];
  }

  next(): PackEntry | undefined {
    const stack = this.#stack;
    for (;;) {
      const level = stack.at(-1);
      if (level === undefined) return undefined;
      const key = level.keys[level.next];
      if (key === undefined) {
        stack.pop();
        continue;
      }
      level.next += 1;
      const isDirectory = key.endsWith('/');
      const name = isDirectory ? key.slice(0, -1) : key;
      const rel = level.dir === '' ? name : `${level.dir}/${name}`;
      if (isDirectory) {
        stack.push(readLevel(this.#root, rel));
        return { path: rel, name: `${rel}/`, type: 'directory' };
      }
      if (level.special?.has(name) === true) throw specialFile(rel);
      if (level.symlinks?.has(name) !== true) return { path: rel, name: rel, type: 'file' };
      const target = readlinkSync(`${this.#root}/${rel}`);
      if (!symlinkStaysInside(rel, target)) {
        throw new HoistError(
          'HOIST_PACK_FAILED',
          `${rel} is a symlink to ${target}, which is absolute or leaves the directory; make it relative and inside, or copy the target in`,
          { details: { path: rel, target } },
        );
      }
      return { path: rel, name: rel, type: 'symlink', target };
    }
  }
}

/** Every entry under `root`, in archive order (tests and small trees; the tar writer streams). */
export function listPackEntries(root: string): PackEntry[] {
  const walker = new PackWalker(root);
  const entries: PackEntry[] = [];
  for (let entry = walker.next(); entry !== undefined; entry = walker.next()) entries.push(entry);
  return entries;
}

export function specialFile(rel: string): HoistError {
  return new HoistError('HOIST_PACK_FAILED', `${rel} is not a regular file, directory or symlink (socket, FIFO or device); remove it from the release`, {
    details: { path: rel },
  });
}

function readLevel(root: string, dir: string): Level {
  // withFileTypes: the type comes from readdir itself (Node lstats only where the file system
  // does not say), so directories and symlinks cost no stat at all. Only the names are kept, not
  // the Dirent objects: a listing lives while its subtree is walked, long enough for V8 to move
  // it to the old generation, where garbage waits for a full collection.
  const dirents = readdirSync(dir === '' ? root : `${root}/${dir}`, { withFileTypes: true });
  const keys: string[] = [];
  let symlinks: Set<string> | undefined;
  let special: Set<string> | undefined;
  let ascii = true;
  for (const entry of dirents) {
    const { name } = entry;
    const isDirectory = entry.isDirectory();
    if (!isDirectory && !entry.isFile()) {
      if (entry.isSymbolicLink()) (symlinks ??= new Set()).add(name);
      else (special ??= new Set()).add(name);
    }
    const key = isDirectory ? `${name}/` : name;
    if (ascii && !ASCII.test(key)) ascii = false;
    keys.push(key);
  }
  // for ASCII, JavaScript's default sort (UTF-16 code units) is byte order
  if (ascii) keys.sort();
  else keys.sort(compareUtf8);
  return { dir, keys, symlinks, special, next: 0 };
}
