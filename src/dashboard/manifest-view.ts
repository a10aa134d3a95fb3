/**
 * Channel, pin and history envelopes as the dashboard shows them. The payload is read leniently
 * (so a manifest using fields this version's schema does not know yet is still shown), and kept
 * apart from the verdict: without a trust policy everything is "unverified"; with one, the
 * envelope is verified exactly as an agent verifies it, and history signatures are checked one
 * by one so old (expired) entries still name their signers.
 */
import { checkEnvelopeShape, decodePayload, type Envelope } from '../dsse/envelope.ts';
import { pae, signatureVerifies } from '../dsse/pae.ts';
import { isHoistError } from '../errors.ts';
import { keyById, signerNames, type TrustPolicy } from '../trust/policy.ts';
import { verifyEnvelope } from '../trust/verify.ts';
import { number, parseJson, record, text, time, type Json } from './untrusted.ts';

export interface ManifestInfo {
  readonly kind?: string;
  readonly app?: string;
  readonly env?: string;
  readonly sequence?: number;
  readonly version?: string;
  readonly sha256?: string;
  /** A pin whose artifact is null: an unpin. */
  readonly unpin: boolean;
  readonly issuedAt?: number;
  readonly expiresAt?: number;
  /** The raw `rollout` object (rollout.ts reads `percent`, `steps`, `startAt`, `halt`). */
  readonly rollout?: Json;
  readonly notes: ReadonlyArray<readonly [string, string]>;
  readonly hosts?: readonly string[];
  readonly reason?: string;
  /** Key ids of the signatures, as the envelope claims them. */
  readonly keyIds: readonly string[];
}

export type ReadEnvelope = { readonly info: ManifestInfo; readonly envelope: Envelope } | { readonly error: string };

const MAX_NOTES = 16;
const MAX_HOSTS = 200;

/**
 * An envelope's shape and its payload as a JSON object, nothing verified; with `payloadType`,
 * only an envelope of that type.
 */
function openEnvelope(bytes: Uint8Array, payloadType?: string): { readonly envelope: Envelope; readonly payload: Json } | { readonly error: string } {
  const value = parseJson(bytes);
  if (value === undefined) return { error: 'not JSON' };
  let envelope: Envelope;
  try {
    envelope = checkEnvelopeShape(value);
  } catch (error) {
    return { error: isHoistError(error) ? error.message : 'not a DSSE envelope' };
  }
  if (payloadType !== undefined && envelope.payloadType !== payloadType) return { error: `payloadType is not ${payloadType}` };
  const payload = record(parseJson(decodePayload(envelope)));
  if (payload === undefined) return { error: 'the payload is not a JSON object' };
  return { envelope, payload };
}

/** Decodes envelope bytes without verifying anything. */
export function readEnvelope(bytes: Uint8Array): ReadEnvelope {
  const opened = openEnvelope(bytes);
  if ('error' in opened) return opened;
  const { envelope, payload } = opened;
  const artifact = payload.artifact;
  const notes = Object.entries(record(payload.notes) ?? {})
    .slice(0, MAX_NOTES)
    .flatMap(([k, v]): Array<[string, string]> => {
      const value = text(v);
      return value === undefined ? [] : [[k.slice(0, 64), value]];
    });
  const hosts = Array.isArray(payload.hosts) ? payload.hosts.slice(0, MAX_HOSTS).flatMap((h) => text(h, 128) ?? []) : undefined;
  const info: Record<string, unknown> = {
    kind: text(payload.kind, 32),
    app: text(payload.app, 128),
    env: text(payload.env, 128),
    sequence: number(payload.sequence),
    version: text(payload.version, 128),
    sha256: text(record(artifact)?.sha256, 128),
    unpin: payload.kind === 'pin' && artifact === null,
    issuedAt: time(payload.issuedAt),
    expiresAt: time(payload.expiresAt),
    rollout: record(payload.rollout),
    notes,
    hosts,
    reason: text(payload.reason),
    keyIds: envelope.signatures.slice(0, 32).map((s) => s.keyid.slice(0, 128)),
  };
  for (const k of Object.keys(info)) if (info[k] === undefined) delete info[k];
  return { info: info as unknown as ManifestInfo, envelope };
}

export type TrustVerdict =
  | { readonly status: 'unverified'; readonly text: string }
  | { readonly status: 'verified'; readonly text: string; readonly signers: readonly string[] }
  | { readonly status: 'rejected'; readonly text: string; readonly code: string };

