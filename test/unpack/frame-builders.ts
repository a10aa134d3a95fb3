/**
 * Hand-built zstd frames and gzip members, field by field (RFC 8878 section 3.1, RFC 1952), so a
 * test shows the exact bytes it feeds the scanners. Frames made only of raw and RLE blocks and
 * without a content checksum are real frames that every decoder accepts.
 */

import { crc32, deflateRawSync } from 'node:zlib';

export type BlockSpec =
  | { readonly type: 'raw'; readonly data: Buffer; readonly last?: boolean }
  | { readonly type: 'rle'; readonly byte: number; readonly size: number; readonly last?: boolean }
  /** Block_Type 3, reserved: no decoder accepts it. */
  | { readonly type: 'reserved'; readonly size: number; readonly last?: boolean };

export interface FrameSpec {
  readonly blocks: readonly BlockSpec[];
  /** Frame_Content_Size; undefined leaves it out (only without singleSegment). */
  readonly contentSize?: number;
  /** Bytes of Frame_Content_Size: 1 (single segment only), 2, 4 or 8; default the smallest that fits. */
  readonly fcsBytes?: 1 | 2 | 4 | 8;
  /** Single_Segment_flag: no window descriptor, the window is the content size. Default: false. */
  readonly singleSegment?: boolean;
  /** Window_Descriptor byte (exponent << 3 | mantissa); default 0x00, a 1 KiB window. */
  readonly windowDescriptor?: number;
  readonly dictionary?: number;
  readonly didBytes?: 0 | 1 | 2 | 4;
  /** Four checksum bytes (their value is not checked by the scanner). */
  readonly checksum?: Buffer;
  /** Sets the reserved bit of the header descriptor. */
  readonly reservedBit?: boolean;
}

export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export function zstdFrame(spec: FrameSpec): Buffer {
  const single = spec.singleSegment === true;
  const size = spec.contentSize;
  const fcsBytes = size === undefined ? (single ? 1 : 0) : (spec.fcsBytes ?? smallestFcs(size, single));
  const fcsFlag = { 0: 0, 1: 0, 2: 1, 4: 2, 8: 3 }[fcsBytes];
  const didBytes = spec.didBytes ?? (spec.dictionary === undefined || spec.dictionary === 0 ? 0 : 4);
  const didFlag = { 0: 0, 1: 1, 2: 2, 4: 3 }[didBytes];
  const descriptor = (fcsFlag << 6) | (single ? 0x20 : 0) | (spec.reservedBit === true ? 0x08 : 0) | (spec.checksum === undefined ? 0 : 0x04) | didFlag;
  const parts: Buffer[] = [ZSTD_MAGIC, Buffer.from([descriptor])];
  if (!single) parts.push(Buffer.from([spec.windowDescriptor ?? 0x00]));
  parts.push(le(spec.dictionary ?? 0, didBytes));
  parts.push(le(fcsBytes === 2 ? (size ?? 0) - 256 : (size ?? 0), fcsBytes));
  spec.blocks.forEach((block, index) => {
    const last = block.last ?? index === spec.blocks.length - 1;
    const type = { raw: 0, rle: 1, reserved: 3 }[block.type];
    const blockSize = block.type === 'raw' ? block.data.length : block.size;
    parts.push(le((blockSize << 3) | (type << 1) | (last ? 1 : 0), 3));
    if (block.type === 'raw') parts.push(block.data);
    else if (block.type === 'rle') parts.push(Buffer.from([block.byte]));
    else parts.push(Buffer.alloc(block.size));
  });
  if (spec.checksum !== undefined) parts.push(spec.checksum);
  return Buffer.concat(parts);
}

/** A frame of raw blocks holding `data`, as a decoder gives it back (no checksum). */
export function rawFrame(data: Buffer | string, blockBytes = 1024): Buffer {
  const bytes = Buffer.from(data);
  const blocks: BlockSpec[] = [];
  for (let at = 0; at < bytes.length || blocks.length === 0; at += blockBytes) blocks.push({ type: 'raw', data: bytes.subarray(at, at + blockBytes) });
  return zstdFrame({ blocks, contentSize: bytes.length, windowDescriptor: windowFor(blockBytes) });
}

/** A skippable frame: magic 0x184D2A5? (`nibble` is ?), 4-byte size, payload. */
export function skippableFrame(payload: Buffer | string, nibble = 0): Buffer {
  const bytes = Buffer.from(payload);
  return Buffer.concat([Buffer.from([0x50 | nibble, 0x2a, 0x4d, 0x18]), le(bytes.length, 4), bytes]);
}

export interface MemberSpec {
  readonly data: Buffer | string;
  readonly name?: string;
  readonly comment?: string;
  readonly extra?: Buffer;
  /** Add FHCRC; `false` writes a wrong one. */
  readonly headerCrc?: boolean;
  readonly method?: number;
  /** Extra FLG bits (reserved ones included). */
  readonly flags?: number;
  /** Override the trailer's CRC-32 or ISIZE. */
  readonly crc?: number;
  readonly isize?: number;
}

/** A gzip member with every optional header field it is asked for; `deflate` is where its deflate data lies. */
export function gzipMember(spec: MemberSpec): { bytes: Buffer; deflate: { start: number; end: number } } {
  const data = Buffer.from(spec.data);
  const flags = (spec.flags ?? 0) | (spec.extra === undefined ? 0 : 0x04) | (spec.name === undefined ? 0 : 0x08) | (spec.comment === undefined ? 0 : 0x10) | (spec.headerCrc === undefined ? 0 : 0x02);
  const header: Buffer[] = [Buffer.from([0x1f, 0x8b, spec.method ?? 8, flags, 0, 0, 0, 0, 0, 3])];
  if (spec.extra !== undefined) header.push(le(spec.extra.length, 2), spec.extra);
  if (spec.name !== undefined) header.push(Buffer.from(`${spec.name}\0`, 'latin1'));
  if (spec.comment !== undefined) header.push(Buffer.from(`${spec.comment}\0`, 'latin1'));
  if (spec.headerCrc !== undefined) {
    const crc = crc32(Buffer.concat(header)) & 0xffff;
    header.push(le(spec.headerCrc ? crc : crc ^ 0xffff, 2));
  }
  const head = Buffer.concat(header);
  const body = deflateRawSync(data);
  const trailer = Buffer.concat([le(spec.crc ?? crc32(data), 4), le(spec.isize ?? data.length, 4)]);
  return { bytes: Buffer.concat([head, body, trailer]), deflate: { start: head.length, end: head.length + body.length } };
}

function le(value: number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let v = value;
  for (let k = 0; k < bytes; k++) {
    out[k] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

function smallestFcs(size: number, single: boolean): 1 | 2 | 4 | 8 {
  if (single && size < 256) return 1;
  if (size >= 256 && size < 65536 + 256) return 2;
  return size < 2 ** 32 ? 4 : 8;
}

/** Window descriptor exponent (log2 - 10) for a window of at least `bytes`. */
function windowFor(bytes: number): number {
  let exponent = 0;
  while (2 ** (10 + exponent) < bytes) exponent++;
  return exponent << 3;
}
