/**
 * Reads the bucket for the dashboard, keeping what it read between refreshes so a refresh costs
 * little whatever the size of the fleet:
 *
 * - one listing each of `channels/`, `pins/` and `status/` (one LIST page per 1,000 objects);
 *   a listing carries every object's ETag, so only objects whose ETag changed are fetched, each
 *   with a conditional GET (`If-None-Match`) against what is held;
 * - `history/<app>/<env>/` and `approvals/<app>/<env>/` are listed again only when that app/env's
 *   channel or pin changed (every publish and approval rewrites one), and only the newest entries
 *   shown and their approvals are fetched, once each (both are written once);
 * - `events/<app>/<env>/<sequence>/` of the current release is listed when the release changed or
 *   a host's last outcome did (an event is written with each outcome), and once more on the next
 *   refresh, for an event that lands just after its report.
 *
 * Nothing read is trusted here: the view decides what to make of it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { getObjectIfChanged, listKeys, type ListedKey } from '../aws/object-store.ts';
import { DEFAULT_MAX_ENVELOPE_BYTES } from '../dsse/envelope.ts';
import { toHoistError } from '../errors.ts';
import { mapLimit } from '../fleet/map-limit.ts';
import { dashboardKeys, parseApprovalKey, parseEventKey, parseHistoryKey, parseManifestKey, parseStatusKey, type DashboardKeys } from './keys.ts';
import { readApproval, readEnvelope, type ReadApproval } from './manifest-view.ts';
import { readReport } from './report-view.ts';
import { isEnvelope, type AppEnvSnapshot, type BucketSnapshot, type HistoryObject, type ManifestObject, type ReportObject, type SequenceEvents } from './snapshot.ts';
import { parseJson } from './untrusted.ts';

const MAX_REPORT_BYTES = 64 * 1024;

export interface ReaderOptions {
  readonly bucket: string;
  readonly prefix: string;
  /** GETs in flight at once. */
  readonly concurrency?: number;
  /** History entries fetched and shown per app/env. */
  readonly historyLimit?: number;
  readonly clock?: () => number;
}

interface Held<T> {
  readonly etag: string | undefined;
  readonly value: T;
}

interface HistoryListing {
  readonly keys: ReadonlyArray<{ key: string; etag: string | undefined; kind: 'release' | 'pin'; sequence: number }>;
  /** Approval statement keys by sequence; undefined when approvals/ could not be listed. */
  readonly approvals: ReadonlyMap<number, ReadonlyArray<{ key: string; etag: string | undefined }>> | undefined;
  readonly approvalsError?: string;
}

interface EventsHeld {
  readonly events: SequenceEvents;
  /** List again on the next refresh too. */
  readonly again: boolean;
}

interface Counter {
  list: number;
  get: number;
  notModified: number;
}

type Fetched = { status: 'ok'; body: Buffer; etag: string | undefined } | { status: 'not-modified' } | { status: 'missing' } | { status: 'error'; error: string };

export class BucketReader {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #keys: DashboardKeys;
  readonly #concurrency: number;
  readonly #historyLimit: number;
  readonly #clock: () => number;
  readonly #manifests = new Map<string, Held<ManifestObject>>();
  readonly #reports = new Map<string, Held<ReportObject>>();
  readonly #history = new Map<string, Held<ManifestObject>>();
  readonly #approvals = new Map<string, Held<ReadApproval>>();
  readonly #historyListings = new Map<string, HistoryListing>();
  readonly #events = new Map<string, EventsHeld>();

  constructor(s3: S3Client, options: ReaderOptions) {
    this.#s3 = s3;
    this.#bucket = options.bucket;
    this.#keys = dashboardKeys(options.prefix);
    this.#concurrency = options.concurrency ?? 16;
    this.#historyLimit = options.historyLimit ?? 20;
    this.#clock = options.clock ?? Date.now;
  }

