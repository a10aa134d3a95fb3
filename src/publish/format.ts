/** The artifact format, from the file's first bytes: gzip (1f 8b) or zstd (28 b5 2f fd). */
import type { ArtifactFormat } from '../manifest/schema.ts';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export function detectFormat(head: Uint8Array): ArtifactFormat | undefined {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.length >= ZSTD_MAGIC.length && buf.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return 'tar+zstd';
  if (buf.length >= GZIP_MAGIC.length && buf.subarray(0, GZIP_MAGIC.length).equals(GZIP_MAGIC)) return 'tar+gzip';
  return undefined;
}
