/**
 * The signed trust document (`trust/root.json`, `trust/history/<version>.json`): the fleet's keys
 * and roles, signed by the root role. Parsed from `unknown` with every issue collected; keys, roles
 * and the per-(app, env) map become a TrustPolicy of Maps, never objects keyed by the names a
 * document carries. Pure: no I/O (keys are embedded PEM, never paths).
 */
import { z } from 'zod';
import { HoistError, isHoistError } from '../../errors.ts';
import { keyIdOf, parsePublicKeyPem } from '../../crypto/keys.ts';
import { formatIssues, formatPath, zNamedMap } from '../../util/zod-units.ts';
import { parseDuration } from '../../util/units.ts';
import { resolveRole, resolveRoles, type RolePolicies, type TrustedKey, type TrustPolicy } from '../policy.ts';
import { roleSchema, rolesSchema } from '../schema.ts';

export const TRUST_PAYLOAD_TYPE = 'application/vnd.hoist.trust+json';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const PEM_PUBLIC = '-----BEGIN PUBLIC KEY-----';

const keyName = z.string().min(1).max(128);

/** `app/env`, each part a name as in manifests (so never "." or ".."). */
const scopeSchema = z.string().refine((s) => {
  const parts = s.split('/');
  return parts.length === 2 && parts.every((p) => NAME_RE.test(p) && p !== '.' && p !== '..');
}, 'expected "app/env"');

const pemSchema = z
  .string()
  .refine((s) => s.trimStart().startsWith(PEM_PUBLIC), `expected the PEM text of a public key ("${PEM_PUBLIC}…"); a trust document embeds keys, never paths`);

const dateTime = z.iso.datetime({ offset: true });

export const trustPayloadSchema = z
  .strictObject({
    schema: z.literal(1),
    kind: z.literal('trust'),
    version: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
    issuedAt: dateTime,
    expiresAt: dateTime,
    keys: zNamedMap(keyName, pemSchema),
    roles: z.strictObject({ root: roleSchema, release: roleSchema.optional(), pin: roleSchema.optional() }),
    apps: zNamedMap(scopeSchema, z.strictObject({ roles: rolesSchema })).optional(),
    maxValidity: z
      .string()
      .refine((s) => (parseDuration(s) ?? 0) > 0, 'expected a duration like "90d"')
      .optional(),
  })
  .superRefine((doc, ctx) => {
    if (Date.parse(doc.expiresAt) <= Date.parse(doc.issuedAt)) ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be after issuedAt' });
  });

export type TrustPayload = z.output<typeof trustPayloadSchema>;

export interface TrustDocument {
  readonly version: number;
  readonly issuedAt: string;
  readonly expiresAt: string;
  /** maxValidity as the document writes it. */
  readonly maxValidity?: string;
  /** What manifests are verified against once the document is held; `policy.root` signs the next one. */
  readonly policy: TrustPolicy;
}

/**
 * Validates a decoded payload and resolves it into a policy. `clockSkewMs` is the host's own
 * setting (a document does not carry one). HOIST_TRUST_INVALID lists every issue with its path.
 */
export function parseTrustDocument(value: unknown, clockSkewMs: number): TrustDocument {
  const parsed = trustPayloadSchema.safeParse(value);
  if (!parsed.success) throw invalid(formatIssues(parsed.error));
  const doc = parsed.data;
  const issues: string[] = [];
  const keys = new Map<string, TrustedKey>();
  for (const [name, pem] of doc.keys) {
    try {
      const publicKey = parsePublicKeyPem(pem, `keys.${name}`);
      keys.set(name, { keyId: keyIdOf(publicKey), publicKey });
    } catch (error) {
      if (!isHoistError(error)) throw error;
      issues.push(`${formatPath(['keys', name])}: ${error.message}`);
    }
  }
  const declared = new Set(doc.keys.keys());
  const root = resolveRole(doc.roles.root, 'root', ['roles', 'root'], keys, declared, issues);
  const { release, pin } = doc.roles;
  const roles = resolveRoles({ release, pin }, ['roles'], keys, declared, issues);
  const apps = new Map<string, RolePolicies>();
  for (const [scope, entry] of doc.apps ?? new Map<string, { roles: typeof doc.roles }>()) {
    apps.set(scope, resolveRoles(entry.roles, ['apps', scope, 'roles'], keys, declared, issues));
  }
  if (issues.length > 0) throw invalid(issues);
  const policy: TrustPolicy = { keys, roles, apps, clockSkewMs, root: { ...root, version: doc.version } };
  if (doc.maxValidity !== undefined) policy.maxValidityMs = parseDuration(doc.maxValidity) ?? 0;
  return {
    version: doc.version,
    issuedAt: doc.issuedAt,
    expiresAt: doc.expiresAt,
    ...(doc.maxValidity === undefined ? {} : { maxValidity: doc.maxValidity }),
    policy,
  };
}

/** Payload bytes as UTF-8 JSON, or HOIST_TRUST_INVALID. */
export function decodeTrustPayload(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (cause) {
    throw new HoistError('HOIST_TRUST_INVALID', 'the trust document payload is not UTF-8 JSON; build it with `hoist trust publish`', { cause, details: { issues: ['(root): expected a JSON object'] } });
  }
}

/**
 * The version envelope bytes claim, read without checking anything (to know how far a walk
 * goes); undefined when the bytes do not say.
 */
export function claimedVersion(bytes: Uint8Array | string): number | undefined {
  try {
    const envelope = JSON.parse(Buffer.from(bytes).toString('utf8')) as { payload?: unknown };
    if (typeof envelope.payload !== 'string') return undefined;
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { version?: unknown };
    return typeof payload.version === 'number' && Number.isSafeInteger(payload.version) && payload.version > 0 ? payload.version : undefined;
  } catch {
    return undefined;
  }
}

function invalid(issues: string[]): HoistError {
  return new HoistError('HOIST_TRUST_INVALID', `the trust document is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}): ${issues.join('; ')}`, {
    details: { issues },
  });
}
