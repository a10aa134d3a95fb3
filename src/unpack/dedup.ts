/**
 * Shared unchanged files: while a sealed release is unpacked, a file whose path, size, mode,
 * owner, group and content are those of the same path in the previous release is hard-linked to
 * that file instead of written again (the tree writer asks; this module decides and compares).
 *
 * How: when a file entry begins, the previous release's file at the same path is opened
 * (O_RDONLY | O_NOFOLLOW) if it can be a source at all; each chunk of the entry is then compared
 * with the bytes at the same offset instead of being written. At the first difference the new file
 * is created after all and the matching prefix copied into it from the previous file; when the
 * whole content matched, the previous file is linked in place. Every byte of the archive is still
 * decompressed and parsed: only the writing is saved.
 *
 * Why a link cannot be used to change a release, or to slip in a file the archive did not hold:
 * - the source is a sealed release, root's alone: its top directory and every directory on the
 *   way to the file are owned by the writer's owner (root) and writable by nobody else (no group
 *   or other write bit, which also covers any ACL entry granting write), each checked with lstat,
 *   which never follows a link. A symlink on the way (a shared path, an archive's link) is never
 *   passed through. So no other user can swap a name on that path between the checks and link(2);
 * - the file is checked on its open descriptor: a regular file, owner, group and mode exactly
 *   those the new file would get (sealed: no write bit for group or others), the entry's size;
 * - its content is compared byte for byte with the archive's;
 * - link(2) does not follow a symlink at its source name (Linux), and the name was just checked;
 * - the shared inode is root's and read-only to the app in every release that names it. Writable
 *   releases never take part (app-tree.ts): there the app user could change it through one release.
 * Removing a release only unlinks its names: a file it shares with a newer release lives on there.
 * A linked file keeps the modification time of the release that first wrote it.
 */

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';

const SOURCE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;
/** Copy buffer for the matching prefix; comparison buffers grow to the largest chunk. */
const COPY_CHUNK = 1024 * 1024;

export interface DedupOwner {
  readonly uid: number;
  readonly gid: number;
}

/** Why a previous release cannot be a source (undefined from `DedupSource.open` otherwise). */
export type NotASource = 'missing' | 'not-a-directory' | 'owner' | 'writable';

/** Whether a directory's lstat makes it part of a chain only `owner` can change. */
function ownedAndClosed(st: { isDirectory(): boolean; uid: number; mode: number }, owner: DedupOwner): NotASource | undefined {
  if (!st.isDirectory()) return 'not-a-directory';
  if (st.uid !== owner.uid) return 'owner';
  if ((st.mode & 0o022) !== 0) return 'writable';
  return undefined;
}

/**
 * The previous release as a source of files to link. `owner` is who owns what the writer writes
 * (root, with the app's group); `umask` narrows the modes the writer asks for, as it narrows them
 * for the files it creates.
 */
export class DedupSource {
  readonly dir: string;
  readonly #owner: DedupOwner;
  readonly #umask: number;
  /** Directories (relative) checked so far: true when files under them may be sources. */
  readonly #dirs = new Map<string, boolean>([['.', true]]);
  #scratch: Buffer = Buffer.alloc(0);
  #linked = 0;
  #linkedBytes = 0;

  private constructor(dir: string, owner: DedupOwner, umask: number) {
    this.dir = dir;
    this.#owner = owner;
    this.#umask = umask;
  }

  /** The source, or why `dir` cannot be one (missing, a link, someone else's, writable by others). */
  static open(dir: string, owner: DedupOwner, umask: number): DedupSource | NotASource {
    let st;
    try {
      st = lstatSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw error;
    }
    return ownedAndClosed(st, owner) ?? new DedupSource(dir, owner, umask);
  }

