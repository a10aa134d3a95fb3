/**
 * Tar headers for `hoist pack`, byte for byte what node-tar's `WriteEntry` wrote with
 * `portable: true` (hoist's format since its first release, so a tree packs to the same bytes as
 * before): ustar magic `ustar\0` + `00`, uid, gid, user and group names left empty (read as 0 by
 * every tar), octal fields as node-tar pads them (`000644 \0`), device numbers `000000 \0`.
 *
 * The common entry (an ASCII path that fits the ustar name and prefix fields, an ASCII symlink
 * target of at most 100 bytes, sizes and mtimes that fit the octal fields) is encoded here
 * directly into the output buffer: it is almost every entry of a release (node_modules trees have
 * hundreds of paths over 100 bytes), and encoding it costs a fraction of node-tar's
 * general-purpose `Header`. Every other entry (pax extended header for long or non-ASCII names
 * and targets, base-256 numbers) goes through node-tar's `Header` and `Pax` themselves, so those
 * rare cases cannot drift from the format either.
 */
import { Header, Pax } from 'tar';
import type { PackEntryType } from './mode.ts';

export const BLOCK = 512;

export interface TarEntryHeader {
  /** The archive name: relative, `/`-separated, directories with a trailing `/`. */
  readonly name: string;
  readonly type: PackEntryType;
  /** Permission bits, already normalised. */
  readonly mode: number;
  /** Content bytes; 0 for directories and symlinks. */
  readonly size: number;
  readonly mtime: Date;
  /** Symlink target. */
  readonly linkpath?: string;
}

const TYPE_FLAG: Record<PackEntryType, number> = { file: 0x30, directory: 0x35, symlink: 0x32 };
const NODE_TAR_TYPE: Record<PackEntryType, 'File' | 'Directory' | 'SymbolicLink'> = { file: 'File', directory: 'Directory', symlink: 'SymbolicLink' };
/** The largest number a 12-byte octal field holds (node-tar's limit for size and mtime). */
const MAX_OCTAL_12 = 0o77777777777;
const MAX_OCTAL_8 = 0o7777777;
const SPACE = 0x20;

/**
 * Encodes the headers of common entries for one archive (one mtime): an ASCII name that fits
 * the name field or splits into name and prefix, an ASCII symlink target of at most 100 bytes, a
 * size that fits 11 octal digits. The
 * constant part of the block (magic, device numbers, mtime) and its checksum are computed once;
 * per entry only the name, mode, size, type and target are written, summing the checksum on the
 * way. Anything else is left to `encodeHeader`.
 */
export class SimpleHeaders {
  readonly #template = Buffer.alloc(BLOCK);
  readonly #templateSum: number;
  /** False when the mtime itself needs node-tar's encoding (before 1970, after 3058). */
  readonly #usable: boolean;

