/**
 * The dashboard's HTTP server (node:http, read-only): the page and its built-in script and
 * style, the views as JSON, and server-sent events that tell open pages a refresh happened.
 * Every request is checked before anything else: the Host header must name this server (DNS
 * rebinding), and off loopback the token printed at start must come with it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { randomBytes } from 'node:crypto';
import { HoistError } from '../errors.ts';
import { CLIENT_JS } from './client.ts';
import { FAVICON_SVG, PAGE_HTML, STYLE_CSS } from './page.ts';
import { allowedHosts, hostAllowed, isLoopback, isWildcard, requestToken, SECURITY_HEADERS, TOKEN_COOKIE, tokenMatches, type ListenAddress } from './guard.ts';
import type { LiveFleet } from './live.ts';

/** Open pages at most; one more is answered 503 (each holds a connection). */
const MAX_VIEWERS = 64;
/** A comment line on idle event streams, so proxies and browsers keep them open. */
const HEARTBEAT_MS = 15_000;

export interface DashboardServer {
  /** The address to open: with the token when one is required. */
  readonly url: string;
  readonly port: number;
  /** The access token, when the address is not loopback. */
  readonly token: string | undefined;
  /** Stops accepting, ends open event streams and connections; idempotent. */
  close(): Promise<void>;
}

export interface ServeOptions {
  readonly listen: ListenAddress;
  readonly live: LiveFleet;
  /** Addresses of this machine's interfaces, for a wildcard --listen (default: os.networkInterfaces()). */
  readonly interfaceAddresses?: readonly string[];
  /** Require the token on loopback too (a machine other people log in to). */
  readonly requireToken?: boolean;
}

interface Asset {
  readonly type: string;
  readonly body: string;
}

const ASSETS: Readonly<Record<string, Asset>> = {
  '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/assets/dashboard.js': { type: 'text/javascript; charset=utf-8', body: CLIENT_JS },
  '/assets/dashboard.css': { type: 'text/css; charset=utf-8', body: STYLE_CSS },
  '/favicon.svg': { type: 'image/svg+xml', body: FAVICON_SVG },
};

export async function serveDashboard(options: ServeOptions): Promise<DashboardServer> {
  const { listen, live } = options;
  const streams = new Set<ServerResponse>();
  let allowed: ReadonlySet<string> = new Set();
  let token: string | undefined;

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!hostAllowed(req.headers.host, allowed)) {
      send(res, 403, 'text/plain; charset=utf-8', `this dashboard answers only to ${[...allowed][0] ?? 'its listen address'}; open the address it printed\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'the dashboard is read-only\n', { Allow: 'GET, HEAD' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    if (token !== undefined) {
      const given = url.searchParams.get('token');
      if (url.pathname === '/' && given !== null && tokenMatches(token, given)) {
        // Trade the token in the address for a cookie, and drop it from the address bar and history.
        send(res, 303, 'text/plain; charset=utf-8', '', {
          Location: '/',
          'Set-Cookie': `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        });
        return;
      }
      if (!tokenMatches(token, requestToken(req.headers))) {
        send(res, 401, 'text/plain; charset=utf-8', 'open the address with the token that `hoist dashboard` printed at start\n');
        return;
      }
    }
    const asset = ASSETS[url.pathname];
    if (asset !== undefined) {
      send(res, 200, asset.type, asset.body);
      return;
    }
    switch (url.pathname) {
      case '/api/overview':
        live.demand();
        send(res, 200, 'application/json; charset=utf-8', live.overviewJson());
        return;
      case '/api/app': {
        live.demand();
        const body = live.appJson(url.searchParams.get('app') ?? '', url.searchParams.get('env') ?? '');
        if (body === undefined) send(res, 404, 'application/json; charset=utf-8', 'null');
        else send(res, 200, 'application/json; charset=utf-8', body);
        return;
      }
      case '/api/live':
        stream(req, res);
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  };

  const stream = (req: IncomingMessage, res: ServerResponse): void => {
    if (streams.size >= MAX_VIEWERS) {
      send(res, 503, 'text/plain; charset=utf-8', `at most ${MAX_VIEWERS} pages may be open at once\n`);
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write(`retry: 2000\n\n`);
    streams.add(res);
    const unsubscribe = live.subscribe((notice) => {
      res.write(`event: refresh\ndata: ${JSON.stringify(notice)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const end = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    req.socket.setTimeout(0);
    res.on('close', end);
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new HoistError('HOIST_LISTEN', `cannot listen on ${listen.host}:${listen.port}: ${error.code === 'EADDRINUSE' ? 'the port is in use; pick another with --listen' : error.code === 'EADDRNOTAVAIL' ? 'it is not an address of this machine' : error.message}`, {
          cause: error,
          details: { host: listen.host, port: listen.port },
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const bound = server.address() as AddressInfo;
  const interfaces = options.interfaceAddresses ?? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  allowed = allowedHosts(listen, bound.port, interfaces);
  if (options.requireToken === true || !isLoopback(bound.address)) token = randomBytes(24).toString('base64url');
  const shownHost = isWildcard(listen.host) ? (interfaces.find((a) => !isLoopback(a) && !a.includes(':')) ?? listen.host) : listen.host;
  const base = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${bound.port}/`;

  let closed: Promise<void> | undefined;
  return {
    url: token === undefined ? base : `${base}?token=${token}`,
    port: bound.port,
    token,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}
