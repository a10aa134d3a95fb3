/**
 * `hoist pack` against GNU tar (issue #17 item 1): wall time, CPU (user + sys of the process and
 * its children) and peak RSS, gzip and zstd, on two trees, measured in the same run:
 *
 * - `generated`: the node_modules-shaped tree of lib/tree.ts (full: 20,000 files, 200 MiB; quick:
 *   5,000 files, 50 MiB), the same as the throughput bench unpacks;
 * - `node_modules`: a copy of this repository's own node_modules (many small files, some large:
 *   the esbuild binary, TypeScript), less the `node` package, which is one 120 MiB Node binary
 *   twice over and would make this a benchmark of compressing one executable. It is copied file by
 *   file, so files npm hard-linked are separate files in the copy: hoist packs every name as a
 *   plain file (unpack refuses hardlinks) where GNU tar would store a link, and both archives must
 *   hold the same bytes for the comparison to mean anything.
 *
 * Then peak RSS at two sizes of the generated tree (full: 10,000 and 40,000 files, 100 and
 * 400 MiB; quick: 2,500 and 10,000), which must not grow with the tree.
 *
 * What runs is what ships: the esbuild bundle of scripts/package.ts, run by this Node with the
 * executable's V8 flags (RUNTIME_FLAGS), as `hoist pack TREE --out FILE [--zstd]`; its CPU includes
 * starting Node and loading the bundle, which the figure `pack.startup.cpu` (`hoist --version`)
 * shows on its own. `HOIST_BENCH_PACK_ENTRY=<path>` runs a packaged `hoist` executable instead
 * (`npm run package`: its code cache halves the start-up), `=dev` bin/hoist.js. The baseline is
 * `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -czf` (or `--zstd`), which runs
 * gzip or zstd in a second process. Both write to the same file system; hoist also fsyncs its
 * output before renaming it into place, GNU tar does not. Each is run once untimed (page cache),
 * then `repeats` times alternating, after a `sync`; figures are medians. Measured with GNU time
 * (wait4's rusage): CPU counts waited-for children, peak RSS is the largest single process (for
 * GNU tar the larger of tar and its compressor).
 */
