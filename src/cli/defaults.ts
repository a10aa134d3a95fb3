/** Defaults shared by the commands that read the agent config. */
export const DEFAULT_CONFIG = '/etc/hoist/agent.yaml';

/**
 * V8 flags the shipped executable runs with (the SEA's execArgv). Without a cap V8 lets the old
 * space grow lazily under deploy churn: measured RSS 153 MiB after 10 deploys and 274 MiB after
 * 500, flat from 250 on, so garbage, not a leak. With these flags: 124 MiB after 10 and 132 MiB
 * after 500 (1.06×). `npm run bench -- memory` runs the agent with the same flags.
 *
 * `--no-memory-reducer`: when allocation stops, V8's memory reducer runs full collections (about
 * 45 ms each) to give memory back, again and again on an agent that wakes for a poll every few
 * seconds: idle CPU 4.9 -> 2.9 s per hour over 300 s with the same idle RSS (94 MiB), and RSS
 * after 10 / 500 deploys 122.8 / 126.3 MiB (1.03×), since the capped old space bounds the heap.
 * NODE_OPTIONS does not accept it: pass these flags on the command line.
 *
 * Tried for the idle footprint and not adopted (bench/idle-variants.ts, docs/performance.md, "Idle footprint"):
 * `--no-opt --no-maglev` saves 2 MiB of idle RSS but costs node-tar 42 % more CPU per extraction;
 * `--jitless`/`--lite-mode` broke the agent's old fetch (no WebAssembly) and are untried since it
 * uses node:http (they interpret all JavaScript, the unpack's tar parser too); `--single-threaded-gc`
 * grows the heap; `--v8-pool-size=1`, `--optimize-for-size`, `--max-lazy` change nothing measurable.
 */
export const RUNTIME_FLAGS: readonly string[] = ['--max-old-space-size=128', '--max-semi-space-size=1', '--no-memory-reducer'];
