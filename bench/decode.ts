/**
 * Unpack-side decoding of a large `.tar.zst` (the throughput bench's node_modules-shaped tree,
 * packed by hoist pack's code): hoist's zstd decoder on node:zlib (HOIST_ZSTD=node) against the
 * same frame scanner in front of the host's `zstd -d` (HOIST_ZSTD=binary), with `zstd -dc >
 * /dev/null` and GNU tar (`tar --zstd -xf`, which pipes through `zstd -d` too; with `sync -f`
 * after it too, since hoist flushes the release and tar does not) as same-run baselines. Also node:zlib's decoder alone (what hoist ran before it read frames itself), and
 * the gzip path against `gzip -dc`, since it now inflates member by member.
 *
 * Each measurement runs in a child process (bench/lib/decode-child.ts) whose CPU seconds include
 * its `zstd` child; variants alternate, figures are medians. Run on the scratch file system
 * (`--dir`, the disk by default) and on tmpfs (/dev/shm) when the host has one.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packDirectory } from '../src/pack/pack.ts';
import type { ArchiveFormat } from '../src/pack/pack.ts';
import type { Bench, BenchContext } from './lib/context.ts';
import { figure } from './lib/figures.ts';
import type { Figure } from './lib/figures.ts';
import { exec, median } from './lib/measure.ts';
import { generateTree } from './lib/tree.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'decode-child.ts');

interface Run {
  readonly wallMs: number;
  readonly cpuSeconds: number;
}

type Engine = 'node' | 'binary' | 'zlib';

async function child(mode: 'decode' | 'unpack', args: { file: string; format: ArchiveFormat; engine: Engine; work?: string }): Promise<Run> {
  const out = await exec(process.execPath, [CHILD, mode, JSON.stringify(args)]);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Run;
}

/** A shell command timed in the shell, with its children's CPU (`times`). */
async function baseline(command: string, env: Record<string, string>): Promise<Run> {
  const script = `set -eu\nt0=$(date +%s%N)\n${command}\nt1=$(date +%s%N)\necho "$t0 $t1"\ntimes\n`;
  const lines = (await exec('bash', ['-c', script], { env: { ...process.env, ...env } })).trim().split('\n');
  const [t0, t1] = (lines[0] ?? '').split(' ').map(Number) as [number, number];
  const [user, sys] = (lines[2] ?? '').split(' ');
  return { wallMs: (t1 - t0) / 1e6, cpuSeconds: seconds(user ?? '') + seconds(sys ?? '') };
}

function seconds(text: string): number {
  const m = /(\d+)m([\d.]+)s/.exec(text);
  return m === null ? Number.NaN : Number(m[1]) * 60 + Number(m[2]);
}

