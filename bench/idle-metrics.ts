/**
 * What metrics cost an idle agent: two agents idle side by side in the same window, as in
 * bench/idle.ts, one without metrics and one with `metrics.listen` scraped every 15 s (a common
 * Prometheus scrape interval; 240 scrapes an hour). The figures are the differences in RSS and
 * CPU between the two. Beside them, prom-client's default process metrics
 * (collectDefaultMetrics, which hoist leaves out) measured the same way in two bare processes
 * (bench/lib/metrics-probe.js with and without them), so the decision has a number.
 *
 *   npm run bench -- [quick] idle-metrics       HOIST_BENCH_IDLE_SECONDS=N for another window
 *
 * CPU is per process (thread schedstat), so running side by side changes wall times, not the
 * figures compared; the two floors idling beside the agents show the run-to-run noise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { RUNTIME_FLAGS } from '../src/cli/defaults.ts';
import { bundle } from '../scripts/package.ts';
import { idleOptionsFromEnv, measureIdle } from './idle.ts';
import type { Bench } from './lib/context.ts';
import { baselineOf, figure, valueOf as value, type Figure } from './lib/figures.ts';
import { MiB, sampleProcess, threadCpu } from './lib/measure.ts';

const SCRAPE_SECONDS = 15;
const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'metrics-probe.js');

export const idleMetrics: Bench = {
  name: 'idle-metrics',
  title: 'idle cost of metrics: the agent with metrics.listen scraped every 15 s against one without',
  async run(ctx) {
    const base = idleOptionsFromEnv(ctx);
    const work = (name: string): string => path.join(ctx.work, name);
    await mkdir(work('plain'), { recursive: true });
    await mkdir(work('metrics'), { recursive: true });
    const [plain, withMetrics, probes] = await Promise.all([
      measureIdle({ ...base, work: work('plain'), log: (m) => ctx.log(`without: ${m}`) }),
      measureIdle({ ...base, work: work('metrics'), metrics: { scrapeSeconds: SCRAPE_SECONDS }, log: (m) => ctx.log(`with: ${m}`) }),
      measureDefaultMetrics(base.seconds, ctx.work),
    ]);
    const d = (name: string): number => value(withMetrics.figures, name) - value(plain.figures, name);
    return [
      figure('idle_metrics.rss', d('idle.rss'), 'MiB', { note: `VmRSS with metrics (${value(withMetrics.figures, 'idle.rss')}) minus without (${value(plain.figures, 'idle.rss')}), same window` }),
      figure('idle_metrics.rss_anon', d('idle.rss_anon'), 'MiB'),
      figure('idle_metrics.heap_used', d('idle.heap_used'), 'MiB'),
      figure('idle_metrics.cpu_per_hour', d('idle.cpu_per_hour'), 's/h', { note: `with ${value(withMetrics.figures, 'idle.cpu_per_hour')} s/h, without ${value(plain.figures, 'idle.cpu_per_hour')}` }),
      figure('idle_metrics.bare_node_cpu_noise', value(withMetrics.figures, 'idle.cpu_per_hour_bare_node') - value(plain.figures, 'idle.cpu_per_hour_bare_node'), 's/h', { note: 'the same difference between the two bare nodes idling beside them: what noise looks like' }),
      figure('idle_metrics.floor_cpu_noise', baselineOf(withMetrics.figures, 'idle.cpu_vs_floor') - baselineOf(plain.figures, 'idle.cpu_vs_floor'), 's/h', { note: 'and between the two floors (the same requests, no hoist)' }),
      figure('idle_metrics.agent_cpu_per_hour', value(withMetrics.figures, 'idle.cpu_per_hour'), 's/h', { baseline: value(plain.figures, 'idle.cpu_per_hour'), against: 'without metrics' }),
      figure('idle_metrics.requests_per_hour', value(withMetrics.figures, 'idle.requests_per_hour'), '/h', { baseline: value(plain.figures, 'idle.requests_per_hour'), against: 'without metrics', note: 'requests to S3 and SQS, counted by a proxy (scrapes are not among them)' }),
      figure('idle_metrics.scrapes_per_hour', value(withMetrics.figures, 'idle.metrics_scrapes_per_hour'), '/h'),
      figure('idle_metrics.cpu_per_scrape', (d('idle.cpu_per_hour') / Math.max(1, value(withMetrics.figures, 'idle.metrics_scrapes_per_hour'))) * 1000, 'ms'),
      figure('idle_metrics.scrape_failures', value(withMetrics.figures, 'idle.metrics_scrape_failures'), ''),
      ...probes,
    ];
  },
};

/**
 * Two bare Node processes with prom-client and an HTTP endpoint scraped at the same rate, one with
 * collectDefaultMetrics: the cost of the default metrics alone.
 */
async function measureDefaultMetrics(seconds: number, work: string): Promise<Figure[]> {
  const probe = await bundle(path.join(work, 'metrics-probe.cjs'), { entry: PROBE });
  const start = (defaults: boolean): Promise<{ child: ChildProcess; url: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...RUNTIME_FLAGS, probe], { env: { ...process.env, HOIST_PROBE_DEFAULTS: defaults ? '1' : '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout?.setEncoding('utf8').once('data', (d: string) => resolve({ child, url: d.trim() }));
      child.once('error', reject);
    });
  const [off, on] = await Promise.all([start(false), start(true)]);
  try {
    await delay(10_000);
    const first = await Promise.all([off, on].map(async (p) => ({ rss: (await sampleProcess(p.child.pid ?? 0)).rss, cpu: sum(await threadCpu(p.child.pid ?? 0)) })));
    const started = performance.now();
    let bytesOn = 0;
    while (performance.now() - started < seconds * 1000) {
      const [, textOn] = await Promise.all([off, on].map(async (p) => (await fetch(p.url)).text()));
      bytesOn = textOn?.length ?? 0;
      await delay(Math.min(SCRAPE_SECONDS * 1000, Math.max(0, seconds * 1000 - (performance.now() - started))));
    }
    const elapsed = (performance.now() - started) / 1000;
    const last = await Promise.all([off, on].map(async (p) => ({ rss: (await sampleProcess(p.child.pid ?? 0)).rss, cpu: sum(await threadCpu(p.child.pid ?? 0)) })));
    const cpuPerHour = (i: number): number => (((last[i]?.cpu ?? 0) - (first[i]?.cpu ?? 0)) / elapsed) * 3600;
    return [
      figure('idle_metrics.default_metrics_cpu_per_hour', cpuPerHour(1) - cpuPerHour(0), 's/h', { note: `prom-client collectDefaultMetrics, bare process with the endpoint: ${cpuPerHour(1).toFixed(2)} s/h with, ${cpuPerHour(0).toFixed(2)} without` }),
      figure('idle_metrics.default_metrics_rss', ((last[1]?.rss ?? 0) - (last[0]?.rss ?? 0)) / MiB, 'MiB', { note: `a scrape with them is ${bytesOn} bytes` }),
    ];
  } finally {
    off.child.kill('SIGKILL');
    on.child.kill('SIGKILL');
  }
}

function sum(threads: ReadonlyArray<{ seconds: number }>): number {
  return threads.reduce((a, t) => a + t.seconds, 0);
}
