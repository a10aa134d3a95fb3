/**
 * Attack class: a late chmod that follows a link. A directory the archive wants read-only (0555)
 * is filled first and given its mode at the end of the unpack; the app user swaps it for a
 * symlink to a root-only file just before, so root's chmod would make that file readable.
 *
 * The agent is paused just before the late modes are set. Default releases: the staging dir is
 * root's alone, the swap fails. Writable releases: the swap works (the app user owns its tree),
 * and the chmod, done by the app user through a descriptor opened with O_NOFOLLOW, refuses the link.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { attackAs, makeCanary, makePauses, SWAP_DIRECTORIES } from '../helpers/attack.ts';
import { createHarness, eventually } from '../helpers/harness.ts';
import { APP_USER, localUser } from '../helpers/users.ts';

for (const writableRelease of [false, true]) {
  test(`attack: a late chmod that follows a link (${writableRelease ? 'writable' : 'root-owned'} releases)`, async () => {
    const user = localUser(APP_USER);
    await using canary = await makeCanary(20);
    await using pauses = await makePauses();
    await using h = await createHarness();
    await h.writeConfig({ app: { user: APP_USER, writableRelease } });
    const v1 = await h.artifact('1.0.0');
    await h.publish('1.0.0', v1);
    assert.equal((await h.once()).code, 0);

    const v2 = await h.artifactWith('2.0.0', [
      { path: 'ro/', type: 'Directory', mode: 0o555 },
      { path: 'ro/data.txt', body: 'read-only data\n', mode: 0o444 },
    ]);
    await h.publish('2.0.0', v2);
    const agent = h.start({ env: pauses.env(['unpack-finishing']) });
    await pauses.reached('unpack-finishing');
    const attack = await attackAs(user, SWAP_DIRECTORIES, {
      ROUNDS: '20',
      TARGETS: `${path.join(h.root, 'releases')}/.staging-*/ro`,
      LINK_TO: canary.secret,
    });
    await pauses.resume('unpack-finishing');
    assert.equal(attack.attempts, 20, attack.output);
    if (writableRelease) {
      assert.ok(attack.won > 0, attack.output);
      const line = await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('failed before the flip'), 60_000);
      assert.equal(line.code, 'HOIST_IO', JSON.stringify(line));
      assert.match(String(line.err), /ELOOP|ENOTDIR/, 'the chmod refused to follow the link');
    } else {
      assert.equal(attack.won, 0, attack.output);
      await eventually(() => h.settledOn('2.0.0'), 'v2 deploys with its read-only directory', 60_000);
      const ro = await stat(path.join(h.root, 'current', 'ro'));
      assert.equal(ro.mode & 0o777, 0o555);
      assert.equal(ro.uid, 0, 'root owns the release');
    }
    agent.kill('SIGTERM');
    await agent.exited;
    assert.equal((await stat(canary.secret)).mode & 0o777, 0o600, 'the root-only file stays root-only');
    await canary.assertUntouched();
    assert.equal(await h.served(), writableRelease ? '1.0.0' : '2.0.0');
  });
}
