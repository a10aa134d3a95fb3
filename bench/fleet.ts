/**
 * `npx node bench/fleet.ts [--hosts 500] [--workers N] [--poll 5] [--idle-polls 3] [--no-pin]
 *   [--step-gap 60] [--no-rollout] [--json FILE]`
 *
 * Runs the fleet simulation (bench/fleet/sim.ts): many real agents against one S3 emulator, then
 * the rollout phases (bench/fleet/rollout.ts: steps 5 % -> 25 % -> 100 % one --step-gap apart, a
 * broken release with maxFailures 3, its fix). Prints a table; writes one JSON object per figure
 * (name, value, unit, baseline, ratio) to stdout, or to FILE with --json. Exit 1 when the fleet
 * did not converge, a cohort is off, or the halt did not hold.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runFleetSimulation, type Figure } from './fleet/sim.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '500' },
    workers: { type: 'string' },
    poll: { type: 'string', default: '5' },
    'idle-polls': { type: 'string', default: '3' },
    'no-pin': { type: 'boolean', default: false },
    'no-rollout': { type: 'boolean', default: false },
    'step-gap': { type: 'string', default: '60' },
    json: { type: 'string' },
  },
});

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive integer, got ${text}\n`);
    process.exit(2);
  }
  return n;
}

function table(figures: Figure[]): string {
  const rows = figures.map((f) => [f.name, String(f.value), f.unit, f.baseline === null ? '-' : String(f.baseline), f.ratio === null ? '-' : String(f.ratio)]);
  const head = ['figure', 'value', 'unit', 'baseline', 'ratio'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

const started = Date.now();
const workers = int('workers', values.workers);
const result = await runFleetSimulation({
  hosts: int('hosts', values.hosts) ?? 500,
  ...(workers === undefined ? {} : { workers }),
  pollSeconds: int('poll', values.poll) ?? 5,
  idlePolls: int('idle-polls', values['idle-polls']) ?? 3,
  pinKey: !values['no-pin'],
  rollout: !values['no-rollout'],
  stepGapSeconds: int('step-gap', values['step-gap']) ?? 60,
  progress: (line) => process.stderr.write(`[fleet] ${line}\n`),
});
process.stderr.write(`\n${table(result.figures)}\n\n`);
process.stderr.write(`wall time ${((Date.now() - started) / 1000).toFixed(1)} s; cohort missing [${result.cohort.missing.join(', ')}] unexpected [${result.cohort.unexpected.join(', ')}]\n`);
if (result.errors.length > 0) process.stderr.write(`agent warnings/errors (first ${result.errors.length}):\n  ${result.errors.join('\n  ')}\n`);
const jsonl = result.figures.map((f) => JSON.stringify(f)).join('\n') + '\n';
if (values.json === undefined) process.stdout.write(jsonl);
else await writeFile(values.json, jsonl);
if (result.rollout !== undefined && !result.rollout.ok) process.stderr.write(`rollout phases FAILED: ${JSON.stringify({ steps: result.rollout.steps.map((s) => s.mismatched), touched: result.rollout.halt.touched.length, predicted: result.rollout.halt.predicted, stuck: result.rollout.halt.stuck, fix: result.rollout.fixConverged })}\n`);
const ok = result.converged.initial && result.converged.v2 && result.cohort.missing.length === 0 && result.cohort.unexpected.length === 0 && result.rollout?.ok !== false;
process.exitCode = ok ? 0 : 1;
