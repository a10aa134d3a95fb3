/**
 * The AWS adapter edge: the one place SDK errors become HoistErrors, and the one predicate that
 * decides "retry or give up" for anything that talks to S3/SQS/SNS (STYLE practice 4).
 */
import { HoistError, isHoistError } from '../errors.ts';
import type { HoistErrorCode } from '../errors.ts';

export type AwsService = 'S3' | 'SQS' | 'SNS';

/** Node/undici network error codes that mean "the connection broke, try again". */
const RETRYABLE_NET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND', // DNS hiccups on EC2 are transient more often than not
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'HOIST_STALL', // our own low-speed watchdog (see fetch/stall.ts)
  'HOIST_SHORT_READ', // a body that ended before the bytes we were promised (see fetch/download.ts)
]);

const RETRYABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'InternalError',
  'ServiceUnavailable',
  'PriorRequestNotComplete',
]);

/** HoistErrors that describe the content itself: downloading again cannot fix them. */
const FINAL_HOIST_CODES = new Set<HoistErrorCode>([
  'HOIST_DIGEST_MISMATCH',
  'HOIST_SIZE_EXCEEDED',
  'HOIST_ARTIFACT_NOT_FOUND',
]);

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchVersion']);

/** Connection-level failures: the endpoint (or the proxy before it) was never reached. */
const UNREACHABLE_NET_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_PROXY_TUNNEL']);

/** The codes that say "could not reach the service", whatever the service. */
export const UNREACHABLE_CODES = new Set<HoistErrorCode>(['HOIST_S3_UNREACHABLE', 'HOIST_SQS_UNREACHABLE', 'HOIST_SNS_UNREACHABLE']);

/** The codes of a failed AWS call: unreachable, or answered with an error. */
export const AWS_FAILURE_CODES = new Set<HoistErrorCode>(['HOIST_S3', 'HOIST_SQS', 'HOIST_SNS', ...UNREACHABLE_CODES]);

/** True for a HoistError of a failed AWS call (the bucket is unreachable or refused the request). */
export function isAwsFailure(err: unknown): err is HoistError {
  return isHoistError(err) && AWS_FAILURE_CODES.has(err.code);
}

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
}

function shape(err: unknown): ErrorShape | undefined {
  return typeof err === 'object' && err !== null ? err : undefined;
}