/** A fresh directory for one unpack, removed (and flushed) outside the timing. */
async function scratch<T>(parent: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(parent, 'run-'));
  try {
    await exec('sync', []);
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The places to measure: the scratch file system, and tmpfs when it is another one. */
async function places(ctx: BenchContext): Promise<Array<{ name: string; dir: string }>> {
  const out = [{ name: ctx.work.startsWith('/dev/shm') ? 'tmpfs' : 'disk', dir: ctx.work }];
  const shm = await stat('/dev/shm').catch(() => undefined);
  if (shm?.isDirectory() === true && out[0]?.name !== 'tmpfs') out.push({ name: 'tmpfs', dir: await mkdtemp('/dev/shm/hoist-bench-decode-') });
  return out;
}

export const decode: Bench = {
  name: 'decode',
  title: 'zstd decode and unpack: node:zlib vs the zstd executable vs zstd -dc and tar --zstd -xf',
  async run(ctx) {
    const spec = ctx.quick ? { files: 5_000, bytes: 50 * 1024 * 1024 } : { files: 20_000, bytes: 200 * 1024 * 1024 };
    const repeats = 3;
    const tree = path.join(ctx.work, 'tree');
    ctx.log(`generating ${spec.files} files, ${spec.bytes >> 20} MiB`);
    const stats = await generateTree(tree, spec);
    const figures: Figure[] = [];
    for (const place of await places(ctx)) {
      try {
        const zst = path.join(place.dir, 'artifact.tar.zst');
        const gz = path.join(place.dir, 'artifact.tar.gz');
        const zPacked = await packDirectory(tree, zst, { zstd: true });
        const gPacked = await packDirectory(tree, gz, { zstd: false });
        const tarBytes = Number((await exec('bash', ['-c', 'zstd -dc "$F" | wc -c'], { env: { ...process.env, F: zst } })).trim());
        ctx.log(`${place.name}: ${zPacked.entries} entries, tar ${(tarBytes / 1e6).toFixed(0)} MB, zstd ${(zPacked.size / 1e6).toFixed(1)} MB, gzip ${(gPacked.size / 1e6).toFixed(1)} MB`);
        const runs: Record<string, Run[]> = {};
        const add = (key: string, run: Run): void => {
          (runs[key] ??= []).push(run);
        };
        for (let i = 0; i < repeats; i++) {
          add('decode.zstd_cli', await baseline('zstd -dc "$F" > /dev/null', { F: zst }));
          for (const engine of ['node', 'binary', 'zlib'] as const) add(`decode.${engine}`, await child('decode', { file: zst, format: 'tar+zstd', engine }));
          add('gzip.gzip_cli', await baseline('gzip -dc "$F" > /dev/null', { F: gz }));
          for (const engine of ['node', 'zlib'] as const) add(`gzip.${engine}`, await child('decode', { file: gz, format: 'tar+gzip', engine }));
          add('unpack.tar', await scratch(place.dir, (w) => baseline('tar --zstd -xf "$F" -C "$W"', { F: zst, W: w })));
          // hoist flushes the release before it is used; GNU tar does not
          add('unpack.tar_sync', await scratch(place.dir, (w) => baseline('tar --zstd -xf "$F" -C "$W"; sync -f "$W"', { F: zst, W: w })));
          for (const engine of ['node', 'binary'] as const) add(`unpack.${engine}`, await scratch(place.dir, (w) => child('unpack', { file: zst, format: 'tar+zstd', engine, work: w })));
          ctx.log(
            `${place.name} #${i + 1}: ` +
              Object.entries(runs)
                .map(([key, list]) => `${key} ${Math.round(list.at(-1)?.wallMs ?? 0)} ms`)
                .join(', '),
          );
        }
        const wall = (key: string): number => median((runs[key] ?? []).map((r) => r.wallMs));
        const cpu = (key: string): number => median((runs[key] ?? []).map((r) => r.cpuSeconds));
        const note = `${place.name}: ${stats.files} files, ${(tarBytes / 1e6).toFixed(0)} MB of tar in ${(zPacked.size / 1e6).toFixed(0)} MB zstd; median of ${repeats}`;
        const p = `decode.${place.name}`;
        figures.push(
          figure(`${p}.zstd.decode_node_wall`, wall('decode.node'), 'ms', { baseline: wall('decode.zstd_cli'), against: 'zstd -dc > /dev/null', note }),
          figure(`${p}.zstd.decode_binary_wall`, wall('decode.binary'), 'ms', { baseline: wall('decode.zstd_cli'), against: 'zstd -dc > /dev/null' }),
          figure(`${p}.zstd.decode_binary_vs_node_wall`, wall('decode.binary'), 'ms', { baseline: wall('decode.node'), against: 'HOIST_ZSTD=node' }),
          figure(`${p}.zstd.decode_binary_vs_node_cpu`, cpu('decode.binary'), 's', { baseline: cpu('decode.node'), against: 'HOIST_ZSTD=node' }),
          figure(`${p}.zstd.decode_node_cpu`, cpu('decode.node'), 's', { baseline: cpu('decode.zstd_cli'), against: 'zstd -dc > /dev/null' }),
          figure(`${p}.zstd.decode_binary_cpu`, cpu('decode.binary'), 's', { baseline: cpu('decode.zstd_cli'), against: 'zstd -dc > /dev/null' }),
          figure(`${p}.zstd.decode_node_vs_zlib_alone_wall`, wall('decode.node'), 'ms', { baseline: wall('decode.zlib'), against: 'node:zlib decoder alone (before)' }),
          figure(`${p}.zstd.decode_node_rate`, tarBytes / 1e6 / (wall('decode.node') / 1000), 'MB/s', { baseline: tarBytes / 1e6 / (wall('decode.zstd_cli') / 1000), against: 'zstd -dc > /dev/null' }),
          figure(`${p}.zstd.unpack_node_wall`, wall('unpack.node'), 'ms', { baseline: wall('unpack.tar'), against: 'tar --zstd -xf' }),
          figure(`${p}.zstd.unpack_binary_wall`, wall('unpack.binary'), 'ms', { baseline: wall('unpack.tar'), against: 'tar --zstd -xf' }),
          figure(`${p}.zstd.unpack_node_wall_vs_durable`, wall('unpack.node'), 'ms', { baseline: wall('unpack.tar_sync'), against: 'tar --zstd -xf + sync -f' }),
          figure(`${p}.zstd.unpack_binary_wall_vs_durable`, wall('unpack.binary'), 'ms', { baseline: wall('unpack.tar_sync'), against: 'tar --zstd -xf + sync -f' }),
          figure(`${p}.zstd.unpack_binary_vs_node_wall`, wall('unpack.binary'), 'ms', { baseline: wall('unpack.node'), against: 'HOIST_ZSTD=node' }),
          figure(`${p}.zstd.unpack_binary_vs_node_cpu`, cpu('unpack.binary'), 's', { baseline: cpu('unpack.node'), against: 'HOIST_ZSTD=node' }),
          figure(`${p}.zstd.unpack_node_cpu`, cpu('unpack.node'), 's', { baseline: cpu('unpack.tar'), against: 'tar --zstd -xf' }),
          figure(`${p}.zstd.unpack_binary_cpu`, cpu('unpack.binary'), 's', { baseline: cpu('unpack.tar'), against: 'tar --zstd -xf' }),
          figure(`${p}.gzip.decode_wall`, wall('gzip.node'), 'ms', { baseline: wall('gzip.gzip_cli'), against: 'gzip -dc > /dev/null', note: `${(gPacked.size / 1e6).toFixed(0)} MB gzip` }),
          figure(`${p}.gzip.decode_vs_zlib_alone_wall`, wall('gzip.node'), 'ms', { baseline: wall('gzip.zlib'), against: 'node:zlib gunzip alone (before)' }),
          figure(`${p}.gzip.decode_vs_zlib_alone_cpu`, cpu('gzip.node'), 's', { baseline: cpu('gzip.zlib'), against: 'node:zlib gunzip alone (before)' }),
        );
      } finally {
        await rm(path.join(place.dir, 'artifact.tar.zst'), { force: true });
        await rm(path.join(place.dir, 'artifact.tar.gz'), { force: true });
        if (place.dir !== ctx.work) await rm(place.dir, { recursive: true, force: true });
      }
    }
    await rm(tree, { recursive: true, force: true });
    await mkdir(ctx.work, { recursive: true });
    return figures;
  },
};
