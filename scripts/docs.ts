/**
 * Writes the generated documentation pages. `npx node scripts/docs.ts` rewrites them;
 * `--check` exits 1 when one is out of date. Add a page by adding a [path, render] pair.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderErrorsDoc } from '../src/docs/errors-doc.ts';
import { renderConfigReference } from '../src/config/reference.ts';

export const GENERATED_DOCS: ReadonlyArray<readonly [path: string, render: () => string]> = [
  ['docs/errors.md', renderErrorsDoc],
  ['docs/configuration.md', renderConfigReference],
];

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, render] of GENERATED_DOCS) {
  const target = `${root}${path}`;
  const text = render();
  const current = await readFile(target, 'utf8').catch(() => undefined);
  if (current === text) continue;
  if (check) {
    stale++;
    process.stderr.write(`${path} is out of date; run \`npx node scripts/docs.ts\`\n`);
  } else {
    await writeFile(target, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
