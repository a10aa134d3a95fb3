/**
 * A streaming reader of the gzip member structure (RFC 1952): the header before each member's
 * deflate data, the trailer after it (CRC-32 and length of the data), and what lies between
 * members. The deflate data itself is the inflater's (gzip-decoder.ts): only it knows where that
 * data ends, and it reports the end here with deflateEnded().
 *
 * node:zlib's gunzip decodes members one after another by itself, but what it does with zero bytes
 * after a member depends on where its reads fall: it stops at them and ends, drops a member that
 * follows them in the same read, and fails on one that follows in the next read. Reading the
 * structure here gives the same verdicts for gzip as zstd-frames.ts gives for zstd (the rule is in
 * stream-verdicts.ts), and says HOIST_ARCHIVE_TRUNCATED when the stream stops inside a member.
 *
 * Pure and synchronous.
 */

import { crc32 } from 'node:zlib';
import { corrupt, firstNonZero, notCompressed, trailingData, truncated } from './stream-verdicts.ts';

const ID1 = 0x1f;
const ID2 = 0x8b;
const DEFLATE = 8;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED_FLAGS = 0xe0;
/** ID1 ID2 CM FLG MTIME(4) XFL OS. */
const FIXED_HEADER_BYTES = 10;
/** CRC-32 and ISIZE, little-endian. */
const TRAILER_BYTES = 8;

type State = 'fixed' | 'extra-length' | 'extra' | 'name' | 'comment' | 'header-crc' | 'deflate' | 'trailer' | 'padding';

export class GzipMemberScanner {
  #state: State = 'fixed';
  readonly #field = Buffer.alloc(FIXED_HEADER_BYTES);
  #have = 0;
  #want = FIXED_HEADER_BYTES;
  #skip = 0;
  #flags = 0;
  /** Running CRC-32 of the header, for FHCRC. */
  #headerCrc = 0;
  /** Stream offset of the next byte the scanner or the inflater takes. */
  #offset = 0;
  #members = 0;
  #expected = { crc: 0, size: 0 };

  /** Members begun, the one being read included. */
  get members(): number {
    return this.#members;
  }

  /** The next bytes are deflate data, for the inflater. */
  get inDeflate(): boolean {
    return this.#state === 'deflate';
  }

