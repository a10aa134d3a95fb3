/**
 * The anti-replay floor of a host that has no high-water mark for an (app, env, kind): a new
 * host, or a wiped stateDir. Without one it would take any validly signed, unexpired manifest a
 * bucket writer puts back; with it, it takes nothing older than the newest verified copy in
 * `history/<app>/<env>/` (releases) and `history/<app>/<env>/pins/` (pins).
 *
 * One LIST of the app's history prefix serves both kinds; then, per kind, GETs of the newest
 * entries one at a time until one verifies. An entry is judged on its signatures as of its own
 * issue time (an expired release still proves the channel reached that sequence), and only
 * counts when it holds the sequence its key names. A history copy is written once, at publish, so
 * a release approved afterwards (`hoist approve` signs the channel and leaves a signed statement in
 * `approvals/<app>/<env>/<sequence>/`) holds fewer signatures than its role's threshold: such an
 * entry counts when its verified approval statements make up the difference.
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Keys } from '../aws/keys.ts';
import { getObjectBytes, listKeys } from '../aws/object-store.ts';
import { HoistError, isHoistError, toHoistError } from '../errors.ts';
import { historyKeySequence } from '../publish/sequence.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import { verifyEnvelope } from '../trust/verify.ts';
import { decodePayload, parseEnvelope } from '../dsse/envelope.ts';
import { parseManifest } from '../manifest/schema.ts';
import { checkApproval, roleSignatures } from '../evidence/approvals.ts';
import { readApprovalStatements } from '../evidence/read.ts';

export interface Floor {
  readonly sequence: number;
  /** SHA-256 hex of the payload bytes, as in a high-water mark. */
  readonly digest: string;
}

export interface Floors {
  readonly release?: Floor;
  readonly pin?: Floor;
}

export interface FloorOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly app: string;
  readonly env: string;
  readonly policy: TrustPolicy;
  readonly maxBytes: number;
  readonly signal?: AbortSignal | undefined;
  /** An entry that could not be read or did not verify (skipped). */
  readonly onSkip?: (key: string, error: HoistError) => void;
}

export interface FloorResult {
  readonly floors: Floors;
  /** S3 requests made (LIST pages and GETs). */
  readonly requests: number;
}

/** Both floors of an (app, env). S3 failures are thrown: the caller must not go on without. */
export async function historyFloors(s3: S3Client, options: FloorOptions): Promise<FloorResult> {
  const keys = s3Keys(options.prefix);
  const releasePrefix = keys.historyPrefix(options.app, options.env);
  const pinPrefix = keys.pinHistoryPrefix(options.app, options.env);
  const byKind = { release: [] as Entry[], pin: [] as Entry[] };
  let requests = 1;
  for await (const item of listKeys(s3, { bucket: options.bucket, prefix: releasePrefix, signal: options.signal })) {
    const pin = historyKeySequence(pinPrefix, item.key);
    const release = pin === undefined ? historyKeySequence(releasePrefix, item.key) : undefined;
    if (pin !== undefined) byKind.pin.push({ key: item.key, sequence: pin });
    else if (release !== undefined) byKind.release.push({ key: item.key, sequence: release });
  }
  const floors: { release?: Floor; pin?: Floor } = {};
  for (const kind of ['release', 'pin'] as const) {
    const entries = byKind[kind].sort((a, b) => b.sequence - a.sequence);
    for (const entry of entries) {
      const bytes = await getObjectBytes(s3, { bucket: options.bucket, key: entry.key, maxBytes: options.maxBytes, signal: options.signal }).catch((error: unknown) => {
        if (isHoistError(error, 'HOIST_ENVELOPE_TOO_LARGE')) return error;
        throw error;
      });
      requests++;
      if (bytes === undefined) continue; // deleted since the LIST
      try {
        if (bytes instanceof Error) throw bytes;
        let floor: Floor;
        try {
          floor = verifiedEntry(bytes, kind, options);
        } catch (error) {
          if (kind !== 'release' || !isHoistError(error, 'HOIST_SIGNATURE_THRESHOLD')) throw error;
          const approved = await approvedEntry(s3, bytes, entry.sequence, options);
          requests += approved.requests;
          if (approved.floor === undefined) throw error;
          floor = approved.floor;
        }
        if (floor.sequence !== entry.sequence) {
          throw new HoistError('HOIST_MANIFEST_MISMATCH', `it holds sequence ${floor.sequence}, not the ${entry.sequence} its key names`);
        }
        floors[kind] = floor;
        break;
      } catch (error) {
        options.onSkip?.(entry.key, toHoistError(error));
      }
    }
  }
  return { floors, requests };
}