  constructor(mtime: Date) {
    const t = this.#template;
    const seconds = Math.floor(mtime.getTime() / 1000);
    this.#usable = seconds >= 0 && seconds <= MAX_OCTAL_12;
    octalDigits(t, 136, 12, this.#usable ? seconds : 0);
    t.write('ustar\u000000', 257, 'latin1');
    octalDigits(t, 329, 8, 0);
    octalDigits(t, 337, 8, 0);
    // the checksum field counts as eight spaces
    let sum = 8 * SPACE;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += t[i] ?? 0;
    this.#templateSum = sum;
  }

  /**
   * Writes the header of `h` (whose mtime must be this archive's) as one whole 512-byte block at
   * `off` of `buf`, which may be a reused buffer, and returns true; returns false for an entry
   * that needs `encodeHeader`. On false, bytes at `off` may have been overwritten.
   */
  write(buf: Buffer, off: number, h: TarEntryHeader): boolean {
    const { name, linkpath } = h;
    if (!this.#usable || h.size > MAX_OCTAL_12 || h.mode > MAX_OCTAL_8 || (linkpath !== undefined && linkpath.length > 100)) return false;
    let field = name;
    let prefix = '';
    if (name.length >= 100) {
      const split = ustarSplit(name);
      if (split === undefined) return false;
      [field, prefix] = split;
    }
    buf.set(this.#template, off);
    const fieldSum = writeAscii(buf, off, field);
    const prefixSum = writeAscii(buf, off + 345, prefix);
    const linkSum = linkpath === undefined ? 0 : writeAscii(buf, off + 157, linkpath);
    if (fieldSum < 0 || prefixSum < 0 || linkSum < 0) return false;
    let sum = this.#templateSum + fieldSum + prefixSum + linkSum;
    sum += octalDigits(buf, off + 100, 8, h.mode);
    sum += octalDigits(buf, off + 124, 12, h.size);
    const flag = TYPE_FLAG[h.type];
    buf[off + 156] = flag;
    sum += flag;
    octalDigits(buf, off + 148, 8, sum);
    return true;
  }
}

/**
 * node-tar's ustar split of a name of 100 bytes or more into a name field (at most 100 bytes)
 * and a prefix (at most 155), where it needs no pax header: path components move from the
 * prefix to the name, from the right, until the prefix fits. `undefined` where node-tar would
 * write a pax header (or a prefix of "."), which `encodeHeader` then does. Like node-tar's, the
 * split drops a directory's trailing slash (its type says it is one).
 */
function ustarSplit(name: string): [string, string] | undefined {
  const p = name.endsWith('/') ? name.slice(0, -1) : name;
  for (let cut = p.lastIndexOf('/'); cut > 0; cut = p.lastIndexOf('/', cut - 1)) {
    const field = p.slice(cut + 1);
    if (field.length > 100) return undefined;
    if (cut <= 155) return [field, p.slice(0, cut)];
  }
  return undefined;
}

/** Writes ASCII `text` at `at` and returns the sum of its bytes, or -1 (partly written) if it is not ASCII. */
function writeAscii(buf: Buffer, at: number, text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return -1;
    buf[at + i] = c;
    sum += c;
  }
  return sum;
}

const DIGIT_0 = 0x30;

/**
 * Writes `value` as node-tar writes a numeric field: `size - 1` octal digits and a NUL when the
 * number needs them all, else zero-padded to `size - 2` digits, a space and a NUL. Returns the
 * sum of the bytes written (for the checksum). `value` must fit `size - 1` digits.
 */
function octalDigits(buf: Buffer, off: number, size: number, value: number): number {
  let v = Math.floor(value);
  const full = v >= 8 ** (size - 2);
  let sum = 0;
  // full: digits in [0, size - 1), NUL; else digits in [0, size - 2), space, NUL
  let end = off + size - 1;
  buf[end] = 0;
  if (!full) {
    end -= 1;
    buf[end] = SPACE;
    sum += SPACE;
  }
  for (let i = end - 1; i >= off; i--) {
    const d = DIGIT_0 + (v % 8);
    buf[i] = d;
    sum += d;
    v = Math.floor(v / 8);
  }
  return sum;
}

/**
 * Any entry's header, through node-tar's own `Header` and `Pax`: what its WriteEntry wrote with
 * `portable: true`, a pax extended header first where the entry needs one. A multiple of 512 bytes.
 */
export function encodeHeader(h: TarEntryHeader): Buffer {
  const header = new Header({
    path: h.name,
    mode: h.mode,
    size: h.size,
    mtime: h.mtime,
    type: NODE_TAR_TYPE[h.type],
    ...(h.linkpath === undefined ? {} : { linkpath: h.linkpath }),
  });
  const needPax = header.encode();
  const block = header.block ?? Buffer.alloc(BLOCK);
  if (!needPax) return block;
  const pax = new Pax({ mtime: h.mtime, path: h.name, size: h.size, ...(h.linkpath === undefined ? {} : { linkpath: h.linkpath }) }).encode();
  return Buffer.concat([pax, block]);
}