import { cp, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../scripts/package.ts';
import { RUNTIME_FLAGS } from '../src/cli/defaults.ts';
import type { Bench, BenchContext } from './lib/context.ts';
import { figure } from './lib/figures.ts';
import type { Figure } from './lib/figures.ts';
import { exec, GNU_TIME, median, MiB, rusage } from './lib/measure.ts';
import type { Rusage } from './lib/measure.ts';
import { generateTree } from './lib/tree.ts';
import { haveTools } from './throughput.ts';

const REPO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const FORMATS = ['gzip', 'zstd'] as const;
type Format = (typeof FORMATS)[number];

interface Runner {
  readonly ctx: BenchContext;
  /** How hoist is started: command and the arguments before the CLI's own. */
  readonly hoist: { readonly command: string; readonly args: readonly string[]; readonly label: string };
}

async function hoistEntry(ctx: BenchContext): Promise<Runner['hoist']> {
  const entry = process.env['HOIST_BENCH_PACK_ENTRY'] ?? 'bundle';
  if (entry === 'dev') return { command: process.execPath, args: [path.join(REPO, 'bin', 'hoist.js')], label: 'bin/hoist.js (type stripping)' };
  if (entry !== 'bundle') return { command: path.resolve(entry), args: [], label: `executable ${path.basename(entry)}` };
  const file = await bundle(path.join(ctx.work, 'hoist.cjs'));
  return { command: process.execPath, args: [...RUNTIME_FLAGS, file], label: `bundle, ${RUNTIME_FLAGS.join(' ')}` };
}

function hoistRun(r: Runner, tree: string, format: Format): Promise<Rusage> {
  const out = path.join(r.ctx.work, `hoist.${format}`);
  const args = [...r.hoist.args, 'pack', tree, '--out', out, ...(format === 'zstd' ? ['--zstd'] : [])];
  return measured(r, r.hoist.command, args, out);
}

function tarRun(r: Runner, tree: string, format: Format): Promise<Rusage> {
  const out = path.join(r.ctx.work, `tar.${format}`);
  const args = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', format === 'zstd' ? '--zstd' : '-z', '-cf', out, '-C', tree, '.'];
  return measured(r, 'tar', args, out);
}

async function measured(r: Runner, cmd: string, args: readonly string[], out: string): Promise<Rusage> {
  await exec('sync', []);
  const usage = await rusage(cmd, args, { report: path.join(r.ctx.work, 'rusage.txt') });
  await rm(out, { force: true });
  return usage;
}

interface Pair {
  readonly hoist: Rusage[];
  readonly tar: Rusage[];
}

async function compare(r: Runner, tree: string, format: Format, repeats: number, label: string): Promise<Pair> {
  await hoistRun(r, tree, format);
  await tarRun(r, tree, format);
  const pair: Pair = { hoist: [], tar: [] };
  for (let i = 0; i < repeats; i++) {
    pair.hoist.push(await hoistRun(r, tree, format));
    pair.tar.push(await tarRun(r, tree, format));
    const h = pair.hoist.at(-1);
    const t = pair.tar.at(-1);
    r.ctx.log(`${label} ${format} #${i + 1}: hoist ${describe(h)}; GNU tar ${describe(t)}`);
  }
  return pair;
}

function describe(u: Rusage | undefined): string {
  return u === undefined ? '?' : `${Math.round(u.wallMs)} ms, ${u.cpuSeconds.toFixed(2)} s CPU, ${(u.maxRss / MiB).toFixed(1)} MiB`;
}

function pairFigures(name: string, pair: Pair, note: string): Figure[] {
  const m = (runs: Rusage[], pick: (u: Rusage) => number): number => median(runs.map(pick));
  const against = 'GNU tar';
  return [
    figure(`${name}.wall`, m(pair.hoist, (u) => u.wallMs), 'ms', { baseline: m(pair.tar, (u) => u.wallMs), against, note }),
    figure(`${name}.cpu`, m(pair.hoist, (u) => u.cpuSeconds), 's', { baseline: m(pair.tar, (u) => u.cpuSeconds), against }),
    figure(`${name}.rss`, m(pair.hoist, (u) => u.maxRss) / MiB, 'MiB', { baseline: m(pair.tar, (u) => u.maxRss) / MiB, against }),
  ];
}

/** Files and bytes of a tree, for the notes. */
async function treeFacts(dir: string): Promise<{ files: number; bytes: number }> {
  const out = await exec('find', [dir, '-type', 'f', '-printf', '%s\\n']);
  const sizes = out.trim().split('\n').filter((l) => l !== '').map(Number);
  return { files: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

async function copyNodeModules(dest: string): Promise<void> {
  const source = path.join(REPO, 'node_modules');
  await stat(source);
  // not the Node runtime package (one binary, twice); hard links become separate files
  const skip = new Set([path.join(source, 'node'), path.join(source, '.bin', 'node')]);
  await cp(source, path.join(dest, 'node_modules'), { recursive: true, verbatimSymlinks: true, filter: (src) => !skip.has(src) });
}

export const pack: Bench = {
  name: 'pack',
  title: 'hoist pack vs GNU tar: wall, CPU, peak RSS (gzip, zstd), and peak RSS at two tree sizes',
  async run(ctx) {
    const missing = await haveTools();
    await stat(GNU_TIME).catch(() => missing.push(`${GNU_TIME} (GNU time)`));
    if (missing.length > 0) throw new Error(`the pack bench needs ${missing.join(', ')}`);
    const repeats = ctx.quick ? 3 : 5;
    const r: Runner = { ctx, hoist: await hoistEntry(ctx) };
    ctx.log(`hoist: ${r.hoist.label}`);
    const figures: Figure[] = [];

    // what starting hoist costs before it packs anything: part of every hoist figure below
    const startup: Rusage[] = [];
    for (let i = 0; i < 5; i++) startup.push(await rusage(r.hoist.command, [...r.hoist.args, '--version'], { report: path.join(ctx.work, 'rusage.txt') }));
    figures.push(
      figure('pack.startup.cpu', median(startup.map((u) => u.cpuSeconds)), 's', { note: `hoist --version, ${r.hoist.label}; median of 5` }),
      figure('pack.startup.rss', median(startup.map((u) => u.maxRss)) / MiB, 'MiB'),
    );

    const trees: Array<{ id: string; make: (dir: string) => Promise<unknown> }> = [
      { id: 'generated', make: (dir) => generateTree(dir, ctx.quick ? { files: 5_000, bytes: 50 * MiB } : { files: 20_000, bytes: 200 * MiB }) },
      { id: 'node_modules', make: copyNodeModules },
    ];
    for (const { id, make } of trees) {
      const dir = path.join(ctx.work, id);
      await make(dir);
      const facts = await treeFacts(dir);
      const shape = `${facts.files} files, ${(facts.bytes / 1e6).toFixed(0)} MB`;
      ctx.log(`${id}: ${shape}`);
      for (const format of FORMATS) {
        const pair = await compare(r, dir, format, repeats, id);
        figures.push(...pairFigures(`pack.${id}.${format}`, pair, `${shape}; median of ${repeats}`));
      }
      await rm(dir, { recursive: true, force: true });
    }

    // peak RSS at two sizes: one run each, RSS does not depend on load
    const sizes = ctx.quick ? [2_500, 10_000] : [10_000, 40_000];
    const rss: Record<Format, number[]> = { gzip: [], zstd: [] };
    for (const files of sizes) {
      const dir = path.join(ctx.work, `rss-${files}`);
      await generateTree(dir, { files, bytes: files * 10 * 1024, seed: 7 });
      for (const format of FORMATS) {
        const pair = await compare(r, dir, format, 1, `rss ${files} files`);
        const h = pair.hoist[0]?.maxRss ?? Number.NaN;
        rss[format].push(h);
        figures.push(figure(`pack.rss.${format}.${files}_files`, h / MiB, 'MiB', { baseline: (pair.tar[0]?.maxRss ?? Number.NaN) / MiB, against: 'GNU tar', note: `${files} files, ${(files * 10) / 1024} MiB` }));
      }
      await rm(dir, { recursive: true, force: true });
    }
    for (const format of FORMATS) {
      const [small, large] = rss[format];
      figures.push(figure(`pack.rss_growth.${format}`, (large ?? Number.NaN) / MiB, 'MiB', { baseline: (small ?? Number.NaN) / MiB, against: `hoist at ${sizes[0]} files`, note: `peak RSS at ${sizes[1]} vs ${sizes[0]} files; target: no growth` }));
    }
    await mkdir(ctx.work, { recursive: true });
    return figures;
  },
};
