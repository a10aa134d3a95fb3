/** Proxy settings from the environment: the pure rules, and that Node's agents route the same way. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeProxyEnv, normalizeNoProxyEntry, proxyFor, proxySettings, redactProxy } from '../../src/aws/proxy.ts';
import { describeEndpoint, requestHandlerOptions, resolveEndpoints } from '../../src/aws/clients.ts';
import { boundFor, operationName } from '../../src/aws/deadline.ts';
import { GetObjectCommand, PutObjectCommand, UploadPartCommand, CompleteMultipartUploadCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';

const P = 'http://proxy.internal:3128';

test('either case; the lower-case variable wins; a bare host:port is http://', () => {
  assert.deepEqual(proxySettings({ HTTPS_PROXY: P, http_proxy: 'proxy2:8080' }), { http: 'http://proxy2:8080', https: P, noProxy: [] });
  assert.equal(proxySettings({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1' }).https, 'http://lower:1');
  assert.equal(proxySettings({ HTTPS_PROXY: 'http://upper:1', https_proxy: ' ' }).https, 'http://upper:1');
  assert.deepEqual(proxySettings({}), { http: undefined, https: undefined, noProxy: [] });
  assert.deepEqual(proxySettings({ NO_PROXY: 'a.com', no_proxy: 'b.com' }).noProxy, ['.b.com']);
});

test('NO_PROXY entries: suffixes with or without a dot or *., "*", IPs and host:port exact', () => {
  const table: Array<[string, string | undefined]> = [
    ['amazonaws.com', '.amazonaws.com'],
    ['.amazonaws.com', '.amazonaws.com'],
    ['*.AmazonAWS.com', '.amazonaws.com'],
    ['*', '*'],
    ['169.254.169.254', '169.254.169.254'],
    ['[::1]', '[::1]'],
    ['s3.local:9000', 's3.local:9000'],
    ['  ', undefined],
    ['.', undefined],
  ];
  for (const [raw, want] of table) assert.equal(normalizeNoProxyEntry(raw), want, raw);
  assert.deepEqual(proxySettings({ NO_PROXY: 'a.com b.com,,c.com, a.com' }).noProxy, ['.a.com', '.b.com', '.c.com']);
});

test('proxyFor: which URL goes through which proxy', () => {
  const s = proxySettings({ HTTPS_PROXY: P, HTTP_PROXY: 'http://plain:80', NO_PROXY: 'amazonaws.com,10.0.0.5,minio.lan:9000' });
  const table: Array<[string, string | undefined]> = [
    ['https://s3.us-east-1.amazonaws.com/b/k', undefined],
    ['https://amazonaws.com', undefined],
    ['https://notamazonaws.com', P],
    ['https://s3.example.com', P],
    ['http://s3.example.com', 'http://plain:80'],
    ['http://10.0.0.5:9000', undefined],
    ['http://10.0.0.50', 'http://plain:80'],
    ['http://minio.lan:9000', undefined],
    ['http://minio.lan:9001', 'http://plain:80'],
  ];
  for (const [url, want] of table) assert.equal(proxyFor(url, s), want, url);
  assert.equal(proxyFor('https://anything', proxySettings({ HTTPS_PROXY: P, no_proxy: '*' })), undefined);
  assert.equal(proxyFor('http://x', proxySettings({ HTTPS_PROXY: P })), undefined, 'HTTPS_PROXY is for https only');
  assert.deepEqual(nodeProxyEnv(s), { HTTP_PROXY: 'http://plain:80', HTTPS_PROXY: P, NO_PROXY: '.amazonaws.com,10.0.0.5,minio.lan:9000' });
});

test('redactProxy drops credentials from a proxy URL', () => {
  assert.equal(redactProxy('http://user:secret@proxy:3128'), 'http://proxy:3128');
  assert.equal(redactProxy(P), P);
});

test("Node's agents, given the normalized settings, route each name as proxyFor says", async () => {
  const proxied: string[] = [];
  const proxy = http.createServer((req, res) => {
    proxied.push(req.url ?? '');
    res.end('proxy');
  });
  const origin = http.createServer((_req, res) => res.end('direct'));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const port = (origin.address() as AddressInfo).port;
  try {
    const settings = proxySettings({ HTTP_PROXY: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, NO_PROXY: 'hoist.test, *.other.test' });
    const { httpAgent } = requestHandlerOptions(settings) as { httpAgent: http.Agent };
    for (const host of ['s3.hoist.test', 'hoist.test', 'a.other.test', 'other.test', 'nothoist.test', 'third.test']) {
      const url = `http://${host}:${port}/`;
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request(url, { agent: httpAgent, lookup: (_h, o, cb) => (o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : (cb as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4)) }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, proxyFor(url, settings) === undefined ? 'direct' : 'proxy', host);
    }
    assert.deepEqual(proxied.map((u) => new URL(u).hostname), ['nothoist.test', 'third.test']);
    httpAgent.destroy();
  } finally {
    proxy.close();
    origin.close();
  }
});

test('no proxy configured: the request handler options are the SDK time-outs alone', () => {
  assert.deepEqual(requestHandlerOptions(proxySettings({})), { connectionTimeout: 10_000, socketTimeout: 120_000 });
});

test('endpoints: one per service over the common one; messages name the endpoint and the proxy', () => {
  assert.deepEqual(resolveEndpoints({ endpoint: 'http://all:1', endpoints: { sqs: 'http://q:2' } }), { s3: 'http://all:1', sqs: 'http://q:2', sns: 'http://all:1' });
  assert.deepEqual(resolveEndpoints({}), { s3: null, sqs: null, sns: null });
  const s = proxySettings({ HTTPS_PROXY: 'http://u:p@proxy:3128', NO_PROXY: 'vpce.amazonaws.com' });
  assert.equal(describeEndpoint('S3', null, 'eu-west-1', s), 'the S3 endpoint of eu-west-1 (s3.eu-west-1.amazonaws.com) through proxy http://proxy:3128');
  assert.equal(describeEndpoint('SQS', 'https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com', 'eu-west-1', s), 'endpoint https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com');
});

test('the control-call bound: every call but the ones that carry an artifact; long polls get their wait on top', () => {
  assert.equal(boundFor(new GetObjectCommand({ Bucket: 'b', Key: 'k' }), 12_000), 12_000);
  assert.equal(boundFor(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: '{}' }), 12_000), 12_000);
  assert.equal(boundFor(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Buffer.alloc(2 * 1024 * 1024) }), 12_000), undefined);
  assert.equal(boundFor(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: 'u', PartNumber: 1 }), 12_000), undefined);
  assert.equal(boundFor(new CompleteMultipartUploadCommand({ Bucket: 'b', Key: 'k', UploadId: 'u' }), 12_000), undefined);
  assert.equal(boundFor(new ReceiveMessageCommand({ QueueUrl: 'q', WaitTimeSeconds: 20 }), 12_000), 32_000);
  assert.equal(boundFor(new SendMessageCommand({ QueueUrl: 'q', MessageBody: 'x' }), 12_000), 12_000);
  assert.equal(operationName(new SendMessageCommand({ QueueUrl: 'q', MessageBody: 'x' })), 'SendMessage');
});

test('with NODE_USE_ENV_PROXY=1, building the clients makes the global agents direct again (instance metadata never goes through the proxy)', async () => {
  const proxied: string[] = [];
  const proxy = http.createServer((req, res) => {
    proxied.push(req.url ?? '');
    res.end('proxy');
  });
  const metadata = http.createServer((_req, res) => res.end('direct'));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve));
  try {
    const { execFile } = await import('node:child_process');
    const clients = new URL('../../src/aws/clients.ts', import.meta.url).href;
    // A plain request on the global agent, as the SDK's metadata credential provider makes, before and after.
    const script = `
      import http from 'node:http';
      const get = () => new Promise((resolve) => http.get('http://127.0.0.1:${(metadata.address() as AddressInfo).port}/latest', (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve(b)); }));
      const before = await get();
      const { createAwsClients } = await import(${JSON.stringify(clients)});
      createAwsClients({ region: 'us-east-1' }).destroy();
      console.log(before, await get());`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_USE_ENV_PROXY: '1', HTTP_PROXY: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` } }, (error, stdout, stderr) => (error === null ? resolve(stdout.trim()) : reject(new Error(stderr))));
    });
    assert.equal(out, 'proxy direct', 'Node proxied the global agent until the clients were built');
    assert.equal(proxied.length, 1);
  } finally {
    proxy.close();
    metadata.close();
  }
});
