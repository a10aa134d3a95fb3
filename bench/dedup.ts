/**
 * Shared unchanged files (issue #17 item 2): a real `hoist agent` daemon with two apps that differ
 * only in `dedup`, deploying the same releases of the bench tree (bench/lib/tree.ts, full: 20,000
 * files; quick: 5,000), each release changing 1 % of the files of the one before. For each release
 * the app with dedup and the app without it (the full deploy of the same tree) deploy it in turn
 * (which one goes first alternates), each learnt through SQS:
 *
 * - deploy wall time: SQS message sent → state.json commits the release (fetch, unpack, flip,
 *   health, commit), and the phases the agent itself measured (hoist_deploy_duration_seconds,
 *   read from its metrics endpoint before and after), the unpack phase among them (unpack,
 *   flush, rename into place);
 * - extra disk: `du -sk PREVIOUS NEW`, which counts a hard-linked file once, so its second line is
 *   what the new release adds; against the tree on disk (`du -sk` of the full app's release); and
 *   what that extra is made of: the new release's directories and its unshared files;
 * - the floors under the unpack of the last release's archive: `gzip -dc > /dev/null` and node:zlib's
 *   gunzip to nothing (every byte is still decompressed, parsed and compared), and
 *   `tar -xzf && sync` (GNU tar writing the tree);
 * - the floor of any link farm: `cp -al PREVIOUS NEW && sync`, GNU cp making the same directories
 *   and hard links, reading no file;
 * - when the bench runs as root and can mount a loop device: a third app, `web/inline`, with dedup,
 *   on a fresh ext4 made with `-O inline_data` (small directories kept in their inode), for the
 *   extra disk there. On a plain ext4 every directory costs at least one 4 KiB block.
 *
 * The apps' roots are in the bench's scratch directory (`--dir`), so the file system under test is
 * the one the releases land on. The agent's artifact cache is emptied before each deploy, so each
 * one downloads. Health is `command: true`, once, so what is measured is hoist's
 * own work; `sync` runs before each timed deploy. Targets: deploy wall ≤ 25 % of the full deploy,
 * extra disk ≤ 5 % of the tree.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Upload } from '@aws-sdk/lib-storage';
import { parse, stringify } from 'yaml';
import { packDirectory } from '../src/pack/pack.ts';
import { BUCKET, type Artifact } from '../test/helpers/harness.ts';
import { mulberry32 } from '../test/helpers/prng.ts';
import { createRig, enableMetrics, sequenceOf, type Rig } from './lib/agent-rig.ts';
import type { Bench, BenchContext } from './lib/context.ts';
import { figure, type Figure } from './lib/figures.ts';
import { exec, median, timed } from './lib/measure.ts';
import { parseToNothing } from './lib/read-floor.ts';
import { generateTree } from './lib/tree.ts';

const HEALTH = { http: undefined, command: 'true', interval: '50ms', successThreshold: 1, startPeriod: '60s', bake: '0s' };
/** The two apps: the same but for dedup. */
const APPS = [
  { env: 'dedup', dedup: true },
  { env: 'full', dedup: false },
] as const;
/** The same as web/dedup, on a file system that keeps small directories in their inodes. */
const INLINE = { env: 'inline', dedup: true } as const;
type Env = (typeof APPS)[number]['env'] | typeof INLINE.env;
const PHASES = ['fetch', 'unpack', 'activate', 'health'] as const;

interface Deploy {
  readonly wallMs: number;
  readonly phases: Record<(typeof PHASES)[number], number>;
  /** KiB the new release adds on disk (du, hard links counted once). */
  readonly extraKiB: number;
  /** KiB of the new release on its own. */
  readonly releaseKiB: number;
  /** What the extra is made of: the release's own directories, and its files nobody shares. */
  readonly dirKiB: number;
  readonly ownFileKiB: number;
}

/** Every file of the tree, relative, sorted (the order the changes are picked in). */
async function listFiles(root: string): Promise<string[]> {
  const out = await exec('find', [root, '-type', 'f', '-printf', '%P\\n']);
  return out.split('\n').filter((l) => l !== '').sort();
}