  /**
   * Reads header, trailer and padding bytes of `chunk` from `from`, up to the start of deflate data
   * or the end of the chunk; returns the index it stopped at. Throws a HoistError
   * (HOIST_UNPACK_FAILED) on bytes that cannot be a gzip stream.
   */
  take(chunk: Buffer, from: number): number {
    let i = from;
    while (i < chunk.length && this.#state !== 'deflate') {
      const at = this.#offset + (i - from);
      switch (this.#state) {
        case 'fixed': {
          if (this.#have === 0 && chunk[i] === 0 && this.#members > 0) {
            this.#state = 'padding';
            break;
          }
          const n = Math.min(this.#want - this.#have, chunk.length - i);
          chunk.copy(this.#field, this.#have, i, i + n);
          const before = this.#have;
          this.#have += n;
          i += n;
          const bad = this.#badMagic();
          if (bad) {
            const first = this.#field[0] ?? 0;
            throw this.#members === 0 ? notCompressed('gzip', first) : trailingData('gzip', at - before, first);
          }
          if (this.#have === this.#want) this.#parseFixed(at - before);
          break;
        }
        case 'padding': {
          const found = firstNonZero(chunk, i);
          if (found >= 0) throw trailingData('gzip', this.#offset + (found - from), chunk[found] ?? 0);
          i = chunk.length;
          break;
        }
        case 'extra-length':
        case 'header-crc':
        case 'trailer': {
          const n = Math.min(this.#want - this.#have, chunk.length - i);
          chunk.copy(this.#field, this.#have, i, i + n);
          this.#have += n;
          i += n;
          if (this.#have < this.#want) break;
          if (this.#state === 'extra-length') {
            this.#hashHeader(this.#field.subarray(0, 2));
            this.#skip = this.#field.readUInt16LE(0);
            this.#state = 'extra';
            if (this.#skip === 0) this.#afterExtra();
          } else if (this.#state === 'header-crc') {
            if (this.#field.readUInt16LE(0) !== (this.#headerCrc & 0xffff)) {
              throw corrupt('gzip', at + n - 2, `the header CRC of member ${this.#members} does not match its header`);
            }
            this.#state = 'deflate';
          } else {
            this.#checkTrailer(at + n - TRAILER_BYTES);
          }
          break;
        }
        case 'extra': {
          const n = Math.min(this.#skip, chunk.length - i);
          this.#hashHeader(chunk.subarray(i, i + n));
          i += n;
          this.#skip -= n;
          if (this.#skip === 0) this.#afterExtra();
          break;
        }
        case 'name':
        case 'comment': {
          const zero = chunk.indexOf(0, i);
          const stop = zero < 0 ? chunk.length : zero + 1;
          this.#hashHeader(chunk.subarray(i, stop));
          i = stop;
          if (zero < 0) break;
          if (this.#state === 'name') this.#afterName();
          else this.#afterComment();
          break;
        }
      }
    }
    this.#offset += i - from;
    return i;
  }

  /** The inflater took `bytes` more bytes of deflate data. */
  deflate(bytes: number): void {
    this.#offset += bytes;
  }

  /** The deflate data of this member has ended; it inflated to `size` bytes with this CRC-32. */
  deflateEnded(crc: number, size: number): void {
    if (this.#state !== 'deflate') throw new Error('gzip scanner: deflateEnded() outside deflate data');
    this.#expected = { crc: crc >>> 0, size };
    this.#read('trailer', TRAILER_BYTES);
  }

  /** The input has ended: throws unless it ended after a complete member (and padding). */
  end(): void {
    const offset = this.#offset;
    const member = `member ${this.#members}`;
    switch (this.#state) {
      case 'fixed':
        if (this.#have > 0) throw truncated('gzip', offset, `inside the header of member ${this.#members + 1}`);
        if (this.#members === 0) throw truncated('gzip', offset, 'before its first gzip member');
        return;
      case 'padding':
        return;
      case 'deflate':
        throw truncated('gzip', offset, `inside the compressed data of ${member}, or before its trailer`);
      case 'trailer':
        throw truncated('gzip', offset, `inside the trailer (CRC-32 and size) of ${member}`);
      default:
        throw truncated('gzip', offset, `inside the header of ${member}`);
    }
  }

  #read(state: State, bytes: number): void {
    this.#state = state;
    this.#want = bytes;
    this.#have = 0;
  }

  /** The bytes read so far of a member header cannot begin one. */
  #badMagic(): boolean {
    return this.#field[0] !== ID1 || (this.#have > 1 && this.#field[1] !== ID2);
  }

  #parseFixed(offset: number): void {
    this.#members++;
    const method = this.#field[2] ?? 0;
    this.#flags = this.#field[3] ?? 0;
    if (method !== DEFLATE) throw corrupt('gzip', offset + 2, `member ${this.#members} uses compression method ${method}, not deflate (8)`);
    if ((this.#flags & RESERVED_FLAGS) !== 0) throw corrupt('gzip', offset + 3, `member ${this.#members} has reserved header flags set`);
    this.#headerCrc = 0;
    this.#hashHeader(this.#field);
    if ((this.#flags & FEXTRA) !== 0) this.#read('extra-length', 2);
    else this.#afterExtra();
  }

  #afterExtra(): void {
    if ((this.#flags & FNAME) !== 0) this.#state = 'name';
    else this.#afterName();
  }

  #afterName(): void {
    if ((this.#flags & FCOMMENT) !== 0) this.#state = 'comment';
    else this.#afterComment();
  }

  #afterComment(): void {
    if ((this.#flags & FHCRC) !== 0) this.#read('header-crc', 2);
    else this.#state = 'deflate';
  }

  #hashHeader(bytes: Buffer): void {
    if ((this.#flags & FHCRC) !== 0) this.#headerCrc = crc32(bytes, this.#headerCrc);
  }

  #checkTrailer(offset: number): void {
    const crc = this.#field.readUInt32LE(0);
    const size = this.#field.readUInt32LE(4);
    if (crc !== this.#expected.crc) throw corrupt('gzip', offset, `the CRC-32 of member ${this.#members} does not match its data`);
    // ISIZE is the length modulo 2^32
    if (size !== this.#expected.size % 2 ** 32) throw corrupt('gzip', offset + 4, `member ${this.#members} inflated to ${this.#expected.size} bytes, its trailer says ${size} (modulo 2^32)`);
    this.#read('fixed', FIXED_HEADER_BYTES);
  }
}
