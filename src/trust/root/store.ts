/**
 * The trust document a host holds, kept in `<stateDir>/trust.json` (written atomically) so a
 * restart keeps the rotated policy: the config's trust block is only the bootstrap. The file holds
 * the envelope as accepted; loading it parses the document again and checks its own root
 * signatures, so a damaged file is never taken for a policy.
 */
import { readFile } from 'node:fs/promises';
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

/** Persists an accepted document (the bootstrap is never written: it is the config). */
export async function saveHeldTrust(stateDir: string, held: HeldTrust): Promise<void> {
  if (held.document === undefined) return;
  const body = `${JSON.stringify({ schema: 1, version: held.version, envelope: held.document.envelope }, null, 2)}\n`;
  await writeFileAtomic(join(stateDir, TRUST_FILE), body, { mode: 0o600 });
}
