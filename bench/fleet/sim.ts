/**
 * Fleet simulation: N hosts, each a real `Agent` with its own root, stateDir and host id, spread
 * over a few worker processes, polling ONE S3 emulator (fauxqs) through a counting proxy.
 * Health is a command in the release (no app processes), restart is none.
 *
 * It measures:
 *  - cold start: time until every host runs v1;
 *  - idle cost: S3 requests per host per poll while nothing changes (target: one conditional GET
 *    per key per poll, answered 304), from the proxy's log and from each host's own SDK client;
 *  - convergence: time from publishing v2 until 100 % of hosts run it (p50, p90, max);
 *  - rollout 10 %: after publishing v3 with rollout 10, exactly the hosts `inCohort` predicts run it;
 *  - scheduled steps and the halt (bench/fleet/rollout.ts): a release with steps 5 % -> 25 % ->
 *    100 % reaches exactly the predicted cohort at each step, and a broken one with maxFailures 3
 *    stops after the first failures: hosts touched, time to halt, S3 requests per host.
 *
 * Health is the command `test ! -e BROKEN` in the release: a release packed with BROKEN fails it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { S3Client, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startFauxqs } from 'fauxqs';
import { stringify } from 'yaml';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { packDirectory } from '../../src/pack/pack.ts';
import { inCohort } from '../../src/agent/decide.ts';
import { startCountingProxy, type CountedRequest } from './counting-proxy.ts';
import { runRolloutPhases, type RolloutResult } from './rollout.ts';
import { figure, until, type Figure } from './figures.ts';

export type { Figure } from './figures.ts';
import type { Counter, WorkerIn, WorkerOut } from './worker.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.ts');
const BUCKET = 'hoist-fleet';
const REGION = 'us-east-1';
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true' };

export interface FleetOptions {
  readonly hosts: number;
  /** Worker processes (default: one per 125 hosts, at least 1). */
  readonly workers?: number;
  /** S3 poll period in seconds; must divide 60 (default 5). */
  readonly pollSeconds?: number;
  /** Poll periods in the idle measurement window (default 3). */
  readonly idlePolls?: number;
  /** Publish an unpin so the pin key exists and idle polls of it are 304 too (default true). */
  readonly pinKey?: boolean;
  /** Run the scheduled-steps and halt phases (default true). */
  readonly rollout?: boolean;
  /** Seconds between rollout steps in those phases (default 60). */
  readonly stepGapSeconds?: number;
  readonly progress?: (line: string) => void;
}


export interface IdleCost {
  readonly polls: number;
  /** From the proxy: requests in the window by `${method} ${kind} ${status}`. */
  readonly proxy: Record<string, number>;
  /**
   * Per host in the window: polls (GetObject commands of the channel), HTTP GETs of the channel
   * and of the pin (every attempt), GETs not answered 304, and any other request.
   */
  readonly perHost: Record<string, { polls: number; channel: number; pin: number; pinPolls: number; other: number; not304: number }>;
  /** What the hosts' own clients saw, summed: `${method} ${kind} ${status or error code}`. */
  readonly hostSide: Record<string, number>;
}

export interface FleetResult {
  readonly hosts: number;
  readonly workers: number;
  readonly pollSeconds: number;
  readonly figures: Figure[];
  readonly idle: IdleCost;
  readonly cohort: { readonly predicted: string[]; readonly actual: string[]; readonly missing: string[]; readonly unexpected: string[] };
  readonly converged: { readonly initial: boolean; readonly v2: boolean };
  readonly rollout?: RolloutResult;
  readonly errors: string[];
}

export interface HostView {
  sha256: string | null;
  settled: boolean;
  state: string;
  at: number;
  /** The release sequence the host found halted, if any. */
  halted: number | null;
}

interface WorkerHandle {
  readonly child: ChildProcess;
  readonly ready: Promise<Extract<WorkerOut, { type: 'ready' }>>;
  readonly stopped: Promise<string[]>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}



export function hostIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `sim-${String(i + 1).padStart(4, '0')}`);
}

