/**
 * What the agent tells the outside about itself besides its logs: typed calls the entry point
 * maps to metrics (src/metrics/) or anything else. The agent never depends on who listens; the
 * default observer does nothing.
 */

/** Deploy phases timed separately (the `phase` label of hoist_deploy_duration_seconds). */
export type DeployPhase = 'fetch' | 'unpack' | 'activate' | 'health';

/** Final outcomes of one deploy (the `outcome` label of hoist_deploys_total). */
export type DeployOutcomeName = 'healthy' | 'rolled-back' | 'failed' | 'aborted';

export interface AgentObserver {
  /** A deploy ended; `phases` holds the seconds spent in each phase it reached. */
  deployFinished(app: string, env: string, outcome: DeployOutcomeName, phases: Partial<Record<DeployPhase, number>>): void;
  /** What the app runs now (after a commit, a rollback, or at start). */
  releaseChanged(app: string, env: string, release: { readonly version: string; readonly sha256: string } | undefined): void;
  /** The app's reported state (`healthy`, `deploying`, `waiting`, …). */
  stateChanged(app: string, env: string, state: string): void;
  /** A manifest failed verification with this error code. */
  manifestRejected(app: string, env: string, code: string): void;
  /** A poll of S3 (channels and pins) completed, at this time. */
  polled(at: Date): void;
  /** When the trust document in force expires (undefined: it does not, or there is none). */
  trustExpires(at: Date | undefined): void;
}

export const NO_OBSERVER: AgentObserver = {
  deployFinished: () => undefined,
  releaseChanged: () => undefined,
  stateChanged: () => undefined,
  manifestRejected: () => undefined,
  polled: () => undefined,
  trustExpires: () => undefined,
};
