/**
 * The agent's persisted state (`<stateDir>/state.json`): per (app, env) what runs, what ran
 * before, the anti-replay high-water marks, the failed list and the in-flight transaction.
 * Bump `schema` on any incompatible change.
 */
import { z } from 'zod';

const SHA256_RE = /^[0-9a-f]{64}$/;

const sha256 = z.string().regex(SHA256_RE, 'expected a lowercase hex SHA-256');
const isoTime = z.string().min(1);
const sequence = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const releaseRecordSchema = z.object({
  version: z.string().min(1),
  sha256,
  sequence,
  /** `releases/<version>-<sha12>`, relative to the app root. */
  dir: z.string().min(1),
  since: isoTime,
  kind: z.enum(['release', 'pin']),
});

export const markSchema = z.object({
  sequence,
  /** SHA-256 hex of the envelope payload bytes: an equal sequence with other bytes is an attack. */
  digest: sha256,
});

export const transactionSchema = z.object({
  id: z.string().min(1),
  step: z.enum(['fetching', 'unpacking', 'pre-activate', 'flipped', 'restarted', 'health', 'rolling-back']),
  target: releaseRecordSchema,
  from: releaseRecordSchema.optional(),
  startedAt: isoTime,
  /** Health checks of `target` begun (a crash or a drain can cut one short; after two, roll back). */
  checks: z.number().int().nonnegative().optional(),
});

/** The outcomes a host writes to events/: once each per sequence. */
export const eventOutcomes = ['healthy', 'rolled-back', 'failed', 'halted'] as const;

export const attemptOutcomes = ['healthy', 'rolled-back', 'failed', 'skipped', 'aborted'] as const;
export const appStates = ['idle', 'deploying', 'healthy', 'rolled-back', 'failed', 'pinned', 'waiting', 'halted'] as const;

/** Why a verified target is not (yet) deployed here. */
export const skipReasons = ['failed-list', 'cohort', 'step', 'window', 'halted'] as const;

export const lastAttemptSchema = z.object({
  version: z.string().optional(),
  sha256: sha256.optional(),
  sequence: sequence.optional(),
  outcome: z.enum(attemptOutcomes),
  code: z.string().optional(),
  message: z.string().optional(),
  at: isoTime,
});

export const appStateSchema = z.object({
  current: releaseRecordSchema.optional(),
  previous: releaseRecordSchema.optional(),
  highWater: z.object({ release: markSchema.optional(), pin: markSchema.optional() }),
  /** Artifact digests that failed health here; tried again only for a manifest with retryFailed. */
  failed: z.array(sha256),
  lastAttempt: lastAttemptSchema.optional(),
  state: z.enum(appStates),
  pin: z
    .object({
      sequence,
      artifactSha256: sha256.nullable(),
      hosts: z.array(z.string()).optional(),
    })
    .optional(),
  /** The last verified envelope JSON text of each kind, kept across restarts. */
  envelopes: z.object({ release: z.string().optional(), pin: z.string().optional() }).optional(),
  txn: transactionSchema.optional(),
  /** What the verified channel or pin says this host should run (what it runs, outside the cohort). */
  desired: z
    .object({ version: z.string(), sha256, sequence, kind: z.enum(['release', 'pin']), reason: z.string().optional() })
    .optional(),
  /** The newest manifest that failed verification, until a newer one of its kind is accepted. */
  rejected: z
    .object({ kind: z.enum(['release', 'pin']).optional(), sequence: sequence.optional(), code: z.string(), message: z.string(), at: isoTime })
    .optional(),
  /** Why the verified target is not deployed (yet). */
  skipped: z.object({ reason: z.enum(skipReasons), eligibleAt: isoTime.optional(), message: z.string().optional(), at: isoTime }).optional(),
  /** The last one-more-try of a failed artifact (a manifest with retryFailed): at most one per manifest. */
  retried: z.object({ sha256, sequence }).optional(),
  /** The release this host found halted: it stays halted (no new check) until a new manifest. */
  halted: z.object({ sequence, at: isoTime }).optional(),
  /** The events this host wrote (the last few), so a rerun of a sequence writes none twice. */
  events: z.array(z.object({ sequence, outcome: z.enum(eventOutcomes) })).optional(),
});

export const agentStateSchema = z.object({
  schema: z.literal(1),
  /** Keyed by `appKey(app, env)`, i.e. `app/env`. */
  apps: z.record(z.string(), appStateSchema),
});

export type ReleaseRecord = z.infer<typeof releaseRecordSchema>;
export type Mark = z.infer<typeof markSchema>;
export type Transaction = z.infer<typeof transactionSchema>;
export type TransactionStep = Transaction['step'];
export type LastAttempt = z.infer<typeof lastAttemptSchema>;
export type AttemptOutcome = LastAttempt['outcome'];
export type AppStateName = z.infer<typeof appStateSchema>['state'];
export type AppState = z.infer<typeof appStateSchema>;
export type SkipReason = (typeof skipReasons)[number];
export type EventOutcome = (typeof eventOutcomes)[number];
export type AgentState = z.infer<typeof agentStateSchema>;
