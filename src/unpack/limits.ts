/** Caps on what one archive may unpack to. */
export interface UnpackLimits {
  /** Most entries (files, directories, symlinks) in the archive. */
  readonly entries: number;
  /** Most bytes of file content, summed over every entry. */
  readonly unpackedBytes: number;
  /** Most path segments in one entry name (`a/b/c` is 3). */
  readonly maxDepth: number;
  /** Most unpacked bytes per byte of the compressed file. */
  readonly maxDecompressionRatio: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = Object.freeze({
  entries: 500_000,
  unpackedBytes: 16 * 1024 ** 3,
  maxDepth: 64,
  maxDecompressionRatio: 200,
});

/**
 * The ratio cap only applies past this many bytes: a tiny archive (an empty directory packed by GNU
 * tar is a 10 KiB record of zeros that gzips to ~100 bytes) is legitimately "compressed" 100x and
 * more, and a bomb needs far more than 1 MiB to hurt.
 */
export const RATIO_FLOOR_BYTES = 1024 * 1024;

/** Largest number of bytes the ratio cap lets through for a compressed file of this size. */
export function ratioBudget(compressedSize: number, limits: UnpackLimits): number {
  return Math.max(RATIO_FLOOR_BYTES, compressedSize * limits.maxDecompressionRatio);
}
