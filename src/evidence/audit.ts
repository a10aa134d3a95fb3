/**
 * `hoist audit`, pure: the evidence rows (history.ts) as an auditor reads them, one row per
 * manifest: what changed (version, digest), who built it (notes: by, commit, CI run), who signed
 * and approved it and when, when it first ran healthy, and on how many hosts with what outcome
 * (the hosts themselves with the time each one's event was written). CSV follows RFC 4180.
 */
import { toCsv } from './csv.ts';
import { approvalsText, OUTCOMES, signersText, type EvidenceRow } from './history.ts';

export const AUDIT_COLUMNS = [
  'app',
  'env',
  'kind',
  'sequence',
  'version',
  'sha256',
  'issued_at',
  'expires_at',
  'built_by',
  'commit',
  'ci_run',
  'other_notes',
  'rollout',
  'signers',
  'signatures_verified',
  'approvals',
  'first_healthy_at',
  'last_healthy_at',
  'hosts_healthy',
  'hosts_rolled_back',
  'hosts_failed',
  'hosts_halted',
  'hosts',
] as const;

const NOTE_COLUMNS = new Set(['by', 'commit', 'ciRun']);

function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString();
}

/** One record per manifest, in the order of AUDIT_COLUMNS. */
export function auditRecord(app: string, env: string, row: EvidenceRow): Array<string | number> {
  const note = (k: string): string => row.notes.find(([key]) => key === k)?.[1] ?? '';
  const other = row.notes.filter(([k]) => !NOTE_COLUMNS.has(k)).map(([k, v]) => `${k}=${v}`).join('; ');
  const hosts = OUTCOMES.flatMap((out) => (row.byOutcome.get(out) ?? []).map((r) => `${r.host} ${out} ${iso(r.at)}`.trim())).join('; ');
  return [
    app,
    env,
    row.kind,
    row.sequence,
    row.version ?? '',
    row.sha256 ?? '',
    iso(row.issuedAt),
    iso(row.expiresAt),
    note('by'),
    note('commit'),
    note('ciRun'),
    other,
    row.rollout ?? '',
    signersText(row) === '-' ? '' : signersText(row),
    row.verdict === 'unverified' ? 'not checked (no --trust)' : row.verdict === 'verified' ? 'yes' : 'NO',
    approvalsText(row) === '-' ? '' : approvalsText(row),
    iso(row.ran[0]?.at),
    iso(row.ran.at(-1)?.at),
    row.outcomes.healthy,
    row.outcomes['rolled-back'],
    row.outcomes.failed,
    row.outcomes.halted,
    hosts,
  ];
}

export function auditCsv(app: string, env: string, rows: readonly EvidenceRow[]): string {
  return toCsv(AUDIT_COLUMNS, rows.map((r) => auditRecord(app, env, r)));
}
