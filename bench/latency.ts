/**
 * Publish → healthy through SQS (issue #6 item 4): `hoist publish --notify-sqs` (the real CLI, a
 * child process) for a small artifact, alternating two versions, 20 times; the clock runs from
 * the publish call to the agent's state.json saying that sequence is committed and healthy.
 * The health time (interval × successThreshold) is reported apart; the agent's own log times
 * split the rest into "publish CLI", "notification to deploy start" and "deploy".
 */
import { BUCKET, HOIST_BIN, run } from '../test/helpers/harness.ts';
import type { AgentProcess } from '../test/helpers/harness.ts';
import { createRig, settled } from './lib/agent-rig.ts';
import type { Bench } from './lib/context.ts';
import { figure } from './lib/figures.ts';
import { median, percentile } from './lib/measure.ts';

const INTERVAL_MS = 100;
const SUCCESS_THRESHOLD = 2;

function logTime(agent: AgentProcess, message: (msg: string) => boolean, after: number): number | undefined {
  for (const line of agent.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const l = JSON.parse(line) as { time?: string | number; msg?: string };
      const time = l.time === undefined ? Number.NaN : new Date(l.time).getTime();
      if (time >= after && typeof l.msg === 'string' && message(l.msg)) return time;
    } catch {
      // not a log line
    }
  }
  return undefined;
}

export const latency: Bench = {
  name: 'latency',
  title: 'publish -> healthy through SQS (hoist publish --notify-sqs, 20 deploys)',
  async run(ctx) {
    const rounds = 20;
    await using rig = await createRig((queueUrl) => ({
      source: { s3: { bucket: BUCKET, poll: '*/30 * * * * *', jitter: '10s' }, sqs: { queueUrl, waitSeconds: 20 } },
      health: { interval: `${INTERVAL_MS}ms`, successThreshold: SUCCESS_THRESHOLD, startPeriod: '20s', bake: '0s' },
    }));
    const h = rig.harness;
    const artifacts = { '1': await h.artifact('1'), '2': await h.artifact('2') };
    const agent = rig.start();
    const total: number[] = [];
    const cli: number[] = [];
    const pickup: number[] = [];
    const deployMs: number[] = [];
    let lastSequence = 0;
    for (let i = 1; i <= rounds; i++) {
      const version = i % 2 === 1 ? '1' : '2';
      const wall0 = Date.now();
      const t0 = performance.now();
      const out = await run([HOIST_BIN, 'publish', '--app', 'web', '--env', 'prod', '--version', version, '--artifact', artifacts[version].file, '--bucket', BUCKET, '--key', h.keyPaths['ci']?.key ?? '', '--notify-sqs', rig.queueUrl, '--endpoint', h.aws.endpoint, '--region', h.aws.region]);
      if (out.code !== 0) throw new Error(`hoist publish failed: ${out.stderr}`);
      const t1 = performance.now();
      const seen = lastSequence;
      const t2 = await rig.waitState((s) => settled(version)(s) && (s.highWater.release?.sequence ?? 0) > seen, 60_000, 5);
      lastSequence = (await h.appState()).highWater.release?.sequence ?? lastSequence;
      total.push(t2 - t0);
      cli.push(t1 - t0);
      const start = logTime(agent, (m) => m === `deploying ${version}`, wall0);
      const healthy = logTime(agent, (m) => m === `${version} is healthy`, wall0);
      if (start !== undefined && healthy !== undefined) {
        pickup.push(start - (wall0 + (t1 - t0)));
        deployMs.push(healthy - start);
      }
      ctx.log(`#${i} ${version}: ${Math.round(t2 - t0)} ms (publish CLI ${Math.round(t1 - t0)} ms)`);
    }
    const health = INTERVAL_MS * SUCCESS_THRESHOLD;
    const p50 = median(total);
    return [
      figure('latency.publish_to_healthy_p50', p50, 'ms', { baseline: 1500 + health, against: 'target 1.5 s + health time', note: `${rounds} deploys via SQS; health time ${health} ms (interval ${INTERVAL_MS} ms x ${SUCCESS_THRESHOLD})` }),
      figure('latency.publish_to_healthy_p95', percentile(total, 95), 'ms'),
      figure('latency.health_time', health, 'ms', { note: 'interval x successThreshold, included in the figures above' }),
      figure('latency.publish_cli_p50', median(cli), 'ms', { note: 'hoist publish process: node start, S3 HEAD/PUTs, sign, SQS send' }),
      figure('latency.notify_to_deploy_start_p50', median(pickup), 'ms', { note: 'publish CLI exit -> agent logs "deploying"; negative when the agent starts before the CLI process has exited' }),
      figure('latency.agent_deploy_p50', median(deployMs), 'ms', { note: 'agent "deploying" -> "healthy" log lines: fetch, unpack, flip, restart of the test app, health' }),
    ];
  },
};

