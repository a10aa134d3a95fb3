/**
 * The signing key of an operator command, and the optional `--trust` check: that the key is
 * trusted for the role it signs for, and how far the envelope is from the role's threshold.
 */
import type { KeyObject } from 'node:crypto';
import { keyIdOf, loadPrivateKey } from '../crypto/keys.ts';
import type { Envelope } from '../dsse/envelope.ts';
import { HoistError, isHoistError } from '../errors.ts';
import type { Manifest } from '../manifest/schema.ts';
import { loadTrustFile } from '../trust/load.ts';
import { rolePolicy, type TrustPolicy } from '../trust/policy.ts';
import type { Role } from '../trust/schema.ts';
import { verifyEnvelope } from '../trust/verify.ts';

export interface Signer {
  readonly key: KeyObject;
  readonly keyId: string;
  readonly policy: TrustPolicy | undefined;
}

/** Loads the private key (HOIST_KEY_INVALID) and, with a trust file, checks its role (HOIST_KEY_NOT_IN_ROLE). */
export async function loadSigner(keyPath: string, options: { trust?: string | undefined; role: Role; app: string; env: string; allowLooseKey?: boolean | undefined }): Promise<Signer> {
  const key = await loadPrivateKey(keyPath, { allowLoose: options.allowLooseKey });
  const keyId = keyIdOf(key);
  if (options.trust === undefined) return { key, keyId, policy: undefined };
  const policy = await loadTrustFile(options.trust);
  const rp = rolePolicy(policy, options.app, options.env, options.role);
  if (rp === undefined || !rp.keyIds.has(keyId)) {
    const names = rp?.names.join(', ') ?? 'none';
    throw new HoistError('HOIST_KEY_NOT_IN_ROLE', `key ${keyPath} (keyid ${keyId.slice(0, 12)}…) is not trusted for the ${options.role} role of ${options.app}/${options.env} in ${options.trust} (trusted: ${names}); sign with one of those keys`, {
      details: { keyid: keyId, role: options.role },
    });
  }
  return { key, keyId, policy };
}

export interface SignatureStatus {
  readonly signers: readonly string[];
  readonly threshold: number;
  /** Names of role keys that have not signed yet (empty once the threshold is met). */
  readonly missing: readonly string[];
  readonly complete: boolean;
}

/**
 * Checks the envelope's signatures against the policy as an agent would at the manifest's own
 * issue time (so an old history entry is judged on its signatures, not its age). A shortfall is
 * reported, not thrown; an invalid or untrusted signature, or a bad payload, throws.
 */
export function signatureStatus(envelope: Envelope, manifest: Manifest, policy: TrustPolicy, role: Role): SignatureStatus {
  try {
    const v = verifyEnvelope(envelope, policy, new Date(Date.parse(manifest.issuedAt)), { app: manifest.app, env: manifest.env, kind: role });
    const threshold = rolePolicy(policy, manifest.app, manifest.env, role)?.threshold ?? 1;
    return { signers: namesOf(policy, v.signers), threshold, missing: [], complete: true };
  } catch (error) {
    if (isHoistError(error, 'HOIST_SIGNATURE_THRESHOLD')) {
      const d = error.details ?? {};
      return {
        signers: Array.isArray(d.signers) ? d.signers.map(String) : [],
        threshold: typeof d.threshold === 'number' ? d.threshold : 1,
        missing: Array.isArray(d.missing) ? d.missing.map(String) : [],
        complete: false,
      };
    }
    throw error;
  }
}

/** One line for the command output: `2 of 2 (ci, alice)` or `1 of 2 (ci); needs 1 more from: alice, bob`. */
export function describeStatus(s: SignatureStatus): string {
  const base = `${s.signers.length} of ${s.threshold} (${s.signers.join(', ') || 'none'})`;
  if (s.complete) return `${base}; agents will accept it`;
  const need = s.threshold - s.signers.length;
  return `${base}; needs ${need} more approval${need === 1 ? '' : 's'} (\`hoist approve\`) from: ${s.missing.join(', ')}`;
}

function namesOf(policy: TrustPolicy, keyIds: readonly string[]): string[] {
  return keyIds.map((id) => {
    const names = [...policy.keys].filter(([, k]) => k.keyId === id).map(([n]) => n);
    return names.length > 0 ? names.join('/') : `${id.slice(0, 12)}…`;
  });
}
