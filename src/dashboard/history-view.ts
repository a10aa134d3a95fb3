/**
 * The history table, pure: the newest manifests of history/ with who signed and approved each,
 * checked against the trust policy when one is given.
 */
import { approvalOf, signersOf, type Approval, type ManifestInfo, type Signer } from './manifest-view.ts';
import { planRollout } from './rollout.ts';
import { manifestInfo, isEnvelope, type AppEnvSnapshot } from './snapshot.ts';
import type { ViewContext } from './view.ts';

export interface HistoryRow {
  readonly key: string;
  readonly sequence: number;
  readonly kind: 'release' | 'pin' | 'unpin' | 'unreadable';
  readonly version: string | null;
  readonly sha12: string | null;
  readonly issuedAt: number | null;
  readonly signers: readonly Signer[];
  /** The signed approval statements of approvals/, oldest first. */
  readonly approvals: readonly Approval[];
  readonly notes: ReadonlyArray<readonly [string, string]>;
  readonly reason: string | null;
  readonly rollout: string | null;
  readonly current: boolean;
  readonly error: string | null;
}

/** `100%`, or the steps: `5% now, 25% after 30m, 100% after 2h`. */
export function rolloutText(info: ManifestInfo): string | null {
  const plan = planRollout(info.rollout, info.issuedAt);
  if (plan.kind === 'invalid') return `unreadable rollout: ${plan.reason}`;
  if (plan.kind === 'percent') return `${plan.steps[0].percent}%`;
  const raw = Array.isArray(info.rollout?.steps) ? info.rollout.steps : [];
  return plan.steps
    .map((s, i) => {
      const after = (raw[i] as { after?: unknown } | undefined)?.after;
      return `${s.percent}% ${typeof after === 'string' && !/^0+(?:\.0+)?(?:ms|s|m|h|d)$/.test(after) ? `after ${after}` : 'at once'}`;
    })
    .join(', ');
}

export function historyRows(data: AppEnvSnapshot, ctx: ViewContext): HistoryRow[] {
  const channel = manifestInfo(data.channel);
  const pin = manifestInfo(data.pin);
  return data.history.map((h): HistoryRow => {
    const base = { key: h.key, sequence: h.sequence, version: null, sha12: null, issuedAt: null, signers: [], approvals: [], notes: [], reason: null, rollout: null, current: false };
    const object = h.object;
    if (!isEnvelope(object)) return { ...base, kind: 'unreadable', error: object.error };
    if (!('info' in object.read)) return { ...base, kind: 'unreadable', error: object.read.error };
    const info = object.read.info;
    const kind = h.kind === 'pin' ? (info.unpin ? 'unpin' : 'pin') : 'release';
    const holder = h.kind === 'pin' ? pin : channel;
    return {
      key: h.key,
      sequence: h.sequence,
      kind,
      version: info.version ?? null,
      sha12: info.sha256?.slice(0, 12) ?? null,
      issuedAt: info.issuedAt ?? null,
      signers: signersOf(object.read.envelope, ctx.policy),
      approvals: (h.approvals ?? [])
        .map((a) => approvalOf(a.read, { app: data.app, env: data.env, sequence: h.sequence, sha256: info.sha256 }, ctx.policy))
        .sort((a, b) => (a.at ?? 0) - (b.at ?? 0)),
      notes: info.notes,
      reason: info.reason ?? null,
      rollout: h.kind === 'release' ? rolloutText(info) : null,
      current: holder?.sequence === h.sequence,
      error: info.sequence !== h.sequence ? `the key says sequence ${h.sequence} but the manifest says ${info.sequence ?? 'none'}` : null,
    };
  });
}
