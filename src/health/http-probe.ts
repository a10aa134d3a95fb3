/**
 * One HTTP health probe: status equality and an optional substring of the first 64 KiB of body,
 * over node:http without redirects or pooled connections (util/http-text.ts says why).
 */
import { httpText } from '../util/http-text.ts';
import { formatDuration } from '../util/units.ts';
import type { HttpProbeSpec, ProbeOptions, ProbeResult } from './spec.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export async function probeHttp(spec: HttpProbeSpec, options: ProbeOptions): Promise<ProbeResult> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  try {
    const { status, body } = await httpText(new URL(spec.url), {
      headers: { 'user-agent': 'hoist-health' },
      signal,
      maxBytes: spec.bodyIncludes === undefined ? 0 : MAX_BODY_BYTES,
    });
    if (status !== spec.expectStatus) {
      return { ok: false, answered: true, detail: `HTTP ${status} (expected ${spec.expectStatus})` };
    }
    if (body !== undefined && spec.bodyIncludes !== undefined && !body.includes(spec.bodyIncludes)) {
      return { ok: false, answered: true, detail: `HTTP ${status} but body does not include ${JSON.stringify(spec.bodyIncludes)}` };
    }
    return { ok: true, detail: `HTTP ${status}` };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    return { ok: false, detail: describeFetchError(error, options.timeoutMs) };
  }
}

export function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `timed out after ${formatDuration(timeoutMs)}`;
  }
  // node:http rejects with the socket error itself; fetch (undici) with TypeError('fetch failed')
  // whose cause is that error ("connect ECONNREFUSED …").
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
