/** The floor of a host without a high-water mark, read from history/ on a real S3 emulator. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { classifyAgainstFloor, historyFloors } from '../../src/agent/floor.ts';
import { serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { approvalStatement, signApproval } from '../../src/evidence/approvals.ts';
import { startAws } from '../helpers/fauxqs.ts';
import { makeKey, payload, policyFor, SHA } from '../trust/fixtures.ts';

const ci = makeKey('ci');
const alice = makeKey('alice');
const stranger = makeKey('stranger');
const POLICY = await policyFor([ci, alice], { release: { keys: ['ci'] }, pin: { keys: ['alice'] } });
const BUCKET = 'floors';

function release(sequence: number, key = ci, extra: Record<string, unknown> = {}): string {
  return serializeEnvelope(signEnvelope(payload({ sequence, ...extra }), key.privateKey));
}

function pin(sequence: number): string {
  const artifact = { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 1, format: 'tar+gzip' };
  return serializeEnvelope(signEnvelope(payload({ kind: 'pin', sequence, artifact, reason: 'hold' }), alice.privateKey));
}

function digestOf(envelope: string): string {
  const env = JSON.parse(envelope) as { payload: string };
  return createHash('sha256').update(Buffer.from(env.payload, 'base64')).digest('hex');
}

test('the floor is the newest history entry that verifies, per kind, from one LIST', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  const put = (key: string, body: string) => aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  const good = release(200, ci, { issuedAt: '2020-01-01T00:00:00Z', expiresAt: '2020-02-01T00:00:00Z' });
  await put('history/web/prod/100.json', release(100));
  await put('history/web/prod/200.json', good); // long expired: still the channel's high point
  await put('history/web/prod/300.json', release(300, stranger)); // not signed by a trusted key
  await put('history/web/prod/400.json', release(150)); // holds another sequence than its name
  await put('history/web/prod/500.json', 'garbage');
  await put('history/web/prod/notes.txt', 'ignored');
  await put('history/web/staging/900.json', release(900, ci, { env: 'staging' }));
  await put('history/web/prod/pins/50.json', pin(50));
  await put('history/web/prod/pins/60.json', release(60)); // a release where a pin belongs
  const skipped: string[] = [];
  const result = await historyFloors(aws.s3, { bucket: BUCKET, prefix: '', app: 'web', env: 'prod', policy: POLICY, maxBytes: 65_536, onSkip: (key, e) => skipped.push(`${key} ${e.code}`) });
  assert.deepEqual(result.floors, { release: { sequence: 200, digest: digestOf(good) }, pin: { sequence: 50, digest: digestOf(pin(50)) } });
  assert.equal(result.requests, 1 + 4 + 2, 'one LIST, then GETs of the newest until one verifies');
  assert.deepEqual(skipped, [
    'history/web/prod/500.json HOIST_ENVELOPE_MALFORMED',
    'history/web/prod/400.json HOIST_MANIFEST_MISMATCH',
    'history/web/prod/300.json HOIST_SIGNATURE_UNTRUSTED',
    'history/web/prod/pins/60.json HOIST_SIGNATURE_UNTRUSTED',
  ]);

  const none = await historyFloors(aws.s3, { bucket: BUCKET, prefix: '', app: 'api', env: 'prod', policy: POLICY, maxBytes: 65_536 });
  assert.deepEqual(none, { floors: {}, requests: 1 });
  await assert.rejects(historyFloors(aws.s3, { bucket: 'no-such-bucket', prefix: '', app: 'web', env: 'prod', policy: POLICY, maxBytes: 65_536 }), { code: 'HOIST_S3' });
});

test('a manifest against the floor', () => {
  const floor = { sequence: 200, digest: 'a'.repeat(64) };
  const cases: Array<[string, number, string, string]> = [
    ['no floor: anything is new', 1, 'b'.repeat(64), 'new'],
    ['above the floor', 201, 'b'.repeat(64), 'new'],
    ['the floor entry itself', 200, 'a'.repeat(64), 'new'],
    ['the floor sequence with other bytes', 200, 'b'.repeat(64), 'conflict'],
    ['below the floor: an old release put back', 199, 'a'.repeat(64), 'replay'],
  ];
  for (const [name, sequence, digest, expected] of cases) {
    assert.equal(classifyAgainstFloor(name.startsWith('no floor') ? undefined : floor, sequence, digest), expected, name);
  }
});

test('a release copy below its threshold counts once its approval statements make it up (history copies are written before any approval)', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  const bob = makeKey('bob');
  const twoOf = await policyFor([ci, alice, bob], { release: { keys: ['ci', 'alice', 'bob'], threshold: 2 }, pin: { keys: ['alice'] } });
  const put = (key: string, body: string) => aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  // what `hoist approve` leaves: a statement of the approved manifest, signed by the approver
  const approval = (sequence: number, key: typeof ci, sha256 = SHA): string => {
    const manifest = JSON.parse(payload({ sequence, artifact: { key: `artifacts/web/${sha256}.tar.gz`, sha256, size: 1, format: 'tar+gzip' } }).toString('utf8')) as Parameters<typeof approvalStatement>[0];
    return serializeEnvelope(signApproval(approvalStatement(manifest, key.privateKey, new Date()), key.privateKey));
  };
  const approved = release(100);
  await put('history/web/prod/100.json', approved);
  await put('approvals/web/prod/100/alice.json', approval(100, alice));
  await put('history/web/prod/200.json', release(200)); // never approved
  await put('approvals/web/prod/200/stranger.json', approval(200, stranger)); // by a key of no role
  await put('history/web/prod/300.json', release(300));
  await put('approvals/web/prod/300/bob.json', approval(300, bob, 'cd'.repeat(32))); // of another artifact
  const skipped: string[] = [];
  const result = await historyFloors(aws.s3, { bucket: BUCKET, prefix: '', app: 'web', env: 'prod', policy: twoOf, maxBytes: 65_536, onSkip: (key, e) => skipped.push(`${key} ${e.code}`) });
  assert.deepEqual(result.floors, { release: { sequence: 100, digest: digestOf(approved) } });
  assert.deepEqual(skipped, ['history/web/prod/300.json HOIST_SIGNATURE_THRESHOLD', 'history/web/prod/200.json HOIST_SIGNATURE_THRESHOLD']);
  assert.equal(result.requests, 1 + 3 * 2 + 3, 'one LIST; per entry a GET, a LIST of its approvals and a GET of each');
});
