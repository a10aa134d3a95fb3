import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { renderErrorsDoc } from '../../src/docs/errors-doc.ts';
import { ERROR_CATALOGUE } from '../../src/errors.ts';

test('docs/errors.md is up to date (regenerate with `npx node scripts/docs.ts`)', async () => {
  const committed = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(committed, renderErrorsDoc());
});

test('every catalogue code has a row with its exit status', () => {
  const doc = renderErrorsDoc();
  for (const [code, info] of Object.entries(ERROR_CATALOGUE)) {
    assert.match(doc, new RegExp(`^\\| \`${code}\` \\| .* \\| ${info.exit} \\|$`, 'm'));
  }
});

test('scripts/docs.ts --check agrees', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const script = fileURLToPath(new URL('../../scripts/docs.ts', import.meta.url));
  const { stderr } = await promisify(execFile)(process.execPath, [script, '--check']);
  assert.equal(stderr, '');
});