export interface Expectation {
  readonly app: string;
  readonly env: string;
  readonly kind: 'release' | 'pin';
}

/** The verdict an agent with this trust policy would reach on the envelope (unverified without one). */
export function verdictOf(bytes: Uint8Array, policy: TrustPolicy | undefined, now: Date, expect: Expectation): TrustVerdict {
  if (policy === undefined) return { status: 'unverified', text: 'unverified' };
  try {
    const verified = verifyEnvelope(bytes, policy, now, expect);
    const signers = signerNames(policy, verified.signers);
    return { status: 'verified', text: `verified: ${signers.join(', ')}`, signers };
  } catch (error) {
    const code = isHoistError(error) ? error.code : 'HOIST_INTERNAL';
    const message = error instanceof Error ? error.message : String(error);
    return { status: 'rejected', text: `NOT VERIFIED: ${code}: ${message}`, code };
  }
}

export interface Signer {
  /** Key name from the trust policy, else the first 12 hex digits of the key id. */
  readonly name: string;
  readonly status: 'verified' | 'unverified' | 'invalid' | 'unknown-key';
}

/**
 * Who signed an envelope, signature by signature: a key of the trust policy whose signature
 * verifies is named; without a policy every signer is "unverified" (its key id, as claimed).
 */
export function signersOf(envelope: Envelope, policy: TrustPolicy | undefined): Signer[] {
  const message = policy === undefined ? undefined : pae(envelope.payloadType, decodePayload(envelope));
  const seen = new Set<string>();
  const out: Signer[] = [];
  for (const { keyid, sig } of envelope.signatures.slice(0, 32)) {
    if (seen.has(keyid)) continue;
    seen.add(keyid);
    const short = `${keyid.slice(0, 12)}\u2026`;
    if (policy === undefined || message === undefined) {
      out.push({ name: short, status: 'unverified' });
      continue;
    }
    const key = keyById(policy, keyid);
    if (key === undefined) {
      out.push({ name: short, status: 'unknown-key' });
      continue;
    }
    const [name = short] = signerNames(policy, [keyid]);
    out.push({ name, status: signatureVerifies(message, key.publicKey, sig) ? 'verified' : 'invalid' });
  }
  return out;
}

export const APPROVAL_PAYLOAD_TYPE = 'application/vnd.hoist.approval+json';

export interface ApprovalInfo {
  readonly app?: string;
  readonly env?: string;
  readonly sequence?: number;
  readonly sha256?: string;
  readonly keyId?: string;
  readonly at?: number;
}

export type ReadApproval = { readonly info: ApprovalInfo; readonly envelope: Envelope } | { readonly error: string };

/** Decodes a signed approval statement (`hoist approve` writes them) without verifying it. */
export function readApproval(bytes: Uint8Array): ReadApproval {
  const opened = openEnvelope(bytes, APPROVAL_PAYLOAD_TYPE);
  if ('error' in opened) return opened;
  const { envelope, payload } = opened;
  const info: Record<string, unknown> = {
    app: text(payload.app, 128),
    env: text(payload.env, 128),
    sequence: number(payload.sequence),
    sha256: text(payload.sha256, 128),
    keyId: text(payload.keyid, 128),
    at: time(payload.at),
  };
  for (const k of Object.keys(info)) if (info[k] === undefined) delete info[k];
  return { info, envelope };
}

export interface Approval {
  readonly name: string;
  readonly at: number | null;
  /** `mismatch`: the statement approves another app, env, sequence or artifact than its manifest. */
  readonly status: Signer['status'] | 'mismatch';
}

/**
 * An approval statement of a manifest: who (the key that signed the statement, named with the
 * trust policy when its signature verifies) and when, checked against the manifest it sits beside.
 */
export function approvalOf(read: ReadApproval, manifest: { app: string; env: string; sequence: number; sha256: string | undefined }, policy: TrustPolicy | undefined): Approval {
  if ('error' in read) return { name: 'unreadable approval', at: null, status: 'invalid' };
  const { info, envelope } = read;
  const [signer] = signersOf(envelope, policy);
  const name = signer?.name ?? 'unsigned approval';
  const at = info.at ?? null;
  const matches = info.app === manifest.app && info.env === manifest.env && info.sequence === manifest.sequence && info.sha256 !== undefined && info.sha256 === manifest.sha256 && info.keyId === envelope.signatures[0]?.keyid;
  if (!matches) return { name, at, status: 'mismatch' };
  return { name, at, status: signer?.status ?? 'invalid' };
}
