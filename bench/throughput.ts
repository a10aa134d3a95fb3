/**
 * Deploy throughput (issue #6 item 1): a node_modules-shaped artifact served by fauxqs, fetched,
 * verified and unpacked by hoist's own code in a child process (downloadArtifact + unpackArchive,
 * as the agent does), against the same work done by curl + sha256sum + GNU tar in the same run.
 *
 * fauxqs answers unsigned path-style GETs, so the baseline downloads the very same object URL with
 * curl. Runs alternate hoist / baseline so load from other processes hits both alike; every
 * figure is the median of the repetitions, and CPU seconds (user + sys of every thread and child)
 * are reported next to wall times because they are far less sensitive to a busy machine.
 *
 * GNU tar does not flush what it wrote; hoist fsyncs the release before renaming it into place
 *. So the baseline is also timed with `sync -f` (syncfs of that file system)
 * after tar, the durable equivalent.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReadStream } from 'node:fs';
import { Upload } from '@aws-sdk/lib-storage';
import { packDirectory } from '../src/pack/pack.ts';
import { startAws } from '../test/helpers/fauxqs.ts';
import type { Bench, BenchContext } from './lib/context.ts';
import { figure } from './lib/figures.ts';
import type { Figure } from './lib/figures.ts';
import { exec, median } from './lib/measure.ts';
import { generateTree } from './lib/tree.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'unpack-child.ts');
const BUCKET = 'hoist-bench';

interface ChildResult {
  readonly wallMs: number;
  readonly phases: Record<string, number>;
  readonly cpuSeconds: number;
}

interface BaselineResult {
  readonly wallMs: number;
  readonly phases: { fetch: number; verify: number; unpack: number; sync: number };
  readonly cpuSeconds: number;
}

async function runChild(mode: string, args: Record<string, unknown>): Promise<ChildResult> {
  const out = await exec(process.execPath, [CHILD, mode, JSON.stringify(args)]);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as ChildResult;
}

const BASELINE_SCRIPT = `
set -eu
mkdir -p "$W/x"
A="$W/a"
t0=$(date +%s%N)
if [ -n "$URL" ]; then curl -sf -o "$A" "$URL"; else A="$SRC"; fi
t1=$(date +%s%N)
if [ -n "$URL" ]; then echo "$SHA  $A" | sha256sum -c --quiet -; fi
t2=$(date +%s%N)
tar -x $Z -f "$A" -C "$W/x"
t3=$(date +%s%N)
if [ "$SYNC" = 1 ]; then sync -f "$W/x"; fi
t4=$(date +%s%N)
echo "$t0 $t1 $t2 $t3 $t4"
times
`;

function seconds(text: string): number {
  const m = /(\d+)m([\d.]+)s/.exec(text);
  return m === null ? Number.NaN : Number(m[1]) * 60 + Number(m[2]);
}

async function runBaseline(env: { W: string; URL: string; SHA: string; Z: string; SYNC: '0' | '1'; SRC?: string }): Promise<BaselineResult> {
  const out = await exec('bash', ['-c', BASELINE_SCRIPT], { env: { ...process.env, SRC: '', ...env } });
  const lines = out.trim().split('\n');
  const [t0, t1, t2, t3, t4] = (lines[0] ?? '').split(' ').map((t) => Number(t) / 1e6) as [number, number, number, number, number];
  // `times`: the shell's own user/sys, then its children's (curl, sha256sum, tar and its gzip/zstd)
  const [childUser, childSys] = (lines[2] ?? '').split(' ');
  return {
    wallMs: t4 - t0,
    phases: { fetch: t1 - t0, verify: t2 - t1, unpack: t3 - t2, sync: t4 - t3 },
    cpuSeconds: seconds(childUser ?? '') + seconds(childSys ?? ''),
  };
}

/** A fresh scratch dir for one run, removed (and the removal flushed) outside the timing. */
async function scratch<T>(ctx: BenchContext, fn: (dir: string) => Promise<T>, base: string = ctx.work): Promise<T> {
  const dir = await mkdtemp(path.join(base, 'run-'));
  try {
    await exec('sync', []);
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const throughput: Bench = {
  name: 'throughput',
  title: 'deploy throughput: fetch + verify + unpack vs curl + sha256sum + GNU tar',
  async run(ctx) {
    const spec = ctx.quick ? { files: 5_000, bytes: 50 * 1024 * 1024 } : { files: 20_000, bytes: 200 * 1024 * 1024 };
    const repeats = 3;
    const tree = path.join(ctx.work, 'tree');
    ctx.log(`generating ${spec.files} files, ${spec.bytes >> 20} MiB`);
    const stats = await generateTree(tree, spec);
    await using aws = await startAws();
    await aws.createBucket(BUCKET);
    const figures: Figure[] = [];
    const mb = stats.bytes / 1e6;
    for (const format of ['tar+gzip', 'tar+zstd'] as const) {
      const short = format === 'tar+gzip' ? 'gzip' : 'zstd';
      const file = path.join(ctx.work, `artifact.${short}`);
      const packed = await packDirectory(tree, file, { zstd: format === 'tar+zstd' });
      const key = `artifacts/bench/${packed.sha256}.${short}`;
      // multipart, as hoist publish uploads (fauxqs refuses request bodies over ~10 MB)
      await new Upload({ client: aws.s3, params: { Bucket: BUCKET, Key: key, Body: createReadStream(file) }, partSize: 5 * 1024 * 1024 }).done();
      ctx.log(`${short}: ${packed.entries} entries, ${(packed.size / 1e6).toFixed(1)} MB compressed, ${mb.toFixed(1)} MB unpacked`);
      const url = `${aws.endpoint}/${BUCKET}/${key}`;
      const z = format === 'tar+gzip' ? '-z' : '--zstd';
      const hoist: ChildResult[] = [];
      const plain: BaselineResult[] = [];
      const durable: BaselineResult[] = [];
      const nodeTar: ChildResult[] = [];
      const unpackOnly: ChildResult[] = [];
      const parseOnly: ChildResult[] = [];
      const tarOnly: BaselineResult[] = [];
      const tarOnlyDurable: BaselineResult[] = [];
      for (let i = 0; i < repeats; i++) {
        hoist.push(await scratch(ctx, (w) => runChild('deploy', { endpoint: aws.endpoint, bucket: BUCKET, key, sha256: packed.sha256, size: packed.size, format, work: w })));
        plain.push(await scratch(ctx, (w) => runBaseline({ W: w, URL: url, SHA: packed.sha256, Z: z, SYNC: '0' })));
        durable.push(await scratch(ctx, (w) => runBaseline({ W: w, URL: url, SHA: packed.sha256, Z: z, SYNC: '1' })));
        // unpack alone, from the local file: where the per-entry cost shows
        unpackOnly.push(await scratch(ctx, (w) => runChild('unpack', { file, format, work: w })));
        nodeTar.push(await scratch(ctx, (w) => runChild('node-tar', { file, work: w })));
        parseOnly.push(await scratch(ctx, (w) => runChild('parse', { file, format, work: w })));
        tarOnly.push(await scratch(ctx, (w) => runBaseline({ W: w, URL: '', SRC: file, SHA: packed.sha256, Z: z, SYNC: '0' })));
        tarOnlyDurable.push(await scratch(ctx, (w) => runBaseline({ W: w, URL: '', SRC: file, SHA: packed.sha256, Z: z, SYNC: '1' })));
        ctx.log(`${short} #${i + 1}: hoist ${ms(hoist.at(-1)?.wallMs)} (fetch ${ms(hoist.at(-1)?.phases['fetch'])}, unpack ${ms(hoist.at(-1)?.phases['unpack'])}), baseline ${ms(plain.at(-1)?.wallMs)}, baseline+sync ${ms(durable.at(-1)?.wallMs)}; unpack alone: hoist ${ms(unpackOnly.at(-1)?.wallMs)}, node-tar ${ms(nodeTar.at(-1)?.wallMs)}, GNU tar ${ms(tarOnly.at(-1)?.phases.unpack)}`);
      }
      const wall = median(hoist.map((r) => r.wallMs));
      const base = median(plain.map((r) => r.wallMs));
      const note = `${stats.files} files, ${mb.toFixed(0)} MB (${(packed.size / 1e6).toFixed(0)} MB ${short}); median of ${repeats}`;
      figures.push(
        figure(`throughput.${short}.deploy_wall`, wall, 'ms', { baseline: base, against: 'curl+sha256sum+tar -x', note }),
        figure(`throughput.${short}.deploy_wall_vs_durable`, wall, 'ms', { baseline: median(durable.map((r) => r.wallMs)), against: 'curl+sha256sum+tar -x+sync -f' }),
        figure(`throughput.${short}.deploy_cpu`, median(hoist.map((r) => r.cpuSeconds)), 's', { baseline: median(plain.map((r) => r.cpuSeconds)), against: 'curl+sha256sum+tar -x' }),
        figure(`throughput.${short}.deploy_rate`, mb / (wall / 1000), 'MB/s', { baseline: mb / (base / 1000), against: 'curl+sha256sum+tar -x' }),
        figure(`throughput.${short}.fetch_verify_wall`, median(hoist.map((r) => r.phases['fetch'] ?? 0)), 'ms', { baseline: median(plain.map((r) => r.phases.fetch + r.phases.verify)), against: 'curl+sha256sum' }),
        figure(`throughput.${short}.unpack_phase_wall`, median(hoist.map((r) => r.phases['unpack'] ?? 0)), 'ms', { baseline: median(plain.map((r) => r.phases.unpack)), against: 'tar -x' }),
        figure(`throughput.${short}.unpack_only_wall`, median(unpackOnly.map((r) => r.wallMs)), 'ms', { baseline: median(tarOnly.map((r) => r.phases.unpack)), against: 'tar -x (local file)' }),
        figure(`throughput.${short}.unpack_only_wall_vs_durable`, median(unpackOnly.map((r) => r.wallMs)), 'ms', {
          baseline: median(tarOnlyDurable.map((r) => r.phases.unpack + r.phases.sync)),
          against: 'tar -x && sync -f (local file)',
          note: 'hoist flushes the release before it is used; GNU tar does not',
        }),
        figure(`throughput.${short}.unpack_only_cpu`, median(unpackOnly.map((r) => r.cpuSeconds)), 's', { baseline: median(tarOnly.map((r) => r.cpuSeconds)), against: 'tar -x (local file)' }),
        figure(`throughput.${short}.parse_only_cpu`, median(parseOnly.map((r) => r.cpuSeconds)), 's', {
          baseline: median(tarOnly.map((r) => r.cpuSeconds)),
          against: 'tar -x (local file)',
          note: "the unpack's decoder and node-tar's Parser, writing nothing: what an unpack built on them pays before its first file",
        }),
        figure(`throughput.${short}.parse_only_wall`, median(parseOnly.map((r) => r.wallMs)), 'ms', { baseline: median(tarOnly.map((r) => r.phases.unpack)), against: 'tar -x (local file)' }),
        figure(`throughput.${short}.node_tar_x_wall`, median(nodeTar.map((r) => r.wallMs)), 'ms', { baseline: median(tarOnly.map((r) => r.phases.unpack)), against: 'tar -x (local file)' }),
        figure(`throughput.${short}.node_tar_x_cpu`, median(nodeTar.map((r) => r.cpuSeconds)), 's', { baseline: median(tarOnly.map((r) => r.cpuSeconds)), against: 'tar -x (local file)' }),
      );
      figures.push(...(await unpackOnTmpfs(ctx, file, format, packed.sha256, repeats)));
      await rm(file, { force: true });
    }
    await rm(tree, { recursive: true, force: true });
    await mkdir(ctx.work, { recursive: true });
    return figures;
  },
};

/**
 * Unpack alone again with the scratch trees on tmpfs (/dev/shm), where creating files costs next
 * to nothing in the kernel and only user-space work shows; skipped when the scratch directory is
 * already there (`--dir /dev/shm`) or there is no /dev/shm.
 */
async function unpackOnTmpfs(ctx: BenchContext, file: string, format: 'tar+gzip' | 'tar+zstd', sha256: string, repeats: number): Promise<Figure[]> {
  const shm = '/dev/shm';
  const fsType = async (dir: string): Promise<string> => (await exec('stat', ['-f', '-c', '%T', dir]).catch(() => '')).trim();
  if ((await fsType(shm)) !== 'tmpfs' || (await fsType(ctx.work)) === 'tmpfs') return [];
  const base = await mkdtemp(path.join(shm, 'hoist-bench-'));
  try {
    const short = format === 'tar+gzip' ? 'gzip' : 'zstd';
    const z = format === 'tar+gzip' ? '-z' : '--zstd';
    const unpackOnly: ChildResult[] = [];
    const parseOnly: ChildResult[] = [];
    const decodeOnly: ChildResult[] = [];
    const tarOnly: BaselineResult[] = [];
    for (let i = 0; i < repeats; i++) {
      unpackOnly.push(await scratch(ctx, (w) => runChild('unpack', { file, format, work: w }), base));
      parseOnly.push(await scratch(ctx, (w) => runChild('parse', { file, format, work: w }), base));
      decodeOnly.push(await scratch(ctx, (w) => runChild('decode', { file, format, work: w }), base));
      tarOnly.push(await scratch(ctx, (w) => runBaseline({ W: w, URL: '', SRC: file, SHA: sha256, Z: z, SYNC: '0' }), base));
      ctx.log(`${short} on tmpfs #${i + 1}: unpack alone: hoist ${ms(unpackOnly.at(-1)?.wallMs)}, decode and parse only ${ms(parseOnly.at(-1)?.wallMs)}, decode only ${ms(decodeOnly.at(-1)?.wallMs)}, GNU tar ${ms(tarOnly.at(-1)?.phases.unpack)}`);
    }
    const tarWall = median(tarOnly.map((r) => r.phases.unpack));
    const tarCpu = median(tarOnly.map((r) => r.cpuSeconds));
    const against = 'tar -x (local file), tmpfs';
    return [
      figure(`throughput.${short}.tmpfs.unpack_only_wall`, median(unpackOnly.map((r) => r.wallMs)), 'ms', { baseline: tarWall, against, note: `the archive on ${ctx.work}, the tree on ${shm}; median of ${repeats}` }),
      figure(`throughput.${short}.tmpfs.unpack_only_cpu`, median(unpackOnly.map((r) => r.cpuSeconds)), 's', { baseline: tarCpu, against, note: 'hoist: its own CPU and its zstd child\'s, and loading its modules (about 0.35 s)' }),
      figure(`throughput.${short}.tmpfs.parse_only_wall`, median(parseOnly.map((r) => r.wallMs)), 'ms', {
        baseline: tarWall,
        against,
        note: "the unpack's decoder and node-tar's Parser, writing nothing: over 1.1x here means no unpack built on them meets 1.1x on tmpfs",
      }),
      figure(`throughput.${short}.tmpfs.decode_only_wall`, median(decodeOnly.map((r) => r.wallMs)), 'ms', { baseline: tarWall, against, note: "the unpack's decoder alone, to nothing" }),
    ];
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

function ms(n: number | undefined): string {
  return n === undefined ? '?' : `${Math.round(n)} ms`;
}

/** True when the command exists (the baseline needs curl, sha256sum, GNU tar with zstd, sync -f). */
export async function haveTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of ['curl', 'sha256sum', 'tar', 'zstd', 'sync']) {
    await new Promise<void>((resolve) => {
      const child = spawn('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      child.on('exit', (code) => {
        if (code !== 0) missing.push(tool);
        resolve();
      });
    });
  }
  return missing;
}
