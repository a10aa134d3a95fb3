/**
 * Shared unchanged files through the real `hoist agent --once` (dedup is on by default for
 * root-owned releases): the files a new release keeps are linked to the release current points
 * at, and sharing files never shortens what is checked: the artifact is still held to the digest
 * of all its bytes before anything is unpacked, and still read to its end-of-archive marker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, createHarness, type Artifact } from '../helpers/harness.ts';
import type { TarEntrySpec } from '../helpers/tarballs.ts';

/** A small library tree every release carries unchanged. */
const LIB: TarEntrySpec[] = [
  { path: 'lib/', type: 'Directory' },
  ...Array.from({ length: 40 }, (_, i) => ({ path: `lib/m${String(i).padStart(2, '0')}.js`, body: `module.exports = ${i};\n`.repeat(50) })),
];

const dirOf = (version: string, artifact: Artifact): string => `${version}-${artifact.sha256.slice(0, 12)}`;

test('dedup: unchanged files are linked to the current release; a changed byte is still refused by the digest, a cut archive by its end marker', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const releases = path.join(h.root, 'releases');
  const v1 = await h.artifactWith('1.0.0', LIB);
  await h.publish('1.0.0', v1);
  const first = await h.once();
  assert.equal(first.code, 0, first.stderr + first.stdout);

  const v2 = await h.artifactWith('2.0.0', LIB);
  await h.publish('2.0.0', v2);
  const second = await h.once();
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.equal(await h.served(), '2.0.0');
  const one = path.join(releases, dirOf('1.0.0', v1));
  const two = path.join(releases, dirOf('2.0.0', v2));
  for (const entry of LIB.filter((e) => e.type !== 'Directory')) {
    const [a, b] = await Promise.all([lstat(path.join(one, entry.path)), lstat(path.join(two, entry.path))]);
    assert.equal(b.ino, a.ino, `${entry.path} is shared with the previous release`);
    assert.equal(b.nlink, 2, entry.path);
  }
  assert.notEqual((await lstat(path.join(two, 'VERSION'))).ino, (await lstat(path.join(one, 'VERSION'))).ino);
  assert.match(second.stdout + second.stderr, /"dedup":\{"files":4[0-9],/, 'the unpack says what it linked');
  const before = (await readdir(releases)).sort();

  // every file would link, but one byte of the artifact differs from what was signed
  const v3 = await h.artifactWith('3.0.0', LIB);
  const tampered = await readFile(v3.file);
  const at = Math.floor(tampered.length / 2);
  tampered[at] = (tampered[at] ?? 0) ^ 0x01;
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: v3.key, Body: tampered }));
  await h.publish('3.0.0', v3);
  const third = await h.once();
  assert.equal(third.code, 1, third.stderr + third.stdout);
  assert.equal((await h.appState()).lastAttempt?.code, 'HOIST_DIGEST_MISMATCH');

  // the same files as current, but the archive stops before its end-of-archive marker
  const v4 = await h.artifactWith('2.0.0', LIB, { end: false });
  await h.publish('4.0.0', v4);
  const fourth = await h.once();
  assert.equal(fourth.code, 1, fourth.stderr + fourth.stdout);
  assert.equal((await h.appState()).lastAttempt?.code, 'HOIST_ARCHIVE_TRUNCATED');

  assert.deepEqual((await readdir(releases)).sort(), before, 'nothing unpacked, no staging left');
  assert.equal(await h.current(), '2.0.0');
  for (const entry of LIB.filter((e) => e.type !== 'Directory')) {
    assert.equal((await lstat(path.join(two, entry.path))).nlink, 2, `${entry.path}: no name left behind by the refused releases`);
  }
});
