/**
 * The last check before a release is activated: its rollout's fleet-wide halt. For a release
 * whose rollout carries `halt`, the failure events of its sequence are read (halt-check.ts) and
 * judged (src/rollout/halt.ts); at or over the limit the host does not activate it, remembers the
 * sequence as halted (so it does not read again: a halted rollout resumes only through a new
 * manifest), writes its `halted` event and reports `halted`.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { toHoistError, type HoistError } from '../errors.ts';
import { checkHalt } from './halt-check.ts';
import { haltDecision, type Decision, type ManifestView } from './decide.ts';
import type { EventWriter } from './events.ts';
import type { Log, StateKeeper } from './types.ts';

export interface GateContext {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly key: string;
  readonly app: { readonly name: string; readonly env: string };
  /** The verified channel release the decision may have picked. */
  readonly release: ManifestView | undefined;
  readonly now: Date;
  readonly keeper: StateKeeper;
  readonly events: EventWriter;
  readonly log: Log;
  readonly signal?: AbortSignal | undefined;
}

/** The decision after the halt check; `error` when the events could not be read (nothing is activated). */
export async function gateOnHalt(ctx: GateContext, decision: Decision): Promise<{ decision: Decision } | { error: HoistError }> {
  if (decision.action !== 'deploy' || decision.target.kind !== 'release' || ctx.release === undefined || ctx.release.sequence !== decision.target.sequence) return { decision };
  if (ctx.release.rollout?.halt === undefined) return { decision };
  let gated: Decision;
  try {
    const verdict = await checkHalt({ s3: ctx.s3, bucket: ctx.bucket, prefix: ctx.prefix, app: ctx.app.name, env: ctx.app.env, release: ctx.release, now: ctx.now.getTime(), signal: ctx.signal });
    gated = haltDecision(decision, verdict);
    if (verdict !== undefined) ctx.log.debug({ failures: verdict.failures, limit: verdict.limit, halted: verdict.halted }, 'rollout halt check');
  } catch (err) {
    return { error: toHoistError(err) };
  }
  if (gated.action === 'deploy') return { decision: gated };
  const t = decision.target;
  ctx.log.warn({ code: 'HOIST_ROLLOUT_HALTED', version: t.version, sequence: t.sequence }, gated.reason);
  await ctx.keeper.update(ctx.key, (s) => ({ ...s, halted: { sequence: t.sequence, at: ctx.now.toISOString() } }), { bestEffort: true });
  await ctx.events.write(ctx.key, ctx.app, { kind: t.kind, version: t.version, sequence: t.sequence, sha256: t.artifact.sha256 }, 'halted', ctx.log, {
    error: { code: 'HOIST_ROLLOUT_HALTED', message: gated.reason },
  });
  return { decision: gated };
}
