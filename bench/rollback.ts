/**
 * Rollback time (issue #6 item 6): with release 1 healthy, publish a release whose /healthz
 * answers 500; measure from its first failing probe to "rolled back to 1" (the previous release
 * restarted and confirmed healthy), from the agent's own log timestamps. Repeated 3 times (quick:
 * 2), each with a new failing artifact since a failed digest is never retried.
 */
import { BUCKET } from '../test/helpers/harness.ts';
import { createRig, sequenceOf } from './lib/agent-rig.ts';
import type { Bench } from './lib/context.ts';
import { figure } from './lib/figures.ts';
import { median } from './lib/measure.ts';

interface LogLine {
  time?: string | number;
  msg?: string;
  ok?: boolean;
  version?: string;
  step?: string;
}

export const rollback: Bench = {
  name: 'rollback',
  title: 'rollback time: first failing probe -> previous release healthy again',
  async run(ctx) {
    const rounds = ctx.quick ? 2 : 3;
    const startPeriod = 2_000;
    await using rig = await createRig((queueUrl) => ({
      source: { s3: { bucket: BUCKET, poll: '*/30 * * * * *', jitter: '10s' }, sqs: { queueUrl, waitSeconds: 20 } },
      health: { interval: '100ms', successThreshold: 2, startPeriod: `${startPeriod}ms`, bake: '0s' },
    }));
    const h = rig.harness;
    const good = await h.artifact('1');
    const agent = rig.start();
    const first = await h.publish('1', good);
    await rig.notify(first);
    await rig.waitState((s) => s.current?.version === '1' && s.txn === undefined, 60_000, 20);
    const times: number[] = [];
    const decisions: number[] = [];
    for (let i = 1; i <= rounds; i++) {
      const version = `bad-${i}`;
      const bad = await h.artifact(version, 'unhealthy');
      const envelope = await h.publish(version, bad);
      const seq = sequenceOf(envelope);
      await rig.notify(envelope);
      await rig.waitState((s) => s.highWater.release?.sequence === seq && s.txn === undefined && s.lastAttempt?.outcome === 'rolled-back', 60_000, 20);
      const lines = agent
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            const line = JSON.parse(l) as LogLine;
            // pino writes ISO times here; milliseconds since the epoch from here on
            return { ...line, time: line.time === undefined ? undefined : new Date(line.time).getTime() } as LogLine & { time?: number };
          } catch {
            return {};
          }
        });
      const at = (l: LogLine | undefined): number | undefined => (typeof l?.time === 'number' ? l.time : undefined);
      const firstFail = at(lines.find((l) => l.version === version && l.msg === 'probe' && l.ok === false));
      const decided = at(lines.find((l) => l.msg === 'rolling back to 1' && l.version === version));
      const done = at(lines.find((l) => l.msg === `rolled back to 1; ${version} is on the failed list`));
      if (firstFail === undefined || done === undefined || decided === undefined) throw new Error(`log lines missing for ${version}:\n${agent.output().slice(-3000)}`);
      times.push(done - firstFail);
      decisions.push(decided - firstFail);
      ctx.log(`${version}: first failing probe -> rolled back ${done - firstFail} ms (decision after ${decided - firstFail} ms)`);
    }
    return [
      figure('rollback.first_fail_to_previous_healthy', median(times), 'ms', { note: `median of ${rounds}; includes the health policy: startPeriod ${startPeriod} ms, interval 100 ms, successThreshold 2, plus restart of the previous release` }),
      figure('rollback.first_fail_to_decision', median(decisions), 'ms', { note: 'how long the health policy keeps probing before it gives up' }),
      figure('rollback.decision_to_previous_healthy', median(times) - median(decisions), 'ms', { note: 'flip back + restart + confirming the previous release healthy' }),
    ];
  },
};
