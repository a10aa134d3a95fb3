import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addSignature, serializeEnvelope, signEnvelope, type Envelope } from '../../src/dsse/envelope.ts';
import { HoistError } from '../../src/errors.ts';
import type { TrustPolicy } from '../../src/trust/policy.ts';
import { verifyEnvelope, type VerifyExpectation } from '../../src/trust/verify.ts';
import { makeKey, NOW, payload, policyFor, type TestKey } from './fixtures.ts';

const ci = makeKey('ci');
const alice = makeKey('alice');
const bob = makeKey('bob');
const stranger = makeKey('stranger');
const pinner = makeKey('pinner');

const ONE_OF_ONE = await policyFor([ci, alice, bob, pinner], {
  release: { keys: ['ci'], threshold: 1 },
  pin: { keys: ['pinner'], threshold: 1 },
});
const TWO_OF_THREE = await policyFor([ci, alice, bob], { release: { keys: ['ci', 'alice', 'bob'], threshold: 2 } });
const MAX_VALIDITY = await policyFor([ci], { release: { keys: ['ci'] } }, { maxValidity: '30d', clockSkew: '5m' });
const PER_APP = await policyFor([ci, alice, bob], { release: { keys: ['ci', 'alice', 'bob'], threshold: 1 } }, {}, {
  'api/prod': { roles: { release: { keys: ['ci', 'alice', 'bob'], threshold: 2 } } },
});

function signed(bytes: Buffer, ...keys: TestKey[]): Envelope {
  const [first, ...rest] = keys;
  if (first === undefined) return { payloadType: 'application/vnd.hoist.manifest+json', payload: bytes.toString('base64'), signatures: [] };
  let env = signEnvelope(bytes, first.privateKey);
  for (const key of rest) env = addSignature(env, key.privateKey);
  return env;
}

function text(env: Envelope): string {
  return serializeEnvelope(env);
}

