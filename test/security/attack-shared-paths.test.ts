/**
 * Attack class: shared paths used to reach outside the app. `shared: [public/uploads]` with a
 * `public` symlink (shipped in the archive, or planted by the app user) made the agent remove
 * and replace a directory of another app; root's `mkdir -p` + `chown` of `root/shared/<p>`
 * followed a symlink the user had put there (`shared/log -> /etc/x` gave the user /etc/x).
 *
 * Now a shared path is only linked through real directories of the release, the release is
 * root's while it is built, and `shared/<p>` is made by the app user, never by root.
 */
import assert from 'node:assert/strict';
import { lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { attackAs, makeCanary, makePauses } from '../helpers/attack.ts';
import { createHarness, eventually } from '../helpers/harness.ts';
import { APP_USER, localUser } from '../helpers/users.ts';

test('attack: shared paths: a symlink in the archive on the way to a shared path is refused', async () => {
  await using canary = await makeCanary(20);
  await using h = await createHarness();
  await h.writeConfig({ app: { user: APP_USER, shared: ['public/uploads'], allowSymlinks: true } });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  // `public` is a symlink that stays inside the release, to a directory holding `uploads`
  const v2 = await h.artifactWith('2.0.0', [
    { path: 'assets/', type: 'Directory' },
    { path: 'assets/uploads/', type: 'Directory' },
    { path: 'assets/uploads/keep.txt', body: 'must not be replaced through a link\n' },
    { path: 'public', type: 'SymbolicLink', linkpath: 'assets' },
  ]);
  await h.publish('2.0.0', v2);
  const r = await h.once();
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /shared path \\"public\/uploads\\" would pass through \\"public\\"/);
  assert.equal((await h.appState()).lastAttempt?.code, 'HOIST_UNSAFE_ENTRY');
  assert.equal(await h.served(), '1.0.0');
  await canary.assertUntouched();
});

test('attack: shared paths: a symlink the app user plants in the staging dir', async () => {
  const user = localUser(APP_USER);
  await using canary = await makeCanary(20);
  await using pauses = await makePauses();
  await using h = await createHarness();
  await h.writeConfig({ app: { user: APP_USER, shared: ['public/uploads'] } });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifactWith('2.0.0', [{ path: 'public/', type: 'Directory' }, { path: 'public/index.html', body: '<p>v2</p>\n' }]);
  await h.publish('2.0.0', v2);
  const agent = h.start({ env: pauses.env(['unpack-finishing']) });
  await pauses.reached('unpack-finishing');
  // plant `public -> <another app's directory>` in the staging dir before the shared links are made
  const attack = await attackAs(
    user,
    `i=0; won=0
while [ "$i" -lt 20 ]; do
  i=$((i + 1))
  for d in "$RELEASES"/.staging-*; do
    if mv "$d/public" "$d/public.moved" 2>/dev/null && ln -s "$LINK_TO" "$d/public" 2>/dev/null; then won=$((won + 1)); fi
  done
done
echo "attempts=$i won=$won"`,
    { RELEASES: path.join(h.root, 'releases'), LINK_TO: canary.dir },
  );
  await pauses.resume('unpack-finishing');
  assert.equal(attack.attempts, 20);
  assert.equal(attack.won, 0, attack.output);
  await eventually(() => h.settledOn('2.0.0'), 'v2 deploys', 60_000);
  agent.kill('SIGTERM');
  await agent.exited;
  const link = path.join(h.root, 'current', 'public', 'uploads');
  assert.equal(await readlink(link), '../../../shared/public/uploads');
  assert.ok((await lstat(path.join(h.root, 'current', 'public'))).isDirectory());
  await canary.assertUntouched();
});

test('attack: shared paths: root never creates or chowns through a link in root/shared/', async () => {
  const user = localUser(APP_USER);
  await using canary = await makeCanary(20);
  await using h = await createHarness();
  await h.writeConfig({ app: { user: APP_USER, shared: ['log', 'uploads/images'] } });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const shared = path.join(h.root, 'shared');
  assert.equal((await stat(shared)).uid, user.uid, 'root/shared belongs to the app user');
  assert.equal((await stat(path.join(shared, 'uploads', 'images'))).uid, user.uid, 'shared paths are made by the app user');

  // the app user (owner of shared/) points shared paths at root's directories
  await attackAs(
    user,
    `rm -rf "$SHARED/log" "$SHARED/uploads" && ln -s "$CANARY" "$SHARED/log" && ln -s "$CANARY/x" "$SHARED/uploads" && echo "attempts=1 won=1"`,
    { SHARED: shared, CANARY: canary.dir },
  );
  const v2 = await h.artifact('2.0.0');
  await h.publish('2.0.0', v2);
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.served(), '2.0.0');
  await canary.assertUntouched();
  await assert.rejects(lstat(path.join(canary.dir, 'x')), /ENOENT/, 'nothing was created through the link');
});
