/**
 * The trust document a host holds, kept in `<stateDir>/trust.json` (written atomically) so a
 * restart keeps the rotated policy: the config's trust block is only the bootstrap. The file holds
 * the envelope as accepted; loading it parses the document again and checks its own root
 * signatures, so a damaged file is never taken for a policy.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../fs/atomic.ts';
import { isHoistError } from '../../errors.ts';
import { heldFrom, readTrustEnvelope, rootSigners, type HeldTrust } from './accept.ts';

export const TRUST_FILE = 'trust.json';

export interface LoadedTrust {
  readonly held: HeldTrust;
  /** Why the stored document was not used, when there is one and it was not. */
  readonly ignored?: string;
}

/**
 * The held trust: the stored document when there is a valid one at least as new as the
 * bootstrap, else the bootstrap itself.
 */
export async function loadHeldTrust(stateDir: string, bootstrap: HeldTrust): Promise<LoadedTrust> {
  const path = join(stateDir, TRUST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { held: bootstrap };
    return { held: bootstrap, ignored: `${path} cannot be read: ${(error as Error).message}` };
  }
  try {
    const stored = JSON.parse(text) as { schema?: unknown; envelope?: unknown };
    if (stored.schema !== 1 || typeof stored.envelope !== 'string') throw new Error('expected { "schema": 1, "envelope": "…" }');
    const candidate = readTrustEnvelope(stored.envelope, bootstrap.policy.clockSkewMs, Number.MAX_SAFE_INTEGER);
    const root = candidate.document.policy.root;
    if (root === undefined || rootSigners(candidate.envelope, candidate.payloadBytes, candidate.document.policy, root).length < root.threshold) {
      throw new Error('its own root signatures do not verify');
    }
    const held = heldFrom(candidate);
    if (held.version < bootstrap.version) {
      return { held: bootstrap, ignored: `${path} holds trust version ${held.version}, older than the config's trust.root.version ${bootstrap.version}` };
    }
    return { held };
  } catch (error) {
    const why = isHoistError(error) || error instanceof Error ? error.message : String(error);
    return { held: bootstrap, ignored: `${path} is not a valid trust document (${why}); the host walks trust/history/ from its config's root again` };
  }
}

/**
 * Persists an accepted document (the bootstrap is never written: it is the config). Readable by
 * the group of stateDir, as state.json is: it holds public keys and signatures only, and
 * `hoist status --local` shows its version and expiry to members of that group.
 */
export async function saveHeldTrust(stateDir: string, held: HeldTrust): Promise<void> {
  if (held.document === undefined) return;
  const body = `${JSON.stringify({ schema: 1, version: held.version, expiresAt: held.document.expiresAt, envelope: held.document.envelope }, null, 2)}\n`;
  const gid = (await stat(stateDir)).gid;
  await writeFileAtomic(join(stateDir, TRUST_FILE), body, { mode: 0o640, gid });
}

/** What `hoist status --local` shows of the held document. */
export interface HeldTrustSummary {
  /** Version of the document the agent took last; 0 (or the config's) while it holds only the config's root. */
  readonly version: number;
  readonly expiresAt: string | null;
  /** Why the file could not be shown, when it exists and could not. */
  readonly unreadable?: string;
}

/**
 * The version and expiry the agent recorded with the document it holds, for display only: the
 * agent itself never takes a policy from this summary (loadHeldTrust verifies the document).
 */
export async function readHeldTrustSummary(stateDir: string, bootstrapVersion: number): Promise<HeldTrustSummary> {
  const path = join(stateDir, TRUST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: bootstrapVersion, expiresAt: null };
    return { version: bootstrapVersion, expiresAt: null, unreadable: `${path} cannot be read: ${(error as Error).message}` };
  }
  try {
    const stored = JSON.parse(text) as { version?: unknown; expiresAt?: unknown };
    if (typeof stored.version !== 'number' || !Number.isSafeInteger(stored.version)) throw new Error('no version');
    return { version: stored.version, expiresAt: typeof stored.expiresAt === 'string' ? stored.expiresAt : null };
  } catch (error) {
    return { version: bootstrapVersion, expiresAt: null, unreadable: `${path} is not a trust document the agent wrote (${(error as Error).message})` };
  }
}