/** The HTTP status the SDK saw, if any. */
export function httpStatus(err: unknown): number | undefined {
  const status = shape(err)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function errorName(err: unknown): string | undefined {
  const s = shape(err);
  if (s === undefined) return undefined;
  if (typeof s.Code === 'string') return s.Code;
  return typeof s.name === 'string' ? s.name : undefined;
}

function netCode(err: unknown): string | undefined {
  const code = shape(err)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The error and its causes, bounded so a cyclic cause chain cannot loop forever. */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let current: unknown = err;
  for (let i = 0; i < 5 && current !== undefined && current !== null; i++) {
    out.push(current);
    current = shape(current)?.cause;
  }
  return out;
}

function isRetryableOne(err: unknown): boolean {
  const s = shape(err);
  if (s === undefined) return false;
  const code = netCode(err);
  if (code !== undefined && RETRYABLE_NET_CODES.has(code)) return true;
  const name = errorName(err);
  if (name !== undefined && RETRYABLE_NAMES.has(name)) return true;
  if (typeof s.message === 'string' && /socket hang up|aborted|ECONNRESET|premature close/i.test(s.message)) {
    // Only for errors without an HTTP answer: a 4xx whose message happens to say "aborted" is final.
    if (httpStatus(err) === undefined && name !== 'AbortError') return true;
  }
  const status = httpStatus(err);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  return s.$retryable !== undefined && s.$retryable !== null && s.$retryable !== false;
}

/**
 * True when trying the same request again may succeed: broken connections, timeouts, stalls,
 * throttling, 408/429 and 5xx. False for 4xx answers, aborts, and content errors (digest, size,
 * missing artifact).
 */
export function isRetryable(err: unknown): boolean {
  if (isHoistError(err)) {
    if (FINAL_HOIST_CODES.has(err.code)) return false;
    // No answer in time (its cause is the abort that ended the wait): the next try may get one.
    if (UNREACHABLE_CODES.has(err.code)) return true;
    // A HoistError wrapping a transient failure (e.g. from wrapAwsError) stays retryable.
    return err.cause !== undefined && isRetryable(err.cause);
  }
  const name = errorName(err);
  // The caller's abort is never retried; an SDK-level abort (AbortError) neither.
  if (name === 'AbortError') return false;
  return chain(err).some(isRetryableOne);
}

/**
 * True when the request never reached an answer: connection refused, no route, DNS failure,
 * connect time-out, or a proxy that would not open the tunnel. An HTTP answer (any status) is not.
 */
export function isUnreachable(err: unknown): boolean {
  if (isHoistError(err)) return UNREACHABLE_CODES.has(err.code);
  return chain(err).some((e) => {
    if (httpStatus(e) !== undefined) return false;
    const code = netCode(e);
    if (code !== undefined && UNREACHABLE_NET_CODES.has(code)) return true;
    const message = shape(e)?.message;
    return typeof message === 'string' && /establish tunnel|did not establish a connection|socket timed out/i.test(message);
  });
}

/** True when S3 said the object (or bucket key) does not exist: NoSuchKey / 404. */
export function isNotFound(err: unknown): boolean {
  if (isHoistError(err)) return err.code === 'HOIST_ARTIFACT_NOT_FOUND';
  const name = errorName(err);
  if (name !== undefined && NOT_FOUND_NAMES.has(name)) return true;
  return httpStatus(err) === 404 && name !== 'NoSuchBucket';
}

/** True when a conditional write (If-None-Match: *, If-Match) was refused: 412 Precondition Failed. */
export function isPreconditionFailed(err: unknown): boolean {
  return httpStatus(err) === 412 || errorName(err) === 'PreconditionFailed';
}

/** True when a conditional GET (If-None-Match) answered 304 Not Modified. */
export function isNotModified(err: unknown): boolean {
  return httpStatus(err) === 304 || errorName(err) === 'NotModified';
}

const CHECKS: Record<AwsService, string> = {
  S3: 'the bucket name, region, --endpoint, credentials and the IAM policy',
  SQS: 'the queue URL, region, --endpoint, credentials and the IAM policy',
  SNS: 'the topic ARN, region, --endpoint, credentials and the IAM policy',
};

function reason(err: unknown, service: AwsService): string {
  const name = errorName(err);
  const status = httpStatus(err);
  const code = netCode(err);
  const message = shape(err)?.message;
  const text = typeof message === 'string' && message !== '' && message !== 'UnknownError' ? message : undefined;
  if (name === 'AccessDenied' || name === 'AccessDeniedException' || status === 403) {
    return `access denied${text && text !== 'Access Denied' ? ` (${text})` : ''}; check the credentials and that the IAM policy allows this ${service} action`;
  }
  if (name === 'NoSuchBucket') return 'the bucket does not exist; check the bucket name and region';
  if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') {
    return 'the queue does not exist; check the queue URL';
  }
  if (name === 'NotFound' && service === 'SNS') return 'the topic does not exist; check the topic ARN';
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'UnrecognizedClientException' || name === 'InvalidClientTokenId' || name === 'ExpiredToken' || name === 'ExpiredTokenException') {
    return `the credentials were rejected (${name}); check the AWS credentials available to hoist`;
  }
  if (name === 'CredentialsProviderError') return `no AWS credentials were found (${text ?? name}); configure an instance role, AWS_PROFILE or environment credentials`;
  if (code !== undefined && RETRYABLE_NET_CODES.has(code)) return `network error ${code}${text ? ` (${text})` : ''}; check network access to the ${service} endpoint`;
  if (isRetryable(err)) return `a transient failure (${name ?? 'error'}${status ? ` HTTP ${status}` : ''}${text ? `: ${text}` : ''}); it may succeed later`;
  const parts = [name, status !== undefined ? `HTTP ${status}` : undefined].filter((p) => p !== undefined);
  return `${parts.length > 0 ? `${parts.join(', ')}: ` : ''}${text ?? 'unknown error'}`;
}

/**
 * Turns an SDK (or network) error into a HoistError naming the operation (`what`, for example
 * "GetObject s3://bucket/key") and what to check. HoistErrors pass through unchanged. Not-found
 * is the caller's decision: test `isNotFound(err)` before wrapping.
 */
export function wrapAwsError(err: unknown, service: AwsService, what: string): HoistError {
  if (isHoistError(err)) return err;
  const code: HoistErrorCode = `HOIST_${service}`;
  const status = httpStatus(err);
  const name = errorName(err);
  const details: Record<string, unknown> = { service, operation: what };
  if (name !== undefined) details['awsError'] = name;
  if (status !== undefined) details['httpStatus'] = status;
  return new HoistError(code, `${service} ${what} failed: ${reason(err, service)}. Check ${CHECKS[service]}.`, {
    cause: err,
    details,
  });
}
