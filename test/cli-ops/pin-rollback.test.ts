import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness } from '../helpers/harness.ts';
import { assertCode, buildRelease, ops, publishArgs, readManifest, writeTrust } from './ops.ts';

const WEB = ['--app', 'web', '--env', 'prod'];

test('pin, host-scoped pin, unpin and rollback are each observed by the agent', async () => {
  await using h = await createHarness({ hostId: 'host-1' });
  await h.writeConfig();
  const alice = h.keyPaths.alice?.key ?? '';
  const trust = await writeTrust(h);
  for (const v of ['1.0.0', '2.0.0']) assert.equal((await ops(h, publishArgs(h, v, await buildRelease(h, v)))).code, 0);
  await h.once();
  assert.equal(await h.current(), '2.0.0');

  const pin = await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--reason', 'bad 2.0.0', '--key', alice, '--trust', trust]);
  assert.equal(pin.code, 0, pin.stderr);
  assert.match(pin.stdout, /pinned +web\/prod 1\.0\.0 for the whole env/);
  const pinned = await readManifest(h, 'pins/web/prod.json');
  assert.equal(pinned.payload.reason, 'bad 2.0.0');
  assert.equal(pinned.payload.version, '1.0.0');
  await h.once();
  assert.equal(await h.current(), '1.0.0');
  assert.equal((await h.appState()).state, 'pinned');

  // A pin for another host replaces the pin: this host follows the channel again.
  const other = await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--hosts', 'host-2,host-1', '--reason', 'canaries', '--key', alice]);
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stderr, /replaces the current pin/);
  // Unpinning host-1 only keeps host-2 pinned.
  const narrow = await ops(h, ['unpin', ...WEB, '--hosts', 'host-1', '--key', alice, '--trust', trust]);
  assert.equal(narrow.code, 0, narrow.stderr);
  const narrowed = await readManifest(h, 'pins/web/prod.json');
  assert.deepEqual(narrowed.payload.hosts, ['host-2']);
  assert.ok(Number(narrowed.payload.sequence) > Number(pinned.payload.sequence));
  await h.once();
  assert.equal(await h.current(), '2.0.0');

  const unpin = await ops(h, ['unpin', ...WEB, '--key', alice, '--reason', 'done']);
  assert.equal(unpin.code, 0, unpin.stderr);
  const unpinned = await readManifest(h, 'pins/web/prod.json');
  assert.equal(unpinned.payload.artifact, null);
  assert.equal(unpinned.payload.version, undefined);
  // A whole-env pin cannot be lifted for some hosts only.
  assert.equal((await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--reason', 'r', '--key', alice])).code, 0);
  assertCode(await ops(h, ['unpin', ...WEB, '--hosts', 'host-1', '--key', alice]), 2, 'HOIST_USAGE');
  assert.equal((await ops(h, ['unpin', ...WEB, '--key', alice])).code, 0);
  const again = await ops(h, ['unpin', ...WEB, '--key', alice]);
  assert.match(again.stderr, /nothing was pinned/);

  // Rollback without --to: the newest release with another artifact (1.0.0).
  const back = await ops(h, ['rollback', ...WEB, '--key', alice, '--by', 'alice', '--trust', trust]);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /rolled back web\/prod from 2\.0\.0 to 1\.0\.0/);
  const channel = await readManifest(h, 'channels/web/prod.json');
  assert.match(String((channel.payload.notes as Record<string, unknown>).unpackedBytes), /^\d+$/, 'the unpacked size of the release rolled back to, for the free-space check');
  assert.deepEqual({ ...(channel.payload.notes as Record<string, unknown>), unpackedBytes: undefined }, { rollbackOf: '2.0.0', by: 'alice', unpackedBytes: undefined });
  await h.once();
  assert.equal(await h.current(), '1.0.0');

  // Rollback --to a named version.
  const to = await ops(h, ['rollback', ...WEB, '--key', alice, '--to', '2.0.0']);
  assert.equal(to.code, 0, to.stderr);
  await h.once();
  assert.equal(await h.current(), '2.0.0');
});

test('pin, unpin and rollback refuse what they cannot do', async () => {
  await using h = await createHarness();
  const alice = h.keyPaths.alice?.key ?? '';
  const ci = h.keyPaths.ci?.key ?? '';
  const trust = await writeTrust(h);
  assertCode(await ops(h, ['rollback', '--app', 'nope', '--env', 'prod', '--key', alice]), 1, 'HOIST_CHANNEL_NOT_FOUND');
  assertCode(await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--key', alice]), 2, 'HOIST_USAGE'); // --reason is required
  assertCode(await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--reason', 'x', '--key', alice]), 1, 'HOIST_VERSION_NOT_FOUND');
  assert.equal((await ops(h, publishArgs(h, '1.0.0', await buildRelease(h, '1.0.0')))).code, 0);
  assertCode(await ops(h, ['rollback', ...WEB, '--key', alice]), 1, 'HOIST_VERSION_NOT_FOUND'); // nothing earlier
  assertCode(await ops(h, ['rollback', ...WEB, '--key', alice, '--to', '9.9.9']), 1, 'HOIST_VERSION_NOT_FOUND');
  assertCode(await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--reason', 'x', '--key', ci, '--trust', trust]), 1, 'HOIST_KEY_NOT_IN_ROLE');
  assertCode(await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--reason', 'x', '--key', `${h.dir}/none.key`]), 2, 'HOIST_KEY_INVALID');
  assertCode(await ops(h, ['pin', ...WEB, '--version', '1.0.0', '--reason', 'x', '--hosts', ',', '--key', alice]), 2, 'HOIST_USAGE');
});
