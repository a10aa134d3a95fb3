/**
 * Writing a host's deploy events (src/report/events.ts): once per (sequence, outcome), recorded in
 * the state after the PUT succeeds, so a rerun of the same sequence (`--once` again, a retry after
 * a failure before the flip, a restart) writes no duplicate, on S3 or on a store that ignores
 * `If-None-Match`. A PUT that fails is logged and tried again with the next event or reconcile of
 * the app (kept in memory, not across restarts): other hosts count these events to halt a rollout.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Keys } from '../aws/keys.ts';
import { toHoistError } from '../errors.ts';
import { alreadyWritten, buildEvent, publishEvent, withWritten, type DeployEvent } from '../report/events.ts';
import type { EventOutcome } from '../state/schema.ts';
import type { Log, StateKeeper } from './types.ts';

export interface EventTarget {
  readonly kind: 'release' | 'pin';
  readonly version: string;
  readonly sequence: number;
  readonly sha256: string;
}

export interface EventWriterOptions {
  readonly s3: S3Client;
  readonly bucket: () => string;
  readonly prefix: () => string;
  readonly hostId: string;
  readonly keeper: StateKeeper;
  readonly enabled: () => boolean;
  readonly now: () => Date;
}

export class EventWriter {
  readonly #o: EventWriterOptions;
  /** Per app: events whose PUT failed, tried again before the next one. */
  readonly #pending = new Map<string, DeployEvent[]>();

  constructor(options: EventWriterOptions) {
    this.#o = options;
  }

  /** Writes the event of an outcome unless this host wrote it before; never throws. */
  async write(
    key: string,
    app: { readonly name: string; readonly env: string },
    target: EventTarget,
    outcome: EventOutcome,
    log: Log,
    extra: { durationSeconds?: number | undefined; error?: { code: string; message: string } | undefined } = {},
  ): Promise<void> {
    if (!this.#o.enabled()) return;
    const pending = this.#pending.get(key) ?? [];
    if (alreadyWritten(this.#o.keeper.app(key).events, target.sequence, outcome) || pending.some((e) => e.sequence === target.sequence && e.outcome === outcome)) {
      await this.retry(key, log);
      return;
    }
    const event = buildEvent({ hostId: this.#o.hostId, app: app.name, env: app.env, target, outcome, at: this.#o.now(), durationSeconds: extra.durationSeconds, error: extra.error });
    this.#pending.set(key, [...pending, event]);
    await this.retry(key, log);
  }

  /** Writes what is pending for the app; what fails stays pending. */
  async retry(key: string, log: Log): Promise<void> {
    const pending = this.#pending.get(key);
    if (pending === undefined || pending.length === 0) return;
    const left: DeployEvent[] = [];
    for (const event of pending) {
      const objectKey = s3Keys(this.#o.prefix()).event(event.app, event.env, event.sequence, event.outcome, event.hostId);
      try {
        const result = await publishEvent(this.#o.s3, { bucket: this.#o.bucket(), key: objectKey, event });
        if (result === 'exists') log.debug({ key: objectKey }, 'the event was written before; kept as it is');
        await this.#o.keeper.update(key, (s) => ({ ...s, events: withWritten(s.events, event.sequence, event.outcome) }), { bestEffort: true });
      } catch (err) {
        const e = toHoistError(err);
        log.warn({ code: e.code, err: e.message, key: objectKey }, `could not write the ${event.outcome} event of sequence ${event.sequence}; will try again`);
        left.push(event);
      }
    }
    if (left.length === 0) this.#pending.delete(key);
    else this.#pending.set(key, left);
  }
}
