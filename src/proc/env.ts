/**
 * The environment hooks, restart commands and health commands see: a small, predictable base taken
 * from the agent's own environment, plus the HOIST_* variables describing the deploy.
 *
 * Passed through from the agent (when set): PATH, LANG, LANGUAGE, LC_ALL, LC_CTYPE, TZ, TMPDIR,
 * HOME, USER, LOGNAME. PATH falls back to the usual system directories. When the command runs as
 * another user, HOME/USER/LOGNAME are that user's (or left out), never the agent's.
 * Everything else (AWS credentials, NODE_OPTIONS, …) is deliberately not inherited.
 */

export const BASE_ENV_KEYS = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'HOME',
  'USER',
  'LOGNAME',
] as const;

const USER_KEYS = new Set<string>(['HOME', 'USER', 'LOGNAME']);
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EnvUser {
  readonly home?: string;
  readonly name?: string;
}

/** The base environment; `user` set means the command runs as someone other than the agent. */
export function baseEnv(
  source: NodeJS.ProcessEnv = process.env,
  user?: EnvUser,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of BASE_ENV_KEYS) {
    if (user !== undefined && USER_KEYS.has(key)) continue;
    const value = source[key];
    if (value !== undefined) env[key] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  if (user?.home !== undefined) env.HOME = user.home;
  if (user?.name !== undefined) {
    env.USER = user.name;
    env.LOGNAME = user.name;
  }
  return env;
}

export interface HookInfo {
  readonly app: string;
  readonly env: string;
  readonly version: string;
  readonly releaseDir: string;
  readonly previousDir?: string;
}

/**
 * HOIST_APP, HOIST_ENV, HOIST_VERSION, HOIST_RELEASE_DIR and HOIST_PREVIOUS_DIR. The last is the
 * empty string on a first deploy, so scripts under `set -u` still run.
 */
export function hookEnv(info: HookInfo): Record<string, string> {
  return {
    HOIST_APP: info.app,
    HOIST_ENV: info.env,
    HOIST_VERSION: info.version,
    HOIST_RELEASE_DIR: info.releaseDir,
    HOIST_PREVIOUS_DIR: info.previousDir ?? '',
  };
}
