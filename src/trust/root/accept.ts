/**
 * Whether a host takes a trust document: the acceptance rules, pure (no I/O, the clock is a
 * parameter). Given what the host holds (a document, or the config's root at version 0 or
 * `trust.root.version`) and candidate envelope bytes:
 *
 * - the version must be exactly the held one + 1 (HOIST_TRUST_VERSION); the held version with the
 *   same payload bytes is a duplicate whatever signatures were added, with other bytes an attack
 *   (HOIST_TRUST_CONFLICT);
 * - signed by the threshold of the held root role (HOIST_TRUST_ROOT_THRESHOLD) and of the
 *   document's own root role (HOIST_TRUST_NEW_ROOT_THRESHOLD), so a rotation is endorsed by both;
 * - malformed envelopes and payloads are HOIST_TRUST_INVALID;
 * - expiry matters for the last document of a walk only: it is still taken (it is genuine, and
 *   going back to older keys would be worse), with HOIST_TRUST_EXPIRED attached, so nothing new
 *   is activated until a newer document arrives.
 */
import { createHash, verify as verifySignature } from 'node:crypto';
import { HoistError, toHoistError } from '../../errors.ts';
import { DEFAULT_MAX_ENVELOPE_BYTES, decodePayload, parseEnvelope, serializeEnvelope, type Envelope } from '../../dsse/envelope.ts';
import { pae } from '../../dsse/pae.ts';
import { keyById, signerNames, type RolePolicy, type RootPolicy, type TrustPolicy } from '../policy.ts';
import { decodeTrustPayload, parseTrustDocument, TRUST_PAYLOAD_TYPE, type TrustDocument } from './document.ts';

/** A policy that can verify trust documents: it has a root role. */
export type RootedPolicy = TrustPolicy & { root: RootPolicy };

/** What a host holds: the config's bootstrap root, or an accepted document. */
export interface HeldTrust {
  readonly version: number;
  readonly policy: RootedPolicy;
  /** Undefined while the host runs on its config's trust block (no document yet). */
  readonly document?: HeldDocument;
}

export interface HeldDocument {
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly maxValidity?: string;
  /** The envelope as accepted (serialized), persisted in stateDir. */
  readonly envelope: string;
  /** SHA-256 hex of the payload bytes: the same version with other bytes is a conflict. */
  readonly digest: string;
}

export type TrustVerdict =
  | { readonly status: 'accepted'; readonly held: HeldTrust; readonly signers: readonly string[]; readonly expired?: HoistError }
  | { readonly status: 'duplicate'; readonly version: number }
  | { readonly status: 'refused'; readonly error: HoistError; readonly version?: number };

export interface AcceptOptions {
  /** The last document of a walk (trust/root.json itself): only it is checked for expiry. Default true. */
  readonly last?: boolean;
  /** Envelope size cap (limits.manifestBytes). */
  readonly maxBytes?: number;
}

/** The config's trust block as version 0 (or `trust.root.version`) of the chain. */
export function bootstrapTrust(policy: TrustPolicy): HeldTrust {
  const root = policy.root;
  if (root === undefined) throw new HoistError('HOIST_CONFIG_INVALID', 'trust.root is not configured; add trust.root to follow trust documents');
  return { version: root.version, policy: { ...policy, root } };
}

export function acceptTrustDocument(held: HeldTrust, bytes: Uint8Array | string, now: Date, options: AcceptOptions = {}): TrustVerdict {
  let candidate: TrustEnvelope;
  try {
    candidate = readTrustEnvelope(bytes, held.policy.clockSkewMs, options.maxBytes);
  } catch (error) {
    return { status: 'refused', error: toHoistError(error, 'HOIST_TRUST_INVALID') };
  }
  const { document } = candidate;
  const version = document.version;
  const refused = (error: HoistError): TrustVerdict => ({ status: 'refused', error, version });

  if (version === held.version && held.document !== undefined) {
    if (candidate.digest === held.document.digest) return { status: 'duplicate', version };
    return refused(
      new HoistError('HOIST_TRUST_CONFLICT', `trust document version ${version} has other content than the version ${version} this host holds: possible attack; ignored (versions are never reused, publish the change as version ${version + 1})`, {
        details: { version },
      }),
    );
  }
  // A bootstrap at version N (trust.root.version) holds only document N's root: document N itself,
  // signed by that root, brings its keys and roles.
  const adopts = version === held.version && held.document === undefined && held.version > 0;
  if (version !== held.version + 1 && !adopts) {
    const why = version <= held.version ? 'an older document (this host keeps the newer one)' : `it skips version${version - held.version > 2 ? 's' : ''} ${held.version + 1}${version - held.version > 2 ? `–${version - 1}` : ''}, which come from trust/history/`;
    return refused(
      new HoistError('HOIST_TRUST_VERSION', `trust document version ${version} is not the next one after version ${held.version}: ${why}`, {
        details: { version, held: held.version },
      }),
    );
  }
  let signers: string[];
  try {
    signers = checkRootThresholds(held, candidate);
  } catch (error) {
    return refused(toHoistError(error));
  }
  const expired = options.last === false ? undefined : trustExpired(document, now, held.policy.clockSkewMs);
  return { status: 'accepted', held: heldFrom(candidate), signers, ...(expired === undefined ? {} : { expired }) };
}

