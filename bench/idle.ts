/**
 * Idle footprint (issue #6 item 2, #17 item 4): a real `hoist agent` daemon with SQS configured,
 * so S3 polling at its default with SQS (every 5 minutes, a safety net), one healthy app and
 * nothing to deploy. RSS (VmRSS, RssAnon, RssFile) and CPU time (each thread's schedstat) read
 * from /proc at the start and the end of a 10 minute window (quick: 5 minutes, one poll period;
 * extrapolated to an hour). Beside it idle a bare `node` (what the runtime alone costs) and the
 * floor (lib/idle-floor.js: the prescribed libraries making the same kinds of requests at the same
 * rates). The agent and the floor each talk to fauxqs through their own loopback proxy
 * (test/helpers/fault-proxy.ts, no faults), which counts the requests they make in the window.
 *
 * What runs is what ships: the esbuild bundle of scripts/package.ts, run by this Node with the
 * executable's V8 flags (RUNTIME_FLAGS), at the default log level. Knobs, for investigations:
 *
 *   HOIST_BENCH_IDLE_ENTRY=bundle|dev|<path of a packaged hoist>   default bundle
 *   HOIST_BENCH_IDLE_FLAGS="--flag ..."   V8 flags instead of RUNTIME_FLAGS ("none": no flags)
 *   HOIST_BENCH_IDLE_SECONDS=N            the window
 *   HOIST_BENCH_IDLE_LOG=debug            the agent's log level (default info, the config default)
 *   HOIST_BENCH_IDLE_OUTPUT=PREFIX        keep the agent's last output in PREFIX-<pid>.log (and with
 *                                         HOIST_BENCH_HEAP_SNAPSHOT=1 a heap snapshot of it)
 *
 * With `metrics` (bench/idle-metrics.ts) the agent also serves metrics.listen on a loopback port,
 * scraped by this process at a fixed interval through the window. The `idle` bench runs a second
 * agent that way beside the first, in the same window, for its requests an hour with metrics on
 * (idle-metrics has the rest of what metrics cost).
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { BUCKET, TEST_AWS_ENV } from '../test/helpers/harness.ts';
import { startFaultProxy, type FaultProxy, type ProxyLogEntry } from '../test/helpers/fault-proxy.ts';
import { DEFAULT_POLL_WITH_SQS } from '../src/config/schema.ts';
import { bundle } from '../scripts/package.ts';
import { RUNTIME_FLAGS } from '../src/cli/defaults.ts';
import { HTTP_HANDLER_OPTIONS, SDK_MAX_ATTEMPTS } from '../src/aws/clients.ts';
import { s3Keys } from '../src/aws/keys.ts';
import { parseDuration } from '../src/util/units.ts';
import { createRig, enableMetrics, settled, type AgentEntry, type Rig } from './lib/agent-rig.ts';
import type { Bench } from './lib/context.ts';
import { figure, valueOf, type Figure } from './lib/figures.ts';
import { MiB, residentByMapping, sampleProcess, threadCpu } from './lib/measure.ts';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'mem-probe.js');
const FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'idle-floor.js');
/** The default rates with SQS: a poll tick every 5 minutes (GETs of channel and pin), 20 s long polls, a report every 5 minutes. */
const POLL = DEFAULT_POLL_WITH_SQS;
const POLL_SECONDS = 300;
const JITTER = '10s';
const WAIT_SECONDS = 20;
const REPORT_SECONDS = 300;

export interface IdleRig extends Rig {
  /** The proxy between the agent and fauxqs: its log is every request the agent made. */
  readonly proxy: FaultProxy;
}

/**
 * The rig every idle measurement uses: SQS long polling, S3 polling at its default with SQS, the
 * agent logging at `logLevel` and talking to fauxqs through a counting proxy, and version 1
 * published for it to deploy.
 */
