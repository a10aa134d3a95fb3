/**
 * One health probe of whichever kinds the spec names (all must pass). Never throws for an
 * unhealthy app: a failed probe is `{ ok: false, detail }`. Only the caller's abort is rethrown.
 */
import { probeCommand } from './command-probe.ts';
import { probeHttp } from './http-probe.ts';
import type { HealthSpec, ProbeResult } from './spec.ts';
import { probeTcp } from './tcp-probe.ts';

export type { HealthSpec, HttpProbeSpec, ProbeResult } from './spec.ts';

export interface ProbeOnceOptions {
  readonly timeoutMs: number;
  /** Working directory of a command probe: the release dir. */
  readonly cwd: string;
  readonly env?: Record<string, string>;
  readonly signal?: AbortSignal;
  readonly user?: { readonly uid: number; readonly gid: number; readonly home?: string; readonly name?: string };
}

export async function probeOnce(spec: HealthSpec, options: ProbeOnceOptions): Promise<ProbeResult> {
  const base = { timeoutMs: options.timeoutMs, ...(options.signal === undefined ? {} : { signal: options.signal }) };
  const results: ProbeResult[] = [];
  if (spec.http) results.push(await probeHttp(spec.http, base));
  if (spec.tcp !== undefined) results.push(await probeTcp(spec.tcp, base));
  if (spec.command !== undefined) results.push(await probeCommand(spec.command, { ...options, ...base }));
  // The config schema requires a probe; without one there is nothing that could fail.
  if (results.length === 0) return { ok: true, detail: 'no health probe configured' };
  const failed = results.find((r) => !r.ok);
  return failed ?? { ok: true, detail: results.map((r) => r.detail).join('; ') };
}
