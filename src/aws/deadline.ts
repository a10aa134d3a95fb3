/**
 * One overall bound for each control call (HeadObject, a manifest GET, ListObjectsV2, a report
 * PUT, SendMessage, Publish, ...): connect, first byte and the SDK's own retries together. The
 * SDK's time-outs (connect 10 s, idle socket 120 s, two attempts) stay as they are; this only
 * stops a call that is still waiting when the bound runs out, by aborting it, so an endpoint that
 * accepts connections and never answers fails in seconds instead of four minutes.
 *
 * Not bounded: the calls that carry an artifact (UploadPart, CompleteMultipartUpload, a PutObject
 * of more than 1 MiB), whose time grows with the bytes and the link. Bounded differently: an SQS
 * long poll gets its wait time on top. A GetObject is bounded until its answer starts (the SDK
 * resolves at the headers); the body of an artifact download has its own stall rule.
 */
import { CompleteMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { HoistError } from '../errors.ts';
import { isUnreachable, type AwsService } from './errors.ts';

/**
 * 10 s per call, so that a command whose endpoint does not answer fails, start-up included,
 * within the 15 s promised to operators: on a loaded 2-core machine the process start and the
 * first call's set-up took up to 3 s beside a 12 s bound (15.1 s in all). S3 and SQS answer a
 * control call in well under a second.
 */
export const CONTROL_CALL_BOUND_MS = 10_000;

const SMALL_BODY_BYTES = 1024 * 1024;

/** The bound for one command in ms, or undefined when it is not bounded. */
export function boundFor(command: unknown, boundMs: number = CONTROL_CALL_BOUND_MS): number | undefined {
  if (command instanceof UploadPartCommand || command instanceof CompleteMultipartUploadCommand) return undefined;
  if (command instanceof PutObjectCommand) {
    const body: unknown = command.input.Body;
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : Infinity;
    return size <= SMALL_BODY_BYTES ? boundMs : undefined;
  }
  if (command instanceof ReceiveMessageCommand) return (command.input.WaitTimeSeconds ?? 0) * 1000 + boundMs;
  return boundMs;
}

/** `HeadObject`, `SendMessage`: the operation a command runs, for messages. */
export function operationName(command: unknown): string {
  const schema = (command as { schema?: unknown }).schema;
  if (Array.isArray(schema) && typeof schema[2] === 'string') return schema[2];
  const name = (command as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' ? name.replace(/Command$/, '') : 'request';
}

interface SendOptions {
  abortSignal?: AbortSignal;
  [key: string]: unknown;
}

type Send = (command: unknown, options?: SendOptions) => Promise<unknown>;

export interface BoundTarget {
  readonly service: AwsService;
  /** `endpoint http://10.0.0.5:9000` or `the S3 endpoint of us-east-1`, with the proxy when one is used. */
  describe(): Promise<string>;
}

/**
 * Replaces `client.send` with one that bounds every control call and names the endpoint (and
 * the proxy) when a call cannot reach it: a call stopped by the bound, or one that failed to
 * connect at all, fails with HOIST_<SERVICE>_UNREACHABLE. The caller's own abort, and every
 * error that came with an answer, pass through untouched.
 */
export function guardSends(client: object, target: BoundTarget, boundMs: number = CONTROL_CALL_BOUND_MS): void {
  const holder = client as { send: Send };
  const send: Send = holder.send.bind(client);
  holder.send = async (command, options) => {
    const limit = boundFor(command, boundMs);
    const caller = options?.abortSignal;
    const deadline = new AbortController();
    const timer = limit === undefined ? undefined : setTimeout(() => deadline.abort(new Error('control call bound reached')), limit);
    const signal = limit === undefined ? caller : caller === undefined ? deadline.signal : AbortSignal.any([caller, deadline.signal]);
    try {
      return await send(command, signal === undefined ? options : { ...options, abortSignal: signal });
    } catch (error) {
      if (caller?.aborted === true) throw error;
      const timedOut = deadline.signal.aborted;
      if (!timedOut && !isUnreachable(error)) throw error;
      const where = await target.describe();
      const operation = operationName(command);
      const what = timedOut ? `got no answer from ${where} within ${(limit ?? 0) / 1000} s` : `could not reach ${where} (${describeCause(error)})`;
      throw new HoistError(`HOIST_${target.service}_UNREACHABLE`, `${target.service} ${operation} ${what}; check network access to it (security groups, VPC endpoints, HTTPS_PROXY/NO_PROXY; see docs/networking.md)`, {
        cause: error,
        details: { service: target.service, operation, endpoint: where, ...(timedOut ? { boundMs: limit } : {}) },
      });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  };
}

function describeCause(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message.replace(/^@smithy\/node-http-handler - /, '') : String(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}