export async function createIdleRig(logLevel: string): Promise<IdleRig> {
  const rig = await createRig((queueUrl) => ({
    source: { s3: { bucket: BUCKET, jitter: JITTER }, sqs: { queueUrl, waitSeconds: WAIT_SECONDS } },
  }));
  let proxy: FaultProxy | undefined;
  try {
    const h = rig.harness;
    proxy = await startFaultProxy(h.aws.endpoint);
    // The harness logs at debug for the tests; the daemon as configured on a host logs at info.
    const config = parse(await readFile(h.configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(h.configPath, stringify({ ...config, endpoint: proxy.url, log: { level: logLevel } }));
    await h.publish('1', await h.artifact('1'));
    const counting = proxy;
    return {
      ...rig,
      proxy: counting,
      async [Symbol.asyncDispose]() {
        await rig[Symbol.asyncDispose]();
        await counting.stop();
      },
    };
  } catch (error) {
    await rig[Symbol.asyncDispose]();
    await proxy?.stop();
    throw error;
  }
}

/** Requests in a proxy's log from `from` on, by kind: SQS calls (POST), S3 GETs, S3 PUTs, others. */
function requestsSince(log: readonly ProxyLogEntry[], from: number): { total: number; sqs: number; get: number; put: number; other: number } {
  const counts = { total: 0, sqs: 0, get: 0, put: 0, other: 0 };
  for (const entry of log.slice(from)) {
    counts.total++;
    if (entry.method === 'POST') counts.sqs++;
    else if (entry.method === 'GET') counts.get++;
    else if (entry.method === 'PUT') counts.put++;
    else counts.other++;
  }
  return counts;
}

interface MemReport {
  memory: NodeJS.MemoryUsage;
  afterGc?: NodeJS.MemoryUsage;
  spaces: Record<string, number>;
  committed: Record<string, number>;
  builtins?: string[];
}

export interface IdleOptions {
  readonly entry: 'bundle' | 'dev' | { readonly executable: string };
  readonly flags: readonly string[];
  readonly seconds: number;
  readonly logLevel: string;
  /** Where the bundle is written. */
  readonly work: string;
  readonly log: (message: string) => void;
  /** Bundle options (defaults: as shipped). */
  readonly minify?: boolean | 'whitespace';
  /** Turn metrics.listen on and scrape it every `scrapeSeconds` during the window. */
  readonly metrics?: { readonly scrapeSeconds: number };
}

export interface IdleResult {
  readonly figures: Figure[];
  readonly label: string;
}

export function idleOptionsFromEnv(ctx: { quick: boolean; work: string; log: (m: string) => void }): IdleOptions {
  const env = process.env;
  const entry = env['HOIST_BENCH_IDLE_ENTRY'] ?? 'bundle';
  const flags = env['HOIST_BENCH_IDLE_FLAGS'];
  return {
    entry: entry === 'bundle' || entry === 'dev' ? entry : { executable: path.resolve(entry) },
    flags: flags === undefined ? RUNTIME_FLAGS : flags === 'none' ? [] : flags.split(/\s+/).filter((f) => f !== ''),
    // whole poll periods, so that the S3 poll is in the window as often as in an hour
    seconds: Number(env['HOIST_BENCH_IDLE_SECONDS'] ?? (ctx.quick ? POLL_SECONDS : 2 * POLL_SECONDS)),
    logLevel: env['HOIST_BENCH_IDLE_LOG'] ?? 'info',
    work: ctx.work,
    log: ctx.log,
  };
}

export async function measureIdle(o: IdleOptions): Promise<IdleResult> {
  const { seconds } = o;
  let entry: AgentEntry;
  if (o.entry === 'dev') entry = { kind: 'dev' };
  else if (o.entry === 'bundle') entry = { kind: 'bundle', file: await bundle(path.join(o.work, 'hoist.cjs'), o.minify === undefined ? {} : { minify: o.minify }) };
  else entry = { kind: 'executable', file: o.entry.executable };
  const label = `${entry.kind}${entry.kind === 'executable' ? '' : ` ${o.flags.join(' ') || '(no flags)'}`}${o.minify === undefined ? '' : ` minify=${String(o.minify)}`}, log ${o.logLevel}${o.metrics === undefined ? '' : `, metrics scraped every ${o.metrics.scrapeSeconds} s`}`;
  await using rig = await createIdleRig(o.logLevel);
  const h = rig.harness;
  const metricsUrl = o.metrics === undefined ? undefined : await enableMetrics(h.configPath);
  const memFile = path.join(h.dir, 'mem.json');
  const agent = rig.startEntry(entry, { flags: o.flags, env: { NODE_OPTIONS: `--import=${PROBE}`, HOIST_BENCH_MEM_FILE: memFile } });
  const pid = agent.child.pid ?? 0;
  // the bare runtime, idling with one timer, for comparison
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  // the floor: the agent's libraries making the agent's idle requests and nothing else (its own queue)
  const keys = s3Keys('');
  const floorBundle = await bundle(path.join(o.work, 'idle-floor.cjs'), { entry: FLOOR, ...(o.minify === undefined ? {} : { minify: o.minify }) });
  await using floorProxy = await startFaultProxy(h.aws.endpoint);
  const floor = spawn(process.execPath, [...o.flags, floorBundle], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      ...TEST_AWS_ENV,
      HOIST_FLOOR_ENDPOINT: floorProxy.url,
      HOIST_FLOOR_CLIENT: JSON.stringify({ maxAttempts: SDK_MAX_ATTEMPTS, requestHandler: HTTP_HANDLER_OPTIONS }),
      HOIST_FLOOR_BUCKET: BUCKET,
      HOIST_FLOOR_KEYS: [keys.channel('web', 'prod'), keys.pin('web', 'prod')].join(','),
      HOIST_FLOOR_QUEUE: await h.aws.createQueue('hoist-bench-floor'),
      HOIST_FLOOR_POLL: POLL,
      HOIST_FLOOR_JITTER_MS: String(parseDuration(JITTER) ?? 10_000),
      HOIST_FLOOR_REPORT_KEY: 'status/web/floor/host-1.json',
      HOIST_FLOOR_REPORT_MS: String(REPORT_SECONDS * 1000),
    },
  });
  try {
    await rig.waitState(settled('1'), 120_000, 100).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${agent.output().slice(-4000)}`);
    });
    await delay(5_000); // let the first deploy's garbage be collected and the pollers settle
    // Start 5 s before a poll tick (POLL fires on the clock's 5-minute marks), so that a window of
    // whole poll periods holds as many ticks as an hour does per period, never one more or less.
    const period = POLL_SECONDS * 1000;
    const untilTick = period - (Date.now() % period);
    await delay(untilTick > 5_000 ? untilTick - 5_000 : untilTick + period - 5_000);
    const first = await sampleProcess(pid);
    const firstThreads = await threadCpu(pid);
    const bareFirstCpu = sum(await threadCpu(bare.pid ?? 0));
    const floorFirstCpu = sum(await threadCpu(floor.pid ?? 0));
    o.log(`${label}: measuring ${seconds} s from RSS ${(first.rss / MiB).toFixed(1)} MiB`);
    let maxRss = first.rss;
    const agentLogAt = rig.proxy.requests.length;
    const floorLogAt = floorProxy.requests.length;
    const started = performance.now();
    const scraper = metricsUrl === undefined || o.metrics === undefined ? undefined : scrapeEvery(metricsUrl, o.metrics.scrapeSeconds);
    while (performance.now() - started < seconds * 1000) {
      await delay(Math.min(5_000, seconds * 1000 - (performance.now() - started)));
      maxRss = Math.max(maxRss, (await sampleProcess(pid)).rss);
    }
    const elapsed = (performance.now() - started) / 1000;
    const agentRequests = requestsSince(rig.proxy.requests, agentLogAt);
    const floorRequests = requestsSince(floorProxy.requests, floorLogAt);
    const scrapes = scraper?.stop();
    const last = await sampleProcess(pid);
    const lastThreads = await threadCpu(pid);
    const bareLast = await sampleProcess(bare.pid ?? 0);
    const bareCpu = sum(await threadCpu(bare.pid ?? 0)) - bareFirstCpu;
    const floorLast = await sampleProcess(floor.pid ?? 0);
    const floorCpu = sum(await threadCpu(floor.pid ?? 0)) - floorFirstCpu;
    const cpu = sum(lastThreads) - sum(firstThreads);
    const byThread = new Map<string, number>();
    for (const t of lastThreads) {
      const before = firstThreads.find((f) => f.tid === t.tid)?.seconds ?? 0;
      byThread.set(t.name, (byThread.get(t.name) ?? 0) + t.seconds - before);
    }
    const mappings = await residentByMapping(pid);
    const keep = process.env['HOIST_BENCH_IDLE_OUTPUT'];
    if (keep !== undefined && keep !== '') await writeFile(`${keep}-${pid}.log`, agent.output());
    agent.kill('SIGUSR2');
    let report: MemReport | undefined;
    for (let i = 0; i < 300 && report === undefined; i++) {
      await delay(100);
      report = await readFile(memFile, 'utf8').then((t) => JSON.parse(t) as MemReport, () => undefined);
    }
    if (keep !== undefined && keep !== '') await copyFile(`${memFile}.heapsnapshot`, `${keep}-${pid}.heapsnapshot`).catch(() => undefined);
    const cpuPerHour = (cpu / elapsed) * 3600;
    const bareCpuPerHour = (bareCpu / elapsed) * 3600;
    const floorCpuPerHour = (floorCpu / elapsed) * 3600;
    // What the default rates ask for: one long poll per WaitTimeSeconds, a GET of the channel and
    // of the pin per poll tick, a status report per report interval.
    const expectedPerHour = 3600 / WAIT_SECONDS + 2 * (3600 / POLL_SECONDS) + 3600 / REPORT_SECONDS;
    const perHour = (n: number): number => (n / elapsed) * 3600;
    const requestsPerHour = perHour(agentRequests.total);
    const floorRequestsPerHour = perHour(floorRequests.total);
    // the floor's CPU at the agent's request rate (the SDK's cost per request, times the agent's requests)
    const floorAtAgentRate = floorRequestsPerHour === 0 ? 0 : (floorCpuPerHour / floorRequestsPerHour) * requestsPerHour;
    const t0 = Date.now() - elapsed * 1000;
    o.log(`${label}: S3 requests in the window: ${rig.proxy.requests.slice(agentLogAt).filter((e) => e.method !== 'POST').map((e) => `${e.method} ${e.url.split('?')[0] ?? ''} ${e.status}`).join(', ') || 'none'} (window from ${new Date(t0).toISOString()})`);
    const kinds = (r: typeof agentRequests): string => `${r.sqs} SQS, ${r.get} S3 GET, ${r.put} S3 PUT${r.other === 0 ? '' : `, ${r.other} other`}`;
    const ticks = last.cpuSeconds - first.cpuSeconds;
    const window = `${Math.round(elapsed)} s window${seconds < 3600 ? ', extrapolated to 1 h' : ''}`;
    o.log(`${label}: CPU ms by thread: ${[...byThread].filter(([, v]) => v > 0).map(([n, v]) => `${n} ${(v * 1000).toFixed(1)}`).join(', ')}`);
    o.log(`${label}: resident by mapping: ${mappings.slice(0, 8).map((m) => `${m.name} ${(m.bytes / MiB).toFixed(1)}`).join(', ')} MiB`);
    const figures = [
      figure('idle.rss', last.rss / MiB, 'MiB', { baseline: 64, against: 'target', note: `VmRSS at the end of the ${window}; ${label}` }),
      figure('idle.rss_anon', last.rssAnon / MiB, 'MiB', { note: 'RssAnon: V8 heap, malloc, stacks' }),
      figure('idle.rss_file', last.rssFile / MiB, 'MiB', { note: 'RssFile: the node executable and libraries paged in' }),
      figure('idle.rss_max', maxRss / MiB, 'MiB', { baseline: 64, against: 'target' }),
      figure('idle.rss_vs_bare_node', last.rss / MiB, 'MiB', { baseline: bareLast.rss / MiB, against: 'bare node idling' }),
      figure('idle.bare_node_rss_anon', bareLast.rssAnon / MiB, 'MiB'),
      figure('idle.cpu_per_hour', cpuPerHour, 's/h', { baseline: 1, against: 'target', note: `${cpu.toFixed(3)} s CPU (thread schedstat; ${ticks.toFixed(2)} s in utime+stime ticks) in the ${window}` }),
      figure('idle.cpu_per_hour_bare_node', bareCpuPerHour, 's/h'),
      figure('idle.rss_vs_floor', last.rss / MiB, 'MiB', { baseline: floorLast.rss / MiB, against: 'floor', note: 'floor: Node with the S3 and SQS clients, pino, node-cron, zod, yaml and tar loaded, making the same idle requests (bench/lib/idle-floor.js)' }),
      figure('idle.requests_per_hour', requestsPerHour, '/h', { baseline: expectedPerHour, against: 'the default rates', note: `${kinds(agentRequests)} in the ${window} (counted by a proxy); expected: ${3600 / WAIT_SECONDS} long polls, ${2 * (3600 / POLL_SECONDS)} GETs (poll ${POLL}), ${3600 / REPORT_SECONDS} reports` }),
      figure('idle.floor_requests_per_hour', floorRequestsPerHour, '/h', { note: `the floor: ${kinds(floorRequests)}` }),
      figure('idle.cpu_vs_floor', cpuPerHour, 's/h', { baseline: floorAtAgentRate, against: 'floor at the agent\'s request rate', note: `target ratio <= 1.1 where 1 s/h is out of reach; the floor measured ${floorCpuPerHour.toFixed(3)} s/h at ${floorRequestsPerHour.toFixed(0)} requests/h, scaled to the agent's ${requestsPerHour.toFixed(0)}` }),
      figure('idle.floor_cpu_per_request', floorRequestsPerHour === 0 ? 0 : (floorCpuPerHour / floorRequestsPerHour) * 1000, 'ms', { note: `the floor's CPU per request at ${floorRequestsPerHour.toFixed(0)} requests per hour (each after seconds of idling)` }),
    ];
    if (report !== undefined) {
      const m = report.memory;
      const builtins = report.builtins ?? [];
      const undici = builtins.findIndex((b) => b.includes('undici'));
      if (undici >= 0) o.log(`${label}: Node's fetch (undici) was loaded, after ${builtins.slice(Math.max(0, undici - 6), undici).join(', ')}`);
      if (report.afterGc !== undefined) o.log(`${label}: after a full GC: ${JSON.stringify(report.afterGc)}`);
      o.log(`${label}: memoryUsage: ${JSON.stringify(m)}; spaces used: ${JSON.stringify(report.spaces)}; committed: ${JSON.stringify(report.committed)}`);
      const code = (report.spaces['code_space'] ?? 0) + (report.spaces['code_large_object_space'] ?? 0);
      figures.push(
        figure('idle.heap_used', m.heapUsed / MiB, 'MiB', { note: 'V8 heap in use (process.memoryUsage inside the agent)' }),
        figure('idle.heap_total', m.heapTotal / MiB, 'MiB'),
        figure('idle.code_space', code / MiB, 'MiB'),
        figure('idle.external', m.external / MiB, 'MiB', { note: 'buffers and native memory V8 knows of' }),
        figure('idle.rss_outside_heap', (m.rss - m.heapTotal - m.external) / MiB, 'MiB', { note: 'RSS not in the JS heap: the node binary, libuv, ICU, malloc, thread stacks' }),
      );
    }
    if (scrapes !== undefined) {
      figures.push(
        figure('idle.metrics_scrapes_per_hour', (scrapes.count / elapsed) * 3600, '/h', { note: `${scrapes.count} scrapes of ${metricsUrl ?? ''} in the window, ${scrapes.bytes} bytes each` }),
        figure('idle.metrics_scrape_failures', scrapes.failures, ''),
      );
    }
    return { figures, label };
  } finally {
    bare.kill('SIGKILL');
    floor.kill('SIGKILL');
  }
}

