/**
 * Fleet status, pure: the status reports of one app and env turned into the table rows, the
 * summary and the convergence verdict `hoist status` prints and exits on. The clock, the stale
 * threshold and the forget threshold are parameters.
 */
import { KNOWN_STATES, type StatusReport } from '../report/status.ts';
import { formatDuration } from '../util/units.ts';
import { convergence } from './converge.ts';

/** The agent rewrites its report on every change and at least every 5 minutes: 3 intervals. */
export const DEFAULT_STALE_AFTER_MS = 15 * 60_000;

/** One object under status/<app>/<env>/, as fetched. */
export interface FetchedReport {
  readonly key: string;
  /** From the key name: `<host-id>.json`. */
  readonly hostId: string;
  readonly report?: StatusReport;
  /** Why it could not be read or parsed. */
  readonly error?: string;
}

export interface FleetHost {
  readonly hostId: string;
  readonly key: string;
  readonly report: StatusReport | null;
  readonly error: string | null;
  /** Age of updatedAt in ms (null when unknown). */
  readonly ageMs: number | null;
  readonly stale: boolean;
  readonly converged: boolean;
  /** Why the host has not converged; null when it has. */
  readonly notConverged: string | null;
}

export interface FleetSummary {
  readonly hosts: number;
  /** version → number of hosts running it (`-` for none). */
  readonly versions: Record<string, number>;
  /** Every known state (0 when none), then any other state a report carried, as it is. */
  readonly states: Record<string, number>;
  readonly stale: string[];
  readonly unreadable: string[];
  /** True when every shown host runs its desired release healthy and none is stale. */
  readonly converged: boolean;
  readonly notConverged: Array<{ hostId: string; reason: string }>;
  /** Reports hidden by --forget-after (older than it: terminated hosts). */
  readonly forgotten: string[];
}

export interface FleetStatus {
  readonly hosts: FleetHost[];
  readonly summary: FleetSummary;
}

export interface SummarizeOptions {
  readonly staleAfterMs?: number;
  /** Hide reports older than this (terminated hosts); undefined: hide none. */
  readonly forgetAfterMs?: number | undefined;
}

export function summarizeFleet(reports: readonly FetchedReport[], now: number, options: SummarizeOptions | number = {}): FleetStatus {
  const { staleAfterMs = DEFAULT_STALE_AFTER_MS, forgetAfterMs } = typeof options === 'number' ? { staleAfterMs: options } : options;
  const forgotten: string[] = [];
  const hosts: FleetHost[] = [];
  for (const r of reports) {
    if (r.report === undefined) {
      const c = convergence(null, false);
      hosts.push({ hostId: r.hostId, key: r.key, report: null, error: r.error ?? 'unreadable', ageMs: null, stale: false, converged: c.converged, notConverged: c.reason });
      continue;
    }
    const updated = Date.parse(r.report.updatedAt);
    const ageMs = Number.isFinite(updated) ? Math.max(0, now - updated) : null;
    if (forgetAfterMs !== undefined && ageMs !== null && ageMs > forgetAfterMs) {
      forgotten.push(r.report.hostId);
      continue;
    }
    const stale = ageMs === null || ageMs > staleAfterMs;
    const c = convergence(r.report, stale);
    hosts.push({ hostId: r.report.hostId, key: r.key, report: r.report, error: null, ageMs, stale, converged: c.converged, notConverged: c.reason });
  }
  hosts.sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : a.key < b.key ? -1 : 1));

  const states: Record<string, number> = Object.fromEntries(KNOWN_STATES.map((s) => [s, 0]));
  const versions: Record<string, number> = {};
  for (const h of hosts) {
    if (h.report === null) continue;
    states[h.report.state] = (states[h.report.state] ?? 0) + 1;
    const v = h.report.current?.version ?? '-';
    versions[v] = (versions[v] ?? 0) + 1;
  }
  const notConverged = hosts.filter((h) => !h.converged).map((h) => ({ hostId: h.hostId, reason: h.notConverged ?? 'not converged' }));
  return {
    hosts,
    summary: {
      hosts: hosts.length,
      versions,
      states,
      stale: hosts.filter((h) => h.stale).map((h) => h.hostId),
      unreadable: hosts.filter((h) => h.report === null).map((h) => h.hostId),
      converged: notConverged.length === 0,
      notConverged,
      forgotten: forgotten.sort(),
    },
  };
}

/** `CODE: message`, cut to `max` characters with an ellipsis. */
export function lastError(report: StatusReport, max = 60): string {
  const a = report.lastAttempt;
  if (a === null || (a.code === null && a.message === null)) return '-';
  const text = [a.code, a.message].filter((p) => p !== null && p !== '').join(': ');
  return shorten(text, max);
}

/** DESIRED: the version the host should run (`?` when its agent does not report it). */
export function desiredCell(report: StatusReport): string {
  const d = report.desired;
  if (d === null || d === undefined) return '?';
  return d.kind === 'pin' ? `${d.version} (pin)` : d.version;
}

