/**
 * `hoist renew`: the current release again with a new sequence and expiry; a stepped schedule
 * keeps its start; --within makes it a no-op for a daily job; it refuses to re-sign what nothing
 * shows is genuine. The renewed manifest is deployed by the real agent as a new sequence of the
 * same artifact: nothing is redeployed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { generateKeyPair, loadPrivateKey } from '../../src/crypto/keys.ts';
import { BUCKET, createHarness, nextSequence } from '../helpers/harness.ts';
import { assertCode, buildRelease, listAll, ops, publishArgs, readManifest, writeTrust } from './ops.ts';

test('renew: a new sequence and expiry for the same release, the schedule keeps its start; only what is genuine is renewed', { timeout: 180_000 }, async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const trust = await writeTrust(h, 1);
  const file = await buildRelease(h, '1.0.0');
  assert.equal((await ops(h, [...publishArgs(h, '1.0.0', file), '--steps', '100:0s', '--max-failures', '3', '--expires', '2h', '--retry-failed'])).code, 0);
  assert.equal((await h.once()).code, 0);
  const before = (await readManifest(h, 'channels/web/prod.json')).payload as { sequence: number; issuedAt: string; artifact: unknown; notes: Record<string, string>; retryFailed?: boolean };
  assert.equal(before.retryFailed, true);

  const quiet = await ops(h, ['renew', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.ci?.key ?? '', '--within', '1h']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.match(quiet.stdout, /^nothing to renew: /);

  const renewed = await ops(h, ['renew', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.ci?.key ?? '', '--within', '3h', '--expires', '30d']);
  assert.equal(renewed.code, 0, renewed.stderr);
  const after = (await readManifest(h, 'channels/web/prod.json')).payload as typeof before & { rollout: Record<string, unknown>; expiresAt: string; version: string };
  assert.ok(after.sequence > before.sequence);
  assert.deepEqual(after.artifact, before.artifact);
  assert.equal(after.version, '1.0.0');
  assert.deepEqual(after.rollout, { steps: [{ percent: 100, after: '0s' }], startAt: new Date(Date.parse(before.issuedAt)).toISOString(), halt: { maxFailures: 3 } });
  assert.ok(Date.parse(after.expiresAt) - Date.now() > 29 * 86_400_000);
  assert.equal(after.notes.renewedFrom, String(before.sequence));
  assert.equal(after.retryFailed, undefined, 'retryFailed was a one-time decision');
  assert.equal((await listAll(h, 'history/web/prod/')).length, 2);
  const agent = await h.once();
  assert.equal(agent.code, 0);
  assert.equal((await h.appState()).highWater.release?.sequence, after.sequence);

  // Another trusted key renews only with --trust; a planted manifest is never renewed.
  assertCode(await ops(h, ['renew', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.alice?.key ?? '']), 1, 'HOIST_SIGNATURE_UNTRUSTED');
  assert.equal((await ops(h, ['renew', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.alice?.key ?? '', '--trust', trust])).code, 0);
  const planted = { ...after, sequence: nextSequence(), version: '6.6.6' };
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'channels/web/prod.json', Body: serializeEnvelope(signEnvelope(Buffer.from(JSON.stringify(planted)), await loadPrivateKey(generateKeyPair().privatePem))) }));
  assertCode(await ops(h, ['renew', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.ci?.key ?? '']), 1, 'HOIST_SIGNATURE_UNTRUSTED');
  assertCode(await ops(h, ['renew', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.ci?.key ?? '', '--trust', trust]), 1, 'HOIST_SIGNATURE_UNTRUSTED');
});
