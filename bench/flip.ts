/**
 * Flip atomicity (issue #6 item 5): a reader in another process resolves `current/VERSION` in a
 * loop while flipSymlink alternates `current` between two releases. Target: 0 failed reads.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flipSymlink } from '../src/fs/symlink.ts';
import type { Bench } from './lib/context.ts';
import { figure } from './lib/figures.ts';

const READER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'flip-reader.ts');

export const flip: Bench = {
  name: 'flip',
  title: 'flip atomicity: a reader resolving current/VERSION through 10,000 flips',
  async run(ctx) {
    const flips = 10_000; // small enough even for quick mode
    const root = path.join(ctx.work, 'app');
    for (const v of ['a', 'b']) {
      await mkdir(path.join(root, 'releases', v), { recursive: true });
      await writeFile(path.join(root, 'releases', v, 'VERSION'), `${v}\n`);
    }
    await flipSymlink(path.join(root, 'current'), 'releases/a');
    const reader = spawn(process.execPath, [READER, root, 'a,b', '600000'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<void>((resolve) => reader.on('exit', () => resolve()));
    try {
      // wait (bounded) until the reader runs
      const deadline = Date.now() + 30_000;
      while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const started = performance.now();
      for (let i = 1; i <= flips; i++) await flipSymlink(path.join(root, 'current'), i % 2 === 0 ? 'releases/a' : 'releases/b');
      const ms = performance.now() - started;
      reader.stdin.end();
      await exited;
      const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { reads: number; failures: number; errors: Record<string, number> };
      ctx.log(`${flips} flips in ${Math.round(ms)} ms; ${result.reads} reads, ${result.failures} failed ${JSON.stringify(result.errors)}`);
      return [
        figure('flip.failed_reads', result.failures, 'reads', { baseline: 0, against: 'target', note: `${result.reads} reads during ${flips} flips` }),
        figure('flip.reads', result.reads, 'reads'),
        figure('flip.flips_per_second', flips / (ms / 1000), 'flips/s', { note: 'each flip: symlink, rename, fsync of the app root' }),
      ];
    } finally {
      if (reader.exitCode === null && reader.signalCode === null) {
        reader.kill('SIGKILL');
        await exited;
      }
    }
  },
};
