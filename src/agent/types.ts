/** Shapes shared by the agent's modules. */
import type { S3Client } from '@aws-sdk/client-s3';
import type { AgentConfig } from '../config/schema.ts';
import type { AgentState, AppState } from '../state/schema.ts';

export type AppConfig = AgentConfig['apps'][number];

/** The structured logger the agent writes to (pino's API, so pino loggers fit as they are). */
export interface Log {
  child(bindings: Record<string, unknown>): Log;
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

/** Owns the in-memory state and persists every change atomically before it is acted on. */
export interface StateKeeper {
  readonly state: AgentState;
  app(key: string): AppState;
  /**
   * Applies `fn` to a copy of the app's state, saves state.json, then reports the change. With
   * `bestEffort`, a save that fails still changes the state in memory (saved with the next one).
   */
  update(key: string, fn: (app: AppState) => AppState, options?: { readonly bestEffort?: boolean }): Promise<AppState>;
}

export interface DeployEnv {
  readonly hostId: string;
  readonly stateDir: string;
  readonly s3: S3Client;
  readonly bucket: string;
  /** source.s3.prefix, normalised ("" or ending in "/"). */
  readonly prefix: string;
  readonly limits: AgentConfig['limits'];
  readonly keeper: StateKeeper;
  readonly log: Log;
  /** Download stall watchdog window (default 30 s in the downloader). */
  readonly stallTimeoutMs?: number | undefined;
}

/** The app user: hooks and the health command run as it; it reads its releases and owns shared/. */
export interface Owner {
  uid: number;
  gid: number;
  home?: string;
  name?: string;
}
