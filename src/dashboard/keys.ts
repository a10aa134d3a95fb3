/**
 * The folders of the bucket the dashboard lists, and what a listed key names. Keys come from
 * the bucket, so anything that is not exactly the expected shape is ignored (a status report in a
 * sub-folder, a history object that is not `<sequence>.json`).
 *
 *   <prefix>status/<app>/<env>/<host-id>.json
 *   <prefix>history/<app>/<env>/<sequence>.json  and  .../pins/<sequence>.json
 *   <prefix>events/<app>/<env>/<sequence>/<outcome>/<host-id>.json
 *   <prefix>approvals/<app>/<env>/<sequence>/<keyid>.json
 */
import { normalizePrefix } from '../aws/keys.ts';

export interface DashboardKeys {
  readonly prefix: string;
  readonly channels: string;
  readonly pins: string;
  readonly status: string;
  history(app: string, env: string): string;
  events(app: string, env: string, sequence: number): string;
  approvals(app: string, env: string): string;
}

export function dashboardKeys(prefix: string): DashboardKeys {
  const p = normalizePrefix(prefix);
  return {
    prefix: p,
    channels: `${p}channels/`,
    pins: `${p}pins/`,
    status: `${p}status/`,
    history: (app, env) => `${p}history/${app}/${env}/`,
    events: (app, env, sequence) => `${p}events/${app}/${env}/${sequence}/`,
    approvals: (app, env) => `${p}approvals/${app}/${env}/`,
  };
}

/** A name that is one key segment and never walks up. */
function isSegment(value: string | undefined): value is string {
  return value !== undefined && value !== '' && value !== '.' && value !== '..' && !value.includes('/');
}

/** `<app>/<env>/<host-id>.json` under the status folder. */
export function parseStatusKey(folder: string, key: string): { app: string; env: string; host: string } | undefined {
  if (!key.startsWith(folder) || !key.endsWith('.json')) return undefined;
  const parts = key.slice(folder.length, -'.json'.length).split('/');
  if (parts.length !== 3) return undefined;
  const [app, env, host] = parts;
  return isSegment(app) && isSegment(env) && isSegment(host) ? { app, env, host } : undefined;
}

/** `<app>/<env>.json` under the channels or pins folder. */
export function parseManifestKey(folder: string, key: string): { app: string; env: string } | undefined {
  if (!key.startsWith(folder) || !key.endsWith('.json')) return undefined;
  const parts = key.slice(folder.length, -'.json'.length).split('/');
  if (parts.length !== 2) return undefined;
  const [app, env] = parts;
  return isSegment(app) && isSegment(env) ? { app, env } : undefined;
}

const SEQUENCE_RE = /^\d{1,16}$/;

function sequenceOf(text: string | undefined): number | undefined {
  if (text === undefined || !SEQUENCE_RE.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `<sequence>.json` (a channel copy) or `pins/<sequence>.json` under an app/env's history folder. */
export function parseHistoryKey(folder: string, key: string): { kind: 'release' | 'pin'; sequence: number } | undefined {
  if (!key.startsWith(folder) || !key.endsWith('.json')) return undefined;
  const parts = key.slice(folder.length, -'.json'.length).split('/');
  if (parts.length === 1) {
    const sequence = sequenceOf(parts[0]);
    return sequence === undefined ? undefined : { kind: 'release', sequence };
  }
  if (parts.length === 2 && parts[0] === 'pins') {
    const sequence = sequenceOf(parts[1]);
    return sequence === undefined ? undefined : { kind: 'pin', sequence };
  }
  return undefined;
}

/** `<outcome>/<host-id>.json` under one sequence's events folder. */
export function parseEventKey(folder: string, key: string): { outcome: string; host: string } | undefined {
  if (!key.startsWith(folder) || !key.endsWith('.json')) return undefined;
  const parts = key.slice(folder.length, -'.json'.length).split('/');
  if (parts.length !== 2) return undefined;
  const [outcome, host] = parts;
  return isSegment(outcome) && isSegment(host) ? { outcome, host } : undefined;
}

/** `<sequence>/<keyid>.json` under an app/env's approvals folder. */
export function parseApprovalKey(folder: string, key: string): { sequence: number; keyId: string } | undefined {
  if (!key.startsWith(folder) || !key.endsWith('.json')) return undefined;
  const parts = key.slice(folder.length, -'.json'.length).split('/');
  if (parts.length !== 2) return undefined;
  const sequence = sequenceOf(parts[0]);
  const keyId = parts[1];
  return sequence !== undefined && isSegment(keyId) ? { sequence, keyId } : undefined;
}