/** What a host holds once it took this document. */
export function heldFrom(candidate: TrustEnvelope): HeldTrust {
  const { document } = candidate;
  return {
    version: document.version,
    policy: document.policy as RootedPolicy,
    document: {
      issuedAt: document.issuedAt,
      expiresAt: document.expiresAt,
      ...(document.maxValidity === undefined ? {} : { maxValidity: document.maxValidity }),
      envelope: serializeEnvelope(candidate.envelope),
      digest: candidate.digest,
    },
  };
}

export interface TrustEnvelope {
  readonly envelope: Envelope;
  readonly payloadBytes: Buffer;
  readonly digest: string;
  readonly document: TrustDocument;
}

/** Parses envelope bytes carrying a trust document (not its signatures); HOIST_TRUST_INVALID otherwise. */
export function readTrustEnvelope(bytes: Uint8Array | string, clockSkewMs: number, maxBytes = DEFAULT_MAX_ENVELOPE_BYTES): TrustEnvelope {
  let envelope: Envelope;
  try {
    envelope = parseEnvelope(bytes, maxBytes);
  } catch (cause) {
    const e = cause as HoistError;
    throw new HoistError('HOIST_TRUST_INVALID', `not a trust document: ${e.message}`, { cause, details: { cause: e.code } });
  }
  if (envelope.payloadType !== TRUST_PAYLOAD_TYPE) {
    throw new HoistError('HOIST_TRUST_INVALID', `not a trust document: payloadType is "${envelope.payloadType.slice(0, 100)}", expected "${TRUST_PAYLOAD_TYPE}"`);
  }
  const payloadBytes = decodePayload(envelope);
  const document = parseTrustDocument(decodeTrustPayload(payloadBytes), clockSkewMs);
  return { envelope, payloadBytes, digest: createHash('sha256').update(payloadBytes).digest('hex'), document };
}

/**
 * Both root thresholds (the held root, then the document's own); returns the distinct root key
 * ids that signed, of either role. Throws HOIST_TRUST_ROOT_THRESHOLD / HOIST_TRUST_NEW_ROOT_THRESHOLD.
 */
export function checkRootThresholds(held: HeldTrust, candidate: TrustEnvelope): string[] {
  const { envelope, payloadBytes, document } = candidate;
  const oldRoot = held.policy.root;
  const newPolicy = document.policy as RootedPolicy;
  const oldSigners = rootSigners(envelope, payloadBytes, held.policy, oldRoot);
  if (oldSigners.length < oldRoot.threshold) {
    throw thresholdError('HOIST_TRUST_ROOT_THRESHOLD', `the root keys of version ${held.version}, which this host trusts`, held.policy, oldRoot, oldSigners, document.version);
  }
  const newSigners = rootSigners(envelope, payloadBytes, newPolicy, newPolicy.root);
  if (newSigners.length < newPolicy.root.threshold) {
    throw thresholdError('HOIST_TRUST_NEW_ROOT_THRESHOLD', `its own root keys (a rotation is signed by both the old and the new root)`, newPolicy, newPolicy.root, newSigners, document.version);
  }
  return [...new Set([...oldSigners, ...newSigners])];
}

/** Distinct key ids of `role` (keys looked up in `policy`) whose signatures verify. */
export function rootSigners(envelope: Envelope, payloadBytes: Buffer, policy: TrustPolicy, role: RolePolicy): string[] {
  const message = pae(envelope.payloadType, payloadBytes);
  const verified = new Set<string>();
  for (const { keyid, sig } of envelope.signatures) {
    if (!role.keyIds.has(keyid) || verified.has(keyid)) continue;
    const key = keyById(policy, keyid);
    if (key !== undefined && verifySignature(null, message, key.publicKey, Buffer.from(sig, 'base64'))) verified.add(keyid);
  }
  return [...verified];
}

/** HOIST_TRUST_EXPIRED when the document is past expiresAt (allowing the host's clock skew). */
export function trustExpired(document: { readonly version: number; readonly expiresAt: string }, now: Date, clockSkewMs: number): HoistError | undefined {
  if (Date.parse(document.expiresAt) > now.getTime() - clockSkewMs) return undefined;
  return new HoistError('HOIST_TRUST_EXPIRED', `trust document version ${document.version} expired at ${document.expiresAt}: nothing new is activated until a newer one is published (\`hoist trust publish\`); the serving release keeps serving`, {
    details: { version: document.version, expiresAt: document.expiresAt },
  });
}

function thresholdError(code: 'HOIST_TRUST_ROOT_THRESHOLD' | 'HOIST_TRUST_NEW_ROOT_THRESHOLD', whose: string, policy: TrustPolicy, role: RolePolicy, signers: string[], version: number): HoistError {
  const have = signerNames(policy, signers);
  const missing = role.names.filter((name) => {
    const id = policy.keys.get(name)?.keyId;
    return id !== undefined && !signers.includes(id);
  });
  return new HoistError(
    code,
    `trust document version ${version} has ${signers.length} of the ${role.threshold} signatures required from ${whose} (${have.join(', ') || 'none'}); add signatures from: ${missing.join(', ')}`,
    { details: { version, signers: have, threshold: role.threshold, missing } },
  );
}
