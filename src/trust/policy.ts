/**
 * Resolves a validated `trust:` block into the policy verification uses: key files loaded and
 * turned into key ids, roles checked against the keys they name. Every problem is collected and
 * reported at once, each with its path.
 */
import type { KeyObject } from 'node:crypto';
import { HoistError, isHoistError } from '../errors.ts';
import { keyIdOf, loadPublicKey } from '../crypto/keys.ts';
import { formatPath } from '../util/zod-units.ts';
import { ROLES, type AppTrustBlock, type Role, type RoleBlock, type TrustBlock } from './schema.ts';

export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
}

export interface RolePolicy {
  /** Distinct key ids trusted for the role. */
  keyIds: Set<string>;
  /** Key names as written in the config, for messages. */
  names: string[];
  threshold: number;
}

export type RolePolicies = { [R in Role]?: RolePolicy };

/** The root role: who signs trust documents, and the version of the document it belongs to. */
export interface RootPolicy extends RolePolicy {
  /** 0 for the config's original root, N for the root of trust document N. */
  version: number;
}

export interface TrustPolicy {
  /** name → key */
  keys: Map<string, TrustedKey>;
  roles: RolePolicies;
  /**
   * `app/env` (see trustScope) → role overrides; a role missing here falls back to `roles`. An
   * override belongs to one (app, env): web/staging's never applies to web/prod.
   */
  apps: Map<string, RolePolicies>;
  maxValidityMs?: number;
  clockSkewMs: number;
  /** Set when the agent follows signed trust documents (`trust.root`). */
  root?: RootPolicy;
}

export interface ResolveTrustOptions {
  /** Directory that relative key paths are resolved against (the config file's directory). */
  baseDir: string;
  /** Per-(app, env) overrides keyed by trustScope(app, env). */
  apps?: ReadonlyMap<string, AppTrustBlock>;
  /** Where the block sits in its file, for issue paths (default `['trust']`). */
  path?: PropertyKey[];
  /** Where each override sits, for issue paths (default `['apps', scope, 'trust']`). */
  appPaths?: ReadonlyMap<string, PropertyKey[]>;
}

/** The key of an (app, env) pair in TrustPolicy.apps. */
export function trustScope(app: string, env: string): string {
  return `${app}/${env}`;
}

export async function resolveTrustPolicy(block: TrustBlock, options: ResolveTrustOptions): Promise<TrustPolicy> {
  const issues: string[] = [];
  const at = (path: PropertyKey[]): string => formatPath(path);
  const base = options.path ?? ['trust'];
  const keys = new Map<string, TrustedKey>();
  // Names declared under keys, loadable or not: a role naming a key whose file failed to load is
  // not also reported as naming an unknown key.
  const declared = new Set<string>(block.keys.keys());

  await loadKeys(block.keys, [...base, 'keys'], options.baseDir, keys, issues);
  const roles = resolveRoles(block.roles, [...base, 'roles'], keys, declared, issues);
  const root = block.root === undefined ? undefined : { ...resolveRole(block.root, 'root', [...base, 'root'], keys, declared, issues), version: block.root.version };
  if (ROLES.every((role) => block.roles[role] === undefined)) {
    issues.push(`${at([...base, 'roles'])}: define at least one role (release or pin)`);
  }

  const apps = new Map<string, RolePolicies>();
  for (const [scope, override] of options.apps ?? new Map<string, AppTrustBlock>()) {
    const appBase = options.appPaths?.get(scope) ?? ['apps', scope, 'trust'];
    if (override.keys !== undefined) {
      for (const name of override.keys.keys()) declared.add(name);
      await loadKeys(override.keys, [...appBase, 'keys'], options.baseDir, keys, issues);
    }
    apps.set(scope, resolveRoles(override.roles, [...appBase, 'roles'], keys, declared, issues));
  }

  if (issues.length > 0) {
    throw new HoistError('HOIST_CONFIG_INVALID', `the trust policy is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}); fix each path listed`, {
      details: { issues },
    });
  }
  const policy: TrustPolicy = { keys, roles, apps, clockSkewMs: block.clockSkew };
  if (block.maxValidity !== undefined) policy.maxValidityMs = block.maxValidity;
  if (root !== undefined) policy.root = root;
  return policy;
}

