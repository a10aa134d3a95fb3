import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptTrustDocument, type HeldTrust, type TrustVerdict } from '../../../src/trust/root/accept.ts';
import { keyById, rolePolicy } from '../../../src/trust/policy.ts';
import { signEnvelope, serializeEnvelope } from '../../../src/dsse/envelope.ts';
import { makeKey, payload as manifestPayload } from '../fixtures.ts';
import { bootstrap, signTrust, trustPayload } from './fixtures.ts';

const r1 = makeKey('root1');
const r2 = makeKey('root2');
const r3 = makeKey('root3');
const r4 = makeKey('root4');
const r5 = makeKey('root5');
const ci = makeKey('ci');
const ci2 = makeKey('ci2');
const NOW = new Date('2026-07-01T00:00:00Z');

/** The config: root1-3, 2 of 3; CI releases. Version 0. */
const HELD0 = await bootstrap([r1, r2, r3, ci], ['root1', 'root2', 'root3'], 2, ['ci']);

/** Version 1: same root, CI key replaced by ci2. */
const V1 = trustPayload({ version: 1, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci2'] });
const HELD1 = accepted(acceptTrustDocument(HELD0, signTrust(V1, r1, r2), NOW)).held;

function accepted(v: TrustVerdict): Extract<TrustVerdict, { status: 'accepted' }> {
  if (v.status !== 'accepted') throw new Error(`expected accepted, got ${v.status}${v.status === 'refused' ? `: ${v.error.code} ${v.error.message}` : ''}`);
  return v;
}

interface Case {
  name: string;
  held: HeldTrust;
  bytes: () => string;
  last?: boolean;
  /** 'accepted', 'duplicate', or the refusal code. */
  expect: string;
  message?: RegExp;
  expired?: boolean;
}

const cases: Case[] = [
  { name: 'next version, 2 of 3 old roots (= its own root)', held: HELD0, bytes: () => signTrust(V1, r1, r2), expect: 'accepted' },
  { name: 'all three root keys', held: HELD0, bytes: () => signTrust(V1, r3, r1, r2), expect: 'accepted' },
  {
    name: 'old-root threshold: one root key under a 2-of-3 root',
    held: HELD0,
    bytes: () => signTrust(V1, r1),
    expect: 'HOIST_TRUST_ROOT_THRESHOLD',
    message: /has 1 of the 2 signatures required from the root keys of version 0, which this host trusts \(root1\); add signatures from: root2, root3/,
  },
  { name: 'old-root threshold: the same root key twice counts once', held: HELD0, bytes: () => doubleSigned(V1, r1), expect: 'HOIST_TRUST_ROOT_THRESHOLD' },
  { name: 'old-root threshold: signed by keys the host does not trust as root', held: HELD0, bytes: () => signTrust(V1, ci2, ci), expect: 'HOIST_TRUST_ROOT_THRESHOLD' },
  { name: 'old-root threshold: a tampered signature does not count', held: HELD0, bytes: () => tamperedSecond(V1, r1, r2), expect: 'HOIST_TRUST_ROOT_THRESHOLD' },
  {
    name: 'new-root threshold: a rotation to root4/root5 (2 of 2) signed by the old root and root4 only',
    held: HELD0,
    bytes: () => signTrust(trustPayload({ version: 1, keys: [r4, r5, ci], root: ['root4', 'root5'], rootThreshold: 2, release: ['ci'] }), r1, r2, r4),
    expect: 'HOIST_TRUST_NEW_ROOT_THRESHOLD',
    message: /add signatures from: root5/,
  },
  {
    name: 'a rotation signed by both sides',
    held: HELD0,
    bytes: () => signTrust(trustPayload({ version: 1, keys: [r4, r5, ci], root: ['root4', 'root5'], rootThreshold: 2, release: ['ci'] }), r1, r2, r4, r5),
    expect: 'accepted',
  },
  { name: 'version: skips one', held: HELD0, bytes: () => signTrust(trustPayload({ version: 2, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2 }), r1, r2), expect: 'HOIST_TRUST_VERSION', message: /skips version 1/ },
  { name: 'version: an older document put back', held: accepted(acceptTrustDocument(HELD1, signTrust(trustPayload({ version: 2, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2 }), r1, r2), NOW)).held, bytes: () => signTrust(V1, r1, r2), expect: 'HOIST_TRUST_VERSION', message: /older document/ },
  { name: 'duplicate: the same payload bytes with more signatures', held: HELD1, bytes: () => signTrust(V1, r1, r2, r3), expect: 'duplicate' },
  { name: 'duplicate: the same payload bytes with fewer signatures', held: HELD1, bytes: () => signTrust(V1, r3), expect: 'duplicate' },
  {
    name: 'conflict: the held version with other payload bytes, validly signed',
    held: HELD1,
    bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci'] }), r1, r2),
    expect: 'HOIST_TRUST_CONFLICT',
  },
  {
    name: 'expiry: the last document past expiresAt is taken, marked expired',
    held: HELD0,
    bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci2'], expiresAt: '2026-06-15T00:00:00Z' }), r1, r2),
    expect: 'accepted',
    expired: true,
  },
  {
    name: 'expiry: an intermediate document of a walk may have expired',
    held: HELD0,
    bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci2'], expiresAt: '2026-06-15T00:00:00Z' }), r1, r2),
    last: false,
    expect: 'accepted',
    expired: false,
  },
  { name: 'invalid: not JSON', held: HELD0, bytes: () => 'not json', expect: 'HOIST_TRUST_INVALID' },
  { name: 'invalid: a release manifest envelope', held: HELD0, bytes: () => serializeEnvelope(signEnvelope(manifestPayload(), r1.privateKey)), expect: 'HOIST_TRUST_INVALID', message: /payloadType/ },
  { name: 'invalid: payload is not JSON', held: HELD0, bytes: () => signTrust(Buffer.from('{nope'), r1, r2), expect: 'HOIST_TRUST_INVALID' },
  {
    name: 'invalid: no root role, a key given as a path, a role naming an unknown key',
    held: HELD0,
    bytes: () =>
      signTrust(
        Buffer.from(JSON.stringify({ schema: 1, kind: 'trust', version: 1, issuedAt: '2026-06-01T00:00:00Z', expiresAt: '2026-09-01T00:00:00Z', keys: { ci: '/etc/hoist/keys/ci.pub' }, roles: { release: { keys: ['ci'] } } })),
        r1,
        r2,
      ),
    expect: 'HOIST_TRUST_INVALID',
    message: /keys\.ci: expected the PEM text.*roles\.root/,
  },
  { name: 'invalid: a role names a key the document does not carry', held: HELD0, bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, r3], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci9'] }), r1, r2), expect: 'HOIST_TRUST_INVALID', message: /roles\.release\.keys\[0\]: unknown key "ci9"/ },
  { name: 'invalid: a root threshold that can never be met', held: HELD0, bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, ci], root: ['root1', 'root2'], rootThreshold: 3 }), r1, r2), expect: 'HOIST_TRUST_INVALID', message: /roles\.root\.threshold: threshold 3/ },
  { name: 'invalid: an unknown field', held: HELD0, bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci], root: ['root1', 'root2', 'root3'], rootThreshold: 2, extra: { clockSkew: '1h' } }), r1, r2), expect: 'HOIST_TRUST_INVALID' },
  { name: 'invalid: expiresAt before issuedAt', held: HELD0, bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci], root: ['root1', 'root2', 'root3'], rootThreshold: 2, expiresAt: '2026-05-01T00:00:00Z' }), r1, r2), expect: 'HOIST_TRUST_INVALID', message: /expiresAt: must be after issuedAt/ },
  { name: 'invalid: over the size cap', held: HELD0, bytes: () => signTrust(trustPayload({ version: 1, keys: [r1, r2, r3, ci], root: ['root1', 'root2', 'root3'], rootThreshold: 2, extra: { maxValidity: `${'9'.repeat(70_000)}d` } }), r1, r2), expect: 'HOIST_TRUST_INVALID', message: /over the 65536-byte limit/ },
];

