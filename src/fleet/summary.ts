/**
 * Fleet status, pure: the status reports of one app and env turned into the table
 * rows and the summary `hoist status` prints. The clock and the stale threshold are parameters.
 */
import type { StatusReport } from '../report/status.ts';
import { appStates } from '../state/schema.ts';
import { formatDuration } from '../util/units.ts';

/** The agent rewrites its report on every change and at least every 5 minutes: 3 intervals. */
export const DEFAULT_STALE_AFTER_MS = 15 * 60_000;

export type FleetState = (typeof appStates)[number];

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
}

export interface FleetSummary {
  readonly hosts: number;
  /** version → number of hosts running it (`-` for none). */
  readonly versions: Record<string, number>;
  readonly states: Record<FleetState, number>;
  readonly stale: string[];
  readonly unreadable: string[];
}

export interface FleetStatus {
  readonly hosts: FleetHost[];
  readonly summary: FleetSummary;
}

export function summarizeFleet(reports: readonly FetchedReport[], now: number, staleAfterMs: number = DEFAULT_STALE_AFTER_MS): FleetStatus {
  const hosts: FleetHost[] = reports
    .map((r): FleetHost => {
      if (r.report === undefined) {
        return { hostId: r.hostId, key: r.key, report: null, error: r.error ?? 'unreadable', ageMs: null, stale: false };
      }
      const updated = Date.parse(r.report.updatedAt);
      const ageMs = Number.isFinite(updated) ? Math.max(0, now - updated) : null;
      return { hostId: r.report.hostId, key: r.key, report: r.report, error: null, ageMs, stale: ageMs === null || ageMs > staleAfterMs };
    })
    .sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : a.key < b.key ? -1 : 1));

  const states = Object.fromEntries(appStates.map((s) => [s, 0])) as Record<FleetState, number>;
  const versions: Record<string, number> = {};
  for (const h of hosts) {
    if (h.report === null) continue;
    states[h.report.state] += 1;
    const v = h.report.current?.version ?? '-';
    versions[v] = (versions[v] ?? 0) + 1;
  }
  return {
    hosts,
    summary: {
      hosts: hosts.length,
      versions,
      states,
      stale: hosts.filter((h) => h.stale).map((h) => h.hostId),
      unreadable: hosts.filter((h) => h.report === null).map((h) => h.hostId),
    },
  };
}

/** `CODE: message`, cut to `max` characters with an ellipsis. */
export function lastError(report: StatusReport, max = 60): string {
  const a = report.lastAttempt;
  if (a === null || (a.code === null && a.message === null)) return '-';
  const text = [a.code, a.message].filter((p) => p !== null && p !== '').join(': ');
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

export const TABLE_HEADERS = ['HOST', 'VERSION', 'STATE', 'LAST ERROR', 'AGE'] as const;

export function tableRows(status: FleetStatus): string[][] {
  return status.hosts.map((h) => {
    if (h.report === null) return [h.hostId, '?', 'unreadable', shorten(h.error ?? '', 60), '-'];
    const age = h.ageMs === null ? '?' : formatDuration(h.ageMs);
    return [h.hostId, h.report.current?.version ?? '-', h.report.state, lastError(h.report), h.stale ? `${age} STALE` : age];
  });
}

/** The lines under the table. */
export function summaryLines(status: FleetStatus, staleAfterMs: number = DEFAULT_STALE_AFTER_MS): string[] {
  const s = status.summary;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const versions = Object.entries(s.versions)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([v, n]) => `${v} on ${plural(n, 'host')}`);
  const lines = [
    `${plural(s.hosts, 'host')}; versions: ${versions.length === 0 ? 'none' : versions.join(', ')}`,
    `states: ${(['healthy', 'rolled-back', 'failed', 'pinned', 'deploying', 'idle'] as const).map((st) => `${st} ${s.states[st]}`).join(', ')}`,
  ];
  if (s.stale.length > 0) lines.push(`STALE: ${s.stale.join(', ')} (no report for over ${formatDuration(staleAfterMs)}; is the agent running?)`);
  if (s.unreadable.length > 0) lines.push(`unreadable reports: ${s.unreadable.join(', ')}`);
  return lines;
}

/** The `--json` shape: every report with its stale flag, and the summary. */
export function fleetJson(status: FleetStatus): { hosts: Array<Record<string, unknown>>; summary: FleetSummary } {
  return {
    hosts: status.hosts.map((h) =>
      h.report === null ? { hostId: h.hostId, key: h.key, error: h.error, stale: h.stale } : { ...h.report, stale: h.stale, ageMs: h.ageMs },
    ),
    summary: status.summary,
  };
}

function shorten(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** The whole text output of `hoist status` (fleet mode): the table, a blank line, the summary. */
export function renderFleetText(status: FleetStatus, renderTable: (headers: readonly string[], rows: ReadonlyArray<readonly string[]>) => string, staleAfterMs: number = DEFAULT_STALE_AFTER_MS): string {
  return `${renderTable(TABLE_HEADERS, tableRows(status))}\n${summaryLines(status, staleAfterMs).join('\n')}\n`;
}
