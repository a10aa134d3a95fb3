/**
 * Deploy events, `events/<app>/<env>/<sequence>/<outcome>/<host-id>.json`: one object per outcome
 * a host reaches for a sequence (healthy, rolled-back, failed, halted), written once and never
 * rewritten. Other hosts count the failures of a sequence to halt its rollout; `hoist history`,
 * `hoist audit` and `hoist rollout status` read where each release ran, from when, with what
 * outcome. Unsigned like the status reports: docs/iam.md scopes each host's writes to its own id.
 *
 * Written once, two ways: the PUT carries `If-None-Match: *` (S3 refuses a second write), and the
 * host records in its state which (sequence, outcome) it wrote, so it does not even try again on a
 * store without conditional writes. Building the event is pure; publishing is one PUT.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { putObjectOnce } from '../aws/object-store.ts';
import type { EventOutcome } from '../state/schema.ts';

export interface DeployEvent {
  readonly hostId: string;
  readonly app: string;
  readonly env: string;
  readonly sequence: number;
  readonly kind: 'release' | 'pin';
  readonly version: string;
  readonly sha256: string;
  readonly outcome: EventOutcome;
  readonly at: string;
  /** Seconds the deploy took (fetch to decision); absent for `halted`. */
  readonly duration?: number;
  readonly code?: string;
  readonly message?: string;
}

export interface EventInput {
  readonly hostId: string;
  readonly app: string;
  readonly env: string;
  readonly target: { readonly kind: 'release' | 'pin'; readonly version: string; readonly sequence: number; readonly sha256: string };
  readonly outcome: EventOutcome;
  readonly at: Date;
  readonly durationSeconds?: number | undefined;
  readonly error?: { readonly code: string; readonly message: string } | undefined;
}

/** Longest error message kept in an event: a line for a person, not a log. */
const MAX_MESSAGE = 500;

export function buildEvent(input: EventInput): DeployEvent {
  const { target } = input;
  return {
    hostId: input.hostId,
    app: input.app,
    env: input.env,
    sequence: target.sequence,
    kind: target.kind,
    version: target.version,
    sha256: target.sha256,
    outcome: input.outcome,
    at: input.at.toISOString(),
    ...(input.durationSeconds === undefined ? {} : { duration: Math.round(input.durationSeconds * 1000) / 1000 }),
    ...(input.outcome === 'healthy' || input.error === undefined ? {} : { code: input.error.code, message: input.error.message.slice(0, MAX_MESSAGE) }),
  };
}

/** The event a deploy outcome writes; an abandoned or interrupted deploy writes none. */
export function eventOutcomeOf(outcome: string): EventOutcome | undefined {
  return outcome === 'healthy' || outcome === 'rolled-back' || outcome === 'failed' ? outcome : undefined;
}

export type WrittenEvents = ReadonlyArray<{ readonly sequence: number; readonly outcome: EventOutcome }>;

/** Events remembered in the state: enough for the sequences a host can still meet again. */
export const REMEMBERED_EVENTS = 16;

export function alreadyWritten(written: WrittenEvents | undefined, sequence: number, outcome: EventOutcome): boolean {
  return (written ?? []).some((e) => e.sequence === sequence && e.outcome === outcome);
}

/** The list with this event added (newest last, the last REMEMBERED_EVENTS kept). */
export function withWritten(written: WrittenEvents | undefined, sequence: number, outcome: EventOutcome): Array<{ sequence: number; outcome: EventOutcome }> {
  const list = (written ?? []).filter((e) => !(e.sequence === sequence && e.outcome === outcome)).map((e) => ({ ...e }));
  list.push({ sequence, outcome });
  return list.slice(-REMEMBERED_EVENTS);
}

/** One PUT, refused by S3 when the object exists (`exists`: written before, kept as it was). */
export async function publishEvent(s3: S3Client, options: { bucket: string; key: string; event: DeployEvent; signal?: AbortSignal | undefined }): Promise<'written' | 'exists'> {
  return putObjectOnce(s3, { bucket: options.bucket, key: options.key, body: `${JSON.stringify(options.event, null, 2)}\n`, contentType: 'application/json', signal: options.signal });
}
