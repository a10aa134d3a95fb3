/**
 * A fixed release tree for the pack tests, built from fixed content with every mode set
 * explicitly, so its uncompressed tar is the same on every machine (umask, clock and file system
 * do not enter it). Covers what the tar writer has to get right: nested and empty directories,
 * names sorting across `/` (`lib-a.txt` before `lib/`), executable, private and setuid files,
 * empty files, a file of exactly one block, a file larger than the writer's buffers, hundreds of
 * small files, a path split into the ustar prefix, paths and symlink targets that need a pax
 * header (too long, non-ASCII), and two names for one inode.
 */
import { chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * sha256 of the uncompressed tar `hoist pack` makes of `makeFixedTree` (mtime 0). First computed
 * with node-tar's `Pack` (`portable: true`), which wrote hoist's archives before hoist wrote its
 * own tar: the same tree must keep giving the same tar.
 */
export const FIXED_TREE_TAR_SHA256 = 'a909d57ebe03205c42b295728f15a7871409cf08efb69baae4300514d29a0c45';
/** Entries in that tar. */
export const FIXED_TREE_ENTRIES = 324;

/** Bytes that depend only on `seed` and `size` (a simple LCG; not random, just not uniform). */
export function patternBytes(seed: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // mostly letters, so it compresses a little like text
    out[i] = 0x61 + ((x >>> 16) % 26);
  }
  return out;
}

export async function makeFixedTree(root: string): Promise<string> {
  const src = path.join(root, 'fixed');
  const dirs = ['bin', 'empty', 'lib/deep', 'many', 'a'.repeat(80) + '/' + 'b'.repeat(80), 'p'.repeat(60)];
  for (const dir of dirs) await mkdir(path.join(src, dir), { recursive: true });
  const files: Array<[string, string | Buffer, number]> = [
    ['README', 'hello\n', 0o644],
    ['bin/app', '#!/bin/sh\necho app\n', 0o700],
    ['bin/suid', 'x', 0o4755],
    ['bin/group-exec', 'g', 0o610],
    ['lib/deep/data.json', '{"a":1}', 0o600],
    ['lib-a.txt', 'sorted between lib and lib/', 0o664],
    ['empty-file', '', 0o644],
    ['block.bin', patternBytes(1, 512), 0o644],
    ['big.bin', patternBytes(2, 3 * 1024 * 1024 + 17), 0o644],
    [`${'a'.repeat(80)}/${'b'.repeat(80)}/${'c'.repeat(60)}`, 'needs pax', 0o644],
    [`${'p'.repeat(60)}/${'q'.repeat(60)}`, 'fits the ustar prefix', 0o644],
    ['ünïcödé-名前.txt', 'non-ASCII name', 0o644],
    ['hard1', 'one inode, two names', 0o644],
  ];
  for (let i = 0; i < 300; i++) files.push([`many/f${String(i).padStart(3, '0')}`, patternBytes(100 + i, (i * 37) % 3001), 0o644]);
  for (const [rel, content, mode] of files) {
    await writeFile(path.join(src, rel), content);
    await chmod(path.join(src, rel), mode);
  }
  await link(path.join(src, 'hard1'), path.join(src, 'hard2'));
  await symlink('../lib/deep/data.json', path.join(src, 'bin', 'data'));
  // a target over 100 bytes that still stays inside: pax linkpath
  await symlink(`${'many/../'.repeat(14)}README`, path.join(src, 'long-link'));
  for (const dir of ['bin', 'lib']) await chmod(path.join(src, dir), 0o700);
  await chmod(path.join(src, 'empty'), 0o2775);
  return src;
}
