/**
 * What one refresh read from the bucket, as plain data: the input of the pure view functions
 * (view.ts) and the output of the reader (reader.ts). Nothing here is verified or trusted.
 */
import type { ManifestInfo, ReadApproval, ReadEnvelope } from './manifest-view.ts';
import type { HostReport } from './report-view.ts';

/** A channel, pin or history object: its bytes (for verification) and what they decode to. */
export interface EnvelopeObject {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly read: ReadEnvelope;
}

/** An object that could not be fetched (too large, access denied). */
export interface FailedObject {
  readonly key: string;
  readonly error: string;
}

export type ManifestObject = EnvelopeObject | FailedObject;

export interface ReportObject {
  readonly key: string;
  /** The host id the key names: `status/<app>/<env>/<host-id>.json`. */
  readonly keyHost: string;
  readonly report?: HostReport;
  /** Why it could not be read (fetch failure, not JSON, not an object). */
  readonly error?: string;
}

export interface HistoryObject {
  readonly key: string;
  readonly kind: 'release' | 'pin';
  readonly sequence: number;
  readonly object: ManifestObject;
  /** The approval statements under approvals/<app>/<env>/<sequence>/ (releases only). */
  readonly approvals?: ReadonlyArray<{ readonly key: string; readonly read: ReadApproval }>;
}

/** The events of one sequence: outcome folder name → host ids. */
export interface SequenceEvents {
  readonly sequence: number;
  readonly outcomes: ReadonlyMap<string, readonly string[]>;
}

export interface AppEnvSnapshot {
  readonly app: string;
  readonly env: string;
  readonly channel?: ManifestObject;
  readonly pin?: ManifestObject;
  /** Sorted by key. */
  readonly reports: readonly ReportObject[];
  /** The newest entries of history/, newest first. */
  readonly history: readonly HistoryObject[];
  /** How many entries history/ holds in all. */
  readonly historyCount: number;
  /** The events of the channel's current sequence, when read. */
  readonly events?: SequenceEvents;
  /** Why history/ or events/ could not be listed (the rest of the page still shows). */
  readonly historyError?: string;
  readonly eventsError?: string;
  readonly approvalsError?: string;
}

export interface RequestCounts {
  readonly list: number;
  readonly get: number;
  /** GETs answered 304 Not Modified (counted in `get` too). */
  readonly notModified: number;
}

export interface BucketSnapshot {
  readonly bucket: string;
  readonly prefix: string;
  /** When the refresh that read this started (ms since the epoch). */
  readonly readAt: number;
  readonly durationMs: number;
  /** S3 requests the refresh made. */
  readonly requests: RequestCounts;
  /** Sorted by app, then env. */
  readonly apps: readonly AppEnvSnapshot[];
}

export function isEnvelope(object: ManifestObject | undefined): object is EnvelopeObject {
  return object !== undefined && 'bytes' in object;
}

/** What a manifest object decodes to, when it could be fetched and decoded. */
export function manifestInfo(object: ManifestObject | undefined): ManifestInfo | undefined {
  return isEnvelope(object) && 'info' in object.read ? object.read.info : undefined;
}
