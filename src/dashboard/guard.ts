/**
 * Who may talk to the dashboard, pure: the `--listen` address, the `Host` values it answers to
 * (anything else is refused, which stops DNS rebinding: a page on another name that resolves to
 * this address cannot read it), the access token required off loopback, and the response headers
 * that keep the page's own origin the only source of script, style and data.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { HoistError } from '../errors.ts';

export interface ListenAddress {
  /** As given, without IPv6 brackets: `127.0.0.1`, `::1`, `localhost`, `0.0.0.0`, `dash.internal`. */
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:8080';

/** `HOST:PORT` or `[IPv6]:PORT`; port 0 picks a free one. */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || !Number.isInteger(port) || port > 65_535 || (match[1] !== undefined && isIP(host) !== 6)) {
    throw new HoistError('HOIST_USAGE', `--listen ${JSON.stringify(text)} is not an address; write it like 127.0.0.1:8080 or [::1]:8080`);
  }
  return { host, port };
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms, and the name localhost. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (a === 'localhost' || a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '0:0:0:0:0:0:0:0';
}

function hostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`.toLowerCase();
}

/**
 * The `Host` header values the server answers: the listen address as given (with the port it
 * got); on loopback also `localhost`, `127.0.0.1` and `[::1]`; on a wildcard address every
 * address of this machine's interfaces (never a name, which is what a rebinding attack uses).
 */
export function allowedHosts(listen: ListenAddress, port: number, interfaceAddresses: readonly string[]): ReadonlySet<string> {
  const hosts = new Set<string>();
  if (isWildcard(listen.host)) {
    for (const a of interfaceAddresses) hosts.add(hostPort(a, port));
  } else {
    hosts.add(hostPort(listen.host, port));
  }
  if (isLoopback(listen.host) || isWildcard(listen.host)) {
    for (const a of ['localhost', '127.0.0.1', '::1']) hosts.add(hostPort(a, port));
  }
  return hosts;
}

export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  return header !== undefined && allowed.has(header.trim().toLowerCase());
}

export const TOKEN_COOKIE = 'hoist_dashboard';

/** Constant-time comparison of the token a request carries with the one printed at start. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token of a request: `Authorization: Bearer T`, else the cookie set after `?token=T`. */
export function requestToken(headers: { readonly authorization?: string | undefined; readonly cookie?: string | undefined }): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
  if (bearer?.[1] !== undefined) return bearer[1];
  for (const part of (headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === TOKEN_COOKIE) return value.join('=');
  }
  return undefined;
}

/**
 * Sent with every answer. The script and style come from this origin only (no inline script, no
 * eval), no other origin is contacted, the page cannot be framed, and Trusted Types forbid
 * assigning strings to HTML sinks, so text from S3 can only ever be set as text.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