/** The pin's reason when the host desires a pinned release. */
export function pinReason(report: StatusReport, max = 40): string {
  const d = report.desired;
  if (d === null || d === undefined || d.kind !== 'pin') return '-';
  return d.reason === null || d.reason === undefined || d.reason === '' ? '-' : shorten(d.reason, max);
}

export const TABLE_HEADERS = ['HOST', 'VERSION', 'DESIRED', 'STATE', 'PIN REASON', 'LAST ERROR', 'AGE'] as const;

export function tableRows(status: FleetStatus): string[][] {
  return status.hosts.map((h) => {
    if (h.report === null) return [h.hostId, '?', '?', 'unreadable', '-', shorten(h.error ?? '', 60), '-'];
    const age = h.ageMs === null ? '?' : formatDuration(h.ageMs);
    return [h.hostId, h.report.current?.version ?? '-', desiredCell(h.report), h.report.state, pinReason(h.report), lastError(h.report), h.stale ? `${age} STALE` : age];
  });
}

/** One line per host with a rejected manifest or a skipped target. */
export function noticeLines(status: FleetStatus, now: number): string[] {
  const lines: string[] = [];
  for (const h of status.hosts) {
    const rejected = h.report?.rejected;
    if (rejected !== null && rejected !== undefined) {
      const seq = rejected.sequence === null || rejected.sequence === undefined ? '' : ` sequence ${rejected.sequence}`;
      const when = ago(rejected.at, now);
      lines.push(`rejected: ${h.hostId}${seq} ${rejected.code}${rejected.message === null || rejected.message === undefined ? '' : `: ${shorten(rejected.message, 100)}`}${when}`);
    }
    const skipped = h.report?.skipped;
    if (skipped !== null && skipped !== undefined) {
      const until = skipped.eligibleAt === null || skipped.eligibleAt === undefined ? '' : ` (eligible at ${skipped.eligibleAt})`;
      lines.push(`skipped: ${h.hostId} ${skipped.reason}${until}`);
    }
  }
  return lines;
}

function ago(at: string | null | undefined, now: number): string {
  if (at === null || at === undefined) return '';
  const t = Date.parse(at);
  return Number.isFinite(t) ? ` (${formatDuration(Math.max(0, now - t))} ago)` : '';
}

/** The lines under the table. */
export function summaryLines(status: FleetStatus, staleAfterMs: number = DEFAULT_STALE_AFTER_MS): string[] {
  const s = status.summary;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const versions = Object.entries(s.versions)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([v, n]) => `${v} on ${plural(n, 'host')}`);
  const order = ['healthy', 'rolled-back', 'failed', 'pinned', 'deploying', 'idle', 'waiting', 'halted'];
  const others = Object.keys(s.states).filter((st) => !order.includes(st)).sort();
  const lines = [
    `${plural(s.hosts, 'host')}; versions: ${versions.length === 0 ? 'none' : versions.join(', ')}`,
    `states: ${[...order, ...others].map((st) => `${st} ${s.states[st] ?? 0}`).join(', ')}`,
  ];
  if (s.stale.length > 0) lines.push(`STALE: ${s.stale.join(', ')} (no report for over ${formatDuration(staleAfterMs)}; is the agent running?)`);
  if (s.unreadable.length > 0) lines.push(`unreadable reports: ${s.unreadable.join(', ')}`);
  if (s.forgotten.length > 0) lines.push(`hidden: ${plural(s.forgotten.length, 'report')} older than --forget-after (${s.forgotten.join(', ')})`);
  lines.push(
    s.converged
      ? `converged: every host runs its desired release healthy`
      : `not converged: ${s.notConverged.map((n) => `${n.hostId} (${n.reason})`).join(', ')}`,
  );
  return lines;
}

/** The `--json` shape: every report with its stale and convergence flags, and the summary. */
export function fleetJson(status: FleetStatus): { hosts: Array<Record<string, unknown>>; summary: FleetSummary } {
  return {
    hosts: status.hosts.map((h) =>
      h.report === null
        ? { hostId: h.hostId, key: h.key, error: h.error, stale: h.stale, converged: false, notConverged: h.notConverged }
        : { ...h.report, stale: h.stale, ageMs: h.ageMs, converged: h.converged, notConverged: h.notConverged },
    ),
    summary: status.summary,
  };
}

function shorten(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** The whole text output of `hoist status` (fleet mode): the table, notices, a blank line, the summary. */
export function renderFleetText(
  status: FleetStatus,
  renderTable: (headers: readonly string[], rows: ReadonlyArray<readonly string[]>) => string,
  staleAfterMs: number = DEFAULT_STALE_AFTER_MS,
  now: number = Date.now(),
): string {
  const notices = noticeLines(status, now);
  return `${renderTable(TABLE_HEADERS, tableRows(status))}${notices.length === 0 ? '' : `${notices.join('\n')}\n`}\n${summaryLines(status, staleAfterMs).join('\n')}\n`;
}