  /** Reads what changed since the last refresh; S3 failures of a listing reject (nothing is replaced). */
  async refresh(signal?: AbortSignal): Promise<BucketSnapshot> {
    const readAt = this.#clock();
    const started = performance.now();
    const counter: Counter = { list: 0, get: 0, notModified: 0 };
    const keys = this.#keys;
    const [channels, pins, statuses] = await Promise.all([keys.channels, keys.pins, keys.status].map((prefix) => this.#list(prefix, counter, signal)));

    const appEnvs = new Map<string, { app: string; env: string; changed: boolean; outcome: boolean }>();
    const touch = (app: string, env: string): { app: string; env: string; changed: boolean; outcome: boolean } => {
      const id = `${app}/${env}`;
      let entry = appEnvs.get(id);
      if (entry === undefined) {
        entry = { app, env, changed: false, outcome: false };
        appEnvs.set(id, entry);
      }
      return entry;
    };

    // Channels and pins.
    const manifestItems = [...(channels ?? []).map((item) => ({ item, folder: keys.channels })), ...(pins ?? []).map((item) => ({ item, folder: keys.pins }))].flatMap(({ item, folder }) => {
      const at = parseManifestKey(folder, item.key);
      return at === undefined ? [] : [{ item, ...at }];
    });
    const manifestKeys = new Set(manifestItems.map((m) => m.item.key));
    for (const [key] of this.#manifests) {
      if (manifestKeys.has(key)) continue;
      this.#manifests.delete(key);
      const at = parseManifestKey(keys.channels, key) ?? parseManifestKey(keys.pins, key);
      if (at !== undefined) touch(at.app, at.env).changed = true;
    }
    await mapLimit(manifestItems, this.#concurrency, async ({ item, app, env }) => {
      touch(app, env);
      const held = this.#manifests.get(item.key);
      if (held !== undefined && item.etag !== undefined && held.etag === item.etag) return;
      const fetched = await this.#get(item.key, held?.etag, DEFAULT_MAX_ENVELOPE_BYTES, counter, signal);
      const next = manifestOf(item.key, fetched, held);
      if (next === undefined) this.#manifests.delete(item.key);
      else this.#manifests.set(item.key, next);
      touch(app, env).changed = true;
    });

    // Status reports.
    const reportItems = (statuses ?? []).flatMap((item) => {
      const at = parseStatusKey(keys.status, item.key);
      return at === undefined ? [] : [{ item, ...at }];
    });
    const reportKeys = new Set(reportItems.map((r) => r.item.key));
    for (const [key] of this.#reports) {
      if (reportKeys.has(key)) continue;
      this.#reports.delete(key);
      const at = parseStatusKey(keys.status, key);
      if (at !== undefined) touch(at.app, at.env).outcome = true;
    }
    await mapLimit(reportItems, this.#concurrency, async ({ item, app, env, host }) => {
      const entry = touch(app, env);
      const held = this.#reports.get(item.key);
      if (held !== undefined && item.etag !== undefined && held.etag === item.etag) return;
      const fetched = await this.#get(item.key, held?.etag, MAX_REPORT_BYTES, counter, signal);
      const next = reportOf(item.key, host, fetched, held);
      if (next === undefined) this.#reports.delete(item.key);
      else this.#reports.set(item.key, next);
      if (outcomeOf(held?.value) !== outcomeOf(next?.value)) entry.outcome = true;
    });

    // History and events, per app/env, only where something changed.
    const apps: AppEnvSnapshot[] = [];
    const sorted = [...appEnvs.values()].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : a.env < b.env ? -1 : a.env > b.env ? 1 : 0));
    for (const id of [...this.#historyListings.keys()]) if (!appEnvs.has(id)) this.#historyListings.delete(id);
    for (const id of [...this.#events.keys()]) if (!appEnvs.has(id)) this.#events.delete(id);
    const reportsByAppEnv = new Map<string, ReportObject[]>();
    for (const [key, held] of this.#reports) {
      const at = parseStatusKey(keys.status, key);
      if (at === undefined) continue;
      const id = `${at.app}/${at.env}`;
      const list = reportsByAppEnv.get(id) ?? [];
      list.push(held.value);
      reportsByAppEnv.set(id, list);
    }
    await mapLimit(sorted, 4, async (entry) => {
      const id = `${entry.app}/${entry.env}`;
      const channel = this.#manifests.get(`${keys.channels}${id}.json`)?.value;
      const pin = this.#manifests.get(`${keys.pins}${id}.json`)?.value;
      const history = await this.#tolerate(() => this.#historyOf(entry.app, entry.env, entry.changed, counter, signal), signal);
      const sequence = isEnvelope(channel) && 'info' in channel.read ? channel.read.info.sequence : undefined;
      const events = await this.#tolerate(() => this.#eventsOf(entry.app, entry.env, sequence, entry.changed || entry.outcome, counter, signal), signal);
      const reports = (reportsByAppEnv.get(id) ?? []).sort((a, b) => (a.key < b.key ? -1 : 1));
      apps.push({
        app: entry.app,
        env: entry.env,
        ...(channel === undefined ? {} : { channel }),
        ...(pin === undefined ? {} : { pin }),
        reports,
        history: 'error' in history ? [] : history.value.shown,
        historyCount: 'error' in history ? 0 : history.value.count,
        ...('error' in history ? { historyError: history.error } : history.value.approvalsError === undefined ? {} : { approvalsError: history.value.approvalsError }),
        ...('error' in events ? { eventsError: events.error } : events.value === undefined ? {} : { events: events.value }),
      });
    });
    apps.sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : a.env < b.env ? -1 : a.env > b.env ? 1 : 0));
    return {
      bucket: this.#bucket,
      prefix: keys.prefix,
      readAt,
      durationMs: Math.round(performance.now() - started),
      requests: { ...counter },
      apps,
    };
  }

  /**
   * history/ and events/ are extras: a listing that fails (an IAM policy without events/, say) is
   * reported on the page instead of failing the whole refresh, and retried on the next one.
   */
  async #tolerate<T>(read: () => Promise<T>, signal: AbortSignal | undefined): Promise<{ value: T } | { error: string }> {
    try {
      return { value: await read() };
    } catch (error) {
      if (signal?.aborted) throw error;
      const e = toHoistError(error);
      return { error: `${e.code}: ${e.message}` };
    }
  }

  async #list(prefix: string, counter: Counter, signal: AbortSignal | undefined): Promise<ListedKey[]> {
    const out: ListedKey[] = [];
    for await (const item of listKeys(this.#s3, { bucket: this.#bucket, prefix, signal, onPage: () => (counter.list += 1) })) out.push(item);
    return out;
  }

  async #get(key: string, etag: string | undefined, maxBytes: number, counter: Counter, signal: AbortSignal | undefined): Promise<Fetched> {
    counter.get += 1;
    try {
      const result = await getObjectIfChanged(this.#s3, { bucket: this.#bucket, key, etag, maxBytes, signal });
      if (result.status === 'not-modified') counter.notModified += 1;
      return result;
    } catch (error) {
      if (signal?.aborted) throw error;
      return { status: 'error', error: `${toHoistError(error).code}: ${toHoistError(error).message}` };
    }
  }

  async #historyOf(app: string, env: string, changed: boolean, counter: Counter, signal: AbortSignal | undefined): Promise<{ shown: HistoryObject[]; count: number; approvalsError?: string }> {
    const id = `${app}/${env}`;
    const folder = this.#keys.history(app, env);
    let listing = this.#historyListings.get(id);
    if (listing === undefined || changed) {
      this.#historyListings.delete(id);
      const items = await this.#list(folder, counter, signal);
      const parsed = items.flatMap((item) => {
        const at = parseHistoryKey(folder, item.key);
        return at === undefined ? [] : [{ key: item.key, etag: item.etag, ...at }];
      });
      parsed.sort((a, b) => b.sequence - a.sequence || (a.kind === b.kind ? 0 : a.kind === 'release' ? -1 : 1));
      const approvalsFolder = this.#keys.approvals(app, env);
      const approvalItems = await this.#tolerate(() => this.#list(approvalsFolder, counter, signal), signal);
      let approvals: Map<number, Array<{ key: string; etag: string | undefined }>> | undefined;
      if (!('error' in approvalItems)) {
        approvals = new Map();
        for (const item of approvalItems.value) {
          const at = parseApprovalKey(approvalsFolder, item.key);
          if (at === undefined) continue;
          const list = approvals.get(at.sequence) ?? [];
          list.push({ key: item.key, etag: item.etag });
          approvals.set(at.sequence, list);
        }
      }
      listing = { keys: parsed, approvals, ...('error' in approvalItems ? { approvalsError: approvalItems.error } : {}) };
      this.#historyListings.set(id, listing);
      const kept = new Set([...parsed.map((p) => p.key), ...[...(approvals?.values() ?? [])].flat().map((a) => a.key)]);
      for (const map of [this.#history, this.#approvals] as const) {
        for (const key of [...map.keys()]) if ((key.startsWith(folder) || key.startsWith(approvalsFolder)) && !kept.has(key)) map.delete(key);
      }
    }
    const newest = listing.keys.slice(0, this.#historyLimit);
    const shown = await mapLimit(newest, this.#concurrency, async (k): Promise<HistoryObject> => {
      let held = this.#history.get(k.key);
      if (held === undefined || (k.etag !== undefined && held.etag !== k.etag)) {
        const fetched = await this.#get(k.key, held?.etag, DEFAULT_MAX_ENVELOPE_BYTES, counter, signal);
        const next = manifestOf(k.key, fetched, held) ?? { etag: undefined, value: { key: k.key, error: 'deleted while it was read' } };
        this.#history.set(k.key, next);
        held = next;
      }
      const statements = k.kind === 'release' ? listing.approvals?.get(k.sequence) : undefined;
      if (statements === undefined) return { key: k.key, kind: k.kind, sequence: k.sequence, object: held.value };
      const approvals = await mapLimit(statements, this.#concurrency, async (a) => {
        let statement = this.#approvals.get(a.key);
        if (statement === undefined || (a.etag !== undefined && statement.etag !== a.etag)) {
          const fetched = await this.#get(a.key, statement?.etag, DEFAULT_MAX_ENVELOPE_BYTES, counter, signal);
          statement = approvalOf(fetched, statement) ?? { etag: undefined, value: { error: 'deleted while it was read' } };
          this.#approvals.set(a.key, statement);
        }
        return { key: a.key, read: statement.value };
      });
      return { key: k.key, kind: k.kind, sequence: k.sequence, object: held.value, approvals };
    });
    return { shown, count: listing.keys.length, ...(listing.approvalsError === undefined ? {} : { approvalsError: listing.approvalsError }) };
  }

  async #eventsOf(app: string, env: string, sequence: number | undefined, changed: boolean, counter: Counter, signal: AbortSignal | undefined): Promise<SequenceEvents | undefined> {
    const id = `${app}/${env}`;
    if (sequence === undefined) {
      this.#events.delete(id);
      return undefined;
    }
    const held = this.#events.get(id);
    if (held !== undefined && held.events.sequence === sequence && !changed && !held.again) return held.events;
    const folder = this.#keys.events(app, env, sequence);
    this.#events.delete(id);
    const outcomes = new Map<string, string[]>();
    for (const item of await this.#list(folder, counter, signal)) {
      const at = parseEventKey(folder, item.key);
      if (at === undefined) continue;
      const hosts = outcomes.get(at.outcome) ?? [];
      hosts.push(at.host);
      outcomes.set(at.outcome, hosts);
    }
    const events = { sequence, outcomes };
    this.#events.set(id, { events, again: changed || held?.events.sequence !== sequence });
    return events;
  }
}

