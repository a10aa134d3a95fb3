/**
 * Idle footprint (issue #6 item 2): a real `hoist agent` daemon with SQS long polling and S3
 * polling both on, one healthy app and nothing to deploy. RSS (VmRSS) and CPU time (utime + stime)
 * read from /proc at the start and the end of a 5 minute window (quick: 60 s, extrapolated to an
 * hour). A bare `node` process idling beside it is the floor the runtime itself costs.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { BUCKET } from '../test/helpers/harness.ts';
import { createRig, settled } from './lib/agent-rig.ts';
import type { Bench } from './lib/context.ts';
import { figure } from './lib/figures.ts';
import { MiB, sampleProcess } from './lib/measure.ts';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'mem-probe.ts');

interface MemReport {
  memory: NodeJS.MemoryUsage;
  spaces: Record<string, number>;
}

export const idle: Bench = {
  name: 'idle',
  title: 'idle footprint: agent daemon with SQS long polling and S3 polling, nothing to deploy',
  async run(ctx) {
    const seconds = ctx.quick ? 60 : 300;
    await using rig = await createRig((queueUrl) => ({
      source: { s3: { bucket: BUCKET, poll: '*/30 * * * * *', jitter: '10s' }, sqs: { queueUrl, waitSeconds: 20 } },
    }));
    const h = rig.harness;
    const v1 = await h.artifact('1');
    await h.publish('1', v1);
    const memFile = path.join(h.dir, 'mem.json');
    const agent = rig.start({ NODE_OPTIONS: `--import=${PROBE}`, HOIST_BENCH_MEM_FILE: memFile });
    const pid = agent.child.pid ?? 0;
    // the bare runtime, idling with one timer, for comparison
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await rig.waitState(settled('1'), 120_000, 100);
      await delay(5_000); // let the first deploy's garbage be collected and the pollers settle
      const first = await sampleProcess(pid);
      const bareFirst = await sampleProcess(bare.pid ?? 0);
      ctx.log(`measuring ${seconds} s from RSS ${(first.rss / MiB).toFixed(1)} MiB`);
      let maxRss = first.rss;
      const started = performance.now();
      while (performance.now() - started < seconds * 1000) {
        await delay(Math.min(5_000, seconds * 1000 - (performance.now() - started)));
        maxRss = Math.max(maxRss, (await sampleProcess(pid)).rss);
      }
      const elapsed = (performance.now() - started) / 1000;
      const last = await sampleProcess(pid);
      const bareLast = await sampleProcess(bare.pid ?? 0);
      agent.kill('SIGUSR2');
      let report: MemReport | undefined;
      for (let i = 0; i < 50 && report === undefined; i++) {
        await delay(100);
        report = await readFile(memFile, 'utf8').then((t) => JSON.parse(t) as MemReport, () => undefined);
      }
      const cpuPerHour = ((last.cpuSeconds - first.cpuSeconds) / elapsed) * 3600;
      const bareCpuPerHour = ((bareLast.cpuSeconds - bareFirst.cpuSeconds) / elapsed) * 3600;
      const window = `${Math.round(elapsed)} s window${ctx.quick ? ', extrapolated to 1 h' : ''}`;
      const figures = [
        figure('idle.rss', last.rss / MiB, 'MiB', { baseline: 64, against: 'target', note: `VmRSS at the end of the ${window}` }),
        figure('idle.rss_max', maxRss / MiB, 'MiB', { baseline: 64, against: 'target' }),
        figure('idle.rss_vs_bare_node', last.rss / MiB, 'MiB', { baseline: bareLast.rss / MiB, against: 'bare node idling' }),
        figure('idle.cpu_per_hour', cpuPerHour, 's/h', { baseline: 1, against: 'target', note: `${(last.cpuSeconds - first.cpuSeconds).toFixed(2)} s CPU in the ${window}` }),
        figure('idle.cpu_per_hour_bare_node', bareCpuPerHour, 's/h'),
      ];
      if (report !== undefined) {
        const m = report.memory;
        ctx.log(`memoryUsage: ${JSON.stringify(m)}; spaces: ${JSON.stringify(report.spaces)}`);
        figures.push(
          figure('idle.heap_used', m.heapUsed / MiB, 'MiB', { note: 'V8 heap in use (process.memoryUsage inside the agent)' }),
          figure('idle.heap_total', m.heapTotal / MiB, 'MiB'),
          figure('idle.code_space', ((report.spaces['code_space'] ?? 0) + (report.spaces['code_large_object_space'] ?? 0)) / MiB, 'MiB'),
          figure('idle.external', m.external / MiB, 'MiB', { note: 'buffers and native memory V8 knows of' }),
          figure('idle.rss_outside_heap', (m.rss - m.heapTotal - m.external) / MiB, 'MiB', { note: 'RSS not in the JS heap: the node binary, libuv, ICU, thread stacks' }),
        );
      }
      return figures;
    } finally {
      bare.kill('SIGKILL');
    }
  },
};
