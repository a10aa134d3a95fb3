/**
 * The `metrics.listen` endpoint: GET /metrics answers the Prometheus text format; every other path
 * is 404, every other method 405. node:http taken with process.getBuiltinModule, as in
 * util/http-text.ts (an ES module import of node:http loads undici's JavaScript for nothing).
 *
 * Bounded for an endpoint other hosts may reach (allowRemote): a few connections at once, short
 * header and request timeouts, no request body read.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HoistError } from '../errors.ts';
import type { ListenAddress } from './address.ts';

export interface MetricsServer {
  /** `http://host:port/metrics`, with the port actually bound. */
  readonly url: string;
  /** Stops listening and ends open connections; idempotent. */
  close(): Promise<void>;
}

const MAX_CONNECTIONS = 16;

export async function serveMetrics(address: ListenAddress, render: () => Promise<{ contentType: string; text: string }>): Promise<MetricsServer> {
  const { createServer } = process.getBuiltinModule('node:http');
  const server: Server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req: IncomingMessage, res: ServerResponse) => {
    answer(req, res, render);
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new HoistError('HOIST_METRICS_UNAVAILABLE', `cannot listen on metrics.listen ${formatHost(address.host)}:${address.port} (${err.code ?? err.message}); free the port or choose another address`, {
          cause: err,
          details: { host: address.host, port: address.port },
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${formatHost(bound.address)}:${bound.port}/metrics`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function answer(req: IncomingMessage, res: ServerResponse, render: () => Promise<{ contentType: string; text: string }>): void {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    send(res, 404, 'text/plain; charset=utf-8', 'not found: metrics are at /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  render().then(
    ({ contentType, text }) => send(res, 200, contentType, req.method === 'HEAD' ? '' : text, Buffer.byteLength(text)),
    (err: unknown) => send(res, 500, 'text/plain; charset=utf-8', `cannot render metrics: ${err instanceof Error ? err.message : String(err)}\n`),
  );
}

function send(res: ServerResponse, status: number, contentType: string, body: string, length = Buffer.byteLength(body)): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': length, 'cache-control': 'no-store' });
  res.end(body);
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
