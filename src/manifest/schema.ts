/**
 * The signed manifest payload. Parsed from `unknown`; every issue is collected with
 * its path so one failed parse tells the publisher everything that is wrong.
 */
import { z } from 'zod';
import { HoistError } from '../errors.ts';
import { parseMaxFailures } from '../rollout/halt.ts';
import { parseDuration } from '../util/units.ts';
import { formatIssues } from '../util/zod-units.ts';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const VERSION_RE = /^[A-Za-z0-9._+-]{1,64}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

export const ARTIFACT_FORMATS = ['tar+gzip', 'tar+zstd'] as const;
export type ArtifactFormat = (typeof ARTIFACT_FORMATS)[number];

// app and env become path segments (S3 keys, directories): '.' and '..' would walk up.
const nameSchema = z
  .string()
  .regex(NAME_RE, 'expected 1-64 characters of A-Z a-z 0-9 . _ -')
  .refine((s) => s !== '.' && s !== '..', 'must not be "." or ".."');

// The version names the release directory, so no '..' anywhere in it.
export const versionSchema = z
  .string()
  .regex(VERSION_RE, 'expected 1-64 characters of A-Z a-z 0-9 . _ + -')
  .refine((s) => s !== '.' && !s.includes('..'), 'must not be "." or contain ".."');

const artifactKeySchema = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'an S3 key is at most 1024 bytes')
  .refine((s) => !s.startsWith('/'), 'must not start with "/"')
  .refine((s) => !s.split('/').includes('..'), 'must not contain a ".." segment');

export const artifactRefSchema = z.strictObject({
  key: artifactKeySchema,
  sha256: z.string().regex(SHA256_RE, 'expected 64 lowercase hex characters'),
  size: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  format: z.enum(ARTIFACT_FORMATS),
});

const sequenceSchema = z
  .number()
  .int('expected an integer')
  .min(0)
  .max(Number.MAX_SAFE_INTEGER, 'must be at most 2^53-1');

const dateTime = z.iso.datetime({ offset: true });

/** Most steps a schedule may have. */
export const MAX_ROLLOUT_STEPS = 20;

const durationText = z
  .string()
  .max(32)
  .refine((s) => parseDuration(s) !== undefined, 'expected a duration like "0s", "30m" or "2h"');

/** A percent with at most two decimals (the cohort bound is `floor(percent × 100)`). */
const stepPercent = z
  .number()
  .gt(0, 'must be above 0')
  .max(100)
  .refine((p) => Math.abs(Math.round(p * 100) - p * 100) < 1e-6, 'at most two decimals');

export const rolloutStepSchema = z.strictObject({
  percent: stepPercent,
  /** From rollout.startAt (else issuedAt) until the step is due. */
  after: durationText,
  /** The step's hosts start spread over this long (default: half the time to the next step; 0 for the last). */
  spread: durationText.optional(),
});

const maxFailuresSchema = z.union([
  z.int().min(1, 'a count of at least 1').max(1_000_000),
  z.string().refine((s) => parseMaxFailures(s) !== undefined, 'expected a count like 3 or a share like "5%" (above 0, at most 100, two decimals)'),
]);

export const rolloutSchema = z
  .strictObject({
    percent: z.number().min(0).max(100).optional(),
    /** A signed schedule replacing `percent`: the rollout advances by itself. */
    steps: z.array(rolloutStepSchema).min(1, 'list at least one step').max(MAX_ROLLOUT_STEPS).optional(),
    /** When `after` counts from (default: issuedAt). */
    startAt: dateTime.optional(),
    /** Stop the rollout fleet-wide at this many failed hosts. */
    halt: z.strictObject({ maxFailures: maxFailuresSchema }).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.steps !== undefined && r.percent !== undefined) ctx.addIssue({ code: 'custom', path: ['percent'], message: 'give either rollout.percent or rollout.steps, not both' });
    if (r.startAt !== undefined && r.steps === undefined) ctx.addIssue({ code: 'custom', path: ['startAt'], message: 'rollout.startAt schedules rollout.steps; add steps or drop startAt' });
    r.steps?.forEach((step, i) => {
      const prev = i === 0 ? undefined : r.steps?.[i - 1];
      if (prev === undefined) return;
      if (step.percent <= prev.percent) ctx.addIssue({ code: 'custom', path: ['steps', i, 'percent'], message: `must be above the previous step's ${prev.percent}` });
      if ((parseDuration(step.after) ?? 0) <= (parseDuration(prev.after) ?? 0)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'after'], message: `must be later than the previous step's ${prev.after}` });
    });
  });

const common = {
  schema: z.literal(1),
  app: nameSchema,
  env: nameSchema,
  sequence: sequenceSchema,
  issuedAt: dateTime,
  expiresAt: dateTime.optional(),
  /** Absent: `{ percent: 100 }`. */
  rollout: rolloutSchema.default({ percent: 100 }),
  notes: z.record(z.string(), z.string()).optional(),
  /** Hosts that have this artifact on their failed list try it once more (an operator's signed decision). */
  retryFailed: z.boolean().optional(),
};

export const releaseManifestSchema = z.strictObject({
  ...common,
  kind: z.literal('release'),
  version: versionSchema,
  artifact: artifactRefSchema,
});

export const pinManifestSchema = z.strictObject({
  ...common,
  kind: z.literal('pin'),
  version: versionSchema.optional(),
  artifact: artifactRefSchema.nullable(),
  hosts: z.array(z.string().min(1)).min(1, 'list at least one host, or omit hosts for the whole env').optional(),
  reason: z.string().optional(),
});

export const manifestSchema = z
  .discriminatedUnion('kind', [releaseManifestSchema, pinManifestSchema])
  .superRefine((m, ctx) => {
    if (m.kind === 'pin' && m.artifact !== null && m.version === undefined) {
      ctx.addIssue({ code: 'custom', path: ['version'], message: 'a pin naming an artifact needs a version' });
    }
    if (m.kind === 'pin' && (m.rollout.steps !== undefined || m.rollout.halt !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['rollout'], message: 'a pin applies at once to the hosts it names: rollout.steps and rollout.halt are for releases' });
    }
    if (m.expiresAt !== undefined && Date.parse(m.expiresAt) <= Date.parse(m.issuedAt)) {
      ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be after issuedAt' });
    }
  });

export type ArtifactRef = z.output<typeof artifactRefSchema>;
export type ReleaseManifest = z.output<typeof releaseManifestSchema>;
export type PinManifest = z.output<typeof pinManifestSchema>;
export type Manifest = z.output<typeof manifestSchema>;
export type ManifestKind = Manifest['kind'];
export type Rollout = Manifest['rollout'];
export type RolloutStep = z.output<typeof rolloutStepSchema>;

/** Validates a decoded payload; throws HOIST_MANIFEST_INVALID listing every issue with its path. */
export function parseManifest(value: unknown): Manifest {
  const result = manifestSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = formatIssues(result.error);
  throw new HoistError('HOIST_MANIFEST_INVALID', `the manifest is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}): ${issues.join('; ')}`, {
    details: { issues },
  });
}

/** File extension of an artifact of this format, as used in S3 keys. */
export function artifactExtension(format: ArtifactFormat): 'tar.gz' | 'tar.zst' {
  return format === 'tar+gzip' ? 'tar.gz' : 'tar.zst';
}

/** An unpin: a pin manifest without an artifact. */
export function isUnpin(m: Manifest): m is PinManifest & { artifact: null } {
  return m.kind === 'pin' && m.artifact === null;
}