function manifestOf(key: string, fetched: Fetched, held: Held<ManifestObject> | undefined): Held<ManifestObject> | undefined {
  switch (fetched.status) {
    case 'missing':
      return undefined;
    case 'not-modified':
      return held;
    case 'error':
      return { etag: undefined, value: { key, error: fetched.error } };
    case 'ok':
      return { etag: fetched.etag, value: { key, bytes: fetched.body, read: readEnvelope(fetched.body) } };
  }
}

function approvalOf(fetched: Fetched, held: Held<ReadApproval> | undefined): Held<ReadApproval> | undefined {
  switch (fetched.status) {
    case 'missing':
      return undefined;
    case 'not-modified':
      return held;
    case 'error':
      return { etag: undefined, value: { error: fetched.error } };
    case 'ok':
      return { etag: fetched.etag, value: readApproval(fetched.body) };
  }
}

function reportOf(key: string, keyHost: string, fetched: Fetched, held: Held<ReportObject> | undefined): Held<ReportObject> | undefined {
  switch (fetched.status) {
    case 'missing':
      return undefined;
    case 'not-modified':
      return held;
    case 'error':
      return { etag: undefined, value: { key, keyHost, error: fetched.error } };
    case 'ok': {
      const value = parseJson(fetched.body);
      if (value === undefined) return { etag: fetched.etag, value: { key, keyHost, error: 'not JSON' } };
      const report = readReport(value);
      return { etag: fetched.etag, value: report === undefined ? { key, keyHost, error: 'not a JSON object' } : { key, keyHost, report } };
    }
  }
}

/** What changes when a host reaches an outcome (and so writes an event). */
function outcomeOf(r: ReportObject | undefined): string {
  const report = r?.report;
  return report === undefined ? '' : JSON.stringify([report.state, report.lastAttempt?.outcome, report.lastAttempt?.at, report.current?.sha256]);
}
