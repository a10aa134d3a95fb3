/**
 * The options every operator command shares (bucket, prefix, key, trust, AWS endpoint, region,
 * notifications) and the client scope that names the endpoint in every AWS error.
 */
import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import { createAwsClients, type AwsClients } from '../aws/clients.ts';
import { s3Keys, type S3Keys } from '../aws/keys.ts';
import { isAwsFailure } from '../aws/errors.ts';
import { HoistError } from '../errors.ts';
import { parseDuration } from '../util/units.ts';
import type { NotifyTargets } from './notify.ts';
import { addJsonOption } from '../cli/json-option.ts';

export interface AwsOptions {
  region?: string;
  endpoint?: string;
  endpointS3?: string;
  endpointSqs?: string;
  endpointSns?: string;
}

export interface BucketOptions extends AwsOptions {
  bucket: string;
  prefix: string;
}

export interface NotifyOptions {
  notifySqs: string[];
  notifySns: string[];
}


function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addAwsOptions(cmd: Command): Command {
  return cmd
    .option('--region <region>', 'AWS region (default: the SDK\'s resolution: AWS_REGION, profile, instance metadata)')
    .option('--endpoint <url>', 'S3/SQS/SNS endpoint override (S3-compatible stores, emulators)')
    .option('--endpoint-s3 <url>', 'S3 endpoint only, over --endpoint (a VPC interface endpoint)')
    .option('--endpoint-sqs <url>', 'SQS endpoint only, over --endpoint')
    .option('--endpoint-sns <url>', 'SNS endpoint only, over --endpoint');
}

export function addBucketOptions(cmd: Command): Command {
  return addAwsOptions(
    cmd
      .requiredOption('--bucket <name>', 'the release bucket')
      .option('--prefix <prefix>', 'key prefix inside the bucket', ''),
  );
}

/** `--allow-loose-key`, beside `--key` of every command that loads a private key. */
export function looseKeyOption(): Option {
  return new Option('--allow-loose-key', 'use the private key even if its file is readable by group or others (refused otherwise: HOIST_KEY_PERMISSIONS)');
}

export function addNotifyOptions(cmd: Command): Command {
  return cmd
    .option('--notify-sqs <url>', 'send the envelope to this SQS queue (repeatable)', collect, [])
    .option('--notify-sns <arn>', 'publish the envelope to this SNS topic (repeatable)', collect, []);
}

/** `--app` and `--env`, required. */
export function addAppEnvOptions(cmd: Command): Command {
  return cmd.requiredOption('--app <name>', 'application name').requiredOption('--env <name>', 'environment name');
}

/** `-k, --key` (required) and `--allow-loose-key`, for the commands that sign with a key of `role`. */
export function addSigningKeyOptions(cmd: Command, role: 'release' | 'pin'): Command {
  return cmd.requiredOption('-k, --key <file>', `signing key (PKCS#8 Ed25519 PEM) of the ${role} role`).addOption(looseKeyOption());
}

/** `--trust FILE`; `required` for the commands that must not act on what they cannot verify. */
export function addTrustOption(cmd: Command, description: string, required = false): Command {
  return required ? cmd.requiredOption('--trust <file>', description) : cmd.option('--trust <file>', description);
}

/** The options of every command that reads one app and env of the bucket: --app, --env, the bucket, AWS. */
export function addReadOptions(cmd: Command): Command {
  return addBucketOptions(addAppEnvOptions(cmd));
}

export interface AppEnvOptions {
  app: string;
  env: string;
}

/** The options of every command that writes a manifest: the bucket, AWS, notifications, --json. */
export function addWriteOptions(cmd: Command): Command {
  return addJsonOption(addNotifyOptions(addBucketOptions(cmd)));
}

export function notifyTargets(opts: NotifyOptions): NotifyTargets {
  return { sqs: opts.notifySqs, sns: opts.notifySns };
}

export function keysOf(opts: BucketOptions): S3Keys {
  return s3Keys(opts.prefix);
}

