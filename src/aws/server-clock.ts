/**
 * The host clock against S3's: every answer carries a `Date` header (second resolution). Expiry
 * and issue-time checks of manifests read the host clock, so a host whose clock drifts accepts
 * expired manifests or refuses new ones; the agent warns (and reports `clockSkew`) when the two
 * differ by more than half of trust.clockSkew.
 */
import type { S3Client } from '@aws-sdk/client-s3';

/** Host clock minus S3's clock, in ms, from one answer (the request's midpoint is the host's time). */
export type ClockSample = (skewMs: number, at: Date) => void;

interface HttpResponseLike {
  readonly headers?: Record<string, string | undefined>;
}

/** Calls `onSample` with the skew seen in each S3 answer. */
export function watchServerClock(s3: S3Client, onSample: ClockSample): void {
  s3.middlewareStack.add(
    (next) => async (args) => {
      const sent = Date.now();
      const result = await next(args);
      const received = Date.now();
      const date = (result.response as HttpResponseLike | undefined)?.headers?.date;
      const server = date === undefined ? Number.NaN : Date.parse(date);
      // the header is rounded down to the second: compare with the middle of that second
      if (Number.isFinite(server)) onSample(Math.round((sent + received) / 2 - (server + 500)), new Date(received));
      return result;
    },
    { step: 'deserialize', name: 'hoistServerClock', override: true },
  );
}

/** Whether a skew is worth a warning: over half of the allowed clock skew (and over a second). */
export function skewMatters(skewMs: number, allowedMs: number): boolean {
  return Math.abs(skewMs) > Math.max(1000, allowedMs / 2);
}
