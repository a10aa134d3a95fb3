/**
 * When the idle agent uses CPU, and how much each time (an investigation aid for bench/idle.ts,
 * not part of `npm run bench`):
 *
 *   node bench/idle-trace.ts [--seconds 90] [--every 20] [--log info]
 *
 * The same rig as bench/idle.ts (the bundle with RUNTIME_FLAGS, SQS long polling and S3 polling at
 * the default rates with SQS, one healthy app). Every `--every` ms it reads each thread's
 * schedstat and prints every interval in which the agent ran, with the CPU it used and the threads
 * that used it, then the agent's log lines of the window. The S3 poll ticks, the long-poll cycles
 * and the timers between them are told apart by when they happen.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { bundle } from '../scripts/package.ts';
import { RUNTIME_FLAGS } from '../src/cli/defaults.ts';
import { settled } from './lib/agent-rig.ts';
import { createIdleRig } from './idle.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '90' }, every: { type: 'string', default: '20' }, log: { type: 'string', default: 'info' } },
});
const seconds = Number(values.seconds);
const every = Number(values.every);

await using rig = await createIdleRig(values.log);
const file = await bundle(path.join(rig.harness.dir, 'hoist.cjs'));
const agent = rig.startEntry({ kind: 'bundle', file }, { flags: RUNTIME_FLAGS });
const pid = agent.child.pid ?? 0;
await rig.waitState(settled('1'), 120_000, 100);
await delay(5_000);

/** CPU ms so far, by thread name. */
async function threads(): Promise<Map<string, number>> {
  const byName = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0');
    const name = (await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '?')).trim();
    byName.set(name, (byName.get(name) ?? 0) + Number(stat.split(' ')[0]) / 1e6);
  }
  return byName;
}
const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

const logFrom = agent.output().length;
const started = Date.now();
const first = await threads();
let previous = first;
while (Date.now() - started < seconds * 1000) {
  await delay(every);
  const now = await threads();
  const used = total(now) - total(previous);
  if (used > 0.02) {
    const parts = [...now].map(([name, ms]) => [name, ms - (previous.get(name) ?? 0)] as const).filter(([, ms]) => ms >= 0.01);
    process.stdout.write(`${((Date.now() - started) / 1000).toFixed(2).padStart(7)} s  ${used.toFixed(2).padStart(6)} ms  ${parts.map(([n, ms]) => `${n} ${ms.toFixed(2)}`).join(', ')}\n`);
  }
  previous = now;
}
const used = total(previous) - total(first);
process.stdout.write(`total ${used.toFixed(1)} ms of CPU in ${seconds} s = ${((used / seconds) * 3.6).toFixed(2)} s/h\n`);
for (const line of agent.output().slice(logFrom).split('\n').filter((l) => l !== '')) process.stdout.write(`log: ${line.slice(0, 240)}\n`);
