import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { flipSymlink, readSymlink, removeStaleTemps } from '../../src/fs/symlink.ts';
import { isHoistError } from '../../src/errors.ts';

async function appRoot(t: { after(fn: () => Promise<void>): void }, versions: string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'hoist-symlink-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const v of versions) {
    await mkdir(join(root, 'releases', v), { recursive: true });
    await writeFile(join(root, 'releases', v, 'VERSION'), v);
  }
  return root;
}

test('flipSymlink creates the first link and replaces an existing one', async (t) => {
  const root = await appRoot(t, ['1.0.0-aaaaaaaaaaaa', '1.1.0-bbbbbbbbbbbb']);
  const current = join(root, 'current');
  assert.equal(await readSymlink(current), undefined);

  await flipSymlink(current, 'releases/1.0.0-aaaaaaaaaaaa');
  assert.equal(await readSymlink(current), 'releases/1.0.0-aaaaaaaaaaaa');
  assert.equal(await readFile(join(current, 'VERSION'), 'utf8'), '1.0.0-aaaaaaaaaaaa');

  await flipSymlink(current, 'releases/1.1.0-bbbbbbbbbbbb');
  assert.equal(await readSymlink(current), 'releases/1.1.0-bbbbbbbbbbbb');
  assert.equal(await readFile(join(current, 'VERSION'), 'utf8'), '1.1.0-bbbbbbbbbbbb');
  assert.deepEqual((await readdir(root)).toSorted(), ['current', 'releases']);
});

test('flipSymlink refuses an absolute target and reports I/O failures', async (t) => {
  const root = await appRoot(t, []);
  await assert.rejects(flipSymlink(join(root, 'current'), '/srv/web/releases/x'), (err) => isHoistError(err, 'HOIST_INTERNAL'));
  await assert.rejects(flipSymlink(join(root, 'missing', 'current'), 'releases/x'), (err) => isHoistError(err, 'HOIST_IO'));
  // rename() cannot replace a non-empty directory: the temp link must not be left behind.
  await mkdir(join(root, 'current', 'inside'), { recursive: true });
  await assert.rejects(flipSymlink(join(root, 'current'), 'releases/x'), (err) => isHoistError(err, 'HOIST_IO'));
  assert.deepEqual(await readdir(root), ['current']);
});

test('readSymlink reports a path that is not a symlink', async (t) => {
  const root = await appRoot(t, []);
  await writeFile(join(root, 'plain'), 'x');
  await assert.rejects(readSymlink(join(root, 'plain')), (err) => isHoistError(err, 'HOIST_IO'));
});

test('removeStaleTemps removes only <name>.tmp-* leftovers', async (t) => {
  const root = await appRoot(t, ['1.0.0-aaaaaaaaaaaa']);
  await flipSymlink(join(root, 'current'), 'releases/1.0.0-aaaaaaaaaaaa');
  await symlink('releases/1.0.0-aaaaaaaaaaaa', join(root, 'current.tmp-dead01'));
  await symlink('releases/gone', join(root, 'current.tmp-dead02'));
  await writeFile(join(root, 'currently-unrelated'), 'keep');
  const removed = await removeStaleTemps(root, 'current');
  assert.deepEqual(removed.toSorted(), ['current.tmp-dead01', 'current.tmp-dead02']);
  assert.deepEqual((await readdir(root)).toSorted(), ['current', 'currently-unrelated', 'releases']);
  assert.deepEqual(await removeStaleTemps(root, 'current'), []);
  assert.deepEqual(await removeStaleTemps(join(root, 'no-such-dir'), 'current'), []);
});

// A separate process resolves current/VERSION as fast as it can while we flip 1,000 times: it must
// never see a missing link or a wrong file. Bounded by a stop file and a hard deadline.
const READER = `
const fs = require('node:fs');
const [root, stopFile] = process.argv.slice(1);
const allowed = new Set(['1.0.0-aaaaaaaaaaaa', '1.1.0-bbbbbbbbbbbb']);
const deadline = Date.now() + 120000;
let reads = 0, failures = 0, firstError = null;
console.log('ready');
for (let i = 0; Date.now() < deadline; i++) {
  if (i % 50 === 0 && fs.existsSync(stopFile)) break;
  try {
    const v = fs.readFileSync(root + '/current/VERSION', 'utf8');
    if (!allowed.has(v)) throw new Error('unexpected content ' + JSON.stringify(v));
    reads++;
  } catch (err) {
    failures++;
    firstError ??= String(err);
  }
}
console.log(JSON.stringify({ reads, failures, firstError }));
`;

test('1,000 flips never show a concurrent reader a missing or wrong current', async (t) => {
  const root = await appRoot(t, ['1.0.0-aaaaaaaaaaaa', '1.1.0-bbbbbbbbbbbb']);
  const current = join(root, 'current');
  const stopFile = join(root, 'stop');
  await flipSymlink(current, 'releases/1.0.0-aaaaaaaaaaaa');

  const child = spawn(process.execPath, ['-e', READER, root, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).value, 'ready');

  for (let i = 0; i < 1000; i++) {
    await flipSymlink(current, i % 2 === 0 ? 'releases/1.1.0-bbbbbbbbbbbb' : 'releases/1.0.0-aaaaaaaaaaaa');
  }
  await writeFile(stopFile, '');
  const result = (await iterator.next()).value as string;
  await once(child, 'close');
  const { reads, failures, firstError } = JSON.parse(result) as { reads: number; failures: number; firstError: string | null };
  assert.equal(failures, 0, `reader failed: ${firstError ?? ''}`);
  assert.ok(reads > 0);
  assert.equal(await readSymlink(current), 'releases/1.0.0-aaaaaaaaaaaa');
  assert.deepEqual((await readdir(root)).toSorted(), ['current', 'releases', 'stop']);
});
