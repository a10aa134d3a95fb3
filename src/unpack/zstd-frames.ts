/**
 * A streaming scanner of the zstd frame format (RFC 8878, section 3.1). It decodes nothing: it
 * reads magic numbers, frame headers and block headers to find where every frame begins and ends,
 * so the decoder can be handed each data frame on its own, skippable frames left out.
 *
 * node:zlib's zstd decoder, given several frames in one write, decodes the first and drops the
 * rest; given a skippable frame first, it decodes nothing. Fed by this scanner, one piece never
 * spans two frames, so the decoder starts each frame afresh (see zstd-decoder.ts). The scanner also
 * says when the input ends inside a frame (HOIST_ARCHIVE_TRUNCATED) and what may follow the last
 * frame (stream-verdicts.ts), so those verdicts do not depend on which decoder runs.
 *
 * Pure and synchronous: scan() takes a chunk and returns subarrays of it, end() gives the verdict.
 */

import { corrupt, firstNonZero, notCompressed, trailingData, truncated } from './stream-verdicts.ts';

/** 0xFD2FB528, little-endian. */
const FRAME_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;
/** 0x184D2A5?, little-endian: the first byte is 0x50 to 0x5F. */
const SKIPPABLE_MAGIC_TAIL = [0x2a, 0x4d, 0x18] as const;

/**
 * Largest window a frame may ask for: 2^27 bytes (128 MiB), libzstd's default limit
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT) for node:zlib and for `zstd -d` (its default --memory). Frames made
 * with `zstd --long=28` and above are refused here, so both decoders refuse them alike.
 */
export const MAX_WINDOW_BYTES = 2 ** 27;

/** No block is larger than this, whatever the window (Block_Maximum_Size). */
const MAX_BLOCK_BYTES = 128 * 1024;

/** Content checksum: the low 4 bytes of XXH64, after the last block. */
const CHECKSUM_BYTES = 4;

/** Bytes of one data frame, in stream order. */
export interface FramePiece {
  /** A subarray of the chunk given to scan() (a copy only for a magic number split across chunks). */
  readonly bytes: Buffer;
  /** Which data frame these bytes belong to, counting from 1 (skippable frames not counted). */
  readonly frame: number;
  /** The frame ends with the last of these bytes. */
  readonly end: boolean;
}

type State =
  /** At a frame boundary: reading a magic number. */
  | 'magic'
  | 'descriptor'
  /** Window descriptor, dictionary id, frame content size: whatever the descriptor announces. */
  | 'header'
  | 'block-header'
  | 'block-body'
  | 'checksum'
  | 'skippable-size'
  | 'skippable-body'
  /** Zero bytes after the last frame, up to the end. */
  | 'padding';

export class ZstdFrameScanner {
  #state: State = 'magic';
  /** The fixed-size field being read (magic, descriptor, header, block header, skippable size). */
  readonly #field = Buffer.alloc(16);
  #have = 0;
  #want = 4;
  /** Bytes left to pass over in a block body, a checksum or a skippable payload. */
  #skip = 0;
  /** Stream offset of the first byte of the next chunk. */
  #offset = 0;
  /** Frames begun, skippable ones included: "frame N" in messages counts these. */
  #frames = 0;
  #dataFrames = 0;
  #skippableFrames = 0;
  #blocks = 0;
  #singleSegment = false;
  #checksum = false;
  #blockMax = 0;
  #lastBlock = false;
  /** Sizes of the optional header fields, from the descriptor. */
  #header = { fcsBytes: 0, didBytes: 0 };

  /** Data frames seen so far, the one being read included. */
  get dataFrames(): number {
    return this.#dataFrames;
  }

  get skippableFrames(): number {
    return this.#skippableFrames;
  }

