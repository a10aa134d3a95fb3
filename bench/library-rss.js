/**
 * What each library the agent is built on costs in resident memory, before hoist adds anything
 * (an investigation aid for bench/idle.ts, not part of `npm run bench`):
 *
 *   node [V8 flags] bench/library-rss.js [--settle 8]
 *
 * For each set below, a fresh Node (same flags) imports the libraries, makes one request with each
 * AWS client (to a closed loopback port: the request path is loaded and run, nothing answers),
 * schedules one node-cron task, idles `--settle` seconds and reports VmRSS, RssAnon, RssFile and
 * the V8 heap in use. Plain JavaScript: a TypeScript child would load Node's type stripper.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { clearInterval, setInterval } from 'node:timers';

const MODULES = { s3: '@aws-sdk/client-s3', sqs: '@aws-sdk/client-sqs', pino: 'pino', cron: 'node-cron', zod: 'zod', yaml: 'yaml', tar: 'tar' };
const SETS = ['none', 's3', 'sqs', 's3,sqs', 'zod', 'cron', 'pino', 'yaml', 'tar', Object.keys(MODULES).join(',')];
const { values } = parseArgs({ options: { child: { type: 'string' }, settle: { type: 'string', default: '8' } } });
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const endpoint = 'http://127.0.0.1:9';

if (values.child !== undefined) {
  const names = values.child === 'none' ? [] : values.child.split(',');
  const loaded = {};
  for (const name of names) loaded[name] = await import(MODULES[name]);
  if (loaded.s3) {
    const s3 = new loaded.s3.S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, maxAttempts: 1 });
    await s3.send(new loaded.s3.GetObjectCommand({ Bucket: 'hoist-bench', Key: 'channels/web/prod.json' })).catch(() => undefined);
  }
  if (loaded.sqs) {
    const sqs = new loaded.sqs.SQSClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    await sqs.send(new loaded.sqs.ReceiveMessageCommand({ QueueUrl: `${endpoint}/000000000000/q` })).catch(() => undefined);
  }
  if (loaded.cron) loaded.cron.default.schedule('*/30 * * * * *', () => undefined);
  const timer = setInterval(() => undefined, 1000);
  await delay(Number(values.settle) * 1000);
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  process.stdout.write(JSON.stringify({ rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'), heap: process.memoryUsage().heapUsed / 1024 }));
  clearInterval(timer);
  process.exit(0);
} else {
  const self = fileURLToPath(import.meta.url);
  const mib = (k) => (k / 1024).toFixed(1).padStart(7);
  process.stdout.write(`node ${process.version} ${process.execArgv.join(' ')}\n${'libraries'.padEnd(40)}    RSS RssAnon RssFile    heap (MiB)\n`);
  for (const set of SETS) {
    const child = spawn(process.execPath, [...process.execArgv, self, '--child', set, '--settle', values.settle], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    await new Promise((resolve) => child.once('close', resolve));
    const r = JSON.parse(out);
    process.stdout.write(`${set.padEnd(40)}${mib(r.rss)}${mib(r.anon)}${mib(r.file)}${mib(r.heap)}\n`);
  }
}
