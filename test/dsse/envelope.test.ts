import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import {
  addSignature,
  decodePayload,
  parseEnvelope,
  PAYLOAD_TYPE,
  serializeEnvelope,
  signEnvelope,
} from '../../src/dsse/envelope.ts';
import { pae } from '../../src/dsse/pae.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { HoistError } from '../../src/errors.ts';

function newKey() {
  const pair = generateKeyPair();
  return { ...pair, key: createPrivateKey(pair.privatePem) };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HoistError, String(error));
    return error.code;
  }
  assert.fail('expected a HoistError');
}

test('signEnvelope signs PAE(payloadType, payload) with the key id of the key', () => {
  const { key, keyId } = newKey();
  const payload = Buffer.from('{"a":1}');
  const env = signEnvelope(payload, key);
  assert.equal(env.payloadType, PAYLOAD_TYPE);
  assert.deepEqual(decodePayload(env), payload);
  assert.equal(env.signatures.length, 1);
  assert.equal(env.signatures[0]?.keyid, keyId);
  const sig = Buffer.from(env.signatures[0]?.sig ?? '', 'base64');
  assert.equal(verify(null, pae(PAYLOAD_TYPE, payload), key, sig), true);
});

test('serialize then parse round-trips; serialization ends with a newline', () => {
  const env = signEnvelope(Buffer.from('{}'), newKey().key);
  const text = serializeEnvelope(env);
  assert.ok(text.endsWith('}\n'));
  assert.deepEqual(parseEnvelope(text), env);
  assert.deepEqual(parseEnvelope(Buffer.from(text)), env);
});

test('addSignature adds a second key and refuses the same key twice', () => {
  const a = newKey();
  const b = newKey();
  const env = signEnvelope(Buffer.from('{}'), a.key);
  const both = addSignature(env, b.key);
  assert.deepEqual(both.signatures.map((s) => s.keyid), [a.keyId, b.keyId]);
  assert.equal(env.signatures.length, 1, 'the input envelope is not modified');
  assert.equal(code(() => addSignature(both, a.key)), 'HOIST_ALREADY_SIGNED');
});

test('signing with a public key is refused', () => {
  const { key } = newKey();
  const env = signEnvelope(Buffer.from('{}'), key);
  const other = newKey();
  assert.equal(code(() => addSignature(env, createPublicKey(other.publicPem))), 'HOIST_KEY_INVALID');
});

const malformed: Array<[string, string]> = [
  ['not JSON', 'not json'],
  ['an array', '[]'],
  ['null', 'null'],
  ['payloadType missing', JSON.stringify({ payload: '', signatures: [] })],
  ['payload not a string', JSON.stringify({ payloadType: 't', payload: 1, signatures: [] })],
  ['payload not base64', JSON.stringify({ payloadType: 't', payload: 'a$b=', signatures: [] })],
  ['payload base64 without padding', JSON.stringify({ payloadType: 't', payload: 'YQ', signatures: [] })],
  ['signatures not an array', JSON.stringify({ payloadType: 't', payload: '', signatures: {} })],
  ['signature not an object', JSON.stringify({ payloadType: 't', payload: '', signatures: ['x'] })],
  ['keyid not a string', JSON.stringify({ payloadType: 't', payload: '', signatures: [{ keyid: 1, sig: '' }] })],
  ['sig not base64', JSON.stringify({ payloadType: 't', payload: '', signatures: [{ keyid: 'k', sig: '!!' }] })],
];

for (const [name, text] of malformed) {
  test(`parseEnvelope rejects ${name} as HOIST_ENVELOPE_MALFORMED`, () => {
    assert.equal(code(() => parseEnvelope(text)), 'HOIST_ENVELOPE_MALFORMED');
  });
}

test('parseEnvelope enforces the size cap before parsing', () => {
  const big = 'x'.repeat(65_537);
  assert.equal(code(() => parseEnvelope(big)), 'HOIST_ENVELOPE_TOO_LARGE');
  assert.equal(code(() => parseEnvelope(Buffer.from('{}'), 1)), 'HOIST_ENVELOPE_TOO_LARGE');
  assert.equal(code(() => parseEnvelope('x'.repeat(65_536))), 'HOIST_ENVELOPE_MALFORMED');
});

test('parseEnvelope keeps only the DSSE fields', () => {
  const env = parseEnvelope(JSON.stringify({ payloadType: 't', payload: 'YQ==', signatures: [{ keyid: 'k', sig: '', extra: 1 }], extra: 2 }));
  assert.deepEqual(env, { payloadType: 't', payload: 'YQ==', signatures: [{ keyid: 'k', sig: '' }] });
});
