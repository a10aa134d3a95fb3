/**
 * A generated release tree shaped like node_modules: many tiny files, some medium, a few large,
 * in package directories 2–4 levels deep, with text content (random identifiers and punctuation,
 * so it compresses roughly like JavaScript does). Deterministic for a given seed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mulberry32 } from '../../test/helpers/prng.ts';

export interface TreeSpec {
  readonly files: number;
  /** Total bytes of file content, approximately (within 1 %). */
  readonly bytes: number;
  readonly seed?: number;
}

export interface TreeStats {
  readonly files: number;
  readonly dirs: number;
  readonly bytes: number;
}

const WORDS_IN_VOCABULARY = 1500;
const POOL_BYTES = 16 * 1024 * 1024;

function textPool(random: () => number): Buffer {
  const letters = 'abcdefghijklmnopqrstuvwxyzaeiouaeiouABCDEFGHIJ_';
  const vocabulary = Array.from({ length: WORDS_IN_VOCABULARY }, () => {
    const len = 2 + Math.floor(random() * 12);
    let w = '';
    for (let i = 0; i < len; i++) w += letters[Math.floor(random() * letters.length)];
    return w;
  });
  const punctuation = [' ', ' ', ' ', '.', '(', ') ', ', ', ';\n', ' = ', ' => ', '{\n  ', '\n}\n', '"', '[', ']', ': '];
  const parts: string[] = [];
  let size = 0;
  while (size < POOL_BYTES) {
    const w = vocabulary[Math.floor(random() ** 3 * vocabulary.length)] ?? 'x';
    const p = punctuation[Math.floor(random() * punctuation.length)] ?? ' ';
    parts.push(w, p);
    size += w.length + p.length;
  }
  return Buffer.from(parts.join('')).subarray(0, POOL_BYTES);
}

/** File sizes: 70 % tiny (100 B–2 KiB), 25 % medium (2–32 KiB), 4.5 % large, 0.5 % huge, scaled to `bytes`. */
function fileSizes(spec: TreeSpec, random: () => number): number[] {
  const raw = Array.from({ length: spec.files }, () => {
    const r = random();
    const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo));
    if (r < 0.7) return between(100, 2048);
    if (r < 0.95) return between(2048, 32 * 1024);
    if (r < 0.995) return between(32 * 1024, 512 * 1024);
    return between(512 * 1024, 4 * 1024 * 1024);
  });
  // scale only the files over 2 KiB, so the tiny ones stay tiny
  const small = raw.filter((s) => s <= 2048).reduce((a, b) => a + b, 0);
  const large = raw.filter((s) => s > 2048).reduce((a, b) => a + b, 0);
  const factor = Math.max(0.01, (spec.bytes - small) / Math.max(1, large));
  return raw.map((s) => (s <= 2048 ? s : Math.max(2049, Math.round(s * factor))));
}

export async function generateTree(dir: string, spec: TreeSpec): Promise<TreeStats> {
  const random = mulberry32(spec.seed ?? 42);
  const pool = textPool(random);
  const sizes = fileSizes(spec, random);
  const dirs = new Set<string>();
  let bytes = 0;
  let index = 0;
  let pkg = 0;
  const pending: Promise<void>[] = [];
  while (index < sizes.length) {
    const pkgDir = path.join('node_modules', pkg % 7 === 0 ? `@scope-${pkg % 13}` : '', `pkg-${pkg}`);
    pkg += 1;
    const inPackage = 5 + Math.floor(random() * 30);
    for (let i = 0; i < inPackage && index < sizes.length; i++, index++) {
      const sub = ['', 'lib', 'dist', path.join('lib', 'internal'), path.join('dist', 'esm', 'utils')][Math.floor(random() * 5)] ?? '';
      const rel = path.join(pkgDir, sub);
      if (!dirs.has(rel)) {
        await mkdir(path.join(dir, rel), { recursive: true });
        dirs.add(rel);
      }
      const size = sizes[index] ?? 0;
      const start = Math.floor(random() * (pool.length - Math.min(size, pool.length)));
      let content = pool.subarray(start, start + size);
      if (content.length < size) content = Buffer.concat([content, Buffer.alloc(size - content.length, 0x20)]);
      bytes += size;
      pending.push(writeFile(path.join(dir, rel, i === 0 ? 'package.json' : `f${i}.js`), content));
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
  }
  await Promise.all(pending);
  await writeFile(path.join(dir, 'VERSION'), '1.0.0\n');
  return { files: sizes.length + 1, dirs: dirs.size, bytes };
}