/** `--expires 30d` in ms (HOIST_USAGE when it is not a positive duration). */
export function parseExpires(text: string | undefined, option = '--expires'): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new HoistError('HOIST_USAGE', `${option} ${JSON.stringify(text)} is not a duration; write it like "30d", "12h" or "90m"`);
  return ms;
}

/**
 * The rollout options of the commands that write a release (publish, promote): a percentage or a
 * schedule of steps, its start, and the fleet-wide failure limit. Parsed by
 * `rolloutFromOptions` (src/rollout/spec.ts).
 */
export function addRolloutOptions(cmd: Command): Command {
  return cmd
    .option('--rollout <percent>', 'share of the fleet that takes the release (0-100; default 100)')
    .option('--steps <steps>', 'a schedule instead of --rollout: PERCENT:AFTER[:SPREAD],... e.g. 5:0s,25:30m,100:2h (the rollout advances by itself)')
    .option('--start-at <time>', 'when the --steps schedule starts: an ISO time ("2026-12-01T08:00:00Z") or "+2h" from now (default: the issue time)')
    .option('--max-failures <n>', 'halt the rollout fleet-wide once this many hosts failed it (3), or this share of the hosts due so far (5%)');
}

export interface RolloutOptions {
  rollout?: string;
  steps?: string;
  startAt?: string;
  maxFailures?: string;
}

/** `--retry-failed`, beside the commands that write a release or a pin. */
export function retryFailedOption(): Option {
  return new Option('--retry-failed', 'hosts that have this artifact on their failed list try it once more (signed into the manifest as retryFailed)');
}

/** A duration that may be 0 (`--min-age 0s`), in ms; HOIST_USAGE when it is not one. */
export function parseDurationOption(text: string, option: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 0) throw new HoistError('HOIST_USAGE', `${option} ${JSON.stringify(text)} is not a duration; write it like "0s", "30m" or "2h"`);
  return ms;
}

/** `--rollout 25` as a percentage 0-100. */
export function parsePercent(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) {
    throw new HoistError('HOIST_USAGE', `--rollout ${JSON.stringify(text)} is not a percentage; give a number from 0 to 100`);
  }
  return n;
}

/** Who signs, for the manifest notes: --by, else the login name. */
export function defaultBy(by: string | undefined): string {
  if (by !== undefined && by !== '') return by;
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/**
 * Runs `fn` with AWS clients built from --region/--endpoint and destroys them afterwards. AWS
 * failures are rethrown naming the endpoint, so "connection refused" says which one.
 */
export async function withAws<T>(opts: AwsOptions, fn: (clients: AwsClients) => Promise<T>): Promise<T> {
  const clients = createAwsClients({
    ...(opts.region === undefined ? {} : { region: opts.region }),
    endpoint: opts.endpoint ?? null,
    endpoints: { s3: opts.endpointS3, sqs: opts.endpointSqs, sns: opts.endpointSns },
  });
  try {
    return await fn(clients);
  } catch (error) {
    // Unreachable endpoints are named where the error is made; answers with an error get it here.
    if (isAwsFailure(error) && typeof error.details?.endpoint !== 'string') {
      const service = error.code.startsWith('HOIST_SQS') ? 'sqs' : error.code.startsWith('HOIST_SNS') ? 'sns' : 's3';
      const endpoint = clients.endpoints[service];
      const where = endpoint === null ? `the AWS endpoint${opts.region === undefined ? '' : ` of ${opts.region}`}` : `endpoint ${endpoint}`;
      throw new HoistError(error.code, `${error.message} (${where})`, { cause: error.cause ?? error, details: { ...error.details, endpoint } });
    }
    if (error instanceof Error && /Region is missing/i.test(error.message)) {
      throw new HoistError('HOIST_USAGE', 'no AWS region is configured; pass --region or set AWS_REGION', { cause: error });
    }
    throw error;
  } finally {
    clients.destroy();
  }
}
