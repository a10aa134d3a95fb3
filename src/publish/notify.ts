/**
 * Notifications after a manifest is written: the envelope itself as the body of each SQS
 * message and as the Message of each SNS publish. Sent in parallel; every failure is reported.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { wrapAwsError } from '../aws/errors.ts';
import { HoistError } from '../errors.ts';

export interface NotifyTargets {
  readonly sqs: readonly string[];
  readonly sns: readonly string[];
}

export interface NotifyResult {
  readonly target: string;
  readonly kind: 'sqs' | 'sns';
  readonly ok: boolean;
  readonly error?: HoistError;
}

export async function notify(
  clients: { sqs: SQSClient; sns: SNSClient },
  targets: NotifyTargets,
  body: string,
  signal?: AbortSignal,
): Promise<NotifyResult[]> {
  const options = signal === undefined ? {} : { abortSignal: signal };
  const jobs: Array<Promise<NotifyResult>> = [
    ...targets.sqs.map(async (url): Promise<NotifyResult> => {
      try {
        await clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }), options);
        return { target: url, kind: 'sqs', ok: true };
      } catch (err) {
        return { target: url, kind: 'sqs', ok: false, error: wrapAwsError(err, 'SQS', `SendMessage ${url}`) };
      }
    }),
    ...targets.sns.map(async (arn): Promise<NotifyResult> => {
      try {
        await clients.sns.send(new PublishCommand({ TopicArn: arn, Message: body }), options);
        return { target: arn, kind: 'sns', ok: true };
      } catch (err) {
        return { target: arn, kind: 'sns', ok: false, error: wrapAwsError(err, 'SNS', `Publish ${arn}`) };
      }
    }),
  ];
  return Promise.all(jobs);
}

/** Throws the first failure (SQS/SNS code) after everything was attempted; the manifest is already written. */
export function assertNotified(results: readonly NotifyResult[]): void {
  const failed = results.filter((r) => !r.ok);
  const first = failed[0]?.error;
  if (first === undefined) return;
  throw new HoistError(first.code, `the manifest was written, but ${failed.length} notification${failed.length === 1 ? '' : 's'} failed (agents still find it on their next S3 poll): ${failed.map((r) => `${r.target}: ${r.error?.message ?? ''}`).join('; ')}`, {
    cause: first,
  });
}

/** `notified  sqs <url>` lines for the command output (failures are thrown by assertNotified). */
export function describeNotified(results: readonly NotifyResult[]): string {
  return results.filter((r) => r.ok).map((r) => `notified  ${r.kind} ${r.target}\n`).join('');
}

/**
 * What every writing command does after the manifest is written: notify, print one line per
 * target reached, then fail with the first error if any target was not.
 */
export async function announce(
  clients: { sqs: SQSClient; sns: SNSClient },
  targets: NotifyTargets,
  body: string,
  write: (text: string) => void,
): Promise<void> {
  const results = await notify(clients, targets, body);
  write(describeNotified(results));
  assertNotified(results);
}
