/**
 * The metric families the agent exports, in a private prom-client Registry (never the global
 * one: nothing else in the process can add to or read from it), and the AgentObserver that moves
 * them. Everything here is in memory; serving and writing are server.ts and textfile.ts.
 *
 * No default process metrics (process_*, nodejs_*, prom-client's collectDefaultMetrics): their
 * event-loop-delay monitor wakes the process every 10 ms, for figures node_exporter's systemd
 * collector already has (the unit's memory and CPU). Their cost is measured by
 * bench/idle-metrics.ts (docs/performance.md).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentObserver, DeployOutcomeName, DeployPhase } from '../agent/observer.ts';

/** The states a status report can carry; each app has one series per state, 1 for the current. */
export const APP_STATES = ['idle', 'deploying', 'healthy', 'rolled-back', 'failed', 'pinned', 'waiting', 'halted'] as const;

/** Seconds: a phase takes from a few milliseconds (activate) to many minutes (a large fetch, a long bake). */
export const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

const PHASES: readonly DeployPhase[] = ['fetch', 'unpack', 'activate', 'health'];

export interface Families {
  readonly registry: Registry;
  /** Moves the families; `onChange` runs after every call that changed something. */
  observer(onChange: () => void): AgentObserver;
}

export function createFamilies(): Families {
  const registry = new Registry();
  const registers = [registry];
  const deploys = new Counter({
    name: 'hoist_deploys_total',
    help: 'Deploys that ended, by outcome (healthy, rolled-back, failed, aborted).',
    labelNames: ['app', 'env', 'outcome'] as const,
    registers,
  });
  const durations = new Histogram({
    name: 'hoist_deploy_duration_seconds',
    help: 'Seconds a deploy spent in each phase it reached (fetch, unpack, activate, health).',
    labelNames: ['app', 'env', 'phase'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const release = new Gauge({
    name: 'hoist_release_info',
    help: 'The release an app runs: 1, with its version and artifact sha256 as labels.',
    labelNames: ['app', 'env', 'version', 'sha256'] as const,
    registers,
  });
  const state = new Gauge({
    name: 'hoist_state',
    help: 'The state an app reports: 1 for the current state, 0 for the others.',
    labelNames: ['app', 'env', 'state'] as const,
    registers,
  });
  const rejected = new Counter({
    name: 'hoist_manifests_rejected_total',
    help: 'Manifests that failed verification, by error code.',
    labelNames: ['app', 'env', 'code'] as const,
    registers,
  });
  const lastPoll = new Gauge({
    name: 'hoist_last_poll_timestamp_seconds',
    help: 'Unix time of the last completed poll of S3 (0 until the first).',
    registers,
  });
  const trust = new Gauge({
    name: 'hoist_trust_expires_timestamp_seconds',
    help: 'Unix time the trust document in force expires (absent when it does not expire).',
    registers,
  });
  // absent until the agent says when (a 0 would read as "expired in 1970")
  trust.remove({});

  /** The release labels last exported per app, so a new release replaces its series. */
  const releases = new Map<string, { app: string; env: string; version: string; sha256: string }>();
  const states = new Map<string, Set<string>>();

  return {
    registry,
    observer(onChange) {
      return {
        deployFinished(app: string, env: string, outcome: DeployOutcomeName, phases: Partial<Record<DeployPhase, number>>) {
          deploys.inc({ app, env, outcome });
          for (const phase of PHASES) {
            const seconds = phases[phase];
            if (seconds !== undefined && Number.isFinite(seconds) && seconds >= 0) durations.observe({ app, env, phase }, seconds);
          }
          onChange();
        },
        releaseChanged(app, env, running) {
          const key = seriesKey(app, env);
          const old = releases.get(key);
          if (old !== undefined) release.remove(old);
          if (running === undefined) {
            releases.delete(key);
          } else {
            const labels = { app, env, version: running.version, sha256: running.sha256 };
            release.set(labels, 1);
            releases.set(key, labels);
          }
          onChange();
        },
        stateChanged(app, env, current) {
          const key = seriesKey(app, env);
          const known = states.get(key) ?? new Set<string>(APP_STATES);
          known.add(current);
          states.set(key, known);
          for (const s of known) state.set({ app, env, state: s }, s === current ? 1 : 0);
          onChange();
        },
        manifestRejected(app, env, code) {
          rejected.inc({ app, env, code });
          onChange();
        },
        polled(at) {
          lastPoll.set(at.getTime() / 1000);
          onChange();
        },
        trustExpires(at) {
          if (at === undefined) trust.remove({});
          else trust.set(at.getTime() / 1000);
          onChange();
        },
      };
    },
  };
}

function seriesKey(app: string, env: string): string {
  return JSON.stringify([app, env]);
}
