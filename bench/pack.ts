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
 * What runs is what ships: the `hoist` executable of the .deb and .rpm, built for this machine's
 * architecture by scripts/package.ts (`npm run package`) into the bench's scratch directory, as
 * `hoist pack TREE --out FILE [--zstd]`; its CPU includes starting it, which the figure
 * `pack.startup.cpu` (`hoist --version`) shows on its own. `HOIST_BENCH_PACK_ENTRY=<path>` runs a
 * `hoist` executable built before, `=bundle` the esbuild bundle run by this Node with the
 * executable's V8 flags (no code cache: about 0.1 s more start-up), `=dev` bin/hoist.js. The baseline is
 * `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -czf` (or `--zstd`), which runs
 * gzip or zstd in a second process. Both write to the same file system; hoist also fsyncs its
 * output before renaming it into place, GNU tar does not. Each is run once untimed (page cache),
 * then `repeats` times alternating, after a `sync`; figures are medians. Measured with GNU time
 * (wait4's rusage): CPU counts waited-for children, peak RSS is the largest single process (for
 * GNU tar the larger of tar and its compressor).
 */
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, packageAll } from '../scripts/package.ts';
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
  const entry = process.env['HOIST_BENCH_PACK_ENTRY'] ?? 'package';
  if (entry === 'dev') return { command: process.execPath, args: [path.join(REPO, 'bin', 'hoist.js')], label: 'bin/hoist.js (type stripping)' };
  if (entry === 'bundle') {
    const file = await bundle(path.join(ctx.work, 'hoist.cjs'));
    return { command: process.execPath, args: [...RUNTIME_FLAGS, file], label: `bundle, ${RUNTIME_FLAGS.join(' ')}` };
  }
  if (entry !== 'package') return { command: path.resolve(entry), args: [], label: `executable ${path.basename(entry)}` };
  ctx.log('building the hoist executable (scripts/package.ts)');
  const built = await packageAll(['--arch', process.arch, '--skip-rpm', '--out', path.join(ctx.work, 'dist')]);
  const executable = built.find((f) => path.basename(f) === `hoist-linux-${process.arch}`);
  if (executable === undefined) throw new Error(`scripts/package.ts built no hoist-linux-${process.arch}: ${built.join(', ')}`);
  return { command: executable, args: [], label: `the packaged executable, ${path.basename(executable)}` };
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

/**
 * What each spends besides compressing. Both run the host's `zstd` at level 3: a `zstd` wrapper
 * first on PATH runs it under GNU time, so the compressor's own CPU is measured in the same runs
 * and taken from each total. What is left is the walk, the reads, the headers and the pipe; for
 * hoist also its start-up, the JavaScript around every file, hashing the archive and flushing it.
 * The note says how small hoist's part would have to be for 1.2x the total CPU.
 */
async function ownPart(r: Runner, tree: string, id: string, repeats: number): Promise<Figure[]> {
  const bin = path.join(r.ctx.work, 'zstd-wrapper');
  const times = path.join(r.ctx.work, 'zstd-times.txt');
  const real = (await exec('sh', ['-c', 'command -v zstd'])).trim();
  await mkdir(bin, { recursive: true, mode: 0o755 });
  await writeFile(path.join(bin, 'zstd'), `#!/bin/sh\nexec ${GNU_TIME} -a -o '${times}' -f '%U %S' '${real}' "$@"\n`, { mode: 0o755 });
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}`, HOIST_ZSTD: 'binary' };
  const lastZstdCpu = async (): Promise<number> => {
    const [user, sys] = (await readFile(times, 'utf8')).trim().split('\n').pop()?.split(' ').map(Number) ?? [];
    return (user ?? Number.NaN) + (sys ?? Number.NaN);
  };
  const runs = { hoist: [] as number[], hoistZstd: [] as number[], tar: [] as number[], tarZstd: [] as number[] };
  const out = path.join(r.ctx.work, 'own.tar.zst');
  for (let i = 0; i < repeats; i++) {
    await exec('sync', []);
    runs.hoist.push((await rusage(r.hoist.command, [...r.hoist.args, 'pack', tree, '--out', out, '--zstd'], { env, report: path.join(r.ctx.work, 'rusage.txt') })).cpuSeconds);
    runs.hoistZstd.push(await lastZstdCpu());
    await rm(out, { force: true });
    await exec('sync', []);
    const tarArgs = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--zstd', '-cf', out, '-C', tree, '.'];
    runs.tar.push((await rusage('tar', tarArgs, { env, report: path.join(r.ctx.work, 'rusage.txt') })).cpuSeconds);
    runs.tarZstd.push(await lastZstdCpu());
    await rm(out, { force: true });
  }
  await rm(bin, { recursive: true, force: true });
  await rm(times, { force: true });
  const own = (total: number[], zstd: number[]): number => median(total.map((t, i) => t - (zstd[i] ?? Number.NaN)));
  const hoistOwn = own(runs.hoist, runs.hoistZstd);
  const tarOwn = own(runs.tar, runs.tarZstd);
  const tarTotal = median(runs.tar);
  const hoistZstd = median(runs.hoistZstd);
  return [
    figure(`pack.${id}.zstd.own_cpu`, hoistOwn, 's', {
      baseline: tarOwn,
      against: 'GNU tar',
      note: `CPU besides the zstd process, measured in the same runs; 1.2x GNU tar's total (${tarTotal.toFixed(2)} s) needs hoist's part <= ${(1.2 * tarTotal - hoistZstd).toFixed(2)} s; median of ${repeats}`,
    }),
    figure(`pack.${id}.zstd.compressor_cpu`, hoistZstd, 's', { baseline: median(runs.tarZstd), against: 'GNU tar\'s zstd', note: 'the same zstd -3 on the same bytes, under each' }),
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
        if (format === 'zstd') figures.push(...(await ownPart(r, dir, id, repeats)));
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
