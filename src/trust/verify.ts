/**
 * Verification of a manifest envelope against a trust policy. Pure: no I/O, the clock is a parameter.
 */
import { verify as verifySignature } from 'node:crypto';
import { HoistError } from '../errors.ts';
import { checkEnvelopeShape, decodePayload, parseEnvelope, PAYLOAD_TYPE, serializeEnvelope, type Envelope } from '../dsse/envelope.ts';
import { pae } from '../dsse/pae.ts';
import { parseManifest, type Manifest } from '../manifest/schema.ts';
import { formatDuration } from '../util/units.ts';
import { keyById, rolePolicy, signerNames, type RolePolicy, type TrustPolicy } from './policy.ts';
import type { Role } from './schema.ts';

export interface VerifiedManifest {
  manifest: Manifest;
  envelope: Envelope;
  payloadBytes: Buffer;
  /** Distinct trusted key ids whose signatures verified, in envelope order. */
  signers: string[];
}

export interface VerifyExpectation {
  app?: string;
  env?: string;
  kind?: Role;
}

export interface VerifyOptions {
  /** Envelope size cap (limits.manifestBytes); 64 KiB by default. */
  maxBytes?: number;
}

export function verifyEnvelope(
  input: Uint8Array | string | Envelope,
  policy: TrustPolicy,
  now: Date,
  expect: VerifyExpectation = {},
  options: VerifyOptions = {},
): VerifiedManifest {
  const envelope =
    typeof input === 'string' || input instanceof Uint8Array
      ? parseEnvelope(input, options.maxBytes)
      : parseEnvelope(serializeEnvelope(checkEnvelopeShape(input)), options.maxBytes);

  if (envelope.payloadType !== PAYLOAD_TYPE) {
    throw new HoistError('HOIST_PAYLOAD_TYPE', `payloadType is "${envelope.payloadType.slice(0, 100)}", expected "${PAYLOAD_TYPE}"; only hoist manifests are accepted`);
  }
  if (envelope.signatures.length === 0) {
    throw new HoistError('HOIST_SIGNATURE_MISSING', 'the envelope carries no signatures; sign it with a key trusted for its role (`hoist sign`)');
  }

  const payloadBytes = decodePayload(envelope);
  // Untrusted until the signatures check out: read only what picks the role and the app override.
  const payload = decodeJson(payloadBytes);
  const role = expect.kind ?? roleOf(payload);
  const app = expect.app ?? stringField(payload, 'app');
  const env = expect.env ?? stringField(payload, 'env');
  const policyForRole = rolePolicy(policy, app, env, role);
  if (policyForRole === undefined) {
    throw new HoistError('HOIST_SIGNATURE_UNTRUSTED', `no keys are trusted for the ${role} role; add trust.roles.${role} to the trust policy`);
  }
  const signers = countSignatures(envelope, payloadBytes, policy, policyForRole, role);

  if (payload === undefined) {
    throw new HoistError('HOIST_MANIFEST_INVALID', 'the payload is not UTF-8 JSON; sign a manifest JSON file', { details: { issues: ['(root): expected a JSON object'] } });
  }
  const manifest = parseManifest(payload);
  checkExpectation(manifest, expect);
  checkTimes(manifest, policy, now);
  return { manifest, envelope, payloadBytes, signers };
}

