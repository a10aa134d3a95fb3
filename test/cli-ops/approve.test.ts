import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHarness, BUCKET } from '../helpers/harness.ts';
import { decodePayload, parseEnvelope, serializeEnvelope } from '../../src/dsse/envelope.ts';
import { keyIdOf, loadPrivateKey } from '../../src/crypto/keys.ts';
import { assertCode, buildRelease, getText, listAll, ops, publishArgs, readManifest, writeTrust } from './ops.ts';

const approveArgs = (key: string, ...rest: string[]): string[] => ['approve', '--app', 'web', '--env', 'prod', '--key', key, ...rest];

test('2-of-3 release policy: not deployed after publish, deployed after approve; a second approval by the same key is refused', async () => {
  await using h = await createHarness();
  const trustBlock = {
    keys: { ci: h.keyPaths.ci?.pub, alice: h.keyPaths.alice?.pub, bob: h.keyPaths.bob?.pub },
    roles: { release: { keys: ['ci', 'alice', 'bob'], threshold: 2 }, pin: { keys: ['alice', 'bob'], threshold: 1 } },
  };
  await h.writeConfig({ trust: trustBlock });
  const trust = await writeTrust(h, 2);
  const file = await buildRelease(h, '1.0.0');

  const published = await ops(h, [...publishArgs(h, '1.0.0', file), '--trust', trust]);
  assert.equal(published.code, 0, published.stderr);
  assert.match(published.stdout, /signed +1 of 2 \(ci\); needs 1 more approval .* from: alice, bob/);
  await h.once();
  assert.equal(await h.current(), undefined, 'one signature of two is not enough');

  const approved = await ops(h, approveArgs(h.keyPaths.alice?.key ?? '', '--trust', trust, '--expect-version', '1.0.0'));
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /approved +web\/prod 1\.0\.0 sequence \d+ \(2 signatures\)/);
  assert.match(approved.stdout, /signed +2 of 2 \(ci, alice\); agents will accept it/);
  const channel = await readManifest(h, 'channels/web/prod.json');
  assert.equal(channel.signatures, 2);
  // The history copy is written once, at publish; the approval is a signed statement beside it.
  const history = await readManifest(h, `history/web/prod/${String(channel.payload.sequence)}.json`);
  assert.equal(history.signatures, 1, 'the history copy is never rewritten');
  const aliceId = keyIdOf(await loadPrivateKey(h.keyPaths.alice?.key ?? ''));
  const statementKey = `approvals/web/prod/${String(channel.payload.sequence)}/${aliceId}.json`;
  assert.deepEqual(await listAll(h, 'approvals/'), [statementKey]);
  const statement = parseEnvelope(await getText(h, statementKey));
  assert.equal(statement.payloadType, 'application/vnd.hoist.approval+json');
  assert.equal(statement.signatures[0]?.keyid, aliceId);
  const body = JSON.parse(decodePayload(statement).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['app', 'at', 'env', 'keyid', 'kind', 'schema', 'sequence', 'sha256', 'version']);
  assert.equal(body.sequence, channel.payload.sequence);
  assert.equal(body.sha256, (channel.payload.artifact as { sha256: string }).sha256);
  assert.equal(body.keyid, aliceId);

  const agent = await h.once();
  assert.equal(agent.code, 0, agent.stdout);
  assert.equal(await h.current(), '1.0.0');

  assertCode(await ops(h, approveArgs(h.keyPaths.alice?.key ?? '')), 1, 'HOIST_ALREADY_SIGNED');
  assertCode(await ops(h, approveArgs(h.keyPaths.bob?.key ?? '', '--expect-version', '9.9.9')), 1, 'HOIST_MANIFEST_MISMATCH');
});

test('approve refuses unknown apps, untrusted keys, forged signatures; notifies queues', async () => {
  await using h = await createHarness();
  const trust = await writeTrust(h, 2, ['ci', 'alice']);
  const file = await buildRelease(h, '1.0.0');
  const queue = await h.aws.createQueue('approvals');

  assertCode(await ops(h, ['approve', '--app', 'nope', '--env', 'prod', '--key', h.keyPaths.alice?.key ?? '']), 1, 'HOIST_CHANNEL_NOT_FOUND');
  assert.equal((await ops(h, publishArgs(h, '1.0.0', file))).code, 0);
  assertCode(await ops(h, approveArgs(h.keyPaths.bob?.key ?? '', '--trust', trust)), 1, 'HOIST_KEY_NOT_IN_ROLE');
  assertCode(await ops(h, approveArgs(`${h.dir}/missing.key`)), 2, 'HOIST_KEY_INVALID');

  // A forged ci signature: the existing signatures must verify before anyone adds theirs.
  const original = await getText(h, 'channels/web/prod.json');
  const env = parseEnvelope(original);
  const forged = { ...env, signatures: env.signatures.map((s) => ({ ...s, sig: Buffer.alloc(64, 1).toString('base64') })) };
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'channels/web/prod.json', Body: serializeEnvelope(forged) }));
  assertCode(await ops(h, approveArgs(h.keyPaths.alice?.key ?? '', '--trust', trust)), 1, 'HOIST_SIGNATURE_INVALID');
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'channels/web/prod.json', Body: original }));

  const ok = await ops(h, approveArgs(h.keyPaths.alice?.key ?? '', '--trust', trust, '--notify-sqs', queue));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /notified +sqs /);
  const { ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
  const msg = await h.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, WaitTimeSeconds: 1 }));
  assert.equal(parseEnvelope(msg.Messages?.[0]?.Body ?? '').signatures.length, 2);

  // A notification that fails is reported (the manifest is written regardless).
  const bad = await ops(h, ['approve', '--app', 'web', '--env', 'prod', '--key', h.keyPaths.bob?.key ?? '', '--notify-sqs', `${h.aws.endpoint}/000000000000/missing-queue`]);
  assertCode(bad, 1, 'HOIST_SQS');
  assert.equal((await readManifest(h, 'channels/web/prod.json')).signatures, 3);
});