for (const c of cases) {
  test(`trust acceptance: ${c.name}`, () => {
    const verdict = acceptTrustDocument(c.held, c.bytes(), NOW, c.last === undefined ? {} : { last: c.last });
    const got = verdict.status === 'refused' ? verdict.error.code : verdict.status;
    assert.equal(got, c.expect, verdict.status === 'refused' ? verdict.error.message : '');
    if (c.message !== undefined) {
      assert.ok(verdict.status === 'refused');
      assert.match(verdict.error.message, c.message);
    }
    if (c.expired !== undefined) assert.equal(accepted(verdict).expired?.code, c.expired ? 'HOIST_TRUST_EXPIRED' : undefined);
  });
}

test('an accepted document replaces keys, roles, per-app roles and maxValidity, parsed into Maps', () => {
  const doc = trustPayload({
    version: 1,
    keys: [r1, r2, r3, ci2, { ...ci, name: '__proto__' }],
    root: ['root1', 'root2', 'root3'],
    rootThreshold: 2,
    release: ['ci2', '__proto__'],
    apps: { 'web/prod': { roles: { release: { keys: ['ci2', '__proto__'], threshold: 2 } } }, '__proto__/prod': { roles: { pin: { keys: ['ci2'] } } } },
    extra: { maxValidity: '30d' },
  });
  const v = accepted(acceptTrustDocument(HELD0, signTrust(doc, r1, r2), NOW));
  const policy = v.held.policy;
  assert.equal(v.held.version, 1);
  assert.equal(policy.keys.get('__proto__')?.keyId, ci.keyId);
  assert.equal(keyById(policy, ci2.keyId)?.keyId, ci2.keyId);
  assert.equal(rolePolicy(policy, 'web', 'prod', 'release')?.threshold, 2);
  assert.equal(rolePolicy(policy, 'web', 'staging', 'release')?.threshold, 1);
  assert.deepEqual([...(rolePolicy(policy, '__proto__', 'prod', 'pin')?.keyIds ?? [])], [ci2.keyId]);
  assert.equal(policy.maxValidityMs, 30 * 86_400_000);
  assert.equal(policy.clockSkewMs, HELD0.policy.clockSkewMs);
  assert.deepEqual(new Set(v.signers), new Set([r1.keyId, r2.keyId]));
  assert.equal(policy.root.version, 1);
  assert.ok(policy.apps instanceof Map && policy.keys instanceof Map);
});