/** Rewrites `share` of the files (at least one) with a line of their own in front: a new release. */
async function changeFiles(root: string, files: readonly string[], share: number, round: number): Promise<number> {
  const random = mulberry32(1000 + round);
  const picked = new Set<string>();
  const want = Math.max(1, Math.round(files.length * share));
  while (picked.size < want) picked.add(files[Math.floor(random() * files.length)] ?? '');
  for (const rel of picked) {
    const file = path.join(root, rel);
    await writeFile(file, Buffer.concat([Buffer.from(`// release ${round}\n`), await readFile(file)]));
  }
  return picked.size;
}

/** Decodes a gzip file with node:zlib (the unpack's chunk sizes) and drops the output. */
async function gunzipToNothing(file: string): Promise<void> {
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), createGunzip({ chunkSize: 512 * 1024 }), new Writable({ write: (_chunk, _encoding, done) => done() }));
}

/** KiB allocated (st_blocks) to what `find DIR <tests>` lists. */
async function findKiB(dir: string, ...tests: string[]): Promise<number> {
  const out = await exec('find', [dir, ...tests, '-printf', '%k\\n']);
  return out.split('\n').filter((l) => l !== '').reduce((a, l) => a + Number(l), 0);
}

/**
 * A fresh ext4 with inline_data on a loop device under the scratch directory, or why there is none
 * (not root, no mkfs.ext4, no loop device). Unmounted and removed when disposed.
 */
async function inlineDataFileSystem(work: string, mib: number): Promise<AsyncDisposable & ({ readonly dir: string } | { readonly dir?: undefined; readonly reason: string })> {
  const none = (reason: string) => ({ reason, [Symbol.asyncDispose]: () => Promise.resolve() });
  if (process.getuid?.() !== 0) return none('not root');
  const image = path.join(work, 'inline-data.img');
  const dir = path.join(work, 'inline');
  try {
    await exec('truncate', ['-s', `${mib}M`, image]);
    await exec('mkfs.ext4', ['-q', '-F', '-O', 'inline_data', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
    await mkdir(dir, { mode: 0o755 });
    await exec('mount', ['-o', 'loop', image, dir]);
  } catch (error) {
    await rm(image, { force: true });
    return none(String(error instanceof Error ? error.message : error).split('\n')[0] ?? 'mount failed');
  }
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await exec('umount', [dir]).catch(() => exec('umount', ['-l', dir]));
      await rm(image, { force: true });
    },
  };
}

async function du(...dirs: string[]): Promise<number[]> {
  const out = await exec('du', ['-sk', ...dirs]);
  return out.trim().split('\n').map((line) => Number(line.split('\t')[0]));
}

/**
 * Sums (`env/phase`) and counts (`env/phase#`) of hoist_deploy_duration_seconds, from the agent's
 * metrics endpoint.
 */
async function phaseSums(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const sums = new Map<string, number>();
  for (const m of text.matchAll(/^hoist_deploy_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm)) {
    const labels = m[2] ?? '';
    const env = /env="([^"]*)"/.exec(labels)?.[1];
    const phase = /phase="([^"]*)"/.exec(labels)?.[1];
    if (env !== undefined && phase !== undefined) sums.set(`${env}/${phase}${m[1] === 'count' ? '#' : ''}`, Number(m[3]));
  }
  return sums;
}

