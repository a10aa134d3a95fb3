/** How `hoist trust show` (and `hoist verify` of a trust envelope) print a trust document. */
import type { RolePolicies, RolePolicy, TrustPolicy } from '../trust/policy.ts';
import { ROLES } from '../trust/schema.ts';
import type { HeldTrust } from '../trust/root/accept.ts';
import { formatDuration } from '../util/units.ts';
import { renderTable } from './table.ts';

export function describeTrust(held: HeldTrust, now: Date, walked: readonly number[] = []): string {
  const doc = held.document;
  const lines: string[] = [];
  if (doc === undefined) {
    lines.push(`trust version ${held.version}: the config's trust block (no document published)`);
  } else {
    const left = Date.parse(doc.expiresAt) - now.getTime();
    lines.push(`trust version ${held.version}, issued ${doc.issuedAt}, expires ${doc.expiresAt} (${left > 0 ? `in ${formatDuration(left)}` : 'EXPIRED: hosts activate nothing new'})`);
    if (walked.length > 1) lines.push(`reached through versions ${walked.join(', ')}`);
    if (doc.maxValidity !== undefined) lines.push(`maxValidity ${doc.maxValidity}`);
  }
  const policy = held.policy;
  lines.push('', renderTable(['KEY', 'KEYID', 'ROLES'], [...policy.keys].map(([name, key]) => [name, key.keyId, rolesOfKey(policy, key.keyId).join(', ') || '-'])).trimEnd());
  const roleRows: string[][] = [['root', ...row(policy.root)]];
  for (const role of ROLES) {
    const p = policy.roles[role];
    if (p !== undefined) roleRows.push([role, ...row(p)]);
  }
  for (const [scope, roles] of policy.apps) {
    for (const role of ROLES) {
      const p = roles[role];
      if (p !== undefined) roleRows.push([`${scope} ${role}`, ...row(p)]);
    }
  }
  lines.push('', renderTable(['ROLE', 'THRESHOLD', 'KEYS'], roleRows).trimEnd());
  return `${lines.join('\n')}\n`;
}

/** The same as JSON (`--json`): maps as arrays of entries or objects built from entries. */
export function trustJson(held: HeldTrust, now: Date): Record<string, unknown> {
  const doc = held.document;
  const policy = held.policy;
  return {
    version: held.version,
    issuedAt: doc?.issuedAt ?? null,
    expiresAt: doc?.expiresAt ?? null,
    expired: doc === undefined ? false : Date.parse(doc.expiresAt) <= now.getTime(),
    maxValidity: doc?.maxValidity ?? null,
    keys: [...policy.keys].map(([name, key]) => ({ name, keyId: key.keyId })),
    roles: { root: roleJson(policy.root), ...rolesJson(policy.roles) },
    apps: [...policy.apps].map(([scope, roles]) => ({ scope, roles: rolesJson(roles) })),
  };
}

function row(p: RolePolicy): string[] {
  return [`${p.threshold} of ${p.keyIds.size}`, p.names.join(', ')];
}

function roleJson(p: RolePolicy): { keys: string[]; threshold: number } {
  return { keys: [...p.names], threshold: p.threshold };
}

function rolesJson(roles: RolePolicies): Record<string, { keys: string[]; threshold: number }> {
  const out: Record<string, { keys: string[]; threshold: number }> = {};
  for (const role of ROLES) {
    const p = roles[role];
    if (p !== undefined) out[role] = roleJson(p);
  }
  return out;
}

function rolesOfKey(policy: TrustPolicy, keyId: string): string[] {
  const out: string[] = [];
  if (policy.root?.keyIds.has(keyId) === true) out.push('root');
  for (const role of ROLES) if (policy.roles[role]?.keyIds.has(keyId) === true) out.push(role);
  for (const [scope, roles] of policy.apps) for (const role of ROLES) if (roles[role]?.keyIds.has(keyId) === true) out.push(`${scope} ${role}`);
  return out;
}