  /** Files linked so far, and their bytes. */
  get linked(): { readonly files: number; readonly bytes: number } {
    return { files: this.#linked, bytes: this.#linkedBytes };
  }

  /**
   * The previous release's file at `rel` opened for comparison, when it can be linked as an entry
   * of `size` bytes asking for `perm`; undefined otherwise (the writer then writes the file).
   */
  match(rel: string, size: number, perm: number): FileMatch | undefined {
    const slash = rel.lastIndexOf('/');
    if (!this.#dirUsable(slash < 0 ? '.' : rel.slice(0, slash))) return undefined;
    const abs = path.join(this.dir, rel);
    let fd: number;
    try {
      fd = openSync(abs, SOURCE_FLAGS);
    } catch {
      return undefined; // missing, a symlink (ELOOP), unreadable: nothing to share
    }
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== size || st.uid !== this.#owner.uid || st.gid !== this.#owner.gid || (st.mode & 0o7777) !== (perm & ~this.#umask)) {
      closeSync(fd);
      return undefined;
    }
    return new FileMatch(this, fd, abs, size);
  }

  /** Counts a link made by the writer. */
  countLink(bytes: number): void {
    this.#linked += 1;
    this.#linkedBytes += bytes;
  }

  /** A buffer of at least `n` bytes, reused between calls. */
  scratch(n: number): Buffer {
    if (this.#scratch.length < n) this.#scratch = Buffer.allocUnsafe(Math.max(n, 64 * 1024));
    return this.#scratch;
  }

  #dirUsable(rel: string): boolean {
    const known = this.#dirs.get(rel);
    if (known !== undefined) return known;
    const slash = rel.lastIndexOf('/');
    let usable = this.#dirUsable(slash < 0 ? '.' : rel.slice(0, slash));
    if (usable) {
      try {
        usable = ownedAndClosed(lstatSync(path.join(this.dir, rel)), this.#owner) === undefined;
      } catch {
        usable = false;
      }
    }
    this.#dirs.set(rel, usable);
    return usable;
  }
}

/** One entry being compared with the previous release's file of the same path. */
export class FileMatch {
  /** The previous file, to link when everything matched. */
  readonly source: string;
  readonly size: number;
  readonly #from: DedupSource;
  #fd: number | undefined;
  #matched = 0;

  constructor(from: DedupSource, fd: number, source: string, size: number) {
    this.#from = from;
    this.#fd = fd;
    this.source = source;
    this.size = size;
  }

  /** Bytes of the entry that matched so far. */
  get matched(): number {
    return this.#matched;
  }

  /** Whether the whole entry matched. */
  get complete(): boolean {
    return this.#matched === this.size;
  }

  /** Compares the entry's next chunk with the previous file's bytes there; false at a difference. */
  compare(chunk: Buffer): boolean {
    const fd = this.#fd;
    const n = chunk.length;
    if (fd === undefined || this.#matched + n > this.size) return false;
    const buf = this.#from.scratch(n);
    let got = 0;
    while (got < n) {
      const read = readSync(fd, buf, got, n - got, this.#matched + got);
      if (read === 0) return false;
      got += read;
    }
    if (!buf.subarray(0, n).equals(chunk)) return false;
    this.#matched += n;
    return true;
  }

  /** Writes the matched prefix, read from the previous file, to `fd` (the new file). */
  copyPrefix(fd: number): void {
    const from = this.#fd;
    if (from === undefined) return;
    const buf = this.#from.scratch(Math.min(COPY_CHUNK, Math.max(1, this.#matched)));
    let done = 0;
    while (done < this.#matched) {
      const want = Math.min(buf.length, this.#matched - done);
      const read = readSync(from, buf, 0, want, done);
      if (read === 0) throw Object.assign(new Error(`${this.source} ended while it was copied`), { code: 'EIO' });
      let written = 0;
      while (written < read) written += writeSync(fd, buf, written, read - written);
      done += read;
    }
  }

  /** Counts the link the writer made of `source`. */
  linked(): void {
    this.#from.countLink(this.size);
  }

  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }
}
