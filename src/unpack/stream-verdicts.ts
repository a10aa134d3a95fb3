/**
 * The verdicts the frame scanners (zstd-frames.ts, gzip-members.ts) reach on a compressed stream,
 * worded once so both formats, and both zstd decoders, fail alike.
 *
 * What may follow the last complete zstd frame or gzip member, the same rule for both formats:
 *
 * - nothing, or zero bytes up to the end of the file (padding, as block devices, tape blocking and
 *   `dd conv=sync` leave it): accepted and ignored;
 * - any other byte that does not start a further frame or member, and any non-zero byte after the
 *   padding (another frame or member included): refused with HOIST_UNPACK_FAILED, "trailing data
 *   after the compressed archive". Those bytes are neither release nor padding, and a decoder left
 *   to itself drops them silently (node:zlib's zstd decoder drops everything after the first frame;
 *   its gunzip decodes, drops or refuses what follows zero bytes depending on where its reads fall);
 * - the cut start of another frame or member (part of its magic number or header): the archive is
 *   truncated, HOIST_ARCHIVE_TRUNCATED, as when it ends inside a frame.
 *
 * The CLIs disagree with each other here (`gzip -d` accepts trailing zeros and warns about other
 * bytes, `zstd -d` refuses both), so the rule is ours and does not depend on which decoder runs.
 */

import { HoistError } from '../errors.ts';

export type StreamFormat = 'zstd' | 'gzip';

const UNIT: Record<StreamFormat, string> = { zstd: 'frame', gzip: 'member' };

/** The stream ends inside a frame or member, or before the first one. */
export function truncated(format: StreamFormat, offset: number, where: string): HoistError {
  return new HoistError('HOIST_ARCHIVE_TRUNCATED', `the ${format} archive ends at byte ${offset}, ${where}: a cut download or a broken build; publish it again`, {
    details: { format, offset },
  });
}

/** A byte after the last complete frame or member that is neither padding nor the start of another. */
export function trailingData(format: StreamFormat, offset: number, byte: number): HoistError {
  return new HoistError(
    'HOIST_UNPACK_FAILED',
    `trailing data after the compressed archive: byte ${offset} (0x${hex(byte)}) follows the last complete ${format} ${UNIT[format]}, and only zero padding may follow it; publish an archive made by hoist pack`,
    { details: { format, offset } },
  );
}

/** The very first bytes are not a frame or member of the format. */
export function notCompressed(format: StreamFormat, byte: number): HoistError {
  return new HoistError(
    'HOIST_UNPACK_FAILED',
    `the archive is not ${format}-compressed: it starts with 0x${hex(byte)}, not with a ${format} ${UNIT[format]}; check the artifact's format in the manifest, or publish an archive made by hoist pack`,
    { details: { format, offset: 0 } },
  );
}

/** A header field no conforming encoder writes, or one hoist does not support. */
export function corrupt(format: StreamFormat, offset: number, what: string): HoistError {
  return new HoistError('HOIST_UNPACK_FAILED', `the ${format} archive is corrupt at byte ${offset}: ${what}; publish it again`, {
    details: { format, offset },
  });
}

/** Index of the first non-zero byte of `chunk` at or after `from`, or -1. */
export function firstNonZero(chunk: Uint8Array, from: number): number {
  for (let i = from; i < chunk.length; i++) {
    if (chunk[i] !== 0) return i;
  }
  return -1;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
