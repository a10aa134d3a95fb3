/**
 * Accepting a manifest for one app: verify it, judge its sequence against the high-water mark,
 * and record what that means in the state. Nothing is silent: a manifest that fails verification,
 * a replay and a conflict are each logged at warn with their code and recorded as the app's
 * `rejected` (reported, and shown by `hoist status --local`) until a newer manifest of that kind
 * is accepted; a verification failure changes nothing else.
 */
import { createHash } from 'node:crypto';
import { HoistError, toHoistError } from '../errors.ts';
import type { VerifiedManifest } from '../trust/verify.ts';
import type { AppState } from '../state/schema.ts';
import { classifySequence, type ManifestView } from './decide.ts';
import { classifyAgainstFloor, type Floor } from './floor.ts';
import type { AgentObserver } from './observer.ts';
import type { Log, StateKeeper } from './types.ts';

export type AcceptResult =
  | { readonly status: 'accepted'; readonly view: ManifestView }
  | { readonly status: 'duplicate'; readonly view: ManifestView }
  | { readonly status: 'rejected'; readonly error: HoistError };

export interface AcceptInput {
  readonly bytes: Uint8Array | string;
  readonly key: string;
  readonly app: string;
  readonly env: string;
  readonly source: string;
  /** Verifies against the trust policy in force (throws a HoistError). */
  readonly verify: () => VerifiedManifest;
  readonly keeper: StateKeeper;
  readonly log: Log;
  readonly observer: AgentObserver;
  readonly now: Date;
  /**
   * The anti-replay floor from history/, asked only when the app has no high-water mark of the
   * kind (a new host, a wiped stateDir). An S3 failure is thrown: the manifest is judged later.
   */
  readonly floor?: ((kind: 'release' | 'pin') => Promise<Floor | undefined>) | undefined;
}

export async function acceptManifest(input: AcceptInput): Promise<AcceptResult> {
  const { keeper, key, log } = input;
  let v: VerifiedManifest;
  try {
    v = input.verify();
  } catch (err) {
    const error = toHoistError(err);
    log.warn({ source: input.source, code: error.code, err: error.message, ...(error.details ?? {}) }, `rejected a manifest: ${error.message}`);
    await reject(input, error, readableSequence(input.bytes));
    return { status: 'rejected', error };
  }
  const m = v.manifest;
  const kind = m.kind;
  const digest = createHash('sha256').update(v.payloadBytes).digest('hex');
  const mark = keeper.app(key).highWater[kind];
  const floor = mark === undefined ? await input.floor?.(kind) : undefined;
  const verdict = mark === undefined ? classifyAgainstFloor(floor, m.sequence, digest) : classifySequence(mark, m.sequence, digest);
  const mlog = log.child({ kind, sequence: m.sequence, ...(m.version === undefined ? {} : { version: m.version }) });
  if (verdict === 'duplicate') {
    mlog.debug({ source: input.source }, 'duplicate manifest; nothing to do');
    // what the bucket holds verifies again: a rejection of this kind is over
    if (endsRejection(keeper.app(key), kind)) await keeper.update(key, (s) => withoutRejection(s, kind));
    return { status: 'duplicate', view: manifestView(v) };
  }
  if (verdict === 'replay') {
    const below = mark === undefined ? `the newest verified copy in history/, ${floor?.sequence ?? 0}` : `the high-water mark ${mark.sequence}`;
    const error = new HoistError('HOIST_REPLAY', `a ${kind} manifest with sequence ${m.sequence} is below ${below}: an old manifest was put back; ignored`, {
      details: { sequence: m.sequence, highWater: mark?.sequence, floor: floor?.sequence },
    });
    mlog.warn({ source: input.source, code: error.code, highWater: mark?.sequence, floor: floor?.sequence }, error.message);
    await reject(input, error, m.sequence, kind);
    return { status: 'rejected', error };
  }
  if (verdict === 'conflict') {
    const error = new HoistError('HOIST_SEQUENCE_CONFLICT', `a ${kind} manifest reuses sequence ${m.sequence} with different content: possible attack; ignored`, { details: { sequence: m.sequence } });
    mlog.warn({ source: input.source, code: error.code }, error.message);
    await reject(input, error, m.sequence, kind);
    return { status: 'rejected', error };
  }
  const text = JSON.stringify(v.envelope);
  await keeper.update(key, (s) => {
    // a newer manifest of the kind that was rejected ends the rejection
    const next: AppState = {
      ...withoutRejection(s, kind),
      highWater: { ...s.highWater, [kind]: { sequence: m.sequence, digest } },
      envelopes: { ...s.envelopes, [kind]: text },
      ...(kind === 'pin' ? { pin: { sequence: m.sequence, artifactSha256: m.artifact?.sha256 ?? null, ...(m.kind === 'pin' && m.hosts !== undefined ? { hosts: m.hosts } : {}) } } : {}),
    };
    return next;
  });
  mlog.info({ source: input.source, signers: v.signers.length }, `accepted ${kind} ${m.artifact === null ? '(unpin)' : (m.version ?? '')} sequence ${m.sequence}`);
  return { status: 'accepted', view: manifestView(v) };
}

function endsRejection(s: AppState, kind: 'release' | 'pin'): boolean {
  return s.rejected !== undefined && (s.rejected.kind === undefined || s.rejected.kind === kind);
}

function withoutRejection(s: AppState, kind: 'release' | 'pin'): AppState {
  if (!endsRejection(s, kind)) return s;
  const { rejected: _rejected, ...rest } = s;
  return rest;
}

async function reject(input: AcceptInput, error: HoistError, sequence: number | undefined, kind?: 'release' | 'pin'): Promise<void> {
  input.observer.manifestRejected(input.app, input.env, error.code);
  const at = input.now.toISOString();
  await input.keeper.update(
    input.key,
    (s) => ({
      ...s,
      rejected: { ...(kind === undefined ? {} : { kind }), ...(sequence === undefined ? {} : { sequence }), code: error.code, message: error.message, at },
    }),
    { bestEffort: true },
  );
}

/** What the decision needs of a verified manifest. */
export function manifestView(v: VerifiedManifest): ManifestView {
  const m = v.manifest;
  return {
    kind: m.kind,
    sequence: m.sequence,
    version: m.version ?? undefined,
    artifact: m.artifact ?? null,
    rollout: m.rollout,
    issuedAt: m.issuedAt,
    hosts: m.kind === 'pin' ? m.hosts : undefined,
    notes: m.notes,
    ...(m.retryFailed === true ? { retryFailed: true } : {}),
    ...(m.kind === 'pin' && m.reason !== undefined ? { reason: m.reason } : {}),
  };
}

/** The sequence of an envelope that did not verify, when its payload can be read at all. */
export function readableSequence(bytes: Uint8Array | string): number | undefined {
  try {
    const envelope = JSON.parse(Buffer.from(bytes).toString('utf8')) as { payload?: unknown };
    if (typeof envelope.payload !== 'string') return undefined;
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { sequence?: unknown };
    return typeof payload.sequence === 'number' && Number.isSafeInteger(payload.sequence) ? payload.sequence : undefined;
  } catch {
    return undefined;
  }
}
