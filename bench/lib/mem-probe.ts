/**
 * Loaded into the measured agent with NODE_OPTIONS=--import (benchmarks only): on SIGUSR2 it
 * writes process.memoryUsage(), the V8 heap spaces and the number of loaded modules to
 * $HOIST_BENCH_MEM_FILE, which cannot be read from outside the process.
 */
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const out = process.env['HOIST_BENCH_MEM_FILE'];
if (out !== undefined && out !== '') {
  process.on('SIGUSR2', () => {
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
    writeFileSync(out, JSON.stringify({ memory: process.memoryUsage(), spaces, heap: v8.getHeapStatistics() }));
  });
}
