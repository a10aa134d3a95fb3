/**
 * Approval statements, `approvals/<app>/<env>/<sequence>/<keyid>.json`: what `hoist approve`
 * writes beside its signature on the channel, written once. A DSSE envelope of payloadType
 * `application/vnd.hoist.approval+json` signed by the approver over
 * `{ schema, kind: "approval", app, env, sequence, version, sha256, keyid, at }`: who approved which
 * release, when, in a form that outlives the channel (the next publish replaces the channel; the
 * history copy is written once, before any approval).
 *
 * Building and checking are pure; the dashboard reads the same statements (readApproval there).
 */
import type { KeyObject } from 'node:crypto';
import { keyIdOf } from '../crypto/keys.ts';
import { addSignature, decodePayload, type Envelope } from '../dsse/envelope.ts';
import { pae, signatureVerifies } from '../dsse/pae.ts';
import type { Manifest } from '../manifest/schema.ts';
import { keyById, rolePolicy, signerNames, type TrustPolicy } from '../trust/policy.ts';
import { APPROVAL_PAYLOAD_TYPE, approvalOf, readApproval, type Approval } from '../dashboard/manifest-view.ts';

export { APPROVAL_PAYLOAD_TYPE } from '../dashboard/manifest-view.ts';

export interface ApprovalStatement {
  readonly schema: 1;
  readonly kind: 'approval';
  readonly app: string;
  readonly env: string;
  readonly sequence: number;
  readonly version: string;
  readonly sha256: string;
  readonly keyid: string;
  readonly at: string;
}

/** The statement of an approval of `manifest` by `key`, at `now`. */
export function approvalStatement(manifest: Extract<Manifest, { kind: 'release' }>, key: KeyObject, now: Date): ApprovalStatement {
  return { schema: 1, kind: 'approval', app: manifest.app, env: manifest.env, sequence: manifest.sequence, version: manifest.version, sha256: manifest.artifact.sha256, keyid: keyIdOf(key), at: now.toISOString() };
}

export function signApproval(statement: ApprovalStatement, key: KeyObject): Envelope {
  const unsigned: Envelope = { payloadType: APPROVAL_PAYLOAD_TYPE, payload: Buffer.from(JSON.stringify(statement)).toString('base64'), signatures: [] };
  return addSignature(unsigned, key);
}

export interface CheckedApproval extends Approval {
  /** The key id that signed the statement, as the envelope claims it. */
  readonly keyId: string | null;
}

/** One statement read back, checked against the manifest it sits beside and, with a policy, its signature. */
export function checkApproval(bytes: Uint8Array, manifest: { app: string; env: string; sequence: number; sha256: string | undefined }, policy: TrustPolicy | undefined): CheckedApproval {
  const read = readApproval(bytes);
  const approval = approvalOf(read, manifest, policy);
  return { ...approval, keyId: 'error' in read ? null : (read.envelope.signatures[0]?.keyid ?? null) };
}

export interface RoleSignatures {
  /** Key names (or short ids) of the distinct role keys that signed the manifest or approved it, verified. */
  readonly signers: readonly string[];
  readonly threshold: number;
  readonly complete: boolean;
}

/**
 * Who stands behind a history entry for `role`: the role keys whose signature on the envelope
 * verifies, plus those whose approval statement of it verifies. An approval is evidence that a
 * person approved the release (the channel then carried their signature); agents only ever count
 * signatures on the envelope they verify.
 */
export function roleSignatures(envelope: Envelope, scope: { readonly app: string; readonly env: string }, approvals: readonly CheckedApproval[], policy: TrustPolicy, role: 'release' | 'pin'): RoleSignatures {
  const rp = rolePolicy(policy, scope.app, scope.env, role);
  if (rp === undefined) return { signers: [], threshold: 1, complete: false };
  const message = pae(envelope.payloadType, decodePayload(envelope));
  const ids = new Set<string>();
  for (const { keyid, sig } of envelope.signatures) {
    if (!rp.keyIds.has(keyid) || ids.has(keyid)) continue;
    const key = keyById(policy, keyid);
    if (key !== undefined && signatureVerifies(message, key.publicKey, sig)) ids.add(keyid);
  }
  for (const a of approvals) if (a.status === 'verified' && a.keyId !== null && rp.keyIds.has(a.keyId)) ids.add(a.keyId);
  return { signers: signerNames(policy, ids), threshold: rp.threshold, complete: ids.size >= rp.threshold };
}

