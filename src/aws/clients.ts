/**
 * The AWS SDK clients hoist uses, built one way: the SDK's default credential chain and region
 * resolution, an optional endpoint override (S3-compatible stores, emulators), few SDK-level
 * retries (hoist retries itself where it matters, with its own backoff and resume), and timeouts
 * so a dead endpoint fails instead of hanging.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';

export interface AwsClientOptions {
  /** Region; absent = the SDK's own resolution (AWS_REGION, profile, IMDS). */
  readonly region?: string;
  /** Endpoint override for all three services; null/absent = AWS. */
  readonly endpoint?: string | null;
}

export interface AwsClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  /** Closes the clients' sockets; idempotent. */
  destroy(): void;
}

/** SDK attempts per request (first try + 1 retry): enough for a stray 5xx, not a retry storm. */
export const SDK_MAX_ATTEMPTS = 2;

/** Passed as requestHandler options; the SDK builds its NodeHttpHandler from them. */
export const HTTP_HANDLER_OPTIONS = {
  connectionTimeout: 10_000,
  // Idle socket timeout: longer than the 20 s SQS long poll, short enough to notice a dead peer.
  socketTimeout: 120_000,
} as const;

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const common = {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined || options.endpoint === null ? {} : { endpoint: options.endpoint }),
    maxAttempts: SDK_MAX_ATTEMPTS,
    requestHandler: { ...HTTP_HANDLER_OPTIONS },
  };
  const hasEndpoint = options.endpoint !== undefined && options.endpoint !== null;
  // Path-style addressing: custom endpoints rarely serve virtual-hosted bucket subdomains.
  const s3 = new S3Client({ ...common, ...(hasEndpoint ? { forcePathStyle: true } : {}) });
  const sqs = new SQSClient(common);
  const sns = new SNSClient(common);
  let destroyed = false;
  return {
    s3,
    sqs,
    sns,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      s3.destroy();
      sqs.destroy();
      sns.destroy();
    },
  };
}
