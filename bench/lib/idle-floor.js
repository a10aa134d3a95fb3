/**
 * The floor under the idle agent (bench/idle.ts): a process that loads the libraries the agent is
 * built on (the AWS SDK's S3 and SQS clients, pino, node-cron, zod, yaml, tar) and
 * makes exactly the agent's idle requests with them at the same rates, and nothing else: an SQS
 * long poll (ReceiveMessage, WaitTimeSeconds 20) in a loop, and on the node-cron schedule, after
 * a random jitter, a conditional GET of the channel (If-None-Match, answered 304) and of the pin
 * (answered 404 when there is none), and every report interval a PUT of a small status report. Its RSS and CPU are what any agent built on that stack costs
 * while idle; the agent's figures are compared with it in the same run.
 *
 * Plain JavaScript, bundled by bench/idle.ts exactly as the agent is (scripts/package.ts), so both
 * run the same way. Configured by the environment (HOIST_FLOOR_*), see bench/idle.ts.
 */
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SQSClient, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import cron from 'node-cron';
import pino from 'pino';
import { z } from 'zod';
import { parse } from 'yaml';
import * as tar from 'tar';
import { setTimeout as delay } from 'node:timers/promises';
import { setInterval } from 'node:timers';

const env = process.env;
const client = JSON.parse(env['HOIST_FLOOR_CLIENT'] ?? '{}');
const common = { region: 'us-east-1', endpoint: env['HOIST_FLOOR_ENDPOINT'], ...client };
const s3 = new S3Client({ ...common, forcePathStyle: true });
const sqs = new SQSClient(common);
const bucket = env['HOIST_FLOOR_BUCKET'] ?? '';
const keys = (env['HOIST_FLOOR_KEYS'] ?? '').split(',').filter((k) => k !== '');
const queueUrl = env['HOIST_FLOOR_QUEUE'] ?? '';
const schedule = env['HOIST_FLOOR_POLL'] ?? '*/30 * * * * *';
const jitterMs = Number(env['HOIST_FLOOR_JITTER_MS'] ?? 10_000);
const log = pino({ level: 'info' });

// What the agent does once with zod and yaml at start: parse and validate a small config.
const config = z.object({ source: z.object({ s3: z.object({ bucket: z.string() }) }) }).parse(parse(`source:\n  s3:\n    bucket: ${bucket}\n`));
log.debug({ config, tar: typeof tar.Parser }, 'floor started');

const etags = new Map();
async function poll() {
  await delay(Math.floor(Math.random() * jitterMs));
  for (const key of keys) {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(etags.has(key) ? { IfNoneMatch: etags.get(key) } : {}) }));
      etags.set(key, out.ETag);
      await out.Body?.transformToString();
    } catch (error) {
      const status = error?.$metadata?.httpStatusCode;
      if (status !== 304 && status !== 404) log.warn({ key, err: String(error) }, 'GET failed');
    }
  }
}
cron.schedule(schedule, () => void poll(), { noOverlap: true });
void poll();

async function longPoll() {
  for (;;) {
    try {
      await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    } catch (error) {
      log.warn({ err: String(error) }, 'ReceiveMessage failed');
      await delay(1000);
    }
  }
}
const reportKey = env['HOIST_FLOOR_REPORT_KEY'];
const reportMs = Number(env['HOIST_FLOOR_REPORT_MS'] ?? 300_000);
async function report() {
  const body = JSON.stringify({ hostId: 'host-1', app: 'web', env: 'floor', state: 'healthy', current: { version: '1', sha256: '0'.repeat(64), sequence: 1, since: new Date().toISOString() }, updatedAt: new Date().toISOString() });
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: reportKey, Body: body, ContentType: 'application/json' }));
  } catch (error) {
    log.warn({ err: String(error) }, 'PUT failed');
  }
}
if (reportKey !== undefined && reportKey !== '') setInterval(() => void report(), reportMs);

process.on('SIGTERM', () => process.exit(0));
void longPoll();