test('a rotation chain 1 → 2 → 3: 3 is not signed by root 1 but is reached through 2', () => {
  // 1: root r1 (1 of 1). 2: root r3 (1 of 1), signed by r1 and r3. 3: root r4, signed by r3 and r4.
  const held0 = HELD0;
  const d1 = trustPayload({ version: 1, keys: [r1, r2, ci], root: ['root1'], release: ['ci'] });
  const d2 = trustPayload({ version: 2, keys: [r3, ci], root: ['root3'], release: ['ci'] });
  const d3 = trustPayload({ version: 3, keys: [r4, ci2], root: ['root4'], release: ['ci2'] });
  const h1 = accepted(acceptTrustDocument(held0, signTrust(d1, r1, r2), NOW)).held;
  const e3 = signTrust(d3, r3, r4);

  // From 1, document 3 is two steps ahead, and root 1 never signed it either.
  const direct = acceptTrustDocument(h1, e3, NOW);
  assert.equal(direct.status === 'refused' && direct.error.code, 'HOIST_TRUST_VERSION');
  const asNext = acceptTrustDocument(h1, signTrust(trustPayload({ version: 2, keys: [r4, ci2], root: ['root4'], release: ['ci2'] }), r3, r4), NOW);
  assert.equal(asNext.status === 'refused' && asNext.error.code, 'HOIST_TRUST_ROOT_THRESHOLD');

  const h2 = accepted(acceptTrustDocument(h1, signTrust(d2, r1, r3), NOW)).held;
  const h3 = accepted(acceptTrustDocument(h2, e3, NOW)).held;
  assert.equal(h3.version, 3);
  assert.deepEqual([...(h3.policy.roles.release?.keyIds ?? [])], [ci2.keyId]);
  assert.deepEqual([...h3.policy.root.keyIds], [r4.keyId]);
  // Root 1's keys no longer sign anything the host takes.
  const back = acceptTrustDocument(h3, signTrust(trustPayload({ version: 4, keys: [r1, ci], root: ['root1'], release: ['ci'] }), r1), NOW);
  assert.equal(back.status === 'refused' && back.error.code, 'HOIST_TRUST_ROOT_THRESHOLD');
});

test('a bootstrap from the root of document N (trust.root.version) takes document N itself, then N + 1', async () => {
  const held = await bootstrap([r1, r2, r3, ci], ['root1', 'root2', 'root3'], 2, ['ci'], 4);
  const d4 = trustPayload({ version: 4, keys: [r1, r2, r3, ci2], root: ['root1', 'root2', 'root3'], rootThreshold: 2, release: ['ci2'] });
  const h4 = accepted(acceptTrustDocument(held, signTrust(d4, r1, r2), NOW)).held;
  assert.equal(h4.version, 4);
  assert.deepEqual([...(h4.policy.roles.release?.keyIds ?? [])], [ci2.keyId]);
  const again = acceptTrustDocument(h4, signTrust(d4, r1, r2, r3), NOW);
  assert.equal(again.status, 'duplicate');
  const old = acceptTrustDocument(held, signTrust(trustPayload({ version: 3, keys: [r1, r2, r3, ci], root: ['root1', 'root2', 'root3'], rootThreshold: 2 }), r1, r2), NOW);
  assert.equal(old.status === 'refused' && old.error.code, 'HOIST_TRUST_VERSION');
  const under = acceptTrustDocument(held, signTrust(d4, r1), NOW);
  assert.equal(under.status === 'refused' && under.error.code, 'HOIST_TRUST_ROOT_THRESHOLD');
});

function doubleSigned(bytes: Buffer, key: typeof r1): string {
  const env = JSON.parse(signTrust(bytes, key)) as { signatures: unknown[] };
  env.signatures.push(env.signatures[0]);
  return JSON.stringify(env);
}

function tamperedSecond(bytes: Buffer, a: typeof r1, b: typeof r1): string {
  const env = JSON.parse(signTrust(bytes, a, b)) as { signatures: Array<{ keyid: string; sig: string }> };
  const second = env.signatures[1];
  if (second === undefined) throw new Error('two signatures expected');
  const raw = Buffer.from(second.sig, 'base64');
  raw[0] = (raw[0] ?? 0) ^ 0xff;
  second.sig = raw.toString('base64');
  return JSON.stringify(env);
}