export async function runFleetSimulation(options: FleetOptions): Promise<FleetResult> {
  const n = options.hosts;
  const pollSeconds = options.pollSeconds ?? 5;
  if (60 % pollSeconds !== 0) throw new Error(`--poll must divide 60, got ${pollSeconds}`);
  const jitterMs = Math.min(1000, pollSeconds * 200);
  const idlePolls = options.idlePolls ?? 3;
  const workerCount = Math.max(1, Math.min(n, options.workers ?? Math.ceil(n / 125)));
  const say = options.progress ?? (() => undefined);
  const errors: string[] = [];

  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-fleet-'));
  const fauxqs = await startFauxqs({ port: 0, host: 'localhost', logger: false });
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  const s3 = new S3Client({ endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
  const proxy = await startCountingProxy(endpoint);
  const workers: WorkerHandle[] = [];
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const keys = { ci: generateKeyPair(), alice: generateKeyPair() };
    await mkdir(path.join(dir, 'keys'));
    await writeFile(path.join(dir, 'keys', 'ci.pub'), keys.ci.publicPem);
    await writeFile(path.join(dir, 'keys', 'alice.pub'), keys.alice.publicPem);
    let sequence = Date.now();
    const put = (key: string, body: string | Buffer): Promise<unknown> => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    const sign = (payload: Record<string, unknown>, key: 'ci' | 'alice'): string =>
      serializeEnvelope(signEnvelope(Buffer.from(JSON.stringify(payload)), createPrivateKey(keys[key].privatePem)));
    const manifest = (kind: 'release' | 'pin', version: string | null, artifact: Record<string, unknown> | null, rollout: number | Record<string, unknown>): Record<string, unknown> => {
      sequence = Math.max(Date.now(), sequence + 1);
      return {
        schema: 1,
        kind,
        app: 'web',
        env: 'prod',
        sequence,
        ...(version === null ? {} : { version }),
        artifact,
        issuedAt: new Date(Date.now() - 60_000).toISOString(),
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        ...(kind === 'release' ? { rollout: typeof rollout === 'number' ? { percent: rollout } : rollout, notes: { by: 'fleet-sim' } } : { reason: 'fleet-sim' }),
      };
    };
    const artifact = async (version: string, broken = false): Promise<Record<string, unknown>> => {
      const src = path.join(dir, 'build', version);
      await mkdir(src, { recursive: true });
      await writeFile(path.join(src, 'VERSION'), `${version}\n`);
      if (broken) await writeFile(path.join(src, 'BROKEN'), 'fails its health check\n');
      await writeFile(path.join(src, 'index.js'), `console.log(${JSON.stringify(version)});\n`);
      const file = path.join(dir, 'build', `${version}.tar.gz`);
      const packed = await packDirectory(src, file, {});
      const key = `artifacts/web/${packed.sha256}.tar.gz`;
      await put(key, await readFile(file));
      return { key, sha256: packed.sha256, size: packed.size, format: 'tar+gzip' };
    };
    const publish = async (version: string, art: Record<string, unknown>, rollout: number | Record<string, unknown> = 100): Promise<Record<string, unknown>> => {
      const m = manifest('release', version, art, rollout);
      await put('channels/web/prod.json', sign(m, 'ci'));
      return m;
    };
    const [v1, v2, v3] = [await artifact('1.0.0'), await artifact('2.0.0'), await artifact('3.0.0')];
    await publish('1.0.0', v1);
    if (options.pinKey ?? true) await put('pins/web/prod.json', sign(manifest('pin', null, null, 100), 'alice'));

    // --- hosts ---
    const ids = hostIds(n);
    const configs: string[] = [];
    for (const id of ids) {
      const hostDir = path.join(dir, 'hosts', id);
      await mkdir(hostDir, { recursive: true });
      const config = {
        hostId: id,
        region: REGION,
        endpoint: proxy.url,
        stateDir: path.join(hostDir, 'state'),
        source: { s3: { bucket: BUCKET, poll: `*/${pollSeconds} * * * * *`, jitter: `${jitterMs}ms` } },
        apps: [
          {
            name: 'web',
            env: 'prod',
            root: path.join(hostDir, 'srv'),
            keep: 2,
            health: { command: 'test ! -e BROKEN', timeout: '10s', interval: '200ms', startPeriod: '60s', successThreshold: 1, failureThreshold: 1 },
          },
        ],
        report: { s3: true },
        log: { level: 'warn' },
        trust: {
          keys: { ci: path.join(dir, 'keys', 'ci.pub'), alice: path.join(dir, 'keys', 'alice.pub') },
          roles: { release: { keys: ['ci'], threshold: 1 }, pin: { keys: ['alice'], threshold: 1 } },
        },
      };
      const file = path.join(hostDir, 'agent.yaml');
      await writeFile(file, stringify(config));
      configs.push(file);
    }

    // --- workers ---
    const view = new Map<string, HostView>();
    /** host id -> artifact sha256 -> when its deploy began */
    const started = new Map<string, Map<string, number>>();
    let counterId = 0;
    const counterReplies = new Map<number, Array<Record<string, Counter>>>();
    for (let w = 0; w < workerCount; w++) {
      const child = fork(WORKER, [], { env: { ...process.env, ...AWS_ENV }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let resolveReady: (m: Extract<WorkerOut, { type: 'ready' }>) => void = () => undefined;
      let resolveStopped: (e: string[]) => void = () => undefined;
      const ready = new Promise<Extract<WorkerOut, { type: 'ready' }>>((resolve) => (resolveReady = resolve));
      const stopped = new Promise<string[]>((resolve) => (resolveStopped = resolve));
      child.on('message', (m: WorkerOut) => {
        if (m.type === 'ready') resolveReady(m);
        else if (m.type === 'stopped') resolveStopped(m.errors);
        else if (m.type === 'change') view.set(m.hostId, { sha256: m.sha256, settled: m.settled, state: m.state, at: m.at, halted: m.halted });
        else if (m.type === 'started') {
          const mine = started.get(m.hostId) ?? new Map<string, number>();
          if (!mine.has(m.sha256)) mine.set(m.sha256, m.at);
          started.set(m.hostId, mine);
        } else counterReplies.get(m.id)?.push(m.perHost);
      });
      child.on('exit', () => resolveStopped([]));
      child.on('error', (err) => errors.push(`worker ${w}: ${err.message}`));
      workers.push({ child, ready, stopped });
    }
    const startedAt = Date.now();
    const per = Math.ceil(n / workerCount);
    workers.forEach((w, i) => w.child.send({ type: 'start', configs: configs.slice(i * per, (i + 1) * per) } satisfies WorkerIn));
    const readies = await Promise.all(workers.map((w) => w.ready));
    const rss = readies.reduce((sum, r) => sum + r.rssBytes, 0);
    for (const r of readies) errors.push(...r.errors);
    say(`${n} agents started in ${workerCount} workers in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (worker RSS ${(rss / 2 ** 20).toFixed(0)} MiB)`);

    const on = (sha: unknown) => (id: string): boolean => {
      const v = view.get(id);
      return v !== undefined && v.sha256 === sha && v.settled && (v.state === 'healthy' || v.state === 'pinned');
    };
    const count = (pred: (id: string) => boolean): number => ids.filter(pred).length;
    const waitAll = async (sha: unknown, timeoutMs: number): Promise<boolean> => until(() => ids.every(on(sha)), timeoutMs);

    // --- cold start: every host takes v1 at once ---
    const initialOk = await waitAll(v1.sha256, 120_000 + n * 500);
    const initialS = (Math.max(...ids.map((id) => view.get(id)?.at ?? Date.now())) - startedAt) / 1000;
    say(`cold start: ${count(on(v1.sha256))}/${n} on 1.0.0 after ${initialS.toFixed(1)} s`);

    // --- idle: a window of whole poll periods, offset past each tick's jitter ---
    const counters = async (): Promise<Record<string, Counter>> => {
      const id = ++counterId;
      const replies: Array<Record<string, Counter>> = [];
      counterReplies.set(id, replies);
      for (const w of workers) w.child.send({ type: 'counters', id } satisfies WorkerIn);
      await until(() => replies.length === workers.length, 30_000);
      counterReplies.delete(id);
      return Object.assign({}, ...replies) as Record<string, Counter>;
    };
    const periodMs = pollSeconds * 1000;
    // Let reports of the cold start drain, then start mid-period (after tick + jitter + slack).
    await delay(periodMs);
    const offset = Math.round(periodMs * 0.6);
    const windowStart = Math.ceil((Date.now() - offset) / periodMs) * periodMs + offset;
    await delay(windowStart - Date.now());
    const before = await counters();
    const t0 = Date.now();
    await delay(windowStart + idlePolls * periodMs - Date.now());
    const after = await counters();
    const t1 = Date.now();
    const proxyIdle: Record<string, number> = {};
    for (const r of proxy.log.filter((q: CountedRequest) => q.at >= t0 && q.at < t1)) {
      const k = `${r.method} ${r.kind} ${r.status}`;
      proxyIdle[k] = (proxyIdle[k] ?? 0) + 1;
    }
    const perHost: IdleCost['perHost'] = {};
    const hostSide: Record<string, number> = {};
    for (const id of ids) {
      for (const [key, value] of Object.entries(after[id] ?? {})) {
        const d = value - (before[id]?.[key] ?? 0);
        if (d !== 0) hostSide[key] = (hostSide[key] ?? 0) + d;
      }
      const keys = new Set([...Object.keys(after[id] ?? {}), ...Object.keys(before[id] ?? {})]);
      const sum = (pred: (key: string) => boolean): number =>
        [...keys].filter(pred).reduce((s, key) => s + (after[id]?.[key] ?? 0) - (before[id]?.[key] ?? 0), 0);
      const manifest = (key: string): boolean => key.startsWith('GET channel ') || key.startsWith('GET pin ');
      perHost[id] = {
        polls: sum((k) => k === 'cmd GET channel'),
        pinPolls: sum((k) => k === 'cmd GET pin'),
        channel: sum((k) => k.startsWith('GET channel ')),
        pin: sum((k) => k.startsWith('GET pin ')),
        other: sum((k) => !k.startsWith('cmd ') && !manifest(k)),
        not304: sum((k) => manifest(k) && !k.endsWith(' 304')),
      };
    }
    const idle: IdleCost = { polls: idlePolls, proxy: proxyIdle, perHost, hostSide };
    const idleTotal = Object.values(proxyIdle).reduce((s, x) => s + x, 0);
    const idle304 = Object.entries(proxyIdle).filter(([k]) => k.endsWith(' 304')).reduce((s, [, x]) => s + x, 0);
    const hostsIdle = Object.values(perHost);
    const polls = hostsIdle.reduce((s, h) => s + h.polls, 0);
    const pinPolls = hostsIdle.reduce((s, h) => s + h.pinPolls, 0);
    const manifestGets = hostsIdle.reduce((s, h) => s + h.channel + h.pin, 0);
    const hostRequests = hostsIdle.reduce((s, h) => s + h.channel + h.pin + h.other, 0);
    say(`idle window of ${idlePolls} poll periods: ${polls} polls by ${n} hosts, ${idleTotal} requests via the proxy (${JSON.stringify(proxyIdle)}), as the hosts saw them ${JSON.stringify(hostSide)}, ${(hostRequests / Math.max(1, polls)).toFixed(3)} per host per poll`);

    // --- publish v2: time to 100 % ---
    const publishedAt = Date.now();
    const proxyMark = proxy.log.length;
    await publish('2.0.0', v2);
    const v2Ok = await waitAll(v2.sha256, 120_000 + n * 500);
    const times = ids.map((id) => ((view.get(id)?.at ?? Date.now()) - publishedAt) / 1000).sort((a, b) => a - b);
    const deployRequests = proxy.log.length - proxyMark;
    say(`v2: ${count(on(v2.sha256))}/${n} converged; p50 ${percentile(times, 50).toFixed(1)} s, p90 ${percentile(times, 90).toFixed(1)} s, 100 % ${percentile(times, 100).toFixed(1)} s`);

    // --- rollout 10 %: exactly the predicted cohort takes v3 ---
    const predicted = ids.filter((id) => inCohort(id, 'web', 'prod', 10));
    await publish('3.0.0', v3, 10);
    await until(() => predicted.every(on(v3.sha256)), 120_000 + n * 200);
    // Two more poll periods: any host outside the cohort would have moved by now.
    await delay(2 * periodMs + jitterMs);
    const actual = ids.filter((id) => view.get(id)?.sha256 === v3.sha256);
    const missing = predicted.filter((id) => !actual.includes(id));
    const unexpected = actual.filter((id) => !predicted.includes(id));
    const stayed = ids.filter((id) => !predicted.includes(id)).every(on(v2.sha256));
    if (!stayed) errors.push('some host outside the cohort is not on 2.0.0');
    say(`rollout 10 %: predicted ${predicted.length}, actual ${actual.length}, missing ${missing.length}, unexpected ${unexpected.length}`);

    // --- scheduled steps, then a broken release that halts, then its fix ---
    const rollout =
      options.rollout === false
        ? undefined
        : await runRolloutPhases({
            s3,
            bucket: BUCKET,
            ids,
            view,
            started,
            proxyLog: proxy.log,
            publish,
            artifact,
            on,
            periodMs: periodMs + jitterMs,
            stepGapMs: (options.stepGapSeconds ?? 60) * 1000,
            say,
          });

    const figures: Figure[] = [
      figure('fleet.hosts', n, 'hosts', null),
      figure('fleet.worker_processes', workerCount, 'processes', null),
      figure('fleet.rss_per_host', rss / n / 2 ** 20, 'MiB', null),
      figure('fleet.cold_start_converged', initialS, 's', null),
      figure('fleet.idle_polls_per_host_per_period', polls / n / idlePolls, 'polls', 1),
      figure('fleet.idle_requests_per_host_per_poll', hostRequests / Math.max(1, polls), 'requests', 2),
      figure('fleet.idle_requests_per_key_per_poll', manifestGets / Math.max(1, polls + pinPolls), 'requests', 1),
      figure('fleet.idle_304_fraction', idleTotal === 0 ? 0 : idle304 / idleTotal, 'fraction', 1),
      figure('fleet.idle_proxy_vs_host_requests', hostRequests === 0 ? 0 : idleTotal / hostRequests, 'ratio', 1),
      figure('fleet.idle_non_manifest_requests', hostsIdle.reduce((s, h) => s + h.other, 0), 'requests', 0),
      figure('fleet.converge_p50', percentile(times, 50), 's', pollSeconds + jitterMs / 1000),
      figure('fleet.converge_p90', percentile(times, 90), 's', pollSeconds + jitterMs / 1000),
      figure('fleet.converge_100', percentile(times, 100), 's', pollSeconds + jitterMs / 1000),
      figure('fleet.deploy_requests_per_host', deployRequests / n, 'requests', null),
      figure('fleet.rollout10_predicted', predicted.length, 'hosts', null),
      figure('fleet.rollout10_actual', actual.length, 'hosts', predicted.length),
      figure('fleet.rollout10_mismatched', missing.length + unexpected.length, 'hosts', 0),
      ...(rollout?.figures ?? []),
    ];
    for (const w of workers) w.child.send({ type: 'stop' } satisfies WorkerIn);
    for (const e of await Promise.all(workers.map((w) => w.stopped))) errors.push(...e);
    return {
      hosts: n,
      workers: workerCount,
      pollSeconds,
      figures,
      idle,
      cohort: { predicted, actual, missing, unexpected },
      converged: { initial: initialOk, v2: v2Ok },
      ...(rollout === undefined ? {} : { rollout }),
      errors: [...new Set(errors)].slice(0, 50),
    };
  } finally {
    for (const w of workers) {
      if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
      const exited = new Promise((resolve) => w.child.once('exit', resolve));
      // Not stopped yet (an error above): ask once, then SIGKILL what is still running.
      if (w.child.connected) w.child.send({ type: 'stop' } satisfies WorkerIn, () => undefined);
      const timer = setTimeout(() => w.child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await proxy.stop();
    s3.destroy();
    await fauxqs.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
