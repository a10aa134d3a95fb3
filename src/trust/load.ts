/**
 * Reads a `--trust FILE` (or a `hoist trust publish` policy): YAML or JSON shaped like the `trust:`
 * block, optionally with an `apps:` mapping of `app/env` to overrides, or a whole agent config
 * whose `trust:` block (and `apps[].trust` overrides) is used.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { HoistError } from '../errors.ts';
import { formatPath, zNamedMap } from '../util/zod-units.ts';
import { resolveTrustPolicy, trustScope, type TrustPolicy } from './policy.ts';
import { appTrustSchema, trustBlockSchema, type AppTrustBlock } from './schema.ts';

const SCOPE_RE = /^[A-Za-z0-9._-]{1,64}\/[A-Za-z0-9._-]{1,64}$/;
const appOverridesSchema = zNamedMap(
  z.string().refine((s) => SCOPE_RE.test(s) && !s.split('/').some((p) => p === '.' || p === '..'), 'expected "app/env"'),
  appTrustSchema,
);

export async function loadTrustFile(path: string): Promise<TrustPolicy> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new HoistError('HOIST_CONFIG_READ', `cannot read trust file ${file}: ${(cause as Error).message}`, { cause, details: { path: file } });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new HoistError('HOIST_CONFIG_READ', `trust file ${file} is not valid YAML or JSON: ${(cause as Error).message}`, { cause, details: { path: file } });
  }

  // An agent config is recognised by its top-level `trust:` key.
  const agentConfig = isRecord(doc) && 'trust' in doc ? doc : undefined;
  const base: PropertyKey[] = agentConfig ? ['trust'] : [];
  const issues: string[] = [];
  // A plain trust file may carry its overrides as `apps: { "web/prod": { roles: … } }`.
  const { apps: appMap, ...rest } = !agentConfig && isRecord(doc) ? doc : { apps: undefined };
  const block = trustBlockSchema.safeParse(agentConfig ? agentConfig.trust : isRecord(doc) ? rest : doc);
  if (!block.success) issues.push(...prefixed(block.error, base));

  const apps = new Map<string, AppTrustBlock>();
  const appPaths = new Map<string, PropertyKey[]>();
  if (appMap !== undefined) {
    const parsed = appOverridesSchema.safeParse(appMap);
    if (parsed.success) {
      for (const [scope, override] of parsed.data) {
        apps.set(scope, override);
        appPaths.set(scope, ['apps', scope, 'trust']);
      }
    } else {
      issues.push(...prefixed(parsed.error, ['apps']));
    }
  }
  if (agentConfig && Array.isArray(agentConfig.apps)) {
    for (const [i, app] of (agentConfig.apps as unknown[]).entries()) {
      if (!isRecord(app) || app.trust === undefined) continue;
      const path = ['apps', i, 'trust'];
      if (typeof app.name !== 'string' || typeof app.env !== 'string') {
        issues.push(`${formatPath(['apps', i, typeof app.name !== 'string' ? 'name' : 'env'])}: an app with a trust override needs a name and an env`);
        continue;
      }
      const parsed = appTrustSchema.safeParse(app.trust);
      if (!parsed.success) {
        issues.push(...prefixed(parsed.error, path));
        continue;
      }
      apps.set(trustScope(app.name, app.env), parsed.data);
      appPaths.set(trustScope(app.name, app.env), path);
    }
  }
  if (!block.success || issues.length > 0) {
    throw new HoistError('HOIST_CONFIG_INVALID', `trust file ${file} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}); fix each path listed`, {
      details: { path: file, issues },
    });
  }
  try {
    return await resolveTrustPolicy(block.data, { baseDir: dirname(file), apps, path: base, appPaths });
  } catch (error) {
    if (error instanceof HoistError && error.code === 'HOIST_CONFIG_INVALID') {
      throw new HoistError('HOIST_CONFIG_INVALID', `trust file ${file}: ${error.message}`, { cause: error, details: { path: file, ...error.details } });
    }
    throw error;
  }
}

function prefixed(error: z.ZodError, base: PropertyKey[]): string[] {
  return error.issues.map((issue) => `${formatPath([...base, ...issue.path])}: ${issue.message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
