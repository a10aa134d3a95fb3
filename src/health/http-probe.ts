/** One HTTP health probe: status equality and an optional substring of the first 64 KiB of body. */
import { formatDuration } from '../util/units.ts';
import type { HttpProbeSpec, ProbeOptions, ProbeResult } from './spec.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export async function probeHttp(spec: HttpProbeSpec, options: ProbeOptions): Promise<ProbeResult> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  try {
    // No redirects: a 302 to a login page is not "healthy" unless the operator expects 302.
    // A fresh connection per probe: a pooled keep-alive socket to the instance the restart just
    // stopped would fail the new release with ECONNRESET.
    const response = await fetch(spec.url, {
      signal,
      redirect: 'manual',
      headers: { 'user-agent': 'hoist-health', connection: 'close' },
    });
    const body = spec.bodyIncludes === undefined ? undefined : await readBody(response);
    if (spec.bodyIncludes === undefined) await response.body?.cancel();
    if (response.status !== spec.expectStatus) {
      return { ok: false, detail: `HTTP ${response.status} (expected ${spec.expectStatus})` };
    }
    if (body !== undefined && spec.bodyIncludes !== undefined && !body.includes(spec.bodyIncludes)) {
      return { ok: false, detail: `HTTP ${response.status} but body does not include ${JSON.stringify(spec.bodyIncludes)}` };
    }
    return { ok: true, detail: `HTTP ${response.status}` };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    return { ok: false, detail: describeFetchError(error, options.timeoutMs) };
  }
}

/** The body as text, at most MAX_BODY_BYTES of it; the rest is never read. */
async function readBody(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES));
}

export function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `timed out after ${formatDuration(timeoutMs)}`;
  }
  // undici: TypeError('fetch failed') whose cause is the socket error ("connect ECONNREFUSED …").
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
