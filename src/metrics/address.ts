/**
 * `metrics.listen` addresses: `host:port`, IPv6 in brackets. Loopback is 127.0.0.0/8, ::1 (and
 * ::ffff:127.x.y.z) and `localhost`; anything else, a wildcard (0.0.0.0, ::) or a name included,
 * reaches other hosts and needs `metrics.allowRemote`.
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  /** As given to listen(): an IP literal without brackets, or a name. */
  readonly host: string;
  readonly port: number;
}

const LISTEN_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Parses `host:port`; undefined when it is not one (port 0 is accepted: tests bind a free port). */
export function parseListen(text: string): ListenAddress | undefined {
  const m = LISTEN_RE.exec(text);
  if (m === null) return undefined;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  if (m[1] !== undefined && isIP(host) !== 6) return undefined;
  return { host, port };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped?.[1] !== undefined && mapped[1].startsWith('127.');
  }
  return false;
}