  /**
   * Reads one chunk; returns the bytes of data frames it holds, one piece per frame at most.
   * Throws a HoistError (HOIST_UNPACK_FAILED) on bytes that cannot be a zstd stream.
   */
  scan(chunk: Buffer): FramePiece[] {
    const pieces: FramePiece[] = [];
    const inData = (): boolean => this.#state !== 'magic' && this.#state !== 'padding' && !this.#state.startsWith('skippable');
    /** Where the current data frame's bytes begin in this chunk, or -1 outside a data frame. */
    let start = inData() ? 0 : -1;
    /** Bytes of a magic number read from earlier chunks. */
    let carried = this.#state === 'magic' ? this.#have : 0;
    let i = 0;
    const at = (index: number): number => this.#offset + index;
    while (i < chunk.length) {
      switch (this.#state) {
        case 'magic': {
          const byte = chunk[i] ?? 0;
          if (this.#have === 0 && byte === 0 && this.#frames > 0) {
            this.#state = 'padding';
            break;
          }
          this.#field[this.#have++] = byte;
          i++;
          if (!isMagicPrefix(this.#field, this.#have)) {
            const offset = at(i) - this.#have;
            throw this.#frames === 0 ? notCompressed('zstd', this.#field[0] ?? 0) : trailingData('zstd', offset, this.#field[0] ?? 0);
          }
          if (this.#have < 4) break;
          this.#frames++;
          this.#have = 0;
          if (this.#field[0] === FRAME_MAGIC[0]) {
            this.#dataFrames++;
            this.#blocks = 0;
            if (carried > 0) pieces.push({ bytes: Buffer.from(this.#field.subarray(0, carried)), frame: this.#dataFrames, end: false });
            start = i - (4 - carried);
            this.#read('descriptor', 1);
          } else {
            this.#skippableFrames++;
            this.#read('skippable-size', 4);
          }
          carried = 0;
          break;
        }
        case 'padding': {
          const found = firstNonZero(chunk, i);
          if (found >= 0) throw trailingData('zstd', at(found), chunk[found] ?? 0);
          i = chunk.length;
          break;
        }
        case 'block-body':
        case 'checksum':
        case 'skippable-body': {
          const n = Math.min(this.#skip, chunk.length - i);
          i += n;
          this.#skip -= n;
          if (this.#skip > 0) break;
          if (this.#state === 'block-body') this.#afterBlock();
          else if (this.#state === 'skippable-body') this.#read('magic', 4);
          else this.#frameEnd();
          if (this.#atBoundary() && start >= 0) {
            pieces.push({ bytes: chunk.subarray(start, i), frame: this.#dataFrames, end: true });
            start = -1;
          }
          break;
        }
        default: {
          // a fixed-size field: descriptor, header, block header, skippable size
          const n = Math.min(this.#want - this.#have, chunk.length - i);
          chunk.copy(this.#field, this.#have, i, i + n);
          this.#have += n;
          i += n;
          if (this.#have < this.#want) break;
          this.#have = 0;
          this.#parse(at(i) - this.#want);
          if (this.#atBoundary() && start >= 0) {
            pieces.push({ bytes: chunk.subarray(start, i), frame: this.#dataFrames, end: true });
            start = -1;
          }
        }
      }
    }
    if (start >= 0 && start < chunk.length) pieces.push({ bytes: chunk.subarray(start), frame: this.#dataFrames, end: false });
    this.#offset += chunk.length;
    return pieces;
  }

  /** The input has ended: throws unless it ended after a complete data frame (and padding). */
  end(): void {
    const offset = this.#offset;
    const frame = `frame ${this.#frames}`;
    switch (this.#state) {
      case 'magic':
        if (this.#have > 0) throw truncated('zstd', offset, `inside the magic number of frame ${this.#frames + 1}`);
        if (this.#dataFrames === 0) throw truncated('zstd', offset, 'before its first zstd frame');
        return;
      case 'padding':
        if (this.#dataFrames === 0) throw truncated('zstd', offset, 'before its first zstd frame');
        return;
      case 'descriptor':
      case 'header':
        throw truncated('zstd', offset, `inside the header of ${frame}`);
      case 'block-header':
        throw truncated('zstd', offset, `inside block ${this.#blocks + 1} of ${frame}`);
      case 'block-body':
        throw truncated('zstd', offset, `inside block ${this.#blocks} of ${frame}`);
      case 'checksum':
        throw truncated('zstd', offset, `inside the content checksum of ${frame}, after its last block`);
      case 'skippable-size':
      case 'skippable-body':
        throw truncated('zstd', offset, `inside ${frame}, a skippable frame`);
    }
  }

  /** Between frames (the state changes behind the compiler's back in the methods below). */
  #atBoundary(): boolean {
    return this.#state === 'magic';
  }

  #read(state: State, bytes: number): void {
    this.#state = state;
    this.#want = bytes;
    this.#have = 0;
  }

  /** A fixed-size field is complete in #field[0..#want); `offset` is where it began. */
  #parse(offset: number): void {
    const f = this.#field;
    switch (this.#state) {
      case 'descriptor': {
        const descriptor = f[0] ?? 0;
        // bit 3 is reserved and must be zero; bit 4 is unused (ignored, as decoders do)
        if ((descriptor & 0x08) !== 0) throw corrupt('zstd', offset, `the reserved bit of frame ${this.#frames}'s header descriptor is set`);
        this.#singleSegment = (descriptor & 0x20) !== 0;
        this.#checksum = (descriptor & 0x04) !== 0;
        const fcsFlag = descriptor >> 6;
        const fcsBytes = [this.#singleSegment ? 1 : 0, 2, 4, 8][fcsFlag] ?? 0;
        const didBytes = [0, 1, 2, 4][descriptor & 0x03] ?? 0;
        this.#header = { fcsBytes, didBytes };
        const rest = (this.#singleSegment ? 0 : 1) + didBytes + fcsBytes;
        this.#read('header', rest);
        return;
      }
      case 'header': {
        const { fcsBytes, didBytes } = this.#header;
        let pos = 0;
        let window = 0;
        if (!this.#singleSegment) {
          const wd = f[pos++] ?? 0;
          const base = 2 ** (10 + (wd >> 3));
          window = base + (base / 8) * (wd & 0x07);
        }
        const dictionary = readLE(f, pos, didBytes);
        pos += didBytes;
        let contentSize = readLE(f, pos, fcsBytes);
        if (fcsBytes === 2) contentSize += 256;
        if (this.#singleSegment) window = contentSize;
        if (dictionary !== 0) {
          throw corrupt('zstd', offset, `frame ${this.#frames} needs zstd dictionary ${dictionary}, and hoist decodes without dictionaries; pack it without -D`);
        }
        if (window > MAX_WINDOW_BYTES) {
          throw corrupt('zstd', offset, `frame ${this.#frames} needs a ${mib(window)} window, over the ${mib(MAX_WINDOW_BYTES)} the decoders here accept; pack it with zstd --long=27 at most`);
        }
        this.#blockMax = Math.min(window, MAX_BLOCK_BYTES);
        this.#read('block-header', 3);
        return;
      }
      case 'block-header': {
        this.#blocks++;
        const value = (f[0] ?? 0) | ((f[1] ?? 0) << 8) | ((f[2] ?? 0) << 16);
        this.#lastBlock = (value & 1) === 1;
        const type = (value >> 1) & 0x03;
        const size = value >>> 3;
        const where = `block ${this.#blocks} of frame ${this.#frames}`;
        if (type === 3) throw corrupt('zstd', offset, `${where} has the reserved block type`);
        if (size > this.#blockMax) throw corrupt('zstd', offset, `${where} declares ${size} bytes, over the frame's block maximum of ${this.#blockMax}`);
        // an RLE block (type 1) holds one byte, repeated Block_Size times
        this.#skip = type === 1 ? 1 : size;
        this.#state = 'block-body';
        if (this.#skip === 0) this.#afterBlock();
        return;
      }
      case 'skippable-size': {
        this.#skip = f.readUInt32LE(0);
        this.#state = 'skippable-body';
        if (this.#skip === 0) this.#read('magic', 4);
        return;
      }
      default:
        throw new Error(`zstd scanner: no field to parse in state ${this.#state}`);
    }
  }

  #afterBlock(): void {
    if (!this.#lastBlock) {
      this.#read('block-header', 3);
    } else if (this.#checksum) {
      this.#skip = CHECKSUM_BYTES;
      this.#state = 'checksum';
    } else {
      this.#frameEnd();
    }
  }

  #frameEnd(): void {
    this.#read('magic', 4);
  }
}

/** The first `n` bytes of `field` begin a zstd frame or a skippable frame. */
function isMagicPrefix(field: Buffer, n: number): boolean {
  const first = field[0] ?? 0;
  if (first === FRAME_MAGIC[0]) {
    for (let k = 1; k < n; k++) if (field[k] !== FRAME_MAGIC[k]) return false;
    return true;
  }
  if ((first & 0xf0) !== 0x50) return false;
  for (let k = 1; k < n; k++) if (field[k] !== SKIPPABLE_MAGIC_TAIL[k - 1]) return false;
  return true;
}

/** An unsigned little-endian integer of 0 to 8 bytes (exact up to 2^53, enough to compare). */
function readLE(buffer: Buffer, pos: number, bytes: number): number {
  let value = 0;
  for (let k = bytes - 1; k >= 0; k--) value = value * 256 + (buffer[pos + k] ?? 0);
  return value;
}

function mib(bytes: number): string {
  return `${Math.round((bytes / 2 ** 20) * 10) / 10} MiB`;
}
