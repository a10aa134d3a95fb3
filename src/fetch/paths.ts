/** Where downloads live under `<stateDir>/downloads`: content addressed by the signed digest. */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HoistError } from '../errors.ts';

export type ArtifactFormat = 'tar+gzip' | 'tar+zstd';

const EXTENSIONS: Record<ArtifactFormat, string> = { 'tar+gzip': 'tar.gz', 'tar+zstd': 'tar.zst' };

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The digest becomes a file name, so it must be exactly 64 lowercase hex digits. */
export function assertSha256(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) {
    throw new HoistError('HOIST_MANIFEST_INVALID', `artifact sha256 must be 64 lowercase hex digits, got ${JSON.stringify(sha256.slice(0, 80))}`);
  }
}

/** The verified, cached artifact. */
export function artifactPath(dir: string, sha256: string, format: ArtifactFormat): string {
  assertSha256(sha256);
  return join(dir, `${sha256}.${EXTENSIONS[format]}`);
}

/** The partial download, resumed by the next attempt or the next start. */
export function partPath(dir: string, sha256: string): string {
  assertSha256(sha256);
  return join(dir, `${sha256}.part`);
}

/** Removes the cached artifact (either format) and any partial download of this digest. */
export async function removeDownload(dir: string, sha256: string): Promise<void> {
  const paths = [partPath(dir, sha256), ...Object.keys(EXTENSIONS).map((f) => artifactPath(dir, sha256, f as ArtifactFormat))];
  await Promise.all(paths.map((p) => rm(p, { force: true })));
}
