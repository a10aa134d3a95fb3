/**
 * The SQS source: a long-poll loop that hands each message to the agent,
 * one at a time, keeps it invisible to other receivers while it is being handled, and deletes it
 * only when the handler says so.
 *
 * Two ways to stop, as in bbc/sqs-consumer but without its Promise.race: `stop()` aborts the long
 * poll at once and waits for the handler in flight (drain); aborting `signal` also aborts the
 * handler (now). Every `send` carries an AbortSignal.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { wrapAwsError } from '../aws/errors.ts';
import { sleep } from '../util/sleep.ts';

export interface SqsMessage {
  body: string;
  receiptHandle: string;
  messageId: string;
  /** How many times SQS has delivered this message, this delivery included. */
  receiveCount: number;
}

export type HandleOutcome = 'delete' | 'retry';

export interface SqsConsumerOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Long-poll wait, 0–20 s. */
  waitSeconds: number;
  /** Visibility timeout asked for on receive; the heartbeat renews it every half of it. */
  visibilityTimeoutSec: number;
  handle: (message: SqsMessage, signal: AbortSignal) => Promise<HandleOutcome>;
  signal: AbortSignal;
  onError?: ((err: unknown) => void) | undefined;
  /** 1–10, default 1: the agent handles messages one at a time anyway. */
  maxMessages?: number | undefined;
  /** Visibility left on a message the handler asked to retry, so it comes back soon. Default 10 s. */
  retryDelaySec?: number | undefined;
}

export interface SqsConsumer {
  /** Aborts the long poll, waits for the handler in flight, releases unhandled messages. Idempotent. */
  stop(): Promise<void>;
}

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** Deletes and visibility changes after a handler are short; they must not hang a shutdown. */
const SETTLE_TIMEOUT_MS = 10_000;

export interface MessageHold {
  /** Stops the heartbeat; resolves once an extension already on the wire has finished. */
  release(): Promise<void>;
}

/**
 * Keeps a received message invisible while it is worked on: ChangeMessageVisibility to
 * `visibilityTimeoutSec` every half of it, until released. Failures go to `onError` and the
 * heartbeat keeps trying (the next beat may still be in time).
 */
export function holdMessage(
  sqs: SQSClient,
  queueUrl: string,
  receiptHandle: string,
  visibilityTimeoutSec: number,
  signal?: AbortSignal,
  onError?: (err: unknown) => void,
): MessageHold {
  let inFlight: Promise<void> | undefined;
  let released = false;
  const beat = (): void => {
    if (released || inFlight !== undefined || signal?.aborted) return;
    inFlight = sqs
      .send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutSec }),
        signal === undefined ? {} : { abortSignal: signal },
      )
      .then(
        () => undefined,
        (err: unknown) => {
          if (!signal?.aborted) onError?.(wrapAwsError(err, 'SQS', `ChangeMessageVisibility on ${queueUrl}`));
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
  };
  const timer = setInterval(beat, Math.max(500, (visibilityTimeoutSec * 1000) / 2));
  return {
    async release() {
      released = true;
      clearInterval(timer);
      // Wait, don't abort: an extension processed after our own visibility change would undo it.
      await inFlight;
    },
  };
}

export function startSqsConsumer(options: SqsConsumerOptions): SqsConsumer {
  const { sqs, queueUrl, waitSeconds, visibilityTimeoutSec, handle, signal, onError } = options;
  const maxMessages = options.maxMessages ?? 1;
  const retryDelaySec = options.retryDelaySec ?? 10;
  // Aborted by stop() (or by `signal`): ends the long poll and the backoff sleeps, not handlers.
  const polling = new AbortController();
  const pollSignal = AbortSignal.any([polling.signal, signal]);

  const report = (err: unknown): void => {
    try {
      onError?.(err);
    } catch {
      // An error callback that throws must not end the loop.
    }
  };

  const deleteMessage = async (receiptHandle: string): Promise<void> => {
    try {
      const command = new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle });
      await sqs.send(command, { abortSignal: AbortSignal.timeout(SETTLE_TIMEOUT_MS) });
    } catch (err) {
      report(wrapAwsError(err, 'SQS', `DeleteMessage on ${queueUrl}`));
    }
  };
  const setVisibility = async (receiptHandle: string, seconds: number): Promise<void> => {
    try {
      const command = new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds });
      await sqs.send(command, { abortSignal: AbortSignal.timeout(SETTLE_TIMEOUT_MS) });
    } catch (err) {
      report(wrapAwsError(err, 'SQS', `ChangeMessageVisibility on ${queueUrl}`));
    }
  };

  const handleOne = async (message: Message & { ReceiptHandle: string }): Promise<void> => {
    const receiptHandle = message.ReceiptHandle;
    const hold = holdMessage(sqs, queueUrl, receiptHandle, visibilityTimeoutSec, signal, report);
    let outcome: HandleOutcome;
    try {
      outcome = await handle(
        {
          body: message.Body ?? '',
          receiptHandle,
          messageId: message.MessageId ?? '',
          receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? '1') || 1,
        },
        signal,
      );
    } catch (err) {
      report(err);
      outcome = 'retry';
    } finally {
      await hold.release();
    }
    if (outcome === 'delete') await deleteMessage(receiptHandle);
    else await setVisibility(receiptHandle, retryDelaySec);
  };

  const loop = async (): Promise<void> => {
    let backoff = MIN_BACKOFF_MS;
    while (!pollSignal.aborted) {
      let messages: Message[];
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            WaitTimeSeconds: waitSeconds,
            MaxNumberOfMessages: maxMessages,
            VisibilityTimeout: visibilityTimeoutSec,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: pollSignal },
        );
        messages = out.Messages ?? [];
        backoff = MIN_BACKOFF_MS;
      } catch (err) {
        if (pollSignal.aborted) return;
        report(wrapAwsError(err, 'SQS', `ReceiveMessage from ${queueUrl}`));
        try {
          // Jitter keeps a fleet that lost SQS together from retrying in step.
          await sleep(backoff / 2 + Math.random() * (backoff / 2), pollSignal);
        } catch {
          return;
        }
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      for (const [i, message] of messages.entries()) {
        if (message.ReceiptHandle === undefined) continue;
        if (pollSignal.aborted) {
          // Stopping: hand the rest back to the queue at once instead of waiting out their timeout.
          await Promise.all(messages.slice(i).flatMap((m) => (m.ReceiptHandle === undefined ? [] : [setVisibility(m.ReceiptHandle, 0)])));
          return;
        }
        await handleOne({ ...message, ReceiptHandle: message.ReceiptHandle });
      }
    }
  };

  const done = loop().catch(report);
  let stopPromise: Promise<void> | undefined;
  return {
    stop() {
      stopPromise ??= (async () => {
        polling.abort();
        await done;
      })();
      return stopPromise;
    },
  };
}
