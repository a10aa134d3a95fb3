/**
 * Loaded into the measured agent with NODE_OPTIONS=--import (benchmarks only): on SIGUSR2 it
 * writes process.memoryUsage(), the V8 heap spaces (used and committed), V8's heap statistics and
 * the Node internals loaded (process.moduleLoadList) to $HOIST_BENCH_MEM_FILE, which cannot be read from outside the process.
 *
 * Plain JavaScript on purpose: a TypeScript preload would make Node load its type stripper (a
 * WebAssembly module, about 17 MiB of RSS) into the process being measured.
 */
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const out = process.env['HOIST_BENCH_MEM_FILE'];
if (out !== undefined && out !== '') {
  process.on('SIGUSR2', () => {
    // With --expose-gc (investigations only), also what is left after a full collection: the
    // difference is garbage the idle process has not collected yet.
    const before = process.memoryUsage();
    const gc = globalThis.gc;
    if (typeof gc === 'function') gc();
    const stats = v8.getHeapSpaceStatistics();
    const spaces = Object.fromEntries(stats.map((s) => [s.space_name, s.space_used_size]));
    const committed = Object.fromEntries(stats.map((s) => [s.space_name, s.physical_space_size]));
    // HOIST_BENCH_HEAP_SNAPSHOT=1 (investigations only): also a heap snapshot beside the report.
    if (process.env['HOIST_BENCH_HEAP_SNAPSHOT'] === '1') v8.writeHeapSnapshot(`${out}.heapsnapshot`);
    writeFileSync(
      out,
      JSON.stringify({ memory: before, ...(typeof gc === 'function' ? { afterGc: process.memoryUsage() } : {}), spaces, committed, heap: v8.getHeapStatistics(), code: v8.getHeapCodeStatistics(), builtins: process.moduleLoadList }),
    );
  });
}
