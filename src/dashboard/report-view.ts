/**
 * A status report as the dashboard reads it. Reports are unsigned and come from agents of every
 * version, so nothing is required beyond being a JSON object: each field is read on its own, a
 * mistyped one is left out, and a state this version does not know is kept as written (shown,
 * never dropped). Newer fields (`desired`, `rejected`, `skipped`, `trust`) are optional.
 */
import { number, record, text, time, type Json } from './untrusted.ts';

export interface ReportRelease {
  readonly version?: string;
  readonly sha256?: string;
  readonly sequence?: number;
  readonly since?: number;
  /** `release` or `pin` (desired only). */
  readonly kind?: string;
  /** A pin's reason (desired only). */
  readonly reason?: string;
}

export interface ReportAttempt {
  readonly version?: string;
  readonly outcome?: string;
  readonly code?: string;
  readonly message?: string;
  readonly at?: number;
}

export interface ReportRejected {
  readonly sequence?: number;
  readonly code?: string;
  readonly message?: string;
  readonly at?: number;
}

export interface ReportSkipped {
  readonly reason?: string;
  readonly eligibleAt?: number;
}

export interface ReportTrust {
  readonly version?: number;
  readonly expiresAt?: number;
}

export interface HostReport {
  readonly hostId?: string;
  readonly app?: string;
  readonly env?: string;
  /** As written; may be a state this version does not know. */
  readonly state?: string;
  readonly current?: ReportRelease;
  readonly desired?: ReportRelease;
  readonly lastAttempt?: ReportAttempt;
  readonly rejected?: ReportRejected;
  readonly skipped?: ReportSkipped;
  readonly trust?: ReportTrust;
  readonly agentVersion?: string;
  readonly updatedAt?: number;
}

const SHORT = 128;

/** Reads a parsed JSON value as a report; undefined when it is not a JSON object at all. */
export function readReport(value: unknown): HostReport | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({
    hostId: text(r.hostId, SHORT),
    app: text(r.app, SHORT),
    env: text(r.env, SHORT),
    state: text(r.state, 64),
    current: release(r.current),
    desired: release(r.desired),
    lastAttempt: attempt(r.lastAttempt),
    rejected: rejected(r.rejected),
    skipped: skipped(r.skipped),
    trust: trust(r.trust),
    agentVersion: text(r.agentVersion, 64),
    updatedAt: time(r.updatedAt),
  });
}

function release(value: unknown): ReportRelease | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({
    version: text(r.version, SHORT),
    sha256: text(r.sha256, SHORT),
    sequence: number(r.sequence),
    since: time(r.since),
    kind: text(r.kind, 32),
    reason: text(r.reason),
  });
}

function attempt(value: unknown): ReportAttempt | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({ version: text(r.version, SHORT), outcome: text(r.outcome, 64), code: text(r.code, SHORT), message: text(r.message), at: time(r.at) });
}

function rejected(value: unknown): ReportRejected | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({ sequence: number(r.sequence), code: text(r.code, SHORT), message: text(r.message), at: time(r.at) });
}

function skipped(value: unknown): ReportSkipped | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({ reason: text(r.reason, 64), eligibleAt: time(r.eligibleAt) });
}

function trust(value: unknown): ReportTrust | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({ version: number(r.version), expiresAt: time(r.expiresAt) });
}

/** Drops the undefined fields (exactOptionalPropertyTypes: absent, not undefined). */
function compact<T extends Json>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