/** GETs `url` every `seconds` (as Prometheus scrapes, one keep-alive connection) until stopped. */
function scrapeEvery(url: string, seconds: number): { stop(): { count: number; failures: number; bytes: number } } {
  let count = 0;
  let failures = 0;
  let bytes = 0;
  let running = true;
  const wake = new AbortController();
  void (async () => {
    while (running) {
      try {
        const res = await fetch(url);
        const text = await res.text();
        if (res.status === 200 && text.includes('hoist_deploys_total')) count++;
        else failures++;
        bytes = text.length;
      } catch {
        failures++;
      }
      await delay(seconds * 1000, undefined, { signal: wake.signal }).catch(() => undefined);
    }
  })();
  return {
    stop() {
      running = false;
      wake.abort();
      return { count, failures, bytes };
    },
  };
}

function sum(threads: ReadonlyArray<{ seconds: number }>): number {
  return threads.reduce((a, t) => a + t.seconds, 0);
}

export const idle: Bench = {
  name: 'idle',
  title: 'idle footprint: agent daemon with SQS long polling and S3 polling, nothing to deploy',
  async run(ctx) {
    // a second agent with metrics.listen, scraped every 15 s, idles beside it in the same window:
    // its requests are counted the same way (CPU is per process, so neither disturbs the other's)
    const base = idleOptionsFromEnv(ctx);
    await mkdir(path.join(ctx.work, 'plain'), { recursive: true });
    await mkdir(path.join(ctx.work, 'metrics'), { recursive: true });
    const [plain, withMetrics] = await Promise.all([
      measureIdle({ ...base, work: path.join(ctx.work, 'plain') }),
      measureIdle({ ...base, work: path.join(ctx.work, 'metrics'), metrics: { scrapeSeconds: 15 }, log: (m) => ctx.log(`with metrics: ${m}`) }),
    ]);
    const pick = (name: string): number => valueOf(withMetrics.figures, name);
    const plainValue = (name: string): number => valueOf(plain.figures, name);
    return [
      ...plain.figures,
      figure('idle.requests_per_hour_with_metrics', pick('idle.requests_per_hour'), '/h', {
        baseline: plainValue('idle.requests_per_hour'),
        against: 'without metrics',
        note: 'a second agent idling beside it with metrics.listen, scraped every 15 s (scrapes are not AWS requests)',
      }),
      figure('idle.cpu_per_hour_with_metrics', pick('idle.cpu_per_hour'), 's/h', { baseline: plainValue('idle.cpu_per_hour'), against: 'without metrics' }),
    ];
  },
};
