/**
 * Attack class: pruning and staging removal racing the app user. Old releases owned by the app
 * user were removed by root with `rm -rf`; swapping one of their directories for a symlink in the
 * middle made root delete files elsewhere (96 of 200 root-owned files in one run). A prune that
 * failed also left old releases behind for good.
 *
 * Root-owned releases are removed by root: the app user cannot change anything in them. A
 * writable (user-owned) release is removed by the tree worker as the app user, paused right
 * after it decided a directory is a directory: the swap lands, and the removal through it has the
 * app user's rights only. A release that cannot be removed is tried again at the next start.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { attackAs, makeCanary, makePauses, SWAP_DIRECTORIES, type Canary } from '../helpers/attack.ts';
import { createHarness, eventually, type Harness } from '../helpers/harness.ts';
import { APP_USER, localUser } from '../helpers/users.ts';

async function releases(h: Harness): Promise<string[]> {
  return (await readdir(path.join(h.root, 'releases'))).sort();
}

/** v1..v3 deployed with keep 2 (v1 is pruned by the deploy of v3, the one under attack). */
async function deployTwo(h: Harness, writableRelease: boolean): Promise<void> {
  await h.writeConfig({ app: { user: APP_USER, writableRelease, keep: 2 } });
  for (const v of ['1.0.0', '2.0.0']) {
    await h.publish(v, await h.artifact(v, 'healthy', { filler: 300 }));
    assert.equal((await h.once()).code, 0);
  }
}

async function attackThePrune(h: Harness, canary: Canary, writableRelease: boolean, step: string): Promise<{ attempts: number; won: number }> {
  const user = localUser(APP_USER);
  await using pauses = await makePauses();
  await h.publish('3.0.0', await h.artifact('3.0.0'));
  const agent = h.start({ env: pauses.env([step]) });
  await pauses.reached(step, 90_000);
  const attack = await attackAs(user, SWAP_DIRECTORIES, {
    ROUNDS: '30',
    TARGETS: `${path.join(h.root, 'releases')}/.trash-*/node_modules ${path.join(h.root, 'releases')}/.trash-*/node_modules/pkg-*`,
    LINK_TO: canary.dir,
  });
  await pauses.resume(step);
  await eventually(() => h.settledOn('3.0.0'), 'v3 deploys', 60_000);
  // the prune ran (and, under attack, may have failed) before the deploy settled
  await agent.waitFor((l) => l.step === 'prune', 30_000);
  agent.kill('SIGTERM');
  await agent.exited;
  assert.ok(!writableRelease || attack.won > 0, `the app user can swap in its own tree: ${attack.output}`);
  assert.deepEqual((await releases(h)).filter((n) => n.startsWith('1.0.0')), [], 'v1 is no longer a release');
  return attack;
}

test('attack: pruning races the app user: root-owned releases cannot be changed under root', async () => {
  await using canary = await makeCanary(200);
  await using h = await createHarness();
  await deployTwo(h, false);
  const attack = await attackThePrune(h, canary, false, 'prune-remove');
  assert.equal(attack.attempts, 30);
  assert.equal(attack.won, 0, 'nothing in a root-owned release can be swapped');
  await canary.assertUntouched();
  assert.deepEqual((await releases(h)).filter((n) => n.startsWith('1.0.0') || n.startsWith('.trash-')), [], 'v1 is gone');
});

test('attack: pruning races the app user: a user-owned release is removed with the user\'s rights only', async () => {
  await using canary = await makeCanary(200);
  await using h = await createHarness();
  await deployTwo(h, true);
  const attack = await attackThePrune(h, canary, true, 'remove-dir');
  assert.equal(attack.attempts, 30);
  await canary.assertUntouched();
  assert.equal(await h.served(), '3.0.0');
  // what the swap left (the moved-aside directory, the link) is the user's; the next start tidies it
  assert.equal((await h.once()).code, 0);
  assert.deepEqual((await releases(h)).filter((n) => n.startsWith('.trash-')), []);
  await canary.assertUntouched();
});

test('a release that cannot be removed does not stop the others, and is removed at the next start', async () => {
  await using h = await createHarness();
  await h.writeConfig({ app: { user: APP_USER, writableRelease: true, keep: 2 } });
  for (const v of ['1.0.0', '2.0.0']) {
    await h.publish(v, await h.artifact(v));
    assert.equal((await h.once()).code, 0);
  }
  // a root-owned directory with a file, inside v1 (owned by the app user): the user cannot empty it
  const v1 = (await releases(h)).find((n) => n.startsWith('1.0.0'));
  assert.ok(v1 !== undefined);
  const stuck = path.join(h.root, 'releases', v1, 'stuck');
  await mkdir(stuck);
  await writeFile(path.join(stuck, 'file'), 'root');
  for (const v of ['3.0.0', '4.0.0']) {
    await h.publish(v, await h.artifact(v));
    const r = await h.once();
    assert.equal(r.code, 0, r.stderr);
  }
  // v2 was pruned (so was v1's name: it waits as trash), v3 and v4 stay
  let left = await releases(h);
  assert.deepEqual(left.filter((n) => !n.startsWith('.trash-')).map((n) => n.split('-')[0]), ['3.0.0', '4.0.0']);
  assert.equal(left.filter((n) => n.startsWith(`.trash-${v1}`)).length, 1, 'v1 waits as trash');
  // once the obstacle is gone, the next start removes it
  const trash = left.find((n) => n.startsWith(`.trash-${v1}`)) ?? '';
  execFileSync('rm', ['-rf', path.join(h.root, 'releases', trash, 'stuck')]);
  assert.equal((await h.once()).code, 0);
  left = await releases(h);
  assert.deepEqual(left.filter((n) => n.startsWith('.trash-')), []);
});
