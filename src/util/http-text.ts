/**
 * One small HTTP request whose answer is a status and a short text: the health probe and the IMDS
 * host-id lookup. The AWS SDK carries the S3 and SQS traffic; this is for the two plain requests
 * outside it.
 *
 * node:http, not fetch: the first fetch() in a process loads undici and compiles its WebAssembly
 * HTTP parser, about 6 MiB beside the S3 client (17 MiB in a bare node) that the agent would keep
 * for good (measured: issue #6). Taken with process.getBuiltinModule, not `import`: an ES module
 * import of node:http builds a facade that reads every export, and node:http's lazy
 * WebSocket/MessageEvent exports then load undici's JavaScript (0.7 MB of heap) anyway.
 *
 * No redirects are followed, and each request has a fresh connection (no agent,
 * `connection: close`): a pooled keep-alive socket to an app instance a restart just stopped would
 * fail the new release with ECONNRESET.
 */
import type { IncomingMessage } from 'node:http';

export interface HttpTextOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly signal: AbortSignal;
  /** Read at most this many bytes of the body (the rest is never read); 0: do not read it. */
  readonly maxBytes: number;
}

export interface HttpText {
  readonly status: number;
  /** The first `maxBytes` of the body as UTF-8; undefined when `maxBytes` is 0. */
  readonly body: string | undefined;
}

/** Rejects with the socket error, or the signal's reason when it aborts. */
export function httpText(url: URL, options: HttpTextOptions): Promise<HttpText> {
  const { request } = url.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http');
  const { signal, maxBytes } = options;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error: unknown, result?: HttpText): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (result === undefined) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(result);
    };
    const onAbort = (): void => finish(signal.reason);
    const headers = { connection: 'close', ...options.headers };
    const req = request(url, { method: options.method ?? 'GET', agent: false, headers }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (maxBytes === 0) {
        finish(undefined, { status, body: undefined });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const bodyText = (): string => new TextDecoder().decode(Buffer.concat(chunks).subarray(0, maxBytes));
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.byteLength;
        if (size >= maxBytes) finish(undefined, { status, body: bodyText() });
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
