/** `bin/hoist.js` under a Node that cannot run the TypeScript sources says which Node it needs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HOIST_BIN } from '../helpers/harness.ts';

const execFileP = promisify(execFile);

async function runWith(node: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(node, [...args, HOIST_BIN, '--version'], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Runs this Node as if it were `version`: the check reads process.versions.node. */
function pretend(version: string): string[] {
  return ['--import', `data:text/javascript,Object.defineProperty(process.versions, "node", { value: "${version}" })`];
}

test('an older Node gets exit 2 and the Node version hoist needs, not ERR_UNKNOWN_FILE_EXTENSION', async () => {
  for (const version of ['20.20.2', '22.17.1', '23.5.0', '18.0.0']) {
    const r = await runWith(process.execPath, pretend(version));
    assert.equal(r.code, 2, `${version}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`this is Node\\.js ${version.replaceAll('.', '\\.')}; hoist run from its sources needs Node\\.js 22\\.18 or newer`));
    assert.doesNotMatch(r.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
    assert.equal(r.stdout, '');
  }
  const off = await runWith(process.execPath, ['--no-experimental-strip-types']);
  assert.equal(off.code, 2);
  assert.match(off.stderr, /type stripping is turned off/);
  for (const version of ['22.18.0', '23.6.0', '24.0.0']) {
    const r = await runWith(process.execPath, pretend(version));
    assert.equal(r.code, 0, `${version}: ${r.stderr}`);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  }
});
