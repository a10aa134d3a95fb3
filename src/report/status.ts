/**
 * The host status report, `status/<app>/<env>/<host-id>.json`: unsigned and
 * informational, written by each agent after every change and read by `hoist status`.
 * Building it is pure; publishing is one PUT.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { putObjectJson } from '../aws/object-store.ts';
import { appStates } from '../state/schema.ts';
import type { AppState, ReleaseRecord } from '../state/schema.ts';

const releaseSummarySchema = z.object({
  version: z.string(),
  sha256: z.string(),
  sequence: z.number(),
  since: z.string(),
});

/** The states this version of hoist knows; a report may carry others (newer agents). */
export const KNOWN_STATES = appStates;

/** What the verified channel or pin says this host should run (a host outside the due cohort desires what it runs). */
const desiredSchema = z.object({
  version: z.string(),
  sha256: z.string(),
  sequence: z.number(),
  kind: z.string(),
  /** The pin's reason, for kind "pin". */
  reason: z.string().nullable().optional(),
});

/** The newest manifest that failed verification on the host. */
const rejectedSchema = z.object({
  sequence: z.number().nullable().optional(),
  code: z.string(),
  message: z.string().nullable().optional(),
  at: z.string().nullable().optional(),
});

/** A verified target the host did not take, and why: failed-list, cohort, step, window, halted. */
const skippedSchema = z.object({
  reason: z.string(),
  eligibleAt: z.string().nullable().optional(),
});

const trustSchema = z.object({
  version: z.number(),
  expiresAt: z.string().nullable().optional(),
  /** The newest trust document the host refused (or a broken walk), until a newer one is taken. */
  rejected: z.object({ version: z.number().optional(), code: z.string(), message: z.string(), at: z.string() }).optional().catch(undefined),
});

/**
 * A field newer than some agents: absent on older ones, and one of an unexpected shape is read as
 * absent rather than making the whole report unreadable.
 */
function optionalField<T extends z.ZodType>(schema: T) {
  return schema.nullable().optional().catch(undefined);
}

/**
 * Parses a report read back from S3. Unknown extra fields (from newer agents) are kept as they
 * are, so `--json` passes them on; a state this version does not know is kept as its string;
 * `previous` and the nullable attempt fields default to null for older agents.
 */
export const statusReportSchema = z.looseObject({
  hostId: z.string(),
  app: z.string(),
  env: z.string(),
  state: z.string(),
  current: releaseSummarySchema.nullable(),
  previous: releaseSummarySchema.nullable().default(null),
  desired: optionalField(desiredSchema),
  lastAttempt: z
    .object({
      version: z.string().nullable().default(null),
      outcome: z.string(),
      code: z.string().nullable().default(null),
      message: z.string().nullable().default(null),
      at: z.string(),
    })
    .nullable(),
  rejected: optionalField(rejectedSchema),
  skipped: optionalField(skippedSchema),
  trust: optionalField(trustSchema),
  /** How far the host's clock is from S3's, as the agent reports it. */
  clockSkew: z.unknown().optional(),
  agentVersion: z.string(),
  updatedAt: z.string(),
});

export type StatusReport = z.output<typeof statusReportSchema>;
export type ReleaseSummary = z.output<typeof releaseSummarySchema>;

export interface StatusReportInput {
  readonly hostId: string;
  readonly app: string;
  readonly env: string;
  readonly appState: AppState;
  readonly agentVersion: string;
  readonly now: Date;
  /** The trust document in force, when the host follows one (expiresAt null: the config's trust block), and the newest refused one. */
  readonly trust?:
    | { readonly version: number; readonly expiresAt?: string | null | undefined; readonly rejected?: { readonly version?: number; readonly code: string; readonly message: string; readonly at: string } | undefined }
    | undefined;
  /** Seconds the host clock is ahead of S3's (negative: behind), when over half of trust.clockSkew. */
  readonly clockSkew?: { readonly seconds: number; readonly at: string } | undefined;
}

export function buildStatusReport(input: StatusReportInput): StatusReport {
  const { appState } = input;
  const attempt = appState.lastAttempt;
  // a host outside the due cohort (or with nothing published) desires what it runs
  const desired = appState.desired ?? (appState.current === undefined ? undefined : { version: appState.current.version, sha256: appState.current.sha256, sequence: appState.current.sequence, kind: appState.current.kind });
  return {
    hostId: input.hostId,
    app: input.app,
    env: input.env,
    state: appState.state,
    current: summary(appState.current),
    previous: summary(appState.previous),
    desired: desired === undefined ? null : { version: desired.version, sha256: desired.sha256, sequence: desired.sequence, kind: desired.kind, ...('reason' in desired && desired.reason !== undefined ? { reason: desired.reason } : {}) },
    rejected: appState.rejected === undefined ? null : { ...(appState.rejected.sequence === undefined ? {} : { sequence: appState.rejected.sequence }), code: appState.rejected.code, message: appState.rejected.message, at: appState.rejected.at },
    skipped: appState.skipped === undefined ? null : { reason: appState.skipped.reason, ...(appState.skipped.eligibleAt === undefined ? {} : { eligibleAt: appState.skipped.eligibleAt }) },
    trust: input.trust === undefined ? null : { version: input.trust.version, expiresAt: input.trust.expiresAt ?? null, ...(input.trust.rejected === undefined ? {} : { rejected: input.trust.rejected }) },
    ...(input.clockSkew === undefined ? {} : { clockSkew: input.clockSkew }),
    lastAttempt:
      attempt === undefined
        ? null
        : {
            version: attempt.version ?? null,
            outcome: attempt.outcome,
            code: attempt.code ?? null,
            message: attempt.message ?? null,
            at: attempt.at,
          },
    agentVersion: input.agentVersion,
    updatedAt: input.now.toISOString(),
  };
}

/** A report read from S3, or undefined when it is not one (a garbled object must not break `hoist status`). */
export function parseStatusReport(value: unknown): StatusReport | undefined {
  const parsed = statusReportSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export interface PublishStatusOptions {
  readonly bucket: string;
  /** Built with s3Keys(prefix).status(app, env, hostId). */
  readonly key: string;
  readonly report: StatusReport;
  readonly signal?: AbortSignal | undefined;
}

/** Writes the report; S3 failures surface as HOIST_S3, an abort as the signal's reason. */
export async function publishStatus(s3: S3Client, options: PublishStatusOptions): Promise<void> {
  await putObjectJson(s3, { bucket: options.bucket, key: options.key, value: options.report, signal: options.signal });
}

function summary(record: ReleaseRecord | undefined): ReleaseSummary | null {
  if (record === undefined) return null;
  return { version: record.version, sha256: record.sha256, sequence: record.sequence, since: record.since };
}