function flipBase64(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

interface Case {
  name: string;
  input: () => string | Uint8Array | Envelope;
  policy: TrustPolicy;
  now?: Date;
  expect?: VerifyExpectation;
  code: string;
  message?: RegExp;
}

const failures: Case[] = [
  { name: 'not JSON', input: () => 'this is not json', policy: ONE_OF_ONE, code: 'HOIST_ENVELOPE_MALFORMED' },
  { name: 'JSON but not an envelope', input: () => '{"hello":1}', policy: ONE_OF_ONE, code: 'HOIST_ENVELOPE_MALFORMED' },
  {
    name: 'wrong payloadType',
    input: () => text({ ...signed(payload(), ci), payloadType: 'application/vnd.in-toto+json' }),
    policy: ONE_OF_ONE,
    code: 'HOIST_PAYLOAD_TYPE',
  },
  { name: 'no signatures', input: () => text(signed(payload())), policy: ONE_OF_ONE, code: 'HOIST_SIGNATURE_MISSING' },
  { name: 'only unknown key ids', input: () => text(signed(payload(), stranger)), policy: ONE_OF_ONE, code: 'HOIST_SIGNATURE_UNTRUSTED' },
  {
    name: 'a key trusted only for another role',
    input: () => text(signed(payload(), pinner)),
    policy: ONE_OF_ONE,
    code: 'HOIST_SIGNATURE_UNTRUSTED',
    message: /release role \(ci\)/,
  },
  {
    name: '1 signature under a 2-of-3 threshold',
    input: () => text(signed(payload(), ci)),
    policy: TWO_OF_THREE,
    code: 'HOIST_SIGNATURE_THRESHOLD',
    message: /^1 of 2 required signatures \(ci\); need another approval from: alice, bob$/,
  },
  {
    name: 'the same key twice counts once',
    input: () => {
      const env = signed(payload(), ci);
      return text({ ...env, signatures: [...env.signatures, ...env.signatures] });
    },
    policy: TWO_OF_THREE,
    code: 'HOIST_SIGNATURE_THRESHOLD',
    message: /^1 of 2 required/,
  },
  {
    name: 'unknown key ids do not count toward the threshold',
    input: () => text(signed(payload(), ci, stranger)),
    policy: TWO_OF_THREE,
    code: 'HOIST_SIGNATURE_THRESHOLD',
  },
  {
    name: 'tampered payload',
    input: () => {
      const env = signed(payload(), ci);
      return text({ ...env, payload: payload({ version: '6.6.6' }).toString('base64') });
    },
    policy: ONE_OF_ONE,
    code: 'HOIST_SIGNATURE_INVALID',
  },
  {
    name: 'tampered signature',
    input: () => {
      const env = signed(payload(), ci);
      const [sig] = env.signatures;
      assert.ok(sig);
      return text({ ...env, signatures: [{ keyid: sig.keyid, sig: flipBase64(sig.sig) }] });
    },
    policy: ONE_OF_ONE,
    code: 'HOIST_SIGNATURE_INVALID',
  },
  {
    name: 'a signature under a trusted key id by another key',
    input: () => {
      const env = signed(payload(), stranger);
      return text({ ...env, signatures: [{ keyid: ci.keyId, sig: env.signatures[0]?.sig ?? '' }] });
    },
    policy: ONE_OF_ONE,
    code: 'HOIST_SIGNATURE_INVALID',
  },
  {
    name: 'one good and one tampered signature under a 2-of-3 threshold',
    input: () => {
      const env = signed(payload(), ci, alice);
      const [a, b] = env.signatures;
      assert.ok(a && b);
      return text({ ...env, signatures: [a, { keyid: b.keyid, sig: flipBase64(b.sig) }] });
    },
    policy: TWO_OF_THREE,
    code: 'HOIST_SIGNATURE_INVALID',
  },
  {
    name: 'payload not JSON (no kind to pick a role)',
    input: () => text(signed(Buffer.from('not json'), ci)),
    policy: ONE_OF_ONE,
    code: 'HOIST_MANIFEST_INVALID',
  },
  {
    name: 'payload not JSON with the kind given',
    input: () => text(signed(Buffer.from('not json'), ci)),
    policy: ONE_OF_ONE,
    expect: { kind: 'release' },
    code: 'HOIST_MANIFEST_INVALID',
  },
  { name: 'sequence above 2^53-1', input: () => text(signed(payload({ sequence: 2 ** 53 }), ci)), policy: ONE_OF_ONE, code: 'HOIST_MANIFEST_INVALID' },
  { name: 'version containing "/"', input: () => text(signed(payload({ version: '1.0/../../x' }), ci)), policy: ONE_OF_ONE, code: 'HOIST_MANIFEST_INVALID' },
  { name: 'version ".."', input: () => text(signed(payload({ version: '..' }), ci)), policy: ONE_OF_ONE, code: 'HOIST_MANIFEST_INVALID' },
  { name: 'wrong app', input: () => text(signed(payload(), ci)), policy: ONE_OF_ONE, expect: { app: 'api' }, code: 'HOIST_MANIFEST_MISMATCH', message: /app "web", expected "api"/ },
  { name: 'wrong env', input: () => text(signed(payload(), ci)), policy: ONE_OF_ONE, expect: { env: 'staging' }, code: 'HOIST_MANIFEST_MISMATCH', message: /env "prod"/ },
  {
    name: 'wrong kind (a release read where a pin was expected)',
    input: () => text(signed(payload(), pinner)),
    policy: ONE_OF_ONE,
    expect: { kind: 'pin' },
    code: 'HOIST_MANIFEST_MISMATCH',
  },
  {
    name: 'expired',
    input: () => text(signed(payload({ issuedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-02-01T00:00:00Z' }), ci)),
    policy: ONE_OF_ONE,
    code: 'HOIST_MANIFEST_EXPIRED',
  },
  {
    name: 'issued in the future beyond the clock skew',
    input: () => text(signed(payload({ issuedAt: '2026-06-01T12:05:01Z' }), ci)),
    policy: ONE_OF_ONE,
    code: 'HOIST_MANIFEST_NOT_YET_VALID',
  },
  {
    name: 'validity longer than maxValidity',
    input: () => text(signed(payload({ issuedAt: '2026-06-01T00:00:00Z', expiresAt: '2026-07-01T00:00:01Z' }), ci)),
    policy: MAX_VALIDITY,
    code: 'HOIST_MANIFEST_VALIDITY_TOO_LONG',
  },
  {
    name: 'no expiresAt while maxValidity is set',
    input: () => text(signed(payload({ expiresAt: undefined }), ci)),
    policy: MAX_VALIDITY,
    code: 'HOIST_MANIFEST_VALIDITY_TOO_LONG',
  },
  {
    name: 'envelope over 64 KiB',
    input: () => text(signed(payload({ notes: { padding: 'x'.repeat(60_000) } }), ci)),
    policy: ONE_OF_ONE,
    code: 'HOIST_ENVELOPE_TOO_LARGE',
  },
  {
    name: 'a pin where no pin role is trusted',
    input: () => text(signed(payload({ kind: 'pin' }), ci)),
    policy: TWO_OF_THREE,
    code: 'HOIST_SIGNATURE_UNTRUSTED',
    message: /no keys are trusted for the pin role/,
  },
  {
    name: 'per-app override requiring 2 with 1 signature',
    input: () => text(signed(payload({ app: 'api' }), ci)),
    policy: PER_APP,
    code: 'HOIST_SIGNATURE_THRESHOLD',
  },
];

for (const c of failures) {
  test(`verify rejects: ${c.name} → ${c.code}`, () => {
    const input = c.input();
    assert.throws(
      () => verifyEnvelope(input, c.policy, c.now ?? NOW, c.expect),
      (error: unknown) => {
        assert.ok(error instanceof HoistError, String(error));
        assert.equal(error.code, c.code, error.message);
        if (c.message) assert.match(error.message, c.message);
        return true;
      },
    );
  });
}

test('happy path: 1-of-1', () => {
  const bytes = payload();
  const result = verifyEnvelope(text(signed(bytes, ci)), ONE_OF_ONE, NOW, { app: 'web', env: 'prod', kind: 'release' });
  assert.equal(result.manifest.kind, 'release');
  assert.equal(result.manifest.version, '1.4.2');
  assert.deepEqual(result.signers, [ci.keyId]);
  assert.deepEqual(result.payloadBytes, bytes);
  assert.equal(result.envelope.signatures.length, 1);
});

test('happy path: 2-of-3 with two distinct keys, an unknown key ignored', () => {
  const result = verifyEnvelope(text(signed(payload(), stranger, alice, bob)), TWO_OF_THREE, NOW);
  assert.deepEqual(result.signers, [alice.keyId, bob.keyId]);
});

test('happy path: per-app override requiring 2, and other apps keep the global 1', () => {
  const api = verifyEnvelope(text(signed(payload({ app: 'api' }), ci, alice)), PER_APP, NOW, { app: 'api', env: 'prod' });
  assert.deepEqual(api.signers, [ci.keyId, alice.keyId]);
  const web = verifyEnvelope(text(signed(payload(), ci)), PER_APP, NOW, { app: 'web', env: 'prod' });
  assert.deepEqual(web.signers, [ci.keyId]);
});

test('issued in the future within the clock skew is accepted', () => {
  const result = verifyEnvelope(text(signed(payload({ issuedAt: '2026-06-01T12:04:59Z' }), ci)), ONE_OF_ONE, NOW);
  assert.equal(result.manifest.issuedAt, '2026-06-01T12:04:59Z');
});

test('validity exactly maxValidity is accepted', () => {
  const result = verifyEnvelope(text(signed(payload({ issuedAt: '2026-06-01T00:00:00Z', expiresAt: '2026-07-01T00:00:00Z' }), ci)), MAX_VALIDITY, NOW);
  assert.equal(result.manifest.expiresAt, '2026-07-01T00:00:00Z');
});

test('a pin verifies against the pin role; an unpin too', () => {
  const pin = verifyEnvelope(text(signed(payload({ kind: 'pin', hosts: ['i-1'], reason: 'incident' }), pinner)), ONE_OF_ONE, NOW, { kind: 'pin' });
  assert.equal(pin.manifest.kind, 'pin');
  const unpin = verifyEnvelope(text(signed(payload({ kind: 'pin', artifact: null, version: undefined }), pinner)), ONE_OF_ONE, NOW);
  assert.equal(unpin.manifest.artifact, null);
});

test('accepts bytes, text and an envelope object alike', () => {
  const env = signed(payload(), ci);
  assert.equal(verifyEnvelope(env, ONE_OF_ONE, NOW).manifest.app, 'web');
  assert.equal(verifyEnvelope(Buffer.from(text(env)), ONE_OF_ONE, NOW).manifest.app, 'web');
  assert.throws(() => verifyEnvelope(env, ONE_OF_ONE, NOW, {}, { maxBytes: 100 }), (e: unknown) => e instanceof HoistError && e.code === 'HOIST_ENVELOPE_TOO_LARGE');
});

test('a threshold of 3 missing two approvals says how many more', async () => {
  const policy = await policyFor([ci, alice, bob], { release: { keys: ['ci', 'alice', 'bob'], threshold: 3 } });
  assert.throws(() => verifyEnvelope(text(signed(payload(), alice)), policy, NOW), /1 of 3 required signatures \(alice\); need 2 more approvals from: ci, bob/);
});
