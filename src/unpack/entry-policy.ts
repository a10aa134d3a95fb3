/**
 * Which archive entries may be unpacked. Pure: no I/O, one call per entry in
 * archive order, so every rule is table-tested without writing a file.
 *
 * Allowed: regular files and directories; symlinks only when enabled, relative, resolving inside
 * the release, and never used as a directory by a later entry. Refused: absolute paths, any `..`
 * segment, hardlinks, devices, FIFOs and every other type. Caps on entries, depth, declared bytes
 * and declared bytes per compressed byte are checked before an entry is written.
 */

import path from 'node:path';
import { HoistError } from '../errors.ts';
import { resolveLink } from './link-chain.ts';
import { ratioBudget } from './limits.ts';
import type { UnpackLimits } from './limits.ts';

/** What the policy needs to know about a tar entry (a subset of node-tar's ReadEntry). */
export interface EntryFacts {
  readonly path: string;
  readonly type: string;
  readonly size: number;
  readonly linkpath?: string | undefined;
}

export interface EntryPolicyOptions {
  readonly limits: UnpackLimits;
  readonly allowSymlinks: boolean;
  /** Size of the compressed archive, the denominator of the decompression ratio. */
  readonly compressedSize: number;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

export class EntryPolicy {
  readonly #options: EntryPolicyOptions;
  /** Every symlink of the release so far: path → target (a later entry at the same path replaces it). */
  readonly #symlinks = new Map<string, string>();
  /** First path segments seen, so callers can wait for all work under them. */
  readonly topLevel = new Set<string>();
  entries = 0;
  bytes = 0;

  constructor(options: EntryPolicyOptions) {
    this.#options = options;
  }

  /**
   * Admits the entry (counting it) or throws HOIST_UNSAFE_ENTRY / HOIST_UNPACK_LIMIT.
   * Returns the normalised relative path (`.` for the archive root).
   */
  admit(entry: EntryFacts): string {
    const { limits, allowSymlinks, compressedSize } = this.#options;
    this.entries += 1;
    if (this.entries > limits.entries) {
      throw limit('entries', `the archive has more than ${limits.entries} entries (limits.entries)`, entry);
    }
    const segments = safeSegments(entry);
    if (segments.length > limits.maxDepth) {
      throw limit('maxDepth', `${entry.path.slice(0, 200)} is ${segments.length} levels deep, more than ${limits.maxDepth}`, entry);
    }
    const rel = segments.length === 0 ? '.' : segments.join('/');
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      if (this.#symlinks.has(parent)) {
        throw unsafe(entry, `it would be written through the symlink ${parent}`);
      }
    }

    if (FILE_TYPES.has(entry.type)) {
      if (rel === '.') throw unsafe(entry, 'a file cannot replace the release directory');
      this.#count(entry);
      this.#symlinks.delete(rel);
    } else if (entry.type === 'Directory') {
      // a directory entry has no content, whatever its size field says
      this.#symlinks.delete(rel);
    } else if (entry.type === 'SymbolicLink') {
      if (!allowSymlinks) throw unsafe(entry, 'symlinks are not allowed in releases (enable them in the app config)');
      if (rel === '.') throw unsafe(entry, 'a symlink cannot replace the release directory');
      this.#checkSymlinkTarget(entry, rel);
      this.#symlinks.set(rel, entry.linkpath ?? '');
    } else {
      throw unsafe(entry, describeType(entry.type));
    }

    if (this.bytes > ratioBudget(compressedSize, limits)) {
      throw limit(
        'maxDecompressionRatio',
        `the archive declares ${this.bytes} bytes for ${compressedSize} compressed bytes, more than ${limits.maxDecompressionRatio}x`,
        entry,
      );
    }
    const top = segments[0];
    if (top !== undefined) this.topLevel.add(top);
    return rel;
  }

  /**
   * Once every entry is in: each symlink resolved through the whole chain of the release's links
   * must stay inside it. A link is only checked by its own text as it arrives (a later link may
   * change where it leads), so this is the check that holds; call it before the release is used.
   */
  finish(): void {
    for (const [rel, target] of this.#symlinks) {
      const where = resolveLink(rel, this.#symlinks);
      if (where.inside) continue;
      const how = where.reason === 'loop' ? `it is part of a symlink loop (through ${where.via})` : `through ${where.via === rel ? 'its own target' : `the symlink ${where.via}`} it resolves outside the release`;
      throw unsafe({ path: rel, type: 'SymbolicLink', size: 0, linkpath: target }, how);
    }
  }

  #count(entry: EntryFacts): void {
    const { limits } = this.#options;
    this.bytes += entry.size;
    if (this.bytes > limits.unpackedBytes) {
      throw limit('unpackedBytes', `the archive unpacks to more than ${limits.unpackedBytes} bytes (limits.unpackedBytes)`, entry);
    }
  }

  #checkSymlinkTarget(entry: EntryFacts, rel: string): void {
    const target = entry.linkpath ?? '';
    if (target === '' || path.posix.isAbsolute(target) || hasDriveLetter(target)) {
      throw unsafe(entry, `it is a symlink to the absolute path ${JSON.stringify(target)}`);
    }
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
    if (resolved === '..' || resolved.startsWith('../')) {
      throw unsafe(entry, `it is a symlink to ${JSON.stringify(target)}, which leaves the release`);
    }
  }
}

/** Splits an entry path into segments, refusing absolute paths and `..`; drops `.` and empty ones. */
function safeSegments(entry: EntryFacts): string[] {
  const p = entry.path;
  if (p.startsWith('/') || hasDriveLetter(p)) throw unsafe(entry, 'its path is absolute');
  const raw = p.split('/');
  if (raw.includes('..')) throw unsafe(entry, 'its path contains a `..` segment');
  return raw.filter((s) => s !== '' && s !== '.');
}

function hasDriveLetter(p: string): boolean {
  // node-tar strips Windows roots (`c:`, `//?/`) even on Linux; refuse rather than rewrite.
  return /^[a-zA-Z]:/.test(p) || p.startsWith('\\');
}

function describeType(type: string): string {
  switch (type) {
    case 'Link':
      return 'it is a hardlink';
    case 'CharacterDevice':
    case 'BlockDevice':
      return `it is a device (${type})`;
    case 'FIFO':
      return 'it is a FIFO';
    default:
      return `its type ${type} is not a file, directory or symlink`;
  }
}

function printable(p: string): string {
  return JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}...` : p);
}

function unsafe(entry: EntryFacts, why: string): HoistError {
  return new HoistError(
    'HOIST_UNSAFE_ENTRY',
    `refused archive entry ${printable(entry.path)}: ${why}; treat the artifact as hostile and rebuild it with hoist pack`,
    { details: { path: entry.path, type: entry.type, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}) } },
  );
}

function limit(cap: keyof UnpackLimits, why: string, entry: EntryFacts): HoistError {
  return new HoistError('HOIST_UNPACK_LIMIT', `unpack stopped: ${why}; raise limits.${cap} if the release is genuinely this large`, {
    details: { limit: cap, path: entry.path },
  });
}