interface Entry {
  readonly key: string;
  readonly sequence: number;
}

function verifiedEntry(bytes: Buffer, kind: 'release' | 'pin', options: FloorOptions): Floor {
  const verified = verifyEnvelope(bytes, options.policy, issuedAtOf(bytes), { app: options.app, env: options.env, kind }, { maxBytes: options.maxBytes });
  return { sequence: verified.manifest.sequence, digest: createHash('sha256').update(verified.payloadBytes).digest('hex') };
}

/**
 * A release copy below its role's threshold, with the approval statements of its sequence: the
 * floor when the verified signatures on the copy and the verified statements of the role's keys
 * (each naming this app, env, sequence and artifact) reach the threshold. Only called once the
 * copy failed verification for the threshold alone, so its envelope and manifest are well formed.
 */
async function approvedEntry(s3: S3Client, bytes: Buffer, sequence: number, options: FloorOptions): Promise<{ floor: Floor | undefined; requests: number }> {
  const envelope = parseEnvelope(bytes, options.maxBytes);
  const payloadBytes = decodePayload(envelope);
  const manifest = parseManifest(JSON.parse(payloadBytes.toString('utf8')));
  if (manifest.kind !== 'release' || manifest.app !== options.app || manifest.env !== options.env || manifest.sequence !== sequence) return { floor: undefined, requests: 0 };
  const folder = s3Keys(options.prefix).approvalsPrefix(options.app, options.env, sequence);
  const statements = await readApprovalStatements(s3, options.bucket, folder, options.signal);
  const approvals = statements.map((b) => checkApproval(b, { app: manifest.app, env: manifest.env, sequence, sha256: manifest.artifact.sha256 }, options.policy));
  const requests = 1 + statements.length;
  if (!roleSignatures(envelope, manifest, approvals, options.policy, 'release').complete) return { floor: undefined, requests };
  return { floor: { sequence, digest: createHash('sha256').update(payloadBytes).digest('hex') }, requests };
}

/** The (unverified) issue time an envelope's payload claims; verification then checks it all. */
function issuedAtOf(bytes: Buffer): Date {
  try {
    const envelope = JSON.parse(bytes.toString('utf8')) as { payload?: unknown };
    const payload = JSON.parse(Buffer.from(String(envelope.payload), 'base64').toString('utf8')) as { issuedAt?: unknown };
    const t = typeof payload.issuedAt === 'string' ? Date.parse(payload.issuedAt) : Number.NaN;
    if (Number.isFinite(t)) return new Date(t);
  } catch {
    // Verification reports what is wrong with it.
  }
  return new Date();
}

export type FloorVerdict = 'new' | 'replay' | 'conflict';

/**
 * A manifest against the floor of a host without a high-water mark: above it is new; at it, new
 * when it is that very manifest (the newest published one, normally), else a conflict; below it
 * a replay.
 */
export function classifyAgainstFloor(floor: Floor | undefined, sequence: number, digest: string): FloorVerdict {
  if (floor === undefined || sequence > floor.sequence) return 'new';
  if (sequence < floor.sequence) return 'replay';
  return digest === floor.digest ? 'new' : 'conflict';
}

/**
 * The floors of each app, read once (per trust policy: `clear()` after a new trust document) and
 * only for apps that need them; a failed read is forgotten so the next manifest tries again.
 */
export class FloorCache {
  readonly #floors = new Map<string, Promise<Floors>>();

  get(s3: S3Client, options: FloorOptions): Promise<Floors> {
    const key = `${options.app}/${options.env}`;
    let floors = this.#floors.get(key);
    if (floors === undefined) {
      floors = historyFloors(s3, options).then((r) => r.floors);
      this.#floors.set(key, floors);
      floors.catch(() => this.#floors.delete(key));
    }
    return floors;
  }

  clear(): void {
    this.#floors.clear();
  }
}
