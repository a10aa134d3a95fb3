/**
 * DSSE envelopes carrying hoist manifests. Parsing is strict about shape and size because the
 * bytes come from a bucket anyone with write access could have filled.
 */
import { sign, type KeyObject } from 'node:crypto';
import { HoistError } from '../errors.ts';
import { keyIdOf } from '../crypto/keys.ts';
import { pae } from './pae.ts';

export const PAYLOAD_TYPE = 'application/vnd.hoist.manifest+json';
export const DEFAULT_MAX_ENVELOPE_BYTES = 65_536;

export interface Signature {
  keyid: string;
  sig: string;
}

export interface Envelope {
  payloadType: string;
  /** base64 of the payload bytes */
  payload: string;
  signatures: Signature[];
}

// Standard base64 with padding; Buffer.from() would silently skip junk characters.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(text: string): boolean {
  return BASE64_RE.test(text);
}

/** Parses envelope bytes or text; HOIST_ENVELOPE_TOO_LARGE over maxBytes, else HOIST_ENVELOPE_MALFORMED. */
export function parseEnvelope(input: Uint8Array | string, maxBytes = DEFAULT_MAX_ENVELOPE_BYTES): Envelope {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > maxBytes) {
    throw new HoistError('HOIST_ENVELOPE_TOO_LARGE', `the envelope is ${size} bytes, over the ${maxBytes}-byte limit; manifests are small, check what produced it`, {
      details: { size, maxBytes },
    });
  }
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new HoistError('HOIST_ENVELOPE_MALFORMED', 'the envelope is not JSON; check the object was not truncated or overwritten', { cause });
  }
  return checkEnvelopeShape(value);
}

/** Checks an already-decoded value is a DSSE envelope, copying only the known fields. */
export function checkEnvelopeShape(value: unknown): Envelope {
  const fail = (what: string): never => {
    throw new HoistError('HOIST_ENVELOPE_MALFORMED', `not a DSSE envelope: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('expected a JSON object');
  const obj = value as Record<string, unknown>;
  if (typeof obj.payloadType !== 'string') return fail('payloadType must be a string');
  if (typeof obj.payload !== 'string') return fail('payload must be a base64 string');
  if (!isBase64(obj.payload)) return fail('payload is not valid base64');
  if (!Array.isArray(obj.signatures)) return fail('signatures must be an array');
  const signatures: Signature[] = [];
  for (const [i, entry] of (obj.signatures as unknown[]).entries()) {
    if (typeof entry !== 'object' || entry === null) return fail(`signatures[${i}] must be an object`);
    const { keyid, sig } = entry as Record<string, unknown>;
    if (typeof keyid !== 'string') return fail(`signatures[${i}].keyid must be a string`);
    if (typeof sig !== 'string' || !isBase64(sig)) return fail(`signatures[${i}].sig must be base64`);
    signatures.push({ keyid, sig });
  }
  return { payloadType: obj.payloadType, payload: obj.payload, signatures };
}

/** Wraps payload bytes (signed exactly as given) in a new envelope with one signature. */
export function signEnvelope(payload: Uint8Array, privateKey: KeyObject, payloadType: string = PAYLOAD_TYPE): Envelope {
  const env: Envelope = { payloadType, payload: Buffer.from(payload).toString('base64'), signatures: [] };
  return addSignature(env, privateKey);
}

/** Returns a copy of the envelope with this key's signature added; HOIST_ALREADY_SIGNED if it has one. */
export function addSignature(env: Envelope, privateKey: KeyObject): Envelope {
  if (privateKey.type !== 'private') {
    throw new HoistError('HOIST_KEY_INVALID', 'signing needs a private key; give the .key file, not the .pub');
  }
  const keyid = keyIdOf(privateKey);
  if (env.signatures.some((s) => s.keyid === keyid)) {
    throw new HoistError('HOIST_ALREADY_SIGNED', `key ${keyid.slice(0, 12)}… has already signed this envelope; approvals count distinct keys, ask another approver`, {
      details: { keyid },
    });
  }
  const sig = sign(null, pae(env.payloadType, decodePayload(env)), privateKey).toString('base64');
  return { ...env, signatures: [...env.signatures, { keyid, sig }] };
}

/** The envelope as written to S3 and files: JSON plus a trailing newline. */
export function serializeEnvelope(env: Envelope): string {
  return `${JSON.stringify({ payloadType: env.payloadType, payload: env.payload, signatures: env.signatures })}\n`;
}

export function decodePayload(env: Envelope): Buffer {
  return Buffer.from(env.payload, 'base64');
}
