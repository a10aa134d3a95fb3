/**
 * Attack class: symlink chains. With `allowSymlinks: true` each link target was checked by its
 * text alone, so links that each "stay inside" when read alone resolved, chained, to `/`.
 * Every link is now resolved through the whole chain of the release's links, as the kernel would.
 */
import assert from 'node:assert/strict';
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { MAX_LINK_HOPS, resolveLink } from '../../src/unpack/link-chain.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { createHarness } from '../helpers/harness.ts';
import { writeArchive, type TarEntrySpec } from '../helpers/tarballs.ts';
import { sandbox } from '../unpack/sandbox.ts';

const links = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries));

test('resolveLink: chains, loops and links that stay inside (table)', () => {
  const cases: Array<[string, Record<string, string>, string, string]> = [
    // [name, links, link resolved, expected: inside path or reason]
    ['plain', { 'bin/run': '../lib/run' }, 'bin/run', 'lib/run'],
    ['through another link', { 'bin/node': '../lib/node', 'lib/node': 'node-v24/bin/node' }, 'bin/node', 'lib/node-v24/bin/node'],
    ['to the root itself', { 'a/top': '..' }, 'a/top', '.'],
    ['.. then a chain out', { 'a/up': '..', 'a/root': 'up/..' }, 'a/root', 'escapes'],
    ['deep chain out', { 'd1/d2/up': '../..', 'd1/d2/esc': 'up/..' }, 'd1/d2/esc', 'escapes'],
    ['a link to a link that goes out', { x: 'y/..', y: 's/up', 's/up': '..' }, 'x', 'escapes'],
    ['an absolute link inside the chain', { a: 'b/c', b: '/etc' }, 'a', 'absolute'],
    ['a loop', { l1: 'l2', l2: 'l1' }, 'l1', 'loop'],
    ['a self loop', { me: 'me' }, 'me', 'loop'],
    ['dangling but inside', { 'a/b': '../missing/thing' }, 'a/b', 'missing/thing'],
  ];
  for (const [name, map, link, expected] of cases) {
    const r = resolveLink(link, links(map));
    const got = r.inside ? r.path : r.reason;
    assert.equal(got, expected, name);
  }
  // a chain exactly as long as the kernel allows resolves; one more is a loop
  const chain = (n: number): Map<string, string> => new Map(Array.from({ length: n }, (_, i) => [`l${i}`, i === n - 1 ? 'end' : `l${i + 1}`]));
  assert.deepEqual(resolveLink('l0', chain(MAX_LINK_HOPS)), { inside: true, path: 'end' });
  assert.equal(resolveLink('l0', chain(MAX_LINK_HOPS + 1)).inside, false);
});

async function refused(entries: TarEntrySpec[]): Promise<string> {
  await using box = await sandbox();
  await writeArchive(box.archive, entries);
  let message = '';
  await assert.rejects(unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks: true }), (error: unknown) => {
    assert.ok(isHoistError(error, 'HOIST_UNSAFE_ENTRY'), String(error));
    message = error.message;
    return true;
  });
  await box.assertNothingOutside();
  return message;
}

test('attack: symlink chains: links each "inside" alone that resolve outside together are refused', async () => {
  assert.match(await refused([{ path: 'a/', type: 'Directory' }, { path: 'a/up', type: 'SymbolicLink', linkpath: '..' }, { path: 'a/root', type: 'SymbolicLink', linkpath: 'up/..' }]), /a\/root.*resolves outside the release/);
  // the order does not matter: the link that makes the chain escape comes last
  assert.match(await refused([{ path: 'x', type: 'SymbolicLink', linkpath: 'y/..' }, { path: 'y', type: 'SymbolicLink', linkpath: 's/up' }, { path: 's/', type: 'Directory' }, { path: 's/up', type: 'SymbolicLink', linkpath: '..' }]), /"x".*resolves outside/);
  assert.match(await refused([{ path: 'l1', type: 'SymbolicLink', linkpath: 'l2' }, { path: 'l2', type: 'SymbolicLink', linkpath: 'l1' }]), /symlink loop/);
});

test('symlink chains that stay inside are unpacked', async () => {
  await using box = await sandbox();
  await writeArchive(box.archive, [
    { path: 'lib/', type: 'Directory' },
    { path: 'lib/node-v24/', type: 'Directory' },
    { path: 'lib/node-v24/node', body: 'binary' },
    { path: 'lib/node', type: 'SymbolicLink', linkpath: 'node-v24/node' },
    { path: 'bin/', type: 'Directory' },
    { path: 'bin/node', type: 'SymbolicLink', linkpath: '../lib/node' },
  ]);
  await unpackArchive({ file: box.archive, format: 'tar+gzip', dest: box.dest, limits: DEFAULT_UNPACK_LIMITS, allowSymlinks: true });
  assert.equal(await readlink(path.join(box.dest, 'bin', 'node')), '../lib/node');
  await box.assertNothingOutside();
});

test('attack: symlink chains through the agent: refused, nothing deployed, the serving release keeps serving', async () => {
  await using h = await createHarness();
  await h.writeConfig({ app: { allowSymlinks: true } });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifactWith('2.0.0', [{ path: 'a/', type: 'Directory' }, { path: 'a/up', type: 'SymbolicLink', linkpath: '..' }, { path: 'a/etc', type: 'SymbolicLink', linkpath: 'up/../../../../../../../etc' }]);
  await h.publish('2.0.0', v2);
  const r = await h.once();
  assert.equal(r.code, 1);
  assert.equal((await h.appState()).lastAttempt?.code, 'HOIST_UNSAFE_ENTRY');
  assert.equal(await h.served(), '1.0.0');
  await assert.rejects(lstat(path.join(h.root, 'releases', `2.0.0-${v2.sha256.slice(0, 12)}`)), /ENOENT/);
});
