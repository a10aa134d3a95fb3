/**
 * The host status report, `status/<app>/<env>/<host-id>.json` (DESIGN §5.4): unsigned and
 * informational, written by each agent after every change and read by `hoist status`.
 * Building it is pure; publishing is one PUT.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { putObjectJson } from '../aws/object-store.ts';
import { appStates, attemptOutcomes } from '../state/schema.ts';
import type { AppState, ReleaseRecord } from '../state/schema.ts';

const releaseSummarySchema = z.object({
  version: z.string(),
  sha256: z.string(),
  sequence: z.number(),
  since: z.string(),
});

/**
 * Parses a report read back from S3. Unknown extra fields (from newer agents) are accepted and
 * dropped; `previous` and the nullable attempt fields default to null for the same reason.
 */
export const statusReportSchema = z.object({
  hostId: z.string(),
  app: z.string(),
  env: z.string(),
  state: z.enum(appStates),
  current: releaseSummarySchema.nullable(),
  previous: releaseSummarySchema.nullable().default(null),
  lastAttempt: z
    .object({
      version: z.string().nullable().default(null),
      outcome: z.enum(attemptOutcomes),
      code: z.string().nullable().default(null),
      message: z.string().nullable().default(null),
      at: z.string(),
    })
    .nullable(),
  /** The trust document the host holds, when it follows one (`trust.root`). */
  trust: z
    .object({
      version: z.number(),
      expiresAt: z.string().nullable(),
      rejected: z.object({ version: z.number().optional(), code: z.string(), message: z.string(), at: z.string() }).optional(),
    })
    .optional(),
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
  readonly trust?: StatusReport['trust'] | undefined;
}

export function buildStatusReport(input: StatusReportInput): StatusReport {
  const { appState } = input;
  const attempt = appState.lastAttempt;
  return {
    hostId: input.hostId,
    app: input.app,
    env: input.env,
    state: appState.state,
    current: summary(appState.current),
    previous: summary(appState.previous),
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
    ...(input.trust === undefined ? {} : { trust: input.trust }),
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
