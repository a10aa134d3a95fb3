/**
 * The end of every command that writes a manifest: print what was written (lines, or one JSON
 * object with --json), then notify the agents and fail with the first notification error, if any,
 * after everything was attempted and printed.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { announce, assertNotified, notify } from '../publish/notify.ts';
import { notifyTargets, type NotifyOptions } from '../publish/options.ts';
import type { OutputOptions } from './json-option.ts';
import { writeOut } from './output.ts';

export async function reportWritten(
  clients: { sqs: SQSClient; sns: SNSClient },
  opts: NotifyOptions & OutputOptions,
  envelope: string,
  text: string,
  value: Record<string, unknown>,
): Promise<void> {
  if (opts.json !== true) {
    writeOut(text);
    await announce(clients, notifyTargets(opts), envelope, writeOut);
    return;
  }
  const results = await notify(clients, notifyTargets(opts), envelope);
  const notified = results.map((r) => ({ kind: r.kind, target: r.target, ok: r.ok, ...(r.error === undefined ? {} : { code: r.error.code, message: r.error.message }) }));
  writeOut(`${JSON.stringify({ ...value, notified }, null, 2)}\n`);
  assertNotified(results);
}
