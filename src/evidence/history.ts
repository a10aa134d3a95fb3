/**
 * Change evidence, pure: one row per manifest of `history/` (releases and pins, newest first) with
 * who built it (its signed notes), who signed it and who approved it when (named through the trust
 * policy, each signature checked), and from `events/` which hosts ran it from when and with what
 * outcome. `hoist history` prints these rows; `hoist audit` adds the host list and writes CSV.
 */
import { readEnvelope, signersOf, type Signer } from '../dashboard/manifest-view.ts';
import { rolloutText } from '../dashboard/history-view.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import { checkApproval, roleSignatures, type CheckedApproval } from './approvals.ts';
import type { Evidence } from './read.ts';

export const OUTCOMES = ['healthy', 'rolled-back', 'failed', 'halted'] as const;

export interface HostRun {
  readonly host: string;
  /** When its event was written (S3's clock), ms. */
  readonly at: number | null;
}

export interface EvidenceRow {
  readonly key: string;
  readonly kind: 'release' | 'pin' | 'unpin' | 'unreadable';
  readonly sequence: number;
  readonly version: string | null;
  readonly sha256: string | null;
  readonly issuedAt: number | null;
  readonly expiresAt: number | null;
  /** Signature by signature: the key's name when the policy knows it, and whether it verifies. */
  readonly signers: readonly Signer[];
  /** The signed approval statements, oldest first. */
  readonly approvals: readonly CheckedApproval[];
  /**
   * With a policy: `verified` when the role's threshold is met by verified signatures and
   * approvals, `incomplete` when not; `unverified` without a policy.
   */
  readonly verdict: 'verified' | 'incomplete' | 'unverified';
  readonly notes: ReadonlyArray<readonly [string, string]>;
  readonly rollout: string | null;
  readonly reason: string | null;
  readonly hosts: readonly string[] | null;
  /** Hosts per outcome, from events/. */
  readonly outcomes: Readonly<Record<(typeof OUTCOMES)[number], number>>;
  /** The hosts that ran it healthy, earliest first. */
  readonly ran: readonly HostRun[];
  /** The hosts of every outcome, by outcome. */
  readonly byOutcome: ReadonlyMap<string, readonly HostRun[]>;
  readonly error: string | null;
}

export interface RowsOptions {
  readonly app: string;
  readonly env: string;
  readonly policy?: TrustPolicy | undefined;
  /** Keep manifests issued at or after this (ms). */
  readonly since?: number | undefined;
}

export function evidenceRows(evidence: Evidence, o: RowsOptions): EvidenceRow[] {
  const rows: EvidenceRow[] = [];
  for (const entry of evidence.entries) {
    const outcomes = evidence.events.get(entry.sequence) ?? new Map<string, readonly HostRun[]>();
    const byOutcome = new Map([...outcomes].map(([outcome, runs]) => [outcome, [...runs].sort(byTime)] as const));
    const counts = Object.fromEntries(OUTCOMES.map((out) => [out, new Set((byOutcome.get(out) ?? []).map((r) => r.host)).size])) as Record<(typeof OUTCOMES)[number], number>;
    const ran = byOutcome.get('healthy') ?? [];
    const base = { key: entry.key, sequence: entry.sequence, outcomes: counts, ran, byOutcome };
    const read = entry.bytes === undefined ? { error: entry.error ?? 'unreadable' } : readEnvelope(entry.bytes);
    if ('error' in read) {
      if (o.since === undefined) rows.push({ ...base, kind: 'unreadable', version: null, sha256: null, issuedAt: null, expiresAt: null, signers: [], approvals: [], verdict: 'unverified', notes: [], rollout: null, reason: null, hosts: null, error: read.error });
      continue;
    }
    const info = read.info;
    if (o.since !== undefined && (info.issuedAt ?? 0) < o.since) continue;
    const approvals =
      entry.kind === 'release'
        ? (evidence.approvals.get(entry.sequence) ?? []).map((bytes) => checkApproval(bytes, { app: o.app, env: o.env, sequence: entry.sequence, sha256: info.sha256 }, o.policy)).sort((a, b) => (a.at ?? 0) - (b.at ?? 0))
        : [];
    const verdict = o.policy === undefined ? 'unverified' : roleSignatures(read.envelope, o, approvals, o.policy, entry.kind).complete ? 'verified' : 'incomplete';
    const mismatch = info.sequence !== entry.sequence ? `the key says sequence ${entry.sequence} but the manifest says ${info.sequence ?? 'none'}` : info.app !== o.app || info.env !== o.env ? `the manifest is for ${info.app ?? '?'}/${info.env ?? '?'}` : null;
    rows.push({
      ...base,
      kind: entry.kind === 'pin' ? (info.unpin ? 'unpin' : 'pin') : 'release',
      version: info.version ?? null,
      sha256: info.sha256 ?? null,
      issuedAt: info.issuedAt ?? null,
      expiresAt: info.expiresAt ?? null,
      signers: signersOf(read.envelope, o.policy),
      approvals,
      verdict: mismatch === null ? verdict : 'incomplete',
      notes: info.notes,
      rollout: entry.kind === 'release' ? rolloutText(info) : null,
      reason: info.reason ?? null,
      hosts: info.hosts ?? null,
      error: mismatch,
    });
  }
  return rows;
}

