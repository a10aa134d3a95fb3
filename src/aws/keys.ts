/**
 * The bucket layout in one place, so no other module builds a key by hand.
 *
 *   <prefix>artifacts/<app>/<sha256>.<ext>
 *   <prefix>channels/<app>/<env>.json
 *   <prefix>pins/<app>/<env>.json
 *   <prefix>history/<app>/<env>/<sequence>.json
 *   <prefix>history/<app>/<env>/pins/<sequence>.json
 *   <prefix>approvals/<app>/<env>/<sequence>/<keyid>.json
 *   <prefix>status/<app>/<env>/<host-id>.json
 *   <prefix>events/<app>/<env>/<sequence>/<outcome>/<host-id>.json
 *   <prefix>trust/root.json
 *   <prefix>trust/history/<version>.json
 */
import { HoistError } from '../errors.ts';

export type ArtifactExt = 'tar.gz' | 'tar.zst';
export type ManifestKind = 'release' | 'pin';

export interface S3Keys {
  readonly prefix: string;
  channel(app: string, env: string): string;
  pin(app: string, env: string): string;
  history(app: string, env: string, sequence: number): string;
  historyPrefix(app: string, env: string): string;
  pinHistory(app: string, env: string, sequence: number): string;
  /** `history/<app>/<env>/pins/`: the copies of every pin and unpin. */
  pinHistoryPrefix(app: string, env: string): string;
  approval(app: string, env: string, sequence: number, keyId: string): string;
  /** Every approval of the app and env, or those of one sequence. */
  approvalsPrefix(app: string, env: string, sequence?: number): string;
  event(app: string, env: string, sequence: number, outcome: string, hostId: string): string;
  /** Every event of the app and env, of one sequence, or of one outcome of it. */
  eventsPrefix(app: string, env: string, sequence?: number, outcome?: string): string;
  status(app: string, env: string, hostId: string): string;
  statusPrefix(app: string, env: string): string;
  artifact(app: string, sha256: string, ext: ArtifactExt): string;
  /** The current signed trust document. */
  trustRoot(): string;
  /** Every trust document ever published, by version (written once). */
  trustHistory(version: number): string;
  trustHistoryPrefix(): string;
}

/**
 * A prefix is used as a folder: "releases" and "releases/" both mean "releases/", and "" (the
 * default) means the bucket root.
 */
export function normalizePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

// A name becomes one key segment: a '/' in it would move the object into another app's folder.
function segment(what: string, value: string): string {
  if (value === '' || value.includes('/') || value === '.' || value === '..') {
    throw new HoistError('HOIST_USAGE', `invalid ${what} ${JSON.stringify(value)}: it must be non-empty and contain no "/"`);
  }
  return value;
}

function checkSequence(sequence: number): number {
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new HoistError('HOIST_USAGE', `invalid sequence ${sequence}: expected a non-negative integer`);
  }
  return sequence;
}

export function s3Keys(prefix: string): S3Keys {
  const p = normalizePrefix(prefix);
  const under = (folder: string, app: string, env: string): string => `${p}${folder}/${segment('app', app)}/${segment('env', env)}/`;
  return {
    prefix: p,
    channel: (app, env) => `${p}channels/${segment('app', app)}/${segment('env', env)}.json`,
    pin: (app, env) => `${p}pins/${segment('app', app)}/${segment('env', env)}.json`,
    history: (app, env, sequence) => `${under('history', app, env)}${checkSequence(sequence)}.json`,
    historyPrefix: (app, env) => under('history', app, env),
    pinHistory: (app, env, sequence) => `${under('history', app, env)}pins/${checkSequence(sequence)}.json`,
    pinHistoryPrefix: (app, env) => `${under('history', app, env)}pins/`,
    approval: (app, env, sequence, keyId) => `${under('approvals', app, env)}${checkSequence(sequence)}/${segment('key id', keyId)}.json`,
    approvalsPrefix: (app, env, sequence) => `${under('approvals', app, env)}${sequence === undefined ? '' : `${checkSequence(sequence)}/`}`,
    event: (app, env, sequence, outcome, hostId) => `${under('events', app, env)}${checkSequence(sequence)}/${segment('outcome', outcome)}/${segment('host id', hostId)}.json`,
    eventsPrefix: (app, env, sequence, outcome) =>
      `${under('events', app, env)}${sequence === undefined ? '' : `${checkSequence(sequence)}/`}${sequence === undefined || outcome === undefined ? '' : `${segment('outcome', outcome)}/`}`,
    status: (app, env, hostId) => `${p}status/${segment('app', app)}/${segment('env', env)}/${segment('host id', hostId)}.json`,
    statusPrefix: (app, env) => `${p}status/${segment('app', app)}/${segment('env', env)}/`,
    artifact: (app, sha256, ext) => {
      if (!/^[0-9a-f]{64}$/.test(sha256)) {
        throw new HoistError('HOIST_USAGE', `invalid sha256 ${JSON.stringify(sha256)}: expected 64 lowercase hex digits`);
      }
      return `${p}artifacts/${segment('app', app)}/${sha256}.${ext}`;
    },
    trustRoot: () => `${p}trust/root.json`,
    trustHistory: (version) => {
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new HoistError('HOIST_USAGE', `invalid trust document version ${version}: expected a positive integer`);
      }
      return `${p}trust/history/${version}.json`;
    },
    trustHistoryPrefix: () => `${p}trust/history/`,
  };
}

/** Whether an S3 key (as named in an S3 event) is the trust document of this prefix. */
export function isTrustRootKey(prefix: string, key: string): boolean {
  return key === `${normalizePrefix(prefix)}trust/root.json`;
}

export interface ManifestKey {
  kind: ManifestKind;
  app: string;
  env: string;
}

const MANIFEST_KEY_RE = /^(channels|pins)\/([^/]+)\/([^/]+)\.json$/;

/** Recognises a channel or pin key (as named in an S3 event); anything else is undefined. */
export function parseManifestKey(prefix: string, key: string): ManifestKey | undefined {
  const p = normalizePrefix(prefix);
  if (!key.startsWith(p)) return undefined;
  const match = MANIFEST_KEY_RE.exec(key.slice(p.length));
  if (match === null) return undefined;
  const [, folder, app, env] = match;
  if (app === undefined || env === undefined || app === '.' || app === '..' || env === '.' || env === '..') return undefined;
  return { kind: folder === 'pins' ? 'pin' : 'release', app, env };
}
