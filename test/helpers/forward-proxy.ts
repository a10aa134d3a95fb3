/**
 * A real forward proxy on loopback, as corporate proxies are: plain HTTP requests in absolute
 * form (`GET http://host:port/path`) are forwarded, and `CONNECT host:port` opens a TCP tunnel
 * (what https endpoints use). Every request is logged, so a test can count what went through.
 * Only loopback targets are forwarded; anything else is answered 403. `hosts` maps names only
 * the proxy knows (`s3.hoist.test`) to loopback addresses: an endpoint of such a name can only
 * be reached through the proxy, so a command that succeeds sent every request through it.
 *
 *   await using proxy = await startForwardProxy();
 *   ... HTTP_PROXY=proxy.url ...
 *   proxy.requests.filter((r) => r.method !== 'CONNECT').length
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxiedRequest {
  readonly method: string;
  /** The absolute URL of a plain request, or `host:port` of a CONNECT. */
  readonly target: string;
  readonly host: string;
}

export interface ForwardProxy extends AsyncDisposable {
  readonly url: string;
  readonly requests: readonly ProxiedRequest[];
  /** Hold every forwarded request body: `bytesPerSecond` of it, for slow-upload tests. */
  throttleUploads(bytesPerSecond: number | undefined): void;
  stop(): Promise<void>;
}

function loopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export async function startForwardProxy(options: { hosts?: Record<string, string> } = {}): Promise<ForwardProxy> {
  const mapHost = (host: string): string => options.hosts?.[host.toLowerCase()] ?? host;
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let uploadRate: number | undefined;

  const server = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute-form request expected');
      return;
    }
    requests.push({ method: req.method ?? 'GET', target: target.toString(), host: target.host });
    const address = mapHost(target.hostname);
    if (!loopback(address)) {
      res.writeHead(403).end('this test proxy forwards to loopback only');
      return;
    }
    const headers: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] ?? '';
      if (/^proxy-/i.test(name)) continue;
      // A mapped name is an alias of the loopback server: it sees the Host it would see direct.
      const value = name.toLowerCase() === 'host' && address !== target.hostname ? `${address}:${target.port}` : (req.rawHeaders[i + 1] ?? '');
      headers.push(name, value);
    }
    const out = http.request(
      { host: address, port: target.port, method: req.method, path: `${target.pathname}${target.search}`, headers, setHost: false, agent: false },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage ?? '', up.rawHeaders);
        up.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => out.destroy());
    const rate = uploadRate;
    if (rate === undefined) {
      req.pipe(out);
      return;
    }
    // Slow link: forward the body in 1/10 s slices of `rate` bytes.
    const slice = Math.max(1, Math.floor(rate / 10));
    req.on('data', (chunk: Buffer) => {
      req.pause();
      let rest = chunk;
      const step = (): void => {
        if (out.destroyed) return;
        out.write(rest.subarray(0, slice));
        rest = rest.subarray(slice);
        if (rest.length === 0) req.resume();
        else setTimeout(step, 100).unref();
      };
      step();
    });
    req.on('end', () => out.end());
  });

  server.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    const [hostPart, portPart] = /^\[/.test(target) ? [target.slice(1, target.indexOf(']')), target.slice(target.indexOf(']') + 2)] : target.split(':');
    const host = mapHost(hostPart ?? '');
    requests.push({ method: 'CONNECT', target, host: target });
    if (!loopback(host)) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect({ host, port: Number(portPart) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    throttleUploads(bytesPerSecond) {
      uploadRate = bytesPerSecond;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A TCP listener that accepts every connection and never answers: a dead endpoint. */
export interface BlackHole extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: () => number;
  stop(): Promise<void>;
}

export async function startBlackHole(): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    // Read and drop whatever arrives; never write a byte.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${port}`, port, connections: () => accepted, stop, [Symbol.asyncDispose]: stop };
}
