/** The walk through trust/history/ against a real S3 emulator, and the held document on disk. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startAws } from '../../helpers/fauxqs.ts';
import { followTrust } from '../../../src/trust/root/follow.ts';
import { TrustFollower } from '../../../src/trust/root/follower.ts';
import { loadHeldTrust, saveHeldTrust, TRUST_FILE } from '../../../src/trust/root/store.ts';
import { acceptTrustDocument, type HeldTrust } from '../../../src/trust/root/accept.ts';
import { makeKey } from '../fixtures.ts';
import { bootstrap, signTrust, trustPayload } from './fixtures.ts';

const BUCKET = 'trust-follow';
const r1 = makeKey('root1');
const r2 = makeKey('root2');
const r3 = makeKey('root3');
const r4 = makeKey('root4');
const ci = makeKey('ci');
const ci2 = makeKey('ci2');
const NOW = new Date('2026-07-01T00:00:00Z');
const HELD0 = await bootstrap([r1, r2, r3, ci], ['root1', 'root2', 'root3'], 2, ['ci']);

// 1: CI rotated (same root). 2: root1 replaced by root4. 3: root2 dropped, root 2 of 2 (root3, root4).
const D1 = signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci2'] }), r1, r2);
const D2 = signTrust(trustPayload({ version: 2, keys: [r2, r3, r4, ci2], root: ['root2', 'root3', 'root4'], rootThreshold: 2, release: ['ci2'] }), r1, r2, r4);
const D3 = signTrust(trustPayload({ version: 3, keys: [r3, r4, ci2], root: ['root3', 'root4'], rootThreshold: 2, release: ['ci2'] }), r3, r4);

async function rig(): Promise<{ put: (key: string, body: string) => Promise<void>; follow: (held: HeldTrust, etag?: string) => ReturnType<typeof followTrust> } & AsyncDisposable> {
  const aws = await startAws();
  await aws.createBucket(BUCKET);
  return {
    put: async (key, body) => {
      await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    },
    follow: (held, etag) => followTrust(aws.s3, { bucket: BUCKET, prefix: 'p/', held, etag, now: NOW, maxBytes: 65_536 }),
    [Symbol.asyncDispose]: () => aws.stop(),
  };
}

test('no trust/root.json: the host keeps its config; a first document is taken, then costs one 304', async () => {
  await using r = await rig();
  assert.deepEqual(await r.follow(HELD0), { status: 'missing', held: HELD0, accepted: [], requests: 1 });
  await r.put('p/trust/root.json', D1);
  const first = await r.follow(HELD0);
  assert.equal(first.status, 'advanced');
  assert.deepEqual(first.accepted, [1]);
  assert.equal(first.requests, 1);
  assert.ok(first.etag !== undefined);
  const again = await r.follow(first.held, first.etag);
  assert.equal(again.status, 'not-modified');
  assert.equal(again.held, first.held);
  assert.equal(again.requests, 1);
  // The same document judged again (no ETag) is a duplicate: nothing changes.
  const dup = await r.follow(first.held);
  assert.equal(dup.status, 'current');
  assert.equal(dup.error, undefined);
});

test('a host at version 0 reaches version 3 through two root rotations in trust/history/', async () => {
  await using r = await rig();
  await r.put('p/trust/history/1.json', D1);
  await r.put('p/trust/history/2.json', D2);
  await r.put('p/trust/history/3.json', D3);
  await r.put('p/trust/root.json', D3);
  const result = await r.follow(HELD0);
  assert.equal(result.status, 'advanced');
  assert.deepEqual(result.accepted, [1, 2, 3]);
  assert.equal(result.requests, 3, 'root.json, then history 1 and 2 (3 is root.json itself)');
  assert.equal(result.held.version, 3);
  assert.deepEqual([...result.held.policy.root.keyIds].sort(), [r3.keyId, r4.keyId].sort());
  assert.equal(result.error, undefined);
});

test('the walk stops at the first missing document, keeps what it reached, and tries again next time', async () => {
  await using r = await rig();
  await r.put('p/trust/history/1.json', D1);
  await r.put('p/trust/root.json', D3);
  const result = await r.follow(HELD0);
  assert.equal(result.status, 'advanced');
  assert.deepEqual(result.accepted, [1]);
  assert.equal(result.held.version, 1);
  assert.equal(result.error?.code, 'HOIST_TRUST_CHAIN_BROKEN');
  assert.match(result.error?.message ?? '', /p\/trust\/root\.json is version 3 but p\/trust\/history\/2\.json is missing: this host stays at trust version 1/);
  assert.equal(result.etag, undefined, 'no ETag kept: the next poll GETs root.json again');

  const fromZero = await r.follow(HELD0);
  assert.equal(fromZero.held.version, 1);
  await r.put('p/trust/history/2.json', D2);
  const healed = await r.follow(result.held);
  assert.deepEqual(healed.accepted, [2, 3]);
  assert.equal(healed.error, undefined);
});

test('the walk stops at the first refused document in the history (reported with its key)', async () => {
  await using r = await rig();
  await r.put('p/trust/history/1.json', D1);
  // Version 2 signed by one root key of a 2-of-3 root.
  await r.put('p/trust/history/2.json', signTrust(trustPayload({ version: 2, keys: [r2, r3, r4, ci2], root: ['root2', 'root3', 'root4'], rootThreshold: 2, release: ['ci2'] }), r4, r2));
  await r.put('p/trust/root.json', D3);
  const result = await r.follow(HELD0);
  assert.equal(result.held.version, 1);
  assert.equal(result.error?.code, 'HOIST_TRUST_ROOT_THRESHOLD');
  assert.match(result.error?.message ?? '', /^p\/trust\/history\/2\.json: trust document version 2 has 1 of the 2 signatures required/);
  // A garbage history entry stops it the same way.
  await r.put('p/trust/history/2.json', 'garbage');
  assert.equal((await r.follow(result.held)).error?.code, 'HOIST_TRUST_INVALID');
});

test('trust/root.json refused: one root key under a 2-of-3 root; an older document put back', async () => {
  await using r = await rig();
  await r.put('p/trust/root.json', signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci2'] }), r1));
  const one = await r.follow(HELD0);
  assert.equal(one.status, 'stopped');
  assert.equal(one.held, HELD0);
  assert.equal(one.error?.code, 'HOIST_TRUST_ROOT_THRESHOLD');
  assert.ok(one.etag !== undefined, 'the same bytes are refused again: remember them');

  const v1 = acceptTrustDocument(HELD0, D1, NOW);
  const v2 = v1.status === 'accepted' ? acceptTrustDocument(v1.held, D2, NOW) : v1;
  assert.ok(v2.status === 'accepted');
  await r.put('p/trust/root.json', D1);
  const back = await r.follow(v2.held);
  assert.equal(back.status, 'current');
  assert.equal(back.held, v2.held);
  assert.equal(back.error?.code, 'HOIST_TRUST_VERSION');

  await r.put('p/trust/root.json', 'x'.repeat(70_000));
  const big = await r.follow(v2.held);
  assert.equal(big.error?.code, 'HOIST_TRUST_INVALID');
});

test('the held document survives on disk; a damaged, forged or outdated file is not taken', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-trust-store-'));
  try {
    const v1 = acceptTrustDocument(HELD0, D1, NOW);
    assert.ok(v1.status === 'accepted');
    assert.deepEqual(await loadHeldTrust(dir, HELD0), { held: HELD0 });
    await saveHeldTrust(dir, HELD0); // the bootstrap is the config: nothing written
    await assert.rejects(readFile(join(dir, TRUST_FILE)));
    await saveHeldTrust(dir, v1.held);
    const loaded = await loadHeldTrust(dir, HELD0);
    assert.equal(loaded.ignored, undefined);
    assert.equal(loaded.held.version, 1);
    assert.equal(loaded.held.document?.digest, v1.held.document?.digest);
    assert.deepEqual([...(loaded.held.policy.roles.release?.keyIds ?? [])], [ci2.keyId]);

    // A fleet image with the root of document 2 does not go back to a stored version 1.
    const image = await bootstrap([r2, r3, r4, ci2], ['root2', 'root3', 'root4'], 2, ['ci2'], 2);
    const older = await loadHeldTrust(dir, image);
    assert.equal(older.held, image);
    assert.match(older.ignored ?? '', /holds trust version 1, older than the config's trust\.root\.version 2/);

    // A document whose root signatures do not verify (edited on disk) is not a policy.
    const forged = JSON.parse(D1) as { signatures: Array<{ sig: string }> };
    for (const s of forged.signatures) s.sig = Buffer.alloc(64).toString('base64');
    await writeFile(join(dir, TRUST_FILE), JSON.stringify({ schema: 1, version: 1, envelope: JSON.stringify(forged) }));
    assert.match((await loadHeldTrust(dir, HELD0)).ignored ?? '', /own root signatures do not verify/);
    await writeFile(join(dir, TRUST_FILE), '{"truncated');
    const damaged = await loadHeldTrust(dir, HELD0);
    assert.equal(damaged.held, HELD0);
    assert.match(damaged.ignored ?? '', /is not a valid trust document/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the follower: fail closed until a walk is done, persisted across instances, expiry warned and reported', async () => {
  const aws = await startAws();
  const dir = await mkdtemp(join(tmpdir(), 'hoist-trust-follower-'));
  try {
    await aws.createBucket(BUCKET);
    const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
    const log = {
      debug: (obj: Record<string, unknown>, msg = '') => lines.push({ level: 'debug', obj, msg }),
      info: (obj: Record<string, unknown>, msg = '') => lines.push({ level: 'info', obj, msg }),
      warn: (obj: Record<string, unknown>, msg = '') => lines.push({ level: 'warn', obj, msg }),
      error: (obj: Record<string, unknown>, msg = '') => lines.push({ level: 'error', obj, msg }),
    };
    let now = NOW;
    const expiries: Array<string | undefined> = [];
    const options = { s3: aws.s3, bucket: BUCKET, prefix: '', stateDir: dir, maxBytes: 65_536, log, now: () => now, onExpires: (at: Date | undefined) => expiries.push(at?.toISOString()) };
    const follower = await TrustFollower.open(HELD0.policy, options);
    assert.equal(follower.enabled, true);
    assert.equal(follower.ready, false);
    assert.deepEqual(follower.status(), { version: 0, expiresAt: null });
    assert.equal(follower.expired(), undefined);
    assert.deepEqual(await follower.refresh(), { changed: false, requests: 1 });
    assert.equal(follower.ready, true);

    // Expires in 3 days: taken, with a warning.
    const soon = signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci2'], expiresAt: '2026-07-04T00:00:00Z' }), r1, r2);
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'trust/root.json', Body: soon }));
    const [a, b] = await Promise.all([follower.refresh(), follower.refresh()]);
    assert.equal(a?.changed, true);
    assert.equal(b?.changed, false, 'a refresh asked for during one runs after it');
    assert.deepEqual([...(follower.policy().roles.release?.keyIds ?? [])], [ci2.keyId]);
    assert.deepEqual(follower.status(), { version: 1, expiresAt: '2026-07-04T00:00:00Z' });
    assert.deepEqual(expiries, [undefined, '2026-07-04T00:00:00.000Z'], 'the expiry metric follows the document in force');
    assert.ok(lines.some((l) => l.level === 'warn' && /trust version 1 expires at 2026-07-04T00:00:00Z, in 72h/.test(l.msg)));

    // A refused document is reported in the status until a newer one is taken; said once.
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'trust/root.json', Body: signTrust(trustPayload({ version: 2, keys: [r1, ci], root: ['root1'], release: ['ci'] }), r1) }));
    const refused = await follower.refresh();
    assert.equal(refused.error?.code, 'HOIST_TRUST_ROOT_THRESHOLD');
    assert.equal(refused.changed, false);
    assert.equal(follower.status()?.rejected?.code, 'HOIST_TRUST_ROOT_THRESHOLD');
    assert.equal(follower.status()?.rejected?.version, 2);
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'trust/root.json', Body: signTrust(trustPayload({ version: 2, keys: [r1, ci], root: ['root1'], release: ['ci'] }), r1) }));
    await follower.refresh();
    assert.equal(lines.filter((l) => l.level === 'error' && /refused a trust document/.test(l.msg)).length, 1);

    // Past expiry: HOIST_TRUST_EXPIRED, logged at warn.
    now = new Date('2026-07-05T00:00:00Z');
    await follower.refresh();
    assert.equal(follower.expired()?.code, 'HOIST_TRUST_EXPIRED');
    assert.ok(lines.some((l) => l.level === 'warn' && l.obj.code === 'HOIST_TRUST_EXPIRED'));

    // A new instance (a restart) holds version 1 from disk, but verifies nothing until it walked.
    const restarted = await TrustFollower.open(HELD0.policy, options);
    assert.equal(restarted.held()?.version, 1);
    assert.equal(restarted.ready, false);

    // Without trust.root the follower is inert.
    const { roles, keys, apps, clockSkewMs } = HELD0.policy;
    const plain = await TrustFollower.open({ roles, keys, apps, clockSkewMs }, options);
    assert.equal(plain.enabled, false);
    assert.equal(plain.ready, true);
    assert.equal(plain.status(), undefined);
    assert.deepEqual(await plain.refresh(), { changed: false, requests: 0 });
    await plain.reconfigure(HELD0.policy, options);
    assert.equal(plain.held()?.version, 1, 'turning trust.root on loads the stored document');
    assert.equal(plain.ready, false);
    await restarted.reconfigure({ roles, keys, apps, clockSkewMs }, options);
    assert.equal(restarted.enabled, false);
  } finally {
    await aws.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
