/**
 * What `hoist trust publish` writes, decided without I/O: the payload of the next trust document
 * from a policy (keys embedded as PEM), what the bucket already holds, and how far an envelope is
 * from both root thresholds.
 */
import { HoistError } from '../../errors.ts';
import { exactDuration } from '../../util/units.ts';
import { signerNames, type RolePolicies, type RolePolicy, type TrustPolicy } from '../policy.ts';
import { ROLES } from '../schema.ts';
import { bootstrapTrust, heldFrom, rootSigners, type HeldTrust, type TrustEnvelope } from './accept.ts';

export const DEFAULT_TRUST_EXPIRY_MS = 90 * 86_400_000;

export interface PlanTrustInput {
  /** The policy to publish; it must have a root role. */
  readonly policy: TrustPolicy;
  readonly version: number;
  readonly now: Date;
  readonly expiresInMs: number;
}

/**
 * The payload object of the next document. Maps become JSON objects only here, for the wire
 * (Object.fromEntries defines own properties, so a name like `__proto__` stays a name).
 */
export function planTrustPayload(input: PlanTrustInput): Record<string, unknown> {
  const { policy } = input;
  if (policy.root === undefined) {
    throw new HoistError('HOIST_USAGE', 'the policy has no root role: add `root: { keys: [root1, root2, root3], threshold: 2 }` (offline keys that sign trust documents)');
  }
  const issuedAt = new Date(Math.floor(input.now.getTime() / 1000) * 1000);
  return {
    schema: 1,
    kind: 'trust',
    version: input.version,
    issuedAt: issuedAt.toISOString(),
    expiresAt: new Date(issuedAt.getTime() + input.expiresInMs).toISOString(),
    keys: Object.fromEntries([...policy.keys].map(([name, key]) => [name, key.publicKey.export({ type: 'spki', format: 'pem' }).toString()])),
    roles: { root: role(policy.root), ...roles(policy.roles) },
    ...(policy.apps.size === 0 ? {} : { apps: Object.fromEntries([...policy.apps].map(([scope, r]) => [scope, { roles: roles(r) }])) }),
    ...(policy.maxValidityMs === undefined ? {} : { maxValidity: exactDuration(policy.maxValidityMs) }),
  };
}

function role(r: RolePolicy): { keys: string[]; threshold: number } {
  return { keys: [...r.names], threshold: r.threshold };
}

function roles(r: RolePolicies): Record<string, { keys: string[]; threshold: number }> {
  const out: Record<string, { keys: string[]; threshold: number }> = {};
  for (const name of ROLES) {
    const p = r[name];
    if (p !== undefined) out[name] = role(p);
  }
  return out;
}

/**
 * What a publisher builds on: the newest document in the bucket, else (the first publish) the root
 * of `bootstrap` (`--trust`, the hosts' config), else the policy's own root as version 0.
 */
export function publishBase(newest: TrustEnvelope | undefined, bootstrap: TrustPolicy | undefined, policy: TrustPolicy | undefined): { held: HeldTrust; assumed: boolean } {
  if (newest !== undefined) return { held: heldFrom(newest), assumed: false };
  if (bootstrap?.root !== undefined) return { held: bootstrapTrust(bootstrap), assumed: false };
  if (policy?.root !== undefined) return { held: bootstrapTrust({ ...policy, root: { ...policy.root, version: 0 } }), assumed: true };
  throw new HoistError('HOIST_USAGE', 'no trust document is published yet and nothing names the hosts\' root: pass --trust with the agent config (its trust.root)');
}

export interface RootCount {
  readonly signers: readonly string[];
  readonly threshold: number;
  readonly missing: readonly string[];
  readonly met: boolean;
}

/** How many keys of the held root and of the document's own root have signed. */
export function countRootSignatures(held: HeldTrust, candidate: TrustEnvelope): { old: RootCount; own: RootCount } {
  const own = candidate.document.policy;
  if (own.root === undefined) throw new Error('unreachable: a parsed trust document has a root');
  return { old: count(held.policy, held.policy.root, candidate), own: count(own, own.root, candidate) };
}

function count(policy: TrustPolicy, r: RolePolicy, candidate: TrustEnvelope): RootCount {
  const ids = rootSigners(candidate.envelope, candidate.payloadBytes, policy, r);
  const missing = r.names.filter((name) => {
    const id = policy.keys.get(name)?.keyId;
    return id !== undefined && !ids.includes(id);
  });
  return { signers: signerNames(policy, ids), threshold: r.threshold, missing, met: ids.length >= r.threshold };
}

/** `2 of 2 (root1, root2)` or `1 of 2 (root1); needs 1 more from: root2, root3`. */
export function describeCount(c: RootCount): string {
  const base = `${c.signers.length} of ${c.threshold} (${c.signers.join(', ') || 'none'})`;
  if (c.met) return base;
  const need = c.threshold - c.signers.length;
  return `${base}; needs ${need} more from: ${c.missing.join(', ')}`;
}
