/**
 * The `trust:` block, as written in the agent config or a `--trust` file.
 * This is the raw, validated shape; `policy.ts` resolves key files into key ids.
 */
import { z } from 'zod';
import { zDuration, zNamedMap } from '../util/zod-units.ts';

export const ROLES = ['release', 'pin'] as const;
export type Role = (typeof ROLES)[number];

const keyName = z.string().min(1);

export const roleSchema = z.strictObject({
  keys: z.array(keyName).min(1, 'a role needs at least one key'),
  threshold: z.int().min(1).default(1),
});

export const rolesSchema = z.strictObject({
  release: roleSchema.optional(),
  pin: roleSchema.optional(),
});

/** `keys`: name → path of a PEM public key, or the PEM text itself (a Map: names are the user's). */
export const trustKeysSchema = zNamedMap(keyName, z.string().min(1));

/**
 * `trust.root`: the offline keys that sign trust documents (`trust/root.json`). With it the agent
 * follows the published document, and this block is only the bootstrap.
 */
export const rootSchema = z
  .strictObject({
    keys: z.array(keyName).min(1, 'the root role needs at least one key').describe('Names of keys (under trust.keys) of the root role: offline keys that sign trust documents.'),
    threshold: z.int().min(1).default(1).describe('Distinct root keys that must have signed a trust document (and its successor, for a rotation).'),
    version: z
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .default(0)
      .describe('Version of the trust document whose root this is: 0 for the original root, N when a fleet image is built with the root of document N.'),
  })
  .describe('Follow the signed trust document trust/root.json (keys rotated and revoked without touching hosts); this trust block is then only the bootstrap.');

export const trustBlockSchema = z.strictObject({
  keys: trustKeysSchema,
  roles: rolesSchema,
  root: rootSchema.optional(),
  maxValidity: zDuration.optional(),
  clockSkew: zDuration.default(5 * 60_000),
});

/** A per-app override: roles (and optionally extra keys) replace the global ones for that app. */
export const appTrustSchema = z.strictObject({
  keys: trustKeysSchema.optional(),
  roles: rolesSchema,
});

export type TrustBlock = z.output<typeof trustBlockSchema>;
export type AppTrustBlock = z.output<typeof appTrustSchema>;
export type RoleBlock = z.output<typeof roleSchema>;
export type RootBlock = z.output<typeof rootSchema>;
