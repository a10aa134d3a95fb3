/**
 * CPU cost of one warm AWS SDK v3 request of each kind the idle agent makes (an investigation aid
 * for bench/idle.ts, not part of `npm run bench`):
 *
 *   node [V8 flags] bench/sdk-request-cost.ts [--n 300] [--gap MS]
 *
 * fauxqs runs in a child process so that only the client's CPU is counted here: a conditional
 * GetObject answered 304 (the S3 poll), an empty ReceiveMessage (the SQS long poll, with
 * WaitTimeSeconds 0 so it returns at once) and a small PutObject (the status report). Each kind is
 * warmed up first; process.cpuUsage() over the next N requests gives CPU per request, with the
 * agent's client settings (createAwsClients). With --gap the process idles that long before each
 * request, as the agent does between polls, and only the requests themselves are counted.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createAwsClients } from '../src/aws/clients.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '300' }, gap: { type: 'string', default: '0' }, child: { type: 'boolean', default: false } } });

if (values.child) {
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: 0, host: 'localhost', logger: false });
  process.send?.({ port: server.port });
  process.on('disconnect', () => void server.stop().then(() => process.exit(0)));
} else {
  const n = Number(values.n);
  const gap = Number(values.gap);
  const child = fork(import.meta.filename, ['--child'], { execArgv: [], stdio: 'inherit' });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true' });
  const clients = createAwsClients({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}` });
  try {
    await clients.s3.send(new CreateBucketCommand({ Bucket: 'hoist-bench' }));
    const put = await clients.s3.send(new PutObjectCommand({ Bucket: 'hoist-bench', Key: 'channels/web/prod.json', Body: '{"x":1}' }));
    const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: 'q' }));
    const queueUrl = queue.QueueUrl ?? '';
    const kinds: Record<string, () => Promise<unknown>> = {
      'GetObject If-None-Match (304)': () =>
        clients.s3.send(new GetObjectCommand({ Bucket: 'hoist-bench', Key: 'channels/web/prod.json', IfNoneMatch: put.ETag })).catch((e: unknown) => e),
      'GetObject of a missing key (404)': () => clients.s3.send(new GetObjectCommand({ Bucket: 'hoist-bench', Key: 'pins/web/prod.json' })).catch((e: unknown) => e),
      'ReceiveMessage, empty': () =>
        clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0, MaxNumberOfMessages: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] })),
      'PutObject, 1 KiB': () => clients.s3.send(new PutObjectCommand({ Bucket: 'hoist-bench', Key: 'status/web/prod/h.json', Body: 'x'.repeat(1024), ContentType: 'application/json' })),
    };
    process.stdout.write(`node ${process.version} ${process.execArgv.join(' ')}\n`);
    for (const [name, request] of Object.entries(kinds)) {
      for (let i = 0; i < 100; i++) await request();
      const used = { user: 0, system: 0 };
      for (let i = 0; i < n; i++) {
        // --gap: idle this long before each request (the agent's requests come seconds apart)
        if (gap > 0) await delay(gap);
        const before = process.cpuUsage();
        await request();
        const one = process.cpuUsage(before);
        used.user += one.user;
        used.system += one.system;
      }
      process.stdout.write(`${name}: ${((used.user + used.system) / 1000 / n).toFixed(3)} ms CPU per request (user ${(used.user / 1000 / n).toFixed(3)}, system ${(used.system / 1000 / n).toFixed(3)})\n`);
    }
  } finally {
    clients.destroy();
    child.disconnect();
  }
}
