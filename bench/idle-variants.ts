/**
 * Idle footprint of several ways to run the agent, side by side (an investigation aid for
 * bench/idle.ts, not part of `npm run bench`):
 *
 *   node bench/idle-variants.ts [--seconds N] [--jobs N] [--log LEVEL] SPEC...
 *
 * SPEC is `ENTRY[+min|+ws]:FLAGS`: ENTRY is bundle, dev or the path of a packaged hoist; `+min`
 * minifies the bundle, `+ws` only strips its whitespace and comments; FLAGS are V8 flags separated by spaces (`shipped` for RUNTIME_FLAGS, empty
 * for none). Example: `bundle:shipped` `bundle+min:--max-semi-space-size=1 --optimize-for-size`.
 * Each variant gets its own fauxqs, state and app; up to --jobs run at once (CPU time is per
 * process, so running side by side changes wall times, not the figures compared here).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RUNTIME_FLAGS } from '../src/cli/defaults.ts';
import { measureIdle, type IdleOptions, type IdleResult } from './idle.ts';

const { values, positionals } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, jobs: { type: 'string', default: '2' }, log: { type: 'string', default: 'info' } },
  allowPositionals: true,
});
const seconds = Number(values.seconds);
const jobs = Math.max(1, Number(values.jobs));

function options(spec: string, work: string): IdleOptions {
  const colon = spec.indexOf(':');
  const head = colon < 0 ? spec : spec.slice(0, colon);
  const flagText = colon < 0 ? 'shipped' : spec.slice(colon + 1);
  const minify = head.endsWith('+min') ? true : head.endsWith('+ws') ? 'whitespace' : undefined;
  const name = head.replace(/\+(min|ws)$/, '');
  const flags = flagText === 'shipped' ? RUNTIME_FLAGS : flagText.split(/\s+/).filter((f) => f !== '');
  return {
    entry: name === 'bundle' || name === 'dev' ? name : { executable: path.resolve(name) },
    flags,
    seconds,
    logLevel: values.log,
    work,
    log: (m) => process.stderr.write(`  ${m}\n`),
    ...(minify === undefined ? {} : { minify }),
  };
}

const results: Array<{ spec: string; result?: IdleResult; error?: string }> = [];
const queue = [...positionals.entries()];
async function worker(): Promise<void> {
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [index, spec] = next;
    const work = await mkdtemp(path.join(os.tmpdir(), 'hoist-idle-variant-'));
    try {
      results[index] = { spec, result: await measureIdle(options(spec, work)) };
    } catch (error) {
      results[index] = { spec, error: error instanceof Error ? error.message : String(error) };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
await Promise.all(Array.from({ length: jobs }, () => worker()));

const columns = ['idle.rss', 'idle.rss_anon', 'idle.rss_file', 'idle.heap_used', 'idle.heap_total', 'idle.code_space', 'idle.external', 'idle.rss_outside_heap', 'idle.cpu_per_hour'];
process.stdout.write(`load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${seconds} s windows\n`);
process.stdout.write(`${['variant', ...columns.map((c) => c.replace('idle.', ''))].join('\t')}\n`);
for (const [index, spec] of positionals.entries()) {
  const r = results[index];
  if (r?.result === undefined) {
    process.stdout.write(`${spec}\tFAILED ${r?.error ?? ''}\n`);
    continue;
  }
  const got = r.result.figures;
  process.stdout.write(`${spec}\t${columns.map((c) => String(got.find((f) => f.name === c)?.value ?? '')).join('\t')}\n`);
}
