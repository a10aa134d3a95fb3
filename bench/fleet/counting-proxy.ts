/**
 * A loopback HTTP proxy in front of the S3 emulator that forwards every request unchanged (raw
 * headers, Host as signed, so SigV4 verifies) and records what crossed it: method, which kind of
 * key, status and when. The fleet simulation reads S3 request costs from it.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type KeyKind = 'channel' | 'pin' | 'artifact' | 'status' | 'history' | 'events' | 'approvals' | 'other';

export interface CountedRequest {
  readonly at: number;
  readonly method: string;
  readonly kind: KeyKind;
  status: number;
}

export interface CountingProxy extends AsyncDisposable {
  readonly url: string;
  readonly log: readonly CountedRequest[];
  stop(): Promise<void>;
}

/**
 * The kind of hoist key a path-style S3 URL names (`/<bucket>/<prefix>channels/...`); for a
 * listing (`/<bucket>?list-type=2&prefix=...`) the kind of the prefix listed.
 */
export function keyKind(url: string): KeyKind {
  const [path = '', query = ''] = url.split('?');
  const listed = new URLSearchParams(query).get('prefix');
  const p = listed === null ? path : `/${listed}`;
  if (p.includes('/channels/')) return 'channel';
  if (p.includes('/pins/')) return 'pin';
  if (p.includes('/artifacts/')) return 'artifact';
  if (p.includes('/status/')) return 'status';
  if (p.includes('/history/')) return 'history';
  if (p.includes('/events/')) return 'events';
  if (p.includes('/approvals/')) return 'approvals';
  return 'other';
}

/** `LIST` for a ListObjectsV2 request, else the HTTP method. */
export function requestMethod(method: string, url: string): string {
  return method === 'GET' && /[?&]list-type=2(&|$)/.test(url) ? 'LIST' : method;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<Socket>();
  const log: CountedRequest[] = [];
  const server = http.createServer((req, res) => {
    const entry: CountedRequest = { at: Date.now(), method: requestMethod(req.method ?? 'GET', req.url ?? '/'), kind: keyKind(req.url ?? '/'), status: 0 };
    log.push(entry);
    const headers: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.push(req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '');
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent, setHost: false },
      (up) => {
        entry.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.statusMessage ?? '', up.rawHeaders);
        up.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502);
        res.end();
      } else res.destroy();
    });
    // A client gone mid-response: drop the upstream request too (not after a normal finish,
    // which would throw away a keep-alive socket).
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  });
  // Node closes idle keep-alive sockets after 5 s by default: with a 5 s poll, every agent would
  // race that close and see ECONNRESET (the SDK then retries). S3 keeps idle connections longer.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      agent.destroy();
    });
    return stopped;
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log, stop, [Symbol.asyncDispose]: stop };
}
