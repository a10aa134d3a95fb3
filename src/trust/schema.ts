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

export const trustBlockSchema = z.strictObject({
  keys: trustKeysSchema,
  roles: rolesSchema,
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
