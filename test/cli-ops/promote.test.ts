/**
 * `hoist promote` end to end: the artifact is taken from the verified --from channel manifest only;
 * status reports only count hosts toward the gate (one claiming another artifact counts for
 * nothing); below the gate nothing is written (HOIST_PROMOTE_GATE with the numbers), above it the
 * target env gets the staging artifact's exact digest with notes.promotedFrom, the manifest
 * verifies with OpenSSL, and the agent deploys it. --to-bucket copies the artifact, checked by digest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { decodePayload, parseEnvelope, serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { pae } from '../../src/dsse/pae.ts';
import { generateKeyPair, loadPrivateKey } from '../../src/crypto/keys.ts';
import { BUCKET, createHarness, nextSequence, run, HOIST_BIN, type Harness } from '../helpers/harness.ts';
import { assertCode, buildRelease, CREDS, getText, listAll, ops, readManifest, writeTrust } from './ops.ts';

const execFileP = promisify(execFile);

async function report(h: Harness, host: string, o: { sha256: string; state?: string; sinceMs?: number; bucket?: string }): Promise<void> {
  const now = Date.now();
  const body = {
    hostId: host,
    app: 'web',
    env: 'staging',
    state: o.state ?? 'healthy',
    current: { version: '1.0.0', sha256: o.sha256, sequence: 1, since: new Date(now - (o.sinceMs ?? 3_600_000)).toISOString() },
    previous: null,
    lastAttempt: null,
    agentVersion: '0.1.0',
    updatedAt: new Date(now).toISOString(),
  };
  await h.aws.s3.send(new PutObjectCommand({ Bucket: o.bucket ?? BUCKET, Key: `status/web/staging/${host}.json`, Body: JSON.stringify(body) }));
}

const promoteArgs = (h: Harness, trust: string, ...rest: string[]): string[] => ['promote', '--app', 'web', '--from', 'staging', '--to', 'prod', '--key', h.keyPaths.ci?.key ?? '', '--trust', trust, ...rest];

test('promote refuses below the gate, publishes the exact staging artifact above it, and its manifest verifies with OpenSSL', { timeout: 240_000 }, async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const trust = await writeTrust(h, 1);
  const file = await buildRelease(h, '1.0.0');
  const staged = await ops(h, ['publish', '--app', 'web', '--env', 'staging', '--version', '1.0.0', '--artifact', file, '--key', h.keyPaths.ci?.key ?? '', '--commit', 'feed42', '--json']);
  assert.equal(staged.code, 0, staged.stderr);
  const staging = (await readManifest(h, 'channels/web/staging.json')).payload as { sequence: number; artifact: Record<string, unknown>; version: string };
  const sha = String(staging.artifact.sha256);

  // --trust is required.
  const noTrust = await ops(h, ['promote', '--app', 'web', '--from', 'staging', '--to', 'prod', '--key', h.keyPaths.ci?.key ?? '']);
  assert.equal(noTrust.code, 2);
  assert.match(noTrust.stderr, /--trust/);

  // 3 of 4 reporting hosts healthy on the artifact; a fourth claims another artifact: 75 % < 90 %.
  for (const host of ['s1', 's2', 's3']) await report(h, host, { sha256: sha });
  await report(h, 's4', { sha256: 'f'.repeat(64) });
  const refused = await ops(h, promoteArgs(h, trust));
  assertCode(refused, 1, 'HOIST_PROMOTE_GATE');
  assert.match(refused.stderr, /3 of 4 reporting hosts of web\/staging \(75%\) run 1\.0\.0 \(\w{12}\) healthy for at least 30m; --min-healthy 90% needs 4; not yet: s4 \(runs another artifact/);
  assert.deepEqual(await listAll(h, 'channels/web/prod'), [], 'nothing was published');
  // a host healthy on it, but for less than --min-age, does not count either
  await report(h, 's4', { sha256: sha, sinceMs: 60_000 });
  assert.match((await ops(h, promoteArgs(h, trust))).stderr, /s4 \(healthy for 1m0?s?, under 30m\)|s4 \(healthy for 1m/);

  await report(h, 's4', { sha256: sha });
  const promoted = await ops(h, promoteArgs(h, trust, '--steps', '50:0s,100:1m', '--max-failures', '2', '--json'));
  assert.equal(promoted.code, 0, promoted.stderr);
  const out = JSON.parse(promoted.stdout) as { gate: { reporting: number; qualifying: number }; promoted: { promotedFrom: string } };
  assert.deepEqual(out.gate, { reporting: 4, qualifying: 4, needed: 4 });
  const prod = await readManifest(h, 'channels/web/prod.json');
  const p = prod.payload as { env: string; version: string; artifact: Record<string, unknown>; notes: Record<string, string>; rollout: Record<string, unknown> };
  assert.equal(p.env, 'prod');
  assert.equal(p.version, staging.version);
  assert.deepEqual(p.artifact, staging.artifact, 'the exact artifact: key, sha256, size, format');
  assert.equal(p.notes.promotedFrom, `staging@${staging.sequence}`);
  assert.equal(p.notes.commit, 'feed42');
  assert.deepEqual(p.rollout, { steps: [{ percent: 50, after: '0s' }, { percent: 100, after: '1m' }], halt: { maxFailures: 2 } });
  assert.equal((await listAll(h, 'history/web/prod/')).length, 1);

  // The promoted manifest verifies with OpenSSL over the DSSE PAE.
  const envelope = parseEnvelope(await getText(h, 'channels/web/prod.json'));
  const dir = h.dir;
  await writeFile(path.join(dir, 'pae.bin'), pae(envelope.payloadType, decodePayload(envelope)));
  await writeFile(path.join(dir, 'sig.bin'), Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64'));
  const { stdout } = await execFileP('openssl', ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', h.keyPaths.ci?.pub ?? '', '-in', path.join(dir, 'pae.bin'), '-sigfile', path.join(dir, 'sig.bin')]);
  assert.match(stdout, /Signature Verified Successfully/);

  // prod's agent (this host is in the 50 % of step 1 or waits for step 2) takes it.
  const agent = await h.once();
  assert.equal(agent.code, 0, agent.stderr);
});

test('promote --to-bucket copies the artifact checked by digest; a forged source or a bad copy is refused', { timeout: 240_000 }, async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const trust = await writeTrust(h, 1);
  await h.aws.createBucket('hoist-prod');
  const file = await buildRelease(h, '1.0.0');
  assert.equal((await ops(h, ['publish', '--app', 'web', '--env', 'staging', '--version', '1.0.0', '--artifact', file, '--key', h.keyPaths.ci?.key ?? ''])).code, 0);
  const staging = (await readManifest(h, 'channels/web/staging.json')).payload as { artifact: { key: string; sha256: string; size: number } };
  for (const host of ['s1', 's2']) await report(h, host, { sha256: staging.artifact.sha256 });

  // A copy already there with the right size but other bytes is caught by its digest.
  await h.aws.s3.send(new PutObjectCommand({ Bucket: 'hoist-prod', Key: staging.artifact.key, Body: Buffer.alloc(staging.artifact.size, 7) }));
  assertCode(await ops(h, promoteArgs(h, trust, '--to-bucket', 'hoist-prod', '--min-age', '0s')), 1, 'HOIST_DIGEST_MISMATCH');
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  await h.aws.s3.send(new DeleteObjectCommand({ Bucket: 'hoist-prod', Key: staging.artifact.key }));

  const ok = await ops(h, promoteArgs(h, trust, '--to-bucket', 'hoist-prod', '--min-age', '0s'));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^artifact +copied s3:\/\/hoist-prod\//m);
  const copied = await run([HOIST_BIN, 'verify', '-', '--trust', trust], { env: CREDS, input: await (async () => {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const got = await h.aws.s3.send(new GetObjectCommand({ Bucket: 'hoist-prod', Key: 'channels/web/prod.json' }));
    return (await got.Body?.transformToString()) ?? '';
  })() });
  assert.equal(copied.code, 0, copied.stderr);
  assert.deepEqual(await listAll(h, 'channels/web/prod'), [], 'the source bucket is untouched');

  // A source channel signed by an untrusted key is refused before anything is read from reports.
  const stranger = await loadPrivateKey(generateKeyPair().privatePem);
  const forged = { ...(await readManifest(h, 'channels/web/staging.json')).payload, sequence: nextSequence(), artifact: { ...staging.artifact, sha256: 'a'.repeat(64) } };
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'channels/web/staging.json', Body: serializeEnvelope(signEnvelope(Buffer.from(JSON.stringify(forged)), stranger)) }));
  assertCode(await ops(h, promoteArgs(h, trust, '--min-age', '0s')), 1, 'HOIST_SIGNATURE_UNTRUSTED');
});
