/**
 * Resolves `hostId`. The id becomes an S3 key part (`status/<app>/<env>/<host-id>.json`) and
 * the rollout cohort input, so it must be stable and safe: the EC2 instance id when IMDSv2
 * answers, else the (sanitised) hostname.
 */
import os from 'node:os';
import { HoistError } from '../errors.ts';
import { HOST_ID_RE } from './fields.ts';
import { httpText } from '../util/http-text.ts';

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
const DEFAULT_TIMEOUT_MS = 1000;
const TOKEN_TTL_SECONDS = '60';

export interface ResolveHostIdOptions {
  /** IMDS base URL; default HOIST_IMDS_ENDPOINT, else http://169.254.169.254. */
  readonly imdsEndpoint?: string;
  /** Total time allowed for both IMDS requests before falling back to the hostname. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** The hostname to fall back to; default os.hostname(). */
  readonly hostname?: string;
}

export async function resolveHostId(setting: string, options: ResolveHostIdOptions = {}): Promise<string> {
  if (setting !== 'auto') {
    if (!HOST_ID_RE.test(setting)) {
      throw new HoistError(
        'HOIST_CONFIG_INVALID',
        `hostId "${setting}" is not valid: use "auto" or 1–128 characters of letters, digits, ".", "_" or "-"`,
        { details: { issues: ['hostId: expected "auto" or 1–128 characters of letters, digits, ".", "_" or "-"'] } },
      );
    }
    return setting;
  }
  const instanceId = await fetchInstanceId(options);
  if (instanceId !== undefined) return instanceId;
  const hostname = options.hostname ?? os.hostname();
  const id = sanitizeHostId(hostname);
  if (id === undefined) {
    throw new HoistError(
      'HOIST_CONFIG_INVALID',
      `hostId is "auto", this is not EC2 and the hostname "${hostname}" cannot be made into a host id; set hostId to a literal in the config`,
      { details: { issues: ['hostId: set a literal host id (no instance id and no usable hostname)'] } },
    );
  }
  return id;
}

/** The hostname with characters outside [A-Za-z0-9._-] replaced by "-", or undefined if nothing usable is left. */
export function sanitizeHostId(name: string): string | undefined {
  const id = name.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 128);
  return HOST_ID_RE.test(id) && !/^\.+$/.test(id) ? id : undefined;
}

/**
 * The EC2 instance id from IMDSv2, or undefined when IMDS does not answer in time (not EC2,
 * IMDS disabled, hop limit). Aborting `signal` rejects rather than falling back.
 */
export async function fetchInstanceId(options: ResolveHostIdOptions = {}): Promise<string | undefined> {
  const base = (options.imdsEndpoint ?? process.env.HOIST_IMDS_ENDPOINT ?? DEFAULT_IMDS_ENDPOINT).replace(/\/+$/, '');
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  try {
    const token = await imdsRequest(`${base}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': TOKEN_TTL_SECONDS },
      signal,
    });
    if (token === undefined) return undefined;
    const id = await imdsRequest(`${base}/latest/meta-data/instance-id`, {
      headers: { 'X-aws-ec2-metadata-token': token },
      signal,
    });
    return id !== undefined && HOST_ID_RE.test(id) ? id : undefined;
  } catch {
    options.signal?.throwIfAborted();
    // Timeout, refused connection, unreachable network: not on EC2 (or IMDS is off).
    return undefined;
  }
}

/** Longer answers are not an instance id or a token. */
const MAX_IMDS_BODY = 4096;

/** One IMDS request (over node:http, not fetch: see util/http-text.ts); its text if 2xx and short. */
async function imdsRequest(url: string, init: { method?: string; headers: Record<string, string>; signal: AbortSignal }): Promise<string | undefined> {
  const { status, body = '' } = await httpText(new URL(url), { ...init, maxBytes: MAX_IMDS_BODY + 1 });
  const text = body.trim();
  return status >= 200 && status < 300 && text !== '' && body.length <= MAX_IMDS_BODY ? text : undefined;
}
