/**
 * `npm run bench [-- quick] [-- NAME...] [-- --json PATH] [-- --dir DIR]`: runs the benchmarks of
 * issue #6, prints the machine and a table, and appends one JSON object per figure to
 * `.bench/results.jsonl` (or PATH). `npm run bench -- fleet ...` hands over to bench/fleet.ts.
 *
 * Names: throughput, idle, memory, latency, flip, rollback, decode, idle-metrics, pack, dedup (default: all).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench } from './lib/context.ts';
import { appendJsonLines, formatTable } from './lib/figures.ts';
import type { Figure } from './lib/figures.ts';
import { describeMachine, machineFacts } from './lib/machine.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

async function loadBenches(): Promise<Bench[]> {
  // imported lazily so `bench fleet` and a single benchmark load only what they need
  const [{ throughput }, { idle }, { memory }, { latency }, { flip }, { rollback }, { decode }, { idleMetrics }, { pack }, { dedup }] = await Promise.all([
    import('./throughput.ts'),
    import('./idle.ts'),
    import('./memory.ts'),
    import('./latency.ts'),
    import('./flip.ts'),
    import('./rollback.ts'),
    import('./decode.ts'),
    import('./idle-metrics.ts'),
    import('./pack.ts'),
    import('./dedup.ts'),
  ]);
  return [throughput, idle, memory, latency, flip, rollback, decode, idleMetrics, pack, dedup];
}

interface Args {
  quick: boolean;
  json: string;
  dir: string;
  names: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, json: path.join(HERE, '..', '.bench', 'results.jsonl'), dir: os.tmpdir(), names: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === 'quick' || a === '--quick') args.quick = true;
    else if (a === '--json') args.json = path.resolve(argv[++i] ?? '');
    else if (a === '--dir') args.dir = path.resolve(argv[++i] ?? '');
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node bench/run.ts [quick] [throughput|idle|memory|latency|flip|rollback|decode|idle-metrics|pack|dedup ...] [--json PATH] [--dir DIR]\n       node bench/run.ts fleet [args for bench/fleet.ts]\n');
      process.exit(0);
    } else args.names.push(a);
  }
  return args;
}

function runFleet(argv: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(HERE, 'fleet.ts'), ...argv], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0))));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'fleet') return runFleet(argv.slice(1));
  const args = parseArgs(argv);
  const all = await loadBenches();
  const unknown = args.names.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${all.map((b) => b.name).join(', ')}, fleet\n`);
    return 2;
  }
  const selected = args.names.length === 0 ? all : all.filter((b) => args.names.includes(b.name));
  const machine = await machineFacts();
  const runId = new Date().toISOString();
  process.stdout.write(`hoist benchmarks (${args.quick ? 'quick' : 'full'}) on ${describeMachine(machine)}\n`);
  const figures: Figure[] = [];
  let failed = 0;
  for (const bench of selected) {
    const work = await mkdtemp(path.join(args.dir, `hoist-bench-${bench.name}-`));
    const started = performance.now();
    process.stderr.write(`== ${bench.name}: ${bench.title}\n`);
    try {
      const got = await bench.run({ quick: args.quick, work, log: (m) => process.stderr.write(`   ${bench.name}: ${m}\n`) });
      figures.push(...got);
      await appendJsonLines(args.json, got, { bench: bench.name, mode: args.quick ? 'quick' : 'full', runId, machine });
      process.stderr.write(`   ${bench.name}: done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    } catch (error) {
      failed += 1;
      process.stderr.write(`   ${bench.name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  process.stdout.write(`\n${formatTable(figures)}\n\nmachine at the end: load ${(await machineFacts()).loadavg.join(' ')}; JSON lines appended to ${path.relative(process.cwd(), args.json)}\n`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
