/**
 * Writes the generated documentation: the error and configuration pages, the man page and the
 * shell completions (from the commander definitions). `npx node scripts/docs.ts` rewrites them;
 * `--check` exits 1 when one is out of date. Add a file by adding a [path, render] pair.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderErrorsDoc } from '../src/docs/errors-doc.ts';
import { renderConfigReference } from '../src/config/reference.ts';
import { renderManPage } from '../src/cli/manpage.ts';
import { renderBashCompletion, renderZshCompletion } from '../src/cli/completion.ts';
import { buildProgram } from '../src/cli/main.ts';
import pkg from '../package.json' with { type: 'json' };

/** The full program: every command module loaded, as for the top-level help. */
const program = () => buildProgram([]);

export const GENERATED_DOCS: ReadonlyArray<readonly [path: string, render: () => string | Promise<string>]> = [
  ['docs/errors.md', renderErrorsDoc],
  ['docs/configuration.md', renderConfigReference],
  ['packaging/man/hoist.1', async () => renderManPage(await program(), pkg.version)],
  ['packaging/completion/hoist.bash', async () => renderBashCompletion(await program())],
  ['packaging/completion/_hoist', async () => renderZshCompletion(await program())],
];

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, render] of GENERATED_DOCS) {
  const target = `${root}${path}`;
  const text = await render();
  const current = await readFile(target, 'utf8').catch(() => undefined);
  if (current === text) continue;
  if (check) {
    stale++;
    process.stderr.write(`${path} is out of date; run \`npx node scripts/docs.ts\`\n`);
  } else {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