function byTime(a: HostRun, b: HostRun): number {
  return (a.at ?? Number.MAX_SAFE_INTEGER) - (b.at ?? Number.MAX_SAFE_INTEGER) || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);
}

/** `ci (verified), alice (verified)`; a signature that does not verify says so. */
export function signersText(row: EvidenceRow): string {
  return row.signers.map((s) => (s.status === 'verified' || s.status === 'unverified' ? s.name : `${s.name} (${s.status})`)).join(', ') || '-';
}

/** `alice 2026-12-01T10:00:00Z`, one per approval; a statement that does not check out says why. */
export function approvalsText(row: EvidenceRow): string {
  return (
    row.approvals
      .map((a) => `${a.name} ${a.at === null ? '(no time)' : new Date(a.at).toISOString()}${a.status === 'verified' || a.status === 'unverified' ? '' : ` (${a.status})`}`)
      .join(', ') || '-'
  );
}

/** `healthy 23, rolled-back 2` (outcomes with hosts only). */
export function outcomesText(row: EvidenceRow): string {
  return OUTCOMES.filter((out) => row.outcomes[out] > 0).map((out) => `${out} ${row.outcomes[out]}`).join(', ') || '-';
}

/**
 * The notes a reader of the history looks for (`commit=… by=…`); `unpackedBytes`, the size agents
 * check free space against, is left to `--json` and `hoist audit`.
 */
export function notesText(row: EvidenceRow): string {
  return row.notes.filter(([k]) => k !== 'unpackedBytes').map(([k, v]) => `${k}=${v}`).join(' ') || '-';
}

/** The `--json` shape of a row. */
export function rowJson(row: EvidenceRow, withHosts: boolean): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    sequence: row.sequence,
    kind: row.kind,
    version: row.version,
    sha256: row.sha256,
    issuedAt: iso(row.issuedAt),
    expiresAt: iso(row.expiresAt),
    signers: row.signers,
    approvals: row.approvals.map((a) => ({ name: a.name, keyId: a.keyId, at: iso(a.at), status: a.status })),
    verdict: row.verdict,
    notes: Object.fromEntries(row.notes),
    rollout: row.rollout,
    ...(row.kind === 'pin' || row.kind === 'unpin' ? { reason: row.reason, pinnedHosts: row.hosts } : {}),
    outcomes: row.outcomes,
    firstHealthyAt: iso(row.ran[0]?.at ?? null),
    ...(withHosts ? { hosts: Object.fromEntries([...row.byOutcome].map(([out, runs]) => [out, runs.map((r) => ({ host: r.host, at: iso(r.at) }))])) } : {}),
    ...(row.error === null ? {} : { error: row.error }),
    key: row.key,
  };
}
