/**
 * One HTTP health probe: status equality and an optional substring of the first 64 KiB of body.
 *
 * node:http, not fetch: the first fetch() in a process loads undici and compiles its WebAssembly
 * HTTP parser, about 17 MiB of resident memory the agent would keep for good (measured: issue #6).
 * Taken with process.getBuiltinModule, not `import`: an ES module import of node:http builds a
 * facade that reads every export, and node:http's lazy WebSocket/MessageEvent exports then load
 * undici's JavaScript (0.7 MB of heap) anyway.
 */
import type { IncomingMessage, request as httpRequest } from 'node:http';
import { formatDuration } from '../util/units.ts';
import type { HttpProbeSpec, ProbeOptions, ProbeResult } from './spec.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export async function probeHttp(spec: HttpProbeSpec, options: ProbeOptions): Promise<ProbeResult> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  try {
    const url = new URL(spec.url);
    const request = url.protocol === 'https:' ? process.getBuiltinModule('node:https').request : process.getBuiltinModule('node:http').request;
    const { status, body } = await get(request, url, signal, spec.bodyIncludes !== undefined);
    if (status !== spec.expectStatus) {
      return { ok: false, detail: `HTTP ${status} (expected ${spec.expectStatus})` };
    }
    if (body !== undefined && spec.bodyIncludes !== undefined && !body.includes(spec.bodyIncludes)) {
      return { ok: false, detail: `HTTP ${status} but body does not include ${JSON.stringify(spec.bodyIncludes)}` };
    }
    return { ok: true, detail: `HTTP ${status}` };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    return { ok: false, detail: describeFetchError(error, options.timeoutMs) };
  }
}

/**
 * A GET that follows no redirects (a 302 to a login page is not "healthy" unless the operator
 * expects 302) and reads at most MAX_BODY_BYTES of the body, the rest is never read. A fresh
 * connection per probe (no agent, `connection: close`): a pooled keep-alive socket to the instance
 * the restart just stopped would fail the new release with ECONNRESET.
 */
function get(request: typeof httpRequest, url: URL, signal: AbortSignal, withBody: boolean): Promise<{ status: number; body: string | undefined }> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error: unknown, result?: { status: number; body: string | undefined }): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (result === undefined) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(result);
    };
    const onAbort = (): void => finish(signal.reason);
    const req = request(url, { method: 'GET', agent: false, headers: { 'user-agent': 'hoist-health', connection: 'close' } }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (!withBody) {
        finish(undefined, { status, body: undefined });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const bodyText = (): string => new TextDecoder().decode(Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES));
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.byteLength;
        if (size >= MAX_BODY_BYTES) finish(undefined, { status, body: bodyText() });
      });
      res.on('end', () => finish(undefined, { status, body: bodyText() }));
      res.on('error', (error) => finish(error));
    });
    req.on('error', (error) => finish(error));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
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
