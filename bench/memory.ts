/**
 * Memory stability (issue #6 item 3): the agent daemon deploys a small app 500 times (quick: 100),
 * alternating two versions, each learnt through SQS; RSS after deploy 10 vs after the last.
 * No restart command and a trivial health check (`command: true`), so the agent's own memory is
 * what is measured. Target: growth ≤ 10 %.
 */
import { BUCKET } from '../test/helpers/harness.ts';
import { createRig, sequenceOf, settled } from './lib/agent-rig.ts';
import type { Bench } from './lib/context.ts';
import { figure } from './lib/figures.ts';
import { MiB, sampleProcess } from './lib/measure.ts';

export const memory: Bench = {
  name: 'memory',
  title: 'memory stability: RSS after 10 and after 500 deploys',
  async run(ctx) {
    const deploys = ctx.quick ? 100 : 500;
    await using rig = await createRig((queueUrl) => ({
      source: { s3: { bucket: BUCKET, poll: '*/30 * * * * *', jitter: '0s' }, sqs: { queueUrl, waitSeconds: 20 } },
      health: { http: undefined, command: 'true', interval: '50ms', successThreshold: 1, startPeriod: '10s', bake: '0s' },
      app: { restart: undefined },
    }));
    const h = rig.harness;
    const artifacts = { '1': await h.artifact('1'), '2': await h.artifact('2') };
    const agent = rig.start();
    const pid = agent.child.pid ?? 0;
    const samples: Array<{ deploy: number; rss: number }> = [];
    const started = performance.now();
    for (let i = 1; i <= deploys; i++) {
      const version = i % 2 === 1 ? '1' : '2';
      const envelope = await h.publish(version, artifacts[version]);
      await rig.notify(envelope);
      await rig.waitState(settled(version, sequenceOf(envelope)), 60_000, 5);
      if (i === 10 || i % 50 === 0 || i === deploys) {
        const { rss } = await sampleProcess(pid);
        samples.push({ deploy: i, rss });
        ctx.log(`after ${i} deploys: RSS ${(rss / MiB).toFixed(1)} MiB`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const at10 = samples.find((s) => s.deploy === 10)?.rss ?? Number.NaN;
    const atEnd = samples.at(-1)?.rss ?? Number.NaN;
    const hwm = (await sampleProcess(pid)).hwm;
    const curve = samples.map((s) => `${s.deploy}:${(s.rss / MiB).toFixed(1)}`).join(' ');
    return [
      figure(`memory.rss_after_${deploys}`, atEnd / MiB, 'MiB', { baseline: at10 / MiB, against: 'RSS after 10 deploys', note: `growth target <= 1.1x; curve ${curve}` }),
      figure('memory.rss_high_water', hwm / MiB, 'MiB'),
      figure('memory.deploys_per_second', deploys / seconds, 'deploys/s', { note: 'publish + SQS notify + fetch + unpack + flip + health + commit' }),
    ];
  },
};