/** The metrics once the agent has recorded one more deploy of `env` than in `before`. */
async function phaseSumsAfter(url: string, env: string, before: Map<string, number>): Promise<Map<string, number>> {
  for (let i = 0; i < 300; i++) {
    const now = await phaseSums(url);
    if ((now.get(`${env}/health#`) ?? 0) > (before.get(`${env}/health#`) ?? 0)) return now;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the agent's metrics never recorded the deploy of web/${env}`);
}

interface AppView {
  readonly txn?: unknown;
  readonly current?: { readonly version: string; readonly dir: string };
  readonly highWater?: { readonly release?: { readonly sequence: number } };
  readonly lastAttempt?: { readonly outcome: string; readonly code?: string; readonly message?: string; readonly sequence: number };
}

async function appState(rig: Rig, env: Env): Promise<AppView | undefined> {
  const s = (await rig.harness.state().catch(() => undefined)) as { apps?: Record<string, AppView> } | undefined;
  return s?.apps?.[`web/${env}`];
}

async function deployOnce(ctx: BenchContext, rig: Rig, metricsUrl: string, env: Env, version: string, artifact: Artifact, roots: Record<Env, string>): Promise<Deploy> {
  const before = await appState(rig, env);
  const envelope = await rig.harness.publish(version, artifact, { env });
  const sequence = sequenceOf(envelope);
  const sums = await phaseSums(metricsUrl);
  // every deploy downloads: the agent keeps verified artifacts for all its apps in one cache, so
  // the app going second would otherwise only verify the copy the first one fetched
  await rm(path.join(rig.harness.stateDir, 'downloads'), { recursive: true, force: true });
  await exec('sync', []);
  const started = performance.now();
  await rig.notify(envelope);
  let now: AppView | undefined;
  for (const deadline = started + 20 * 60_000; performance.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    now = await appState(rig, env);
    if (now?.txn === undefined && now?.highWater?.release?.sequence === sequence && now.current?.version === version) break;
    if (now?.txn === undefined && now?.lastAttempt?.sequence === sequence && now.lastAttempt.outcome !== 'healthy') {
      throw new Error(`web/${env} ${version}: ${now.lastAttempt.outcome} ${now.lastAttempt.code ?? ''} ${now.lastAttempt.message ?? ''}`);
    }
  }
  const wallMs = performance.now() - started;
  if (now?.current?.version !== version) throw new Error(`web/${env} did not deploy ${version} in 20 minutes`);
  const after = await phaseSumsAfter(metricsUrl, env, sums);
  const phases = Object.fromEntries(PHASES.map((p) => [p, ((after.get(`${env}/${p}`) ?? 0) - (sums.get(`${env}/${p}`) ?? 0)) * 1000])) as Deploy['phases'];
  const root = roots[env];
  const fresh = path.join(root, now.current.dir);
  const previous = before?.current === undefined ? undefined : path.join(root, before.current.dir);
  const [first, second] = previous === undefined ? [await du(fresh).then((d) => d[0] ?? 0), undefined] : await du(previous, fresh);
  const extraKiB = second ?? first ?? 0;
  const [releaseKiB] = await du(fresh);
  const dirKiB = await findKiB(fresh, '-type', 'd');
  const ownFileKiB = await findKiB(fresh, '-type', 'f', '-links', '1');
  ctx.log(`${env} ${version}: ${Math.round(wallMs)} ms (${PHASES.map((p) => `${p} ${Math.round(phases[p])}`).join(', ')}), adds ${(extraKiB / 1024).toFixed(1)} MiB of ${((releaseKiB ?? 0) / 1024).toFixed(1)} MiB (directories ${(dirKiB / 1024).toFixed(1)}, unshared files ${(ownFileKiB / 1024).toFixed(1)})`);
  return { wallMs, phases, extraKiB, releaseKiB: releaseKiB ?? 0, dirKiB, ownFileKiB };
}

async function uploadArtifact(rig: Rig, file: string, packed: { sha256: string; size: number }): Promise<Artifact> {
  const key = `artifacts/web/${packed.sha256}.tar.gz`;
  // multipart, as hoist publish uploads (fauxqs refuses request bodies over ~10 MB)
  await new Upload({ client: rig.harness.aws.s3, params: { Bucket: BUCKET, Key: key, Body: createReadStream(file) }, partSize: 5 * 1024 * 1024 }).done();
  return { key, sha256: packed.sha256, size: packed.size, format: 'tar+gzip', file };
}

export const dedup: Bench = {
  name: 'dedup',
  title: 'shared unchanged files: a release changing 1 % of the files, deployed with dedup vs a full deploy',
  async run(ctx) {
    const spec = ctx.quick ? { files: 5_000, bytes: 50 * 1024 * 1024 } : { files: 20_000, bytes: 200 * 1024 * 1024 };
    const rounds = 3;
    const tree = path.join(ctx.work, 'tree');
    ctx.log(`generating ${spec.files} files, ${spec.bytes >> 20} MiB`);
    const stats = await generateTree(tree, spec);
    const files = await listFiles(tree);
    // four times the tree: the first release whole, the others mostly links
    await using inline = await inlineDataFileSystem(ctx.work, Math.ceil((4 * spec.bytes) / 1024 / 1024));
    if (inline.dir === undefined) ctx.log(`no ext4 with inline_data for web/inline (${inline.reason}); its figure is left out`);
    const inlineRoot = inline.dir === undefined ? undefined : path.join(inline.dir, 'srv');
    const roots: Record<Env, string> = { dedup: path.join(ctx.work, 'srv', 'dedup'), full: path.join(ctx.work, 'srv', 'full'), inline: inlineRoot ?? '' };
    const apps = inlineRoot === undefined ? [...APPS] : [...APPS, INLINE];
    const extra = (app: (typeof apps)[number]): Record<string, unknown> => ({ name: 'web', env: app.env, root: roots[app.env], keep: rounds + 2, dedup: app.dedup, health: { ...HEALTH, timeout: '1s' } });
    await using rig = await createRig((queueUrl) => ({
      source: { s3: { bucket: BUCKET, poll: 'off' }, sqs: { queueUrl, waitSeconds: 20 } },
      health: HEALTH,
      app: { env: APPS[0].env, root: roots.dedup, keep: rounds + 2, dedup: APPS[0].dedup, restart: undefined },
      extraApps: apps.slice(1).map(extra),
    }));
    const config = parse(await readFile(rig.harness.configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(rig.harness.configPath, stringify({ ...config, log: { level: 'info' } }));
    const metricsUrl = await enableMetrics(rig.harness.configPath);
    await mkdir(path.join(ctx.work, 'srv'), { mode: 0o755 });
    if (inlineRoot !== undefined) await mkdir(inlineRoot, { mode: 0o755 });
    const agent = rig.start();
    for (let i = 0; ; i++) {
      if (await phaseSums(metricsUrl).then(() => true, () => false)) break;
      if (i > 600) throw new Error(`the agent's metrics never answered:\n${agent.output().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pack = async (round: number): Promise<Artifact> => {
      const file = path.join(ctx.work, `release-${round}.tar.gz`);
      const packed = await packDirectory(tree, file, { zstd: false });
      return uploadArtifact(rig, file, packed);
    };
    try {
      // release 0: both apps deploy the whole tree (no previous release to share with)
      const base = await pack(0);
      for (const app of apps) await deployOnce(ctx, rig, metricsUrl, app.env, '0', base, roots);
      const runs: Record<Env, Deploy[]> = { dedup: [], full: [], inline: [] };
      let changed = 0;
      let last = base;
      for (let round = 1; round <= rounds; round++) {
        changed = await changeFiles(tree, files, 0.01, round);
        const artifact = await pack(round);
        last = artifact;
        const order = round % 2 === 1 ? APPS : [...APPS].reverse();
        for (const app of order) runs[app.env].push(await deployOnce(ctx, rig, metricsUrl, app.env, String(round), artifact, roots));
        if (inlineRoot !== undefined) runs.inline.push(await deployOnce(ctx, rig, metricsUrl, INLINE.env, String(round), artifact, roots));
      }
      const wall = (env: Env): number => median(runs[env].map((r) => r.wallMs));
      const phase = (env: Env, p: (typeof PHASES)[number]): number => median(runs[env].map((r) => r.phases[p]));
      const treeKiB = median(runs.full.map((r) => r.releaseKiB));
      const extraKiB = median(runs.dedup.map((r) => r.extraKiB));
      // what stands under any unpack of this archive: decoding it, and GNU tar writing it out
      const floors = { decode: [] as number[], gunzip: [] as number[], parse: [] as number[], gnuTar: [] as number[], linkFarm: [] as number[] };
      const fullState = await appState(rig, 'full');
      if (fullState?.current === undefined) throw new Error('web/full has no current release');
      const lastRelease = path.join(roots.full, fullState.current.dir);
      for (let i = 0; i < rounds; i++) {
        floors.decode.push((await timed(() => exec('sh', ['-c', 'gzip -dc "$1" > /dev/null', 'sh', last.file]))).ms);
        floors.gunzip.push((await timed(() => gunzipToNothing(last.file))).ms);
        floors.parse.push((await timed(() => parseToNothing(last.file, 'tar+gzip'))).ms);
        const out = path.join(ctx.work, `gnu-tar-${i}`);
        await mkdir(out);
        await exec('sync', []);
        floors.gnuTar.push((await timed(() => exec('sh', ['-c', 'tar -xzf "$1" -C "$2" && sync', 'sh', last.file, out]))).ms);
        await rm(out, { recursive: true, force: true });
        const farm = path.join(ctx.work, `link-farm-${i}`);
        await exec('sync', []);
        floors.linkFarm.push((await timed(() => exec('sh', ['-c', 'cp -al "$1" "$2" && sync', 'sh', lastRelease, farm]))).ms);
        await rm(farm, { recursive: true, force: true });
      }
      const note = `${stats.files} files, ${(stats.bytes / 1e6).toFixed(0)} MB, ${changed} changed per release (1 %); median of ${rounds}`;
      const figures: Figure[] = [
        figure('dedup.deploy_wall', wall('dedup'), 'ms', { baseline: wall('full'), against: 'full deploy (dedup: false)', note: `target ratio <= 0.25; SQS message -> committed; ${note}` }),
        figure('dedup.extra_disk', extraKiB / 1024, 'MiB', { baseline: treeKiB / 1024, against: 'the tree on disk (du)', note: 'target ratio <= 0.05; du -sk PREVIOUS NEW, second line' }),
        figure('dedup.extra_disk_directories', median(runs.dedup.map((r) => r.dirKiB)) / 1024, 'MiB', { baseline: treeKiB / 1024, against: 'the tree on disk (du)', note: 'the release\'s own directories: hard links cannot share them' }),
        figure('dedup.extra_disk_unshared_files', median(runs.dedup.map((r) => r.ownFileKiB)) / 1024, 'MiB', { baseline: treeKiB / 1024, against: 'the tree on disk (du)', note: 'the changed files, written anew' }),
        figure('dedup.full_deploy_extra_disk', median(runs.full.map((r) => r.extraKiB)) / 1024, 'MiB', { baseline: treeKiB / 1024, against: 'the tree on disk (du)' }),
        ...PHASES.map((p) => figure(`dedup.${p}_phase`, phase('dedup', p), 'ms', { baseline: phase('full', p), against: 'full deploy (dedup: false)', ...(p === 'unpack' ? { note: 'unpack alone: unpack, flush and rename into place, as the agent timed it' } : {}) })),
        figure('dedup.unpack_vs_decode', phase('dedup', 'unpack'), 'ms', { baseline: median(floors.decode), against: 'gzip -dc > /dev/null', note: 'every byte is still decompressed, parsed and compared; decoding alone is the floor of that design' }),
        figure('dedup.unpack_vs_node_gunzip', phase('dedup', 'unpack'), 'ms', { baseline: median(floors.gunzip), against: 'node:zlib gunzip alone, in this process', note: 'the decoder the unpack uses, decoding to nothing' }),
        figure('dedup.decode_share_of_full_deploy', median(floors.gunzip), 'ms', { baseline: wall('full'), against: 'full deploy (dedup: false)', note: 'what any deploy that reads the whole archive pays before parsing or writing anything' }),
        figure('dedup.full_unpack_vs_gnu_tar', phase('full', 'unpack'), 'ms', { baseline: median(floors.gnuTar), against: 'GNU tar -xzf && sync', note: 'the full deploy\'s unpack phase against GNU tar writing the same tree' }),
        figure('dedup.read_floor', phase('dedup', 'fetch') + median(floors.parse), 'ms', {
          baseline: wall('full'),
          against: 'full deploy (dedup: false)',
          note: `the fetch as the agent timed it + node:zlib gunzip and node-tar's Parser over the archive, writing nothing (${Math.round(median(floors.parse))} ms): what a deploy that verifies and parses the whole archive pays before it compares or writes a file`,
        }),
        figure('dedup.link_farm_floor', median(floors.linkFarm), 'ms', {
          baseline: wall('full'),
          against: 'full deploy (dedup: false)',
          note: 'cp -al PREVIOUS NEW && sync: the same directories and links, no file read; no hard-link release is made faster on this file system',
        }),
      ];
      if (runs.inline.length > 0) {
        const inlineTree = median(runs.inline.map((r) => r.releaseKiB));
        figures.push(
          figure('dedup.extra_disk_inline_data', median(runs.inline.map((r) => r.extraKiB)) / 1024, 'MiB', {
            baseline: inlineTree / 1024,
            against: 'the tree on disk (du), ext4 -O inline_data',
            note: 'target ratio <= 0.05; web/inline, dedup on an ext4 that keeps small directories in their inodes',
          }),
          figure('dedup.extra_disk_inline_data_directories', median(runs.inline.map((r) => r.dirKiB)) / 1024, 'MiB', { baseline: inlineTree / 1024, against: 'the tree on disk (du), ext4 -O inline_data' }),
        );
      }
      return figures;
    } catch (error) {
      throw new Error(`${String(error)}\n${agent.output().slice(-4000)}`, { cause: error });
    }
  },
};
