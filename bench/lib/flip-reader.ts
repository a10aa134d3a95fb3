/**
 * The reader side of the flip benchmark: resolves `<root>/current/VERSION` in a loop, as an app or
 * a web server following the symlink would, until its stdin closes (bounded by a deadline).
 * Prints `{"reads":N,"failures":N,"errors":{...}}`; a failure is any read that throws or returns
 * something else than one of the expected versions.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

const [root, expectedList, deadlineMs] = process.argv.slice(2);
const file = path.join(root ?? '.', 'current', 'VERSION');
const expected = new Set((expectedList ?? '').split(','));
const deadline = Date.now() + Number(deadlineMs ?? 600_000);
let stop = false;
process.stdin.on('end', () => {
  stop = true;
});
process.stdin.on('data', () => undefined);
process.stdin.resume();

let reads = 0;
let failures = 0;
const errors: Record<string, number> = {};
process.stdout.write('ready\n');
while (!stop && Date.now() < deadline) {
  for (let i = 0; i < 200; i++) {
    reads += 1;
    try {
      const text = readFileSync(file, 'utf8').trim();
      if (!expected.has(text)) {
        failures += 1;
        errors[`content:${text.slice(0, 20)}`] = (errors[`content:${text.slice(0, 20)}`] ?? 0) + 1;
      }
    } catch (error) {
      failures += 1;
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
      errors[code] = (errors[code] ?? 0) + 1;
    }
  }
  await yieldToLoop();
}
process.stdout.write(`${JSON.stringify({ reads, failures, errors })}\n`);
