/**
 * The AWS SDK clients hoist uses, built one way: the SDK's default credential chain and region
 * resolution, an optional endpoint per service (VPC interface endpoints, S3-compatible stores,
 * emulators), the proxy from HTTPS_PROXY/HTTP_PROXY/NO_PROXY, few SDK-level retries (hoist
 * retries itself where it matters, with its own backoff and resume), and one overall bound per
 * control call (deadline.ts) so a dead endpoint fails in seconds instead of hanging.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { guardSends, type BoundTarget } from './deadline.ts';
import type { AwsService } from './errors.ts';
import { hasProxy, nodeProxyEnv, proxyFor, proxySettings, redactProxy, type ProxyEnv, type ProxySettings } from './proxy.ts';

export type ServiceName = 's3' | 'sqs' | 'sns';

export type AwsEndpoints = Partial<Record<ServiceName, string | null | undefined>>;

export interface AwsClientOptions {
  /** Region; absent = the SDK's own resolution (AWS_REGION, profile, IMDS). */
  readonly region?: string;
  /** Endpoint override for all three services; null/absent = AWS. */
  readonly endpoint?: string | null;
  /** One endpoint per service, over `endpoint` (VPC interface endpoints). */
  readonly endpoints?: AwsEndpoints;
  /** Where HTTPS_PROXY/HTTP_PROXY/NO_PROXY are read; default process.env. */
  readonly env?: ProxyEnv;
}

export interface AwsClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  /** The endpoint each service uses (null = AWS's own). */
  readonly endpoints: Readonly<Record<ServiceName, string | null>>;
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

/** The SDK's own agent settings (NodeHttpHandler's defaults), kept when hoist builds the agents. */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 50 } as const;

// node:http taken with getBuiltinModule, not `import`: an ES module import of it builds a facade
// whose lazy WebSocket exports load undici for good (see util/http-text.ts).
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

const SERVICE: Record<ServiceName, AwsService> = { s3: 'S3', sqs: 'SQS', sns: 'SNS' };

/** Each service's endpoint: its own, else the common one, else null (AWS). */
export function resolveEndpoints(options: Pick<AwsClientOptions, 'endpoint' | 'endpoints'>): Record<ServiceName, string | null> {
  const common = options.endpoint ?? null;
  const one = (name: ServiceName): string | null => options.endpoints?.[name] ?? common;
  return { s3: one('s3'), sqs: one('sqs'), sns: one('sns') };
}

/**
 * The request handler options of one client: the SDK's time-outs, and with a proxy configured,
 * agents that use Node's own proxy support. Handing the SDK agent instances (rather than
 * options) also keeps its `Expect: 100-continue` uploads on them: for those it would otherwise
 * build a fresh agent of its own that ignores the proxy.
 */
export function requestHandlerOptions(settings: ProxySettings): Record<string, unknown> {
  if (!hasProxy(settings)) return { ...HTTP_HANDLER_OPTIONS };
  const proxyEnv = nodeProxyEnv(settings);
  return {
    ...HTTP_HANDLER_OPTIONS,
    httpAgent: new http.Agent({ ...AGENT_OPTIONS, proxyEnv }),
    httpsAgent: new https.Agent({ ...AGENT_OPTIONS, proxyEnv }),
  };
}

/** `endpoint http://10.0.0.5:9000 through proxy http://proxy:3128`, for messages. */
export function describeEndpoint(service: AwsService, endpoint: string | null, region: string | undefined, settings: ProxySettings): string {
  const host = `${service.toLowerCase()}.${region ?? 'us-east-1'}.amazonaws.com`;
  const url = endpoint ?? `https://${host}`;
  const where = endpoint === null ? `the ${service} endpoint of ${region ?? 'the default region'} (${host})` : `endpoint ${endpoint}`;
  let proxy: string | undefined;
  try {
    proxy = proxyFor(url, settings);
  } catch {
    proxy = undefined;
  }
  return proxy === undefined ? where : `${where} through proxy ${redactProxy(proxy)}`;
}

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const settings = proxySettings(options.env ?? process.env);
  keepGlobalAgentsDirect();
  const endpoints = resolveEndpoints(options);
  const config = (name: ServiceName) => ({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(endpoints[name] === null ? {} : { endpoint: endpoints[name] }),
    maxAttempts: SDK_MAX_ATTEMPTS,
    requestHandler: requestHandlerOptions(settings),
  });
  // Path-style addressing: custom endpoints rarely serve virtual-hosted bucket subdomains.
  const s3 = new S3Client({ ...config('s3'), ...(endpoints.s3 === null ? {} : { forcePathStyle: true }) });
  const sqs = new SQSClient(config('sqs'));
  const sns = new SNSClient(config('sns'));
  const target = (name: ServiceName, client: { config: { region: () => Promise<string> } }): BoundTarget => ({
    service: SERVICE[name],
    async describe() {
      const region = options.region ?? (await client.config.region().catch(() => undefined));
      return describeEndpoint(SERVICE[name], endpoints[name], region, settings);
    },
  });
  guardSends(s3, target('s3', s3));
  guardSends(sqs, target('sqs', sqs));
  guardSends(sns, target('sns', sns));
  let destroyed = false;
  return {
    s3,
    sqs,
    sns,
    endpoints,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      s3.destroy();
      sqs.destroy();
      sns.destroy();
    },
  };
}

let globalAgentsChecked = false;

/**
 * With NODE_USE_ENV_PROXY=1 (or --use-env-proxy) Node routes its global agents through the
 * proxy, and the SDK's credential providers use them for the instance metadata service
 * (169.254.169.254) and the container credentials endpoint, which must never go through a proxy.
 * hoist's own AWS traffic has agents of its own, so the global ones are made direct again.
 */
function keepGlobalAgentsDirect(): void {
  if (globalAgentsChecked) return;
  globalAgentsChecked = true;
  const envProxy = process.env.NODE_USE_ENV_PROXY === '1' || process.execArgv.includes('--use-env-proxy') || /--use-env-proxy\b/.test(process.env.NODE_OPTIONS ?? '');
  if (!envProxy) return;
  http.globalAgent = new http.Agent({ keepAlive: true });
  https.globalAgent = new https.Agent({ keepAlive: true });
}
