/**
 * Has a host converged? Pure: one report, its staleness, nothing else. A host has converged when
 * its report is readable and fresh, it is in a settled good state (healthy, pinned, or waiting for
 * its rollout step while it runs what it should), and it runs the release it desires. A host
 * outside the due cohort desires what it runs, so it counts as converged. Reports of older agents
 * carry no `desired`: for them the state alone decides.
 */
import type { StatusReport } from '../report/status.ts';

/** States in which a host runs a release it is content with. */
const SETTLED_STATES = new Set(['healthy', 'pinned', 'waiting']);

export interface Convergence {
  readonly converged: boolean;
  /** Why not, in a few words (`stale`, `rolled-back`, `runs 1.0.0, desires 2.0.0`); null when converged. */
  readonly reason: string | null;
}

export function convergence(report: StatusReport | null, stale: boolean): Convergence {
  if (report === null) return { converged: false, reason: 'unreadable report' };
  if (stale) return { converged: false, reason: 'stale report' };
  if (!SETTLED_STATES.has(report.state)) {
    const code = report.lastAttempt?.code;
    return { converged: false, reason: `${report.state}${code === null || code === undefined ? '' : ` (${code})`}` };
  }
  const desired = report.desired;
  if (desired !== null && desired !== undefined && report.current?.sha256 !== desired.sha256) {
    return { converged: false, reason: `runs ${report.current?.version ?? 'nothing'}, desires ${desired.version}` };
  }
  return { converged: true, reason: null };
}
