/**
 * A loopback HTTP proxy in front of fauxqs that injects the faults real networks produce: error
 * statuses, connections reset mid-body, trickling bodies and latency. Requests and headers pass
 * through unchanged (the Host header as the client sent it), so SigV4 signatures still verify.
 *
 *   await using proxy = await startFaultProxy(aws.endpoint);
 *   proxy.failNext(3, 503);
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface ProxyLogEntry {
  readonly method: string;
  readonly url: string;
  /** Status sent to the client; 0 when the request failed before a status was sent. */
  status: number;
  readonly range: string | undefined;
  /** What the proxy did to this request. */
  fault: 'none' | 'fail' | 'reset' | 'trickle';
}

export type Match = (req: ProxyRequest) => boolean;

export interface FaultProxy extends AsyncDisposable {
  readonly url: string;
  readonly requests: readonly ProxyLogEntry[];
  /** Answer the next n matching requests with `status` and an S3-style XML error body. */
  failNext(n: number, status?: number, match?: Match): void;
  /** Forward the next `times` matching responses but destroy the socket after `bytes` body bytes. */
  resetAfter(bytes: number, times?: number, match?: Match): void;
  /** Send the next `times` matching response bodies at `bytesPerSecond`. */
  trickle(bytesPerSecond: number, times?: number, match?: Match): void;
  /** Drop the Range header of the next `times` matching requests, as a server that ignores it. */
  ignoreRange(times?: number, match?: Match): void;
  /** Delay every request by `ms` before forwarding it. */
  latency(ms: number): void;
  /** Remove every fault and clear the log. */
  reset(): void;
  stop(): Promise<void>;
}

interface Rule<T> {
  remaining: number;
  readonly match: Match | undefined;
  readonly value: T;
}

const ERROR_NAMES: Record<number, string> = {
  400: 'BadRequest',
  403: 'AccessDenied',
  404: 'NoSuchKey',
  408: 'RequestTimeout',
  412: 'PreconditionFailed',
  429: 'SlowDown',
  500: 'InternalError',
  503: 'SlowDown',
};

function errorBody(status: number): string {
  const code = ERROR_NAMES[status] ?? 'InternalError';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>fault-proxy injected ${status}</Message><RequestId>fault-proxy</RequestId></Error>`;
}

/** Takes the first rule that matches and still has uses left, consuming one use. */
function take<T>(rules: Rule<T>[], req: ProxyRequest): T | undefined {
  for (const rule of rules) {
    if (rule.remaining > 0 && (rule.match === undefined || rule.match(req))) {
      rule.remaining--;
      return rule.value;
    }
  }
  return undefined;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: false });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const log: ProxyLogEntry[] = [];
  let failRules: Rule<number>[] = [];
  let resetRules: Rule<number>[] = [];
  let trickleRules: Rule<number>[] = [];
  let ignoreRangeRules: Rule<true>[] = [];
  let latencyMs = 0;

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, entry: ProxyLogEntry, info: ProxyRequest): void => {
    const resetBytes = take(resetRules, info);
    const trickleRate = take(trickleRules, info);
    const dropRange = take(ignoreRangeRules, info) === true;
    const headers: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] ?? '';
      if (dropRange && name.toLowerCase() === 'range') continue;
      headers.push(name, req.rawHeaders[i + 1] ?? '');
    }
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers, // raw pairs: names, order and Host exactly as the client signed them
        agent,
        setHost: false,
      },
      (up) => {
        entry.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.statusMessage ?? '', up.rawHeaders);
        res.flushHeaders();
        res.on('close', () => up.destroy());
        if (resetBytes !== undefined) {
          entry.fault = 'reset';
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            if (sent >= resetBytes) return;
            const part = chunk.subarray(0, resetBytes - sent);
            sent += part.length;
            res.write(part);
            if (sent >= resetBytes) {
              // Let the bytes leave before the socket dies, like a real mid-body reset.
              later(20, () => {
                res.socket?.destroy();
                up.destroy();
              });
            }
          });
          up.on('end', () => {
            if (sent < resetBytes) res.end();
          });
          return;
        }
        if (trickleRate !== undefined) {
          entry.fault = 'trickle';
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            let body = Buffer.concat(chunks);
            const step = Math.max(1, Math.ceil(trickleRate / 10));
            const tick = (): void => {
              if (res.destroyed) return;
              res.write(body.subarray(0, step));
              body = body.subarray(step);
              if (body.length === 0) res.end();
              else later(100, tick);
            };
            tick();
          });
          return;
        }
        up.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502);
        res.end();
      } else {
        res.socket?.destroy();
      }
    });
    res.on('close', () => out.destroy());
    req.pipe(out);
  };

  const server = http.createServer((req, res) => {
    const info: ProxyRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    const range = req.headers.range;
    const entry: ProxyLogEntry = { method: info.method, url: info.url, status: 0, range, fault: 'none' };
    log.push(entry);
    const failStatus = take(failRules, info);
    const go = (): void => {
      if (failStatus !== undefined) {
        entry.status = failStatus;
        entry.fault = 'fail';
        req.resume();
        const body = errorBody(failStatus);
        res.writeHead(failStatus, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      forward(req, res, entry, info);
    };
    if (latencyMs > 0) later(latencyMs, go);
    else go();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      agent.destroy();
    });
    return stopped;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    requests: log,
    failNext(n, status = 503, match) {
      failRules.push({ remaining: n, match, value: status });
    },
    resetAfter(bytes, times = 1, match) {
      resetRules.push({ remaining: times, match, value: bytes });
    },
    trickle(bytesPerSecond, times = 1, match) {
      trickleRules.push({ remaining: times, match, value: bytesPerSecond });
    },
    ignoreRange(times = 1, match) {
      ignoreRangeRules.push({ remaining: times, match, value: true });
    },
    latency(ms) {
      latencyMs = ms;
    },
    reset() {
      failRules = [];
      resetRules = [];
      trickleRules = [];
      ignoreRangeRules = [];
      latencyMs = 0;
      log.length = 0;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
