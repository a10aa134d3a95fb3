import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness } from '../helpers/harness.ts';
import { assertCode, buildRelease, listAll, ops, publishArgs, readManifest, writeTrust } from './ops.ts';

test('publish uploads once, writes channel and history with increasing sequences, and an agent deploys it', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const file = await buildRelease(h, '1.0.0');

  const first = await ops(h, [...publishArgs(h, '1.0.0', file), '--commit', 'abc123', '--by', 'ci-bot', '--rollout', '100', '--expires', '2d']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /artifact +uploaded s3:\/\/hoist-test\/artifacts\/web\/[0-9a-f]{64}\.tar\.gz/);
  assert.match(first.stdout, /sequence +\d+/);
  const channel = await readManifest(h, 'channels/web/prod.json');
  assert.equal(channel.payload.kind, 'release');
  assert.equal(channel.payload.version, '1.0.0');
  const notes = channel.payload.notes as Record<string, string>;
  assert.deepEqual({ ...notes, unpackedBytes: undefined }, { commit: 'abc123', by: 'ci-bot', unpackedBytes: undefined });
  assert.match(notes.unpackedBytes ?? '', /^[1-9]\d*$/, 'the unpacked size is recorded for the agents\' free-space check');
  const art = channel.payload.artifact as { key: string; format: string; size: number };
  assert.equal(art.format, 'tar+gzip');
  const days = (Date.parse(String(channel.payload.expiresAt)) - Date.parse(String(channel.payload.issuedAt))) / 86_400_000;
  assert.equal(days, 2);

  const agent = await h.once();
  assert.equal(agent.code, 0, agent.stdout + agent.stderr);
  assert.equal(await h.current(), '1.0.0');

  // The same artifact again (twice, back to back): skipped, one object, strictly increasing sequences.
  const [second, third] = [await ops(h, publishArgs(h, '1.0.1', file)), await ops(h, publishArgs(h, '1.0.2', file))];
  assert.equal(second.code, 0, second.stderr);
  assert.equal(third.code, 0, third.stderr);
  assert.match(second.stdout, /artifact +skipped \(already in the bucket\)/);
  assert.deepEqual(await listAll(h, 'artifacts/'), [art.key]);
  const history = await listAll(h, 'history/web/prod/');
  assert.equal(history.length, 3);
  const seqs = history.map((k) => Number(path.basename(k, '.json'))).sort((a, b) => a - b);
  assert.ok((seqs[0] ?? 0) < (seqs[1] ?? 0) && (seqs[1] ?? 0) < (seqs[2] ?? 0));
  const latest = await readManifest(h, 'channels/web/prod.json');
  assert.equal(latest.payload.sequence, seqs[2]);
  assert.equal(latest.payload.version, '1.0.2');
});

test('a channel sequence in the future is still exceeded (clock behind the last publish)', async () => {
  await using h = await createHarness();
  const file = await buildRelease(h, '1.0.0');
  const future = Date.now() + 3_600_000;
  await h.publish('0.9.0', await h.artifact('0.9.0'), { sequence: future });
  const r = await ops(h, publishArgs(h, '1.0.0', file));
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await readManifest(h, 'channels/web/prod.json')).payload.sequence, future + 1);
});

test('zstd artifacts are detected; other files, bad versions and bad keys are refused', async () => {
  await using h = await createHarness();
  const zst = await buildRelease(h, '2.0.0', 'healthy', true);
  const ok = await ops(h, [...publishArgs(h, '2.0.0', zst), '--rollout', '50']);
  assert.equal(ok.code, 0, ok.stderr);
  const m = await readManifest(h, 'channels/web/prod.json');
  assert.equal((m.payload.artifact as { format: string }).format, 'tar+zstd');
  assert.match((m.payload.artifact as { key: string }).key, /\.tar\.zst$/);
  assert.deepEqual(m.payload.rollout, { percent: 50 });

  const zip = path.join(h.dir, 'app.zip');
  await writeFile(zip, Buffer.from('PK\x03\x04 not a tarball'));
  assertCode(await ops(h, publishArgs(h, '2.0.1', zip)), 2, 'HOIST_USAGE');
  assertCode(await ops(h, publishArgs(h, '2.0.1', path.join(h.dir, 'missing.tar.gz'))), 2, 'HOIST_USAGE');
  assertCode(await ops(h, publishArgs(h, '../evil', zst)), 2, 'HOIST_USAGE');
  assertCode(await ops(h, [...publishArgs(h, '2.0.1', zst), '--rollout', '150']), 2, 'HOIST_USAGE');
  assertCode(await ops(h, [...publishArgs(h, '2.0.1', zst), '--expires', 'forever']), 2, 'HOIST_USAGE');
  const missingKey = publishArgs(h, '2.0.1', zst);
  missingKey[missingKey.length - 1] = path.join(h.dir, 'nope.key');
  assertCode(await ops(h, missingKey), 2, 'HOIST_KEY_INVALID');
  // bob is not in this policy's release role.
  const trust = await writeTrust(h, 1, ['ci', 'alice']);
  assertCode(await ops(h, [...publishArgs(h, '2.0.1', zst, 'bob'), '--trust', trust]), 1, 'HOIST_KEY_NOT_IN_ROLE');
  const withTrust = await ops(h, [...publishArgs(h, '2.0.1', zst), '--trust', trust]);
  assert.equal(withTrust.code, 0, withTrust.stderr);
  assert.match(withTrust.stdout, /signed +1 of 1 \(ci\); agents will accept it/);
  // Nothing else was written by the refused runs.
  assert.equal((await listAll(h, 'history/')).length, 2);
});