function countSignatures(envelope: Envelope, payloadBytes: Buffer, policy: TrustPolicy, rp: RolePolicy, role: Role): string[] {
  const message = pae(envelope.payloadType, payloadBytes);
  const verified = new Set<string>();
  let trustedSeen = 0;
  let failed = 0;
  for (const { keyid, sig } of envelope.signatures) {
    if (!rp.keyIds.has(keyid)) continue; // unknown key ids are ignored
    const key = keyById(policy, keyid);
    if (key === undefined) continue;
    trustedSeen++;
    if (verified.has(keyid)) continue; // the same key twice counts once
    if (verifySignature(null, message, key.publicKey, Buffer.from(sig, 'base64'))) verified.add(keyid);
    else failed++;
  }
  if (verified.size >= rp.threshold) return [...verified];
  if (trustedSeen === 0) {
    throw new HoistError('HOIST_SIGNATURE_UNTRUSTED', `none of the ${envelope.signatures.length} signature${envelope.signatures.length === 1 ? ' is' : 's are'} by a key trusted for the ${role} role (${rp.names.join(', ')}); sign with one of those keys or add the signer's public key to the trust policy`, {
      details: { role, keyids: envelope.signatures.map((s) => s.keyid) },
    });
  }
  if (failed > 0) {
    throw new HoistError('HOIST_SIGNATURE_INVALID', `${failed} signature${failed === 1 ? '' : 's'} by a trusted key of the ${role} role did not verify: the payload or the signature was altered; treat the envelope as tampered with and re-publish`, {
      details: { role, failed, verified: verified.size, threshold: rp.threshold },
    });
  }
  const have = signerNames(policy, verified);
  const missing = rp.names.filter((name) => {
    const id = policy.keys.get(name)?.keyId;
    return id !== undefined && !verified.has(id);
  });
  const need = rp.threshold - verified.size;
  throw new HoistError(
    'HOIST_SIGNATURE_THRESHOLD',
    `${verified.size} of ${rp.threshold} required signatures (${have.join(', ')}); need ${need === 1 ? 'another approval' : `${need} more approvals`} from: ${missing.join(', ')}`,
    { details: { role, signers: have, threshold: rp.threshold, missing } },
  );
}

function checkExpectation(m: Manifest, expect: VerifyExpectation): void {
  for (const field of ['kind', 'app', 'env'] as const) {
    const want = expect[field];
    if (want !== undefined && m[field] !== want) {
      throw new HoistError('HOIST_MANIFEST_MISMATCH', `the manifest is for ${field} "${m[field]}", expected "${want}"; check where it was read from and the --${field} given`, {
        details: { field, expected: want, actual: m[field] },
      });
    }
  }
}

function checkTimes(m: Manifest, policy: TrustPolicy, now: Date): void {
  const issued = Date.parse(m.issuedAt);
  const t = now.getTime();
  if (issued > t + policy.clockSkewMs) {
    throw new HoistError('HOIST_MANIFEST_NOT_YET_VALID', `the manifest was issued at ${m.issuedAt}, ${formatDuration(issued - t)} in the future (clock skew allowed: ${formatDuration(policy.clockSkewMs)}); check the clocks of the publisher and of this host`);
  }
  const expires = m.expiresAt === undefined ? undefined : Date.parse(m.expiresAt);
  if (expires !== undefined && expires <= t - policy.clockSkewMs) {
    throw new HoistError('HOIST_MANIFEST_EXPIRED', `the manifest expired at ${m.expiresAt}; publish it again to renew it`);
  }
  const max = policy.maxValidityMs;
  if (max !== undefined) {
    if (expires === undefined) {
      throw new HoistError('HOIST_MANIFEST_VALIDITY_TOO_LONG', `the manifest has no expiresAt but the trust policy allows at most ${formatDuration(max)} of validity; publish with --expires`);
    }
    if (expires - issued > max) {
      throw new HoistError('HOIST_MANIFEST_VALIDITY_TOO_LONG', `the manifest is valid for ${formatDuration(expires - issued)}, longer than trust.maxValidity (${formatDuration(max)}); publish with a shorter --expires`);
    }
  }
}

function roleOf(payload: unknown): Role {
  if (isRecord(payload) && (payload.kind === 'release' || payload.kind === 'pin')) return payload.kind;
  throw new HoistError('HOIST_MANIFEST_INVALID', 'cannot tell the manifest kind: the payload is not a JSON object with kind "release" or "pin"', {
    details: { issues: ['kind: expected "release" or "pin"'] },
  });
}

function decodeJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

function stringField(payload: unknown, field: 'app' | 'env'): string | undefined {
  const value = isRecord(payload) ? payload[field] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
