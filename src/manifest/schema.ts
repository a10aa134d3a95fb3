/**
 * The signed manifest payload. Parsed from `unknown`; every issue is collected with
 * its path so one failed parse tells the publisher everything that is wrong.
 */
import { z } from 'zod';
import { HoistError } from '../errors.ts';
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

const common = {
  schema: z.literal(1),
  app: nameSchema,
  env: nameSchema,
  sequence: sequenceSchema,
  issuedAt: dateTime,
  expiresAt: dateTime.optional(),
  rollout: z
    .strictObject({ percent: z.number().min(0).max(100) })
    .default({ percent: 100 }),
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
    if (m.expiresAt !== undefined && Date.parse(m.expiresAt) <= Date.parse(m.issuedAt)) {
      ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be after issuedAt' });
    }
  });

export type ArtifactRef = z.output<typeof artifactRefSchema>;
export type ReleaseManifest = z.output<typeof releaseManifestSchema>;
export type PinManifest = z.output<typeof pinManifestSchema>;
export type Manifest = z.output<typeof manifestSchema>;
export type ManifestKind = Manifest['kind'];

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
