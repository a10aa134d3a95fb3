/**
 * Attack class: writes through a swapped directory. While the agent (root) unpacks a 2,000-file
 * node_modules tree, the app user replaces a directory of the tree being written with a symlink
 * to a root-owned directory, so that root creates, replaces and chowns files there.
 *
 * The agent is paused in the middle of the unpack (after 500 entries) so the attacker acts at
 * exactly that point, then let go. Default releases: the staging dir is root's alone, every
 * attempt fails. Writable releases: the unpack runs as the app user, so the swap itself works, and
 * the writes through it get the app user's rights only: refused in the root-owned directory.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { attackAs, makeCanary, makePauses, SWAP_DIRECTORIES } from '../helpers/attack.ts';
import { createHarness, eventually } from '../helpers/harness.ts';
import { APP_USER, localUser } from '../helpers/users.ts';

for (const writableRelease of [false, true]) {
  test(`attack: writes through a swapped directory during the unpack (${writableRelease ? 'writable' : 'root-owned'} releases)`, async () => {
    const user = localUser(APP_USER);
    await using canary = await makeCanary();
    await using pauses = await makePauses();
    await using h = await createHarness();
    await h.writeConfig({ app: { user: APP_USER, writableRelease } });
    const v1 = await h.artifact('1.0.0');
    await h.publish('1.0.0', v1);
    assert.equal((await h.once()).code, 0);
    assert.equal(await h.served(), '1.0.0');

    const v2 = await h.artifact('2.0.0', 'healthy', { filler: 2000 });
    await h.publish('2.0.0', v2);
    const agent = h.start({ env: pauses.env(['unpack-midway']) });
    await pauses.reached('unpack-midway');
    const attack = await attackAs(user, SWAP_DIRECTORIES, {
      ROUNDS: '50',
      TARGETS: `${path.join(h.root, 'releases')}/.staging-*/node_modules`,
      LINK_TO: canary.dir,
    });
    await pauses.resume('unpack-midway');
    assert.equal(attack.attempts, 50, attack.output);

    if (writableRelease) {
      // the app user owns its staging dir: the swap works, the writes through it do not
      assert.ok(attack.won > 0, `the attacker could swap its own directories: ${attack.output}`);
      const line = await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('failed before the flip'), 60_000);
      // the next entries went through the link, as the app user: refused in root's directory
      // (EACCES creating there, ENOENT for a directory the writer had made before the swap)
      assert.equal(line.code, 'HOIST_IO', JSON.stringify(line));
      assert.match(String(line.err), /EACCES|ENOENT/);
    } else {
      assert.equal(attack.won, 0, `no swap inside a root-only staging dir: ${attack.output}`);
      await eventually(() => h.settledOn('2.0.0'), 'v2 deploys whole', 60_000);
      assert.equal(await h.served(), '2.0.0');
    }
    agent.kill('SIGTERM');
    await agent.exited;
    await canary.assertUntouched();
    // the serving release kept serving (and, after a refused v2, still does)
    assert.equal(await h.served(), writableRelease ? '1.0.0' : '2.0.0');
  });
}
