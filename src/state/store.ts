/**
 * Loading and saving `<stateDir>/state.json`, plus the pure helpers that build new states.
 * A state file that cannot be read as a valid state is never fatal: it is moved aside for a human
 * to inspect and the agent starts empty (the deploy logic then recovers from the releases on disk).
 */
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HoistError } from '../errors.ts';
import { formatIssues } from '../util/zod-units.ts';
import { fsyncDir, writeFileAtomic } from '../fs/atomic.ts';
import { removeStaleTemps } from '../fs/symlink.ts';
import { agentStateSchema } from './schema.ts';
import type { AgentState, AppState } from './schema.ts';

export const STATE_FILE = 'state.json';

export interface LoadedState {
  readonly state: AgentState;
  /** Where an unreadable state.json was moved to, when it was. */
  readonly recoveredFromCorrupt?: string;
  /** Why it was unreadable (parse error or schema issues), when it was. */
  readonly corruptReason?: string;
}

export interface LoadStateOptions {
  /** Clock for the name of the moved-aside file (tests). */
  readonly now?: () => Date;
  /**
   * For readers that do not hold the lock (`hoist status --local`): never move anything; an
   * invalid file throws HOIST_STATE_CORRUPT instead.
   */
  readonly readOnly?: boolean;
}

/** The key of an (app, env) pair in `AgentState.apps`. */
export function appKey(app: string, env: string): string {
  return `${app}/${env}`;
}

export function emptyState(): AgentState {
  return { schema: 1, apps: {} };
}

export function emptyAppState(): AppState {
  return { highWater: {}, failed: [], state: 'idle' };
}

/** The state of one app, or a fresh empty one when the agent has never managed it. */
export function getAppState(state: AgentState, key: string): AppState {
  return state.apps[key] ?? emptyAppState();
}

/** A new AgentState with `apps[key]` replaced by `fn(old or empty)`; `state` is not modified. */
export function withAppState(state: AgentState, key: string, fn: (app: AppState) => AppState): AgentState {
  return { ...state, apps: { ...state.apps, [key]: fn(getAppState(state, key)) } };
}

/** Most digests kept on the failed list: the oldest drop off, so the state file stays small. */
export const FAILED_LIST_MAX = 100;

/** Adds an artifact digest to the failed list (once), keeping the newest FAILED_LIST_MAX. */
export function withFailed(app: AppState, sha256: string): AppState {
  return app.failed.includes(sha256) ? app : { ...app, failed: [...app.failed, sha256].slice(-FAILED_LIST_MAX) };
}

/** Reads the state; a missing file is an empty state, an invalid one is moved aside. */
export async function loadState(stateDir: string, options: LoadStateOptions = {}): Promise<LoadedState> {
  const path = join(stateDir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
    throw new HoistError('HOIST_IO', `Could not read ${path}: ${(err as Error).message}.`, {
      cause: err,
      details: { path },
    });
  }
  const reason = invalidReason(text);
  if (reason.state !== undefined) return { state: reason.state };
  if (options.readOnly === true) {
    throw new HoistError('HOIST_STATE_CORRUPT', `${path} is invalid (${reason.why}); the agent moves it aside at its next start.`, {
      details: { path },
    });
  }

  const stamp = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const aside = `${path}.corrupt-${stamp}`;
  try {
    await rename(path, aside);
    await fsyncDir(stateDir);
  } catch (err) {
    throw new HoistError(
      'HOIST_STATE_CORRUPT',
      `${path} is invalid (${reason.why}) and could not be moved aside: ${(err as Error).message}. Move it away by hand.`,
      { cause: err, details: { path } },
    );
  }
  return { state: emptyState(), recoveredFromCorrupt: aside, corruptReason: reason.why };
}

/**
 * Removes temp files left by a saveState interrupted by a crash. Only the lock holder may call
 * it: another agent's temp file may be mid-write.
 */
export function removeStaleStateTemps(stateDir: string): Promise<string[]> {
  return removeStaleTemps(stateDir, `.${STATE_FILE}`);
}

/**
 * Writes the state atomically and durably: owned by the agent, readable by the group of stateDir
 * (the packages make it root:hoist, so members of `hoist` can run `hoist status --local`) and by
 * nobody else.
 */
export async function saveState(stateDir: string, state: AgentState): Promise<void> {
  // Validate before writing: persisting a state we could not load back would lose it at restart.
  const parsed = agentStateSchema.safeParse(state);
  if (!parsed.success) {
    throw new HoistError('HOIST_INTERNAL', `Refusing to save an invalid state: ${formatIssues(parsed.error).join('; ')}.`, {
      details: { issues: formatIssues(parsed.error) },
    });
  }
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new HoistError('HOIST_IO', `Could not create stateDir ${stateDir}: ${(err as Error).message}.`, {
      cause: err,
      details: { path: stateDir },
    });
  }
  const gid = (await stat(stateDir)).gid;
  await writeFileAtomic(join(stateDir, STATE_FILE), `${JSON.stringify(parsed.data, null, 2)}\n`, { mode: 0o640, gid });
}

function invalidReason(text: string): { state: AgentState; why?: undefined } | { state?: undefined; why: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { why: `not JSON: ${(err as Error).message}` };
  }
  const parsed = agentStateSchema.safeParse(json);
  if (!parsed.success) return { why: formatIssues(parsed.error).join('; ') };
  return { state: parsed.data };
}