test('a refused connection fails fast with HOIST_S3_UNREACHABLE naming the endpoint', async () => {
  await using h = await createHarness();
  const file = await buildRelease(h, '1.0.0');
  const { freePort } = await import('../helpers/app.ts');
  const dead = `http://127.0.0.1:${await freePort()}`;
  const { run, HOIST_BIN } = await import('../helpers/harness.ts');
  const started = performance.now();
  const r = await run([HOIST_BIN, ...publishArgs(h, '1.0.0', file), '--bucket', 'hoist-test', '--endpoint', dead, '--region', 'us-east-1'], {
    env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
  });
  assertCode(r, 1, 'HOIST_S3_UNREACHABLE');
  assert.ok(r.stderr.includes(dead), r.stderr);
  assert.ok(performance.now() - started < 20_000, 'failed fast');
  const status = await run([HOIST_BIN, 'status', '--app', 'web', '--env', 'prod', '--bucket', 'b', '--endpoint', dead, '--region', 'us-east-1'], {
    env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
  });
  assertCode(status, 1, 'HOIST_S3_UNREACHABLE');
  assert.ok(status.stderr.includes(dead));
});

test('a private key readable by group or others is refused by every signing command (HOIST_KEY_PERMISSIONS, exit 2) unless --allow-loose-key', async () => {
  await using h = await createHarness();
  const { chmod, copyFile } = await import('node:fs/promises');
  const loose = path.join(h.dir, 'loose.key');
  await copyFile(h.keyPaths.ci?.key ?? '', loose);
  await chmod(loose, 0o644);
  const file = await buildRelease(h, '1.0.0');
  const args = publishArgs(h, '1.0.0', file);
  args[args.length - 1] = loose;
  const refused = await ops(h, args);
  assertCode(refused, 2, 'HOIST_KEY_PERMISSIONS');
  assert.match(refused.stderr, /mode 0644.*chmod 600/);
  assert.deepEqual(await listAll(h, 'channels/'), [], 'nothing was published');
  for (const other of [
    ['pin', '--app', 'web', '--env', 'prod', '--version', '1.0.0', '--reason', 'r', '--key', loose],
    ['unpin', '--app', 'web', '--env', 'prod', '--key', loose],
    ['rollback', '--app', 'web', '--env', 'prod', '--key', loose],
    ['approve', '--app', 'web', '--env', 'prod', '--key', loose],
  ]) {
    assertCode(await ops(h, other), 2, 'HOIST_KEY_PERMISSIONS');
  }
  const { run, HOIST_BIN } = await import('../helpers/harness.ts');
  const payload = path.join(h.dir, 'payload.json');
  await (await import('node:fs/promises')).writeFile(payload, '{}');
  assertCode(await run([HOIST_BIN, 'sign', payload, '--key', loose]), 2, 'HOIST_KEY_PERMISSIONS');
  const allowed = await ops(h, [...args, '--allow-loose-key']);
  assert.equal(allowed.code, 0, allowed.stderr);
});

test('--json: publish, pin, unpin and rollback print one JSON object with what they wrote', async () => {
  await using h = await createHarness();
  const file = await buildRelease(h, '1.0.0');
  const published = await ops(h, [...publishArgs(h, '1.0.0', file), '--json']);
  assert.equal(published.code, 0, published.stderr);
  const p = JSON.parse(published.stdout) as { artifact: { outcome: string; sha256: string }; release: { version: string; sequence: number }; wrote: string[]; notified: unknown[] };
  assert.equal(p.artifact.outcome, 'uploaded');
  assert.equal(p.release.version, '1.0.0');
  assert.deepEqual(p.wrote.sort(), ['channels/web/prod.json', `history/web/prod/${p.release.sequence}.json`].sort());
  assert.deepEqual(p.notified, []);
  const second = await ops(h, [...publishArgs(h, '1.0.1', await buildRelease(h, '1.0.1')), '--json']);
  assert.equal(second.code, 0, second.stderr);
  const pinned = await ops(h, ['pin', '--app', 'web', '--env', 'prod', '--version', '1.0.0', '--reason', 'hold', '--key', h.keyPaths.alice?.key ?? '', '--json']);
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.deepEqual((JSON.parse(pinned.stdout) as { pinned: { version: string; reason: string } }).pinned.reason, 'hold');
  const unpinned = await ops(h, ['unpin', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.alice?.key ?? '', '--json']);
  assert.equal(unpinned.code, 0, unpinned.stderr);
  assert.ok('unpinned' in (JSON.parse(unpinned.stdout) as object));
  const rolled = await ops(h, ['rollback', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.ci?.key ?? '', '--json']);
  assert.equal(rolled.code, 0, rolled.stderr);
  assert.deepEqual((JSON.parse(rolled.stdout) as { rolledBack: { from: string; to: string } }).rolledBack.to, '1.0.0');
});