async function loadKeys(
  entries: ReadonlyMap<string, string>,
  path: PropertyKey[],
  baseDir: string,
  into: Map<string, TrustedKey>,
  issues: string[],
): Promise<void> {
  for (const [name, pathOrPem] of entries) {
    try {
      const publicKey = await loadPublicKey(pathOrPem, baseDir);
      const keyId = keyIdOf(publicKey);
      const existing = into.get(name);
      // App overrides share the key namespace; the same name must mean the same key.
      if (existing !== undefined && existing.keyId !== keyId) {
        issues.push(`${formatPath([...path, name])}: key name "${name}" is already used for a different key`);
        continue;
      }
      into.set(name, { keyId, publicKey });
    } catch (error) {
      if (!isHoistError(error)) throw error;
      issues.push(`${formatPath([...path, name])}: ${error.message}`);
    }
  }
}

/**
 * Resolves role blocks against loaded keys, collecting every problem (with its path) in `issues`.
 * `declared` holds key names that exist even if they failed to load (not reported twice).
 */
export function resolveRoles(
  blocks: { [R in Role]?: RoleBlock | undefined },
  path: PropertyKey[],
  keys: ReadonlyMap<string, TrustedKey>,
  declared: ReadonlySet<string>,
  issues: string[],
): RolePolicies {
  const out: RolePolicies = {};
  for (const role of ROLES) {
    const block = blocks[role];
    if (block !== undefined) out[role] = resolveRole(block, role, [...path, role], keys, declared, issues);
  }
  return out;
}

/** One role block (`path` is where it sits) against loaded keys; problems go to `issues`. */
export function resolveRole(
  block: { keys: readonly string[]; threshold: number },
  role: string,
  path: PropertyKey[],
  keys: ReadonlyMap<string, TrustedKey>,
  declared: ReadonlySet<string>,
  issues: string[],
): RolePolicy {
  const keyIds = new Set<string>();
  let complete = true;
  for (const [i, name] of block.keys.entries()) {
    const key = keys.get(name);
    if (key === undefined) {
      complete = false;
      if (!declared.has(name)) issues.push(`${formatPath([...path, 'keys', i])}: unknown key "${name}"; add it under keys or fix the name`);
    } else {
      keyIds.add(key.keyId);
    }
  }
  // Only meaningful once every name resolved; otherwise the unknown-key issue says it all.
  if (complete && block.threshold > keyIds.size) {
    issues.push(
      `${formatPath([...path, 'threshold'])}: threshold ${block.threshold} is more than the ${keyIds.size} distinct key${keyIds.size === 1 ? '' : 's'} of the ${role} role; it could never be met`,
    );
  }
  return { keyIds, names: [...block.keys], threshold: block.threshold };
}

/** The role policy for an (app, env): its override when it has one, else the global role. */
export function rolePolicy(policy: TrustPolicy, app: string | undefined, env: string | undefined, role: Role): RolePolicy | undefined {
  const override = app === undefined || env === undefined ? undefined : policy.apps.get(trustScope(app, env))?.[role];
  return override ?? policy.roles[role];
}

/** The trusted key for a key id, if any. */
export function keyById(policy: TrustPolicy, keyId: string): TrustedKey | undefined {
  for (const key of policy.keys.values()) if (key.keyId === keyId) return key;
  return undefined;
}

/** Human names for key ids (all names a key has, joined by '/'); unknown ids as a short prefix. */
export function signerNames(policy: TrustPolicy, keyIds: Iterable<string>): string[] {
  const out: string[] = [];
  for (const id of keyIds) {
    const names = [...policy.keys].filter(([, key]) => key.keyId === id).map(([name]) => name);
    out.push(names.length > 0 ? names.join('/') : `${id.slice(0, 12)}…`);
  }
  return out;
}
