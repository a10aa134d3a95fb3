/**
 * The daemon: sources (S3 polling, SQS), systemd notifications, SIGTERM, config errors, and S3
 * failing for a while — all with the real executable as a child process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createHarness, eventually, HOIST_BIN, run } from '../helpers/harness.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';

test('SQS long polling: an envelope in a message deploys, an S3 event hint deploys, garbage is deleted', async () => {
  await using h = await createHarness();
  const queueUrl = await h.aws.createQueue('web-prod-host-1');
  await h.writeConfig({ source: { s3: { bucket: 'hoist-test', poll: 'off' }, sqs: { queueUrl, waitSeconds: 1 } } });
  const agent = h.start();
  await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('starting'));

  await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'this is not a manifest' }));
  await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('not a manifest'));

  const v1 = await h.artifact('1.0.0');
  const envelope = await h.publish('1.0.0', v1);
  await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelope }));
  await eventually(() => h.settledOn('1.0.0'), 'v1 deployed through SQS');
  assert.equal(await h.served(), '1.0.0');

  // An S3 event notification (as S3 → SNS → SQS would deliver it) names the channel key.
  const v2 = await h.artifact('2.0.0');
  await h.publish('2.0.0', v2);
  const event = {
    Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'hoist-test' }, object: { key: 'channels/web/prod.json' } } }],
  };
  const sns = { Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:aws:sns:us-east-1:000000000000:hoist', Message: JSON.stringify(event) };
  await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(sns) }));
  await eventually(() => h.settledOn('2.0.0'), 'v2 deployed from an S3 event hint');
  const s = await h.appState();
  assert.equal(s.previous?.version, '1.0.0');

  agent.kill('SIGTERM');
  const exit = await agent.exited;
  assert.equal(exit.code, 0, exit.stderr);
});

test('S3 returning errors for a while: the agent keeps polling and deploys once S3 recovers', async () => {
  await using h = await createHarness();
  await using proxy = await startFaultProxy(h.aws.endpoint);
  await h.writeConfig({ endpoint: proxy.url });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  proxy.failNext(40, 503);
  const agent = h.start();
  await agent.waitFor((l) => l.source === 's3' && typeof l.msg === 'string' && l.msg.includes('source error'), 30_000);
  await eventually(() => h.settledOn('1.0.0'), 'deployed after S3 recovered', 40_000);
  assert.ok(proxy.requests.some((r) => r.status === 503), 'S3 did fail');
  assert.equal(agent.child.exitCode, null, 'the agent did not crash');
  agent.kill('SIGTERM');
  assert.equal((await agent.exited).code, 0);
});

test('SIGTERM during a download exits 0 and leaves a consistent state', async () => {
  await using h = await createHarness();
  await using proxy = await startFaultProxy(h.aws.endpoint);
  await h.writeConfig({ endpoint: proxy.url });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  proxy.trickle(200, 100, (req) => req.url.includes('/artifacts/'));
  const agent = h.start();
  await agent.waitFor((l) => l.step === 'fetch');
  await eventually(async () => (await readdir(path.join(h.stateDir, 'downloads')).catch(() => [])).some((n) => n.endsWith('.part')), 'download started');
  agent.kill('SIGTERM');
  const exit = await agent.exited;
  assert.equal(exit.code, 0, exit.stdout.slice(-2000));
  const s = await h.appState();
  assert.equal(s.txn, undefined, 'no transaction left open');
  assert.equal(s.lastAttempt?.outcome, 'aborted');
  assert.equal(await h.current(), undefined);
  // The next start (S3 healthy again) completes the deploy.
  proxy.reset();
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.current(), '1.0.0');
});

test('systemd: READY=1 and STATUS= arrive on NOTIFY_SOCKET; STOPPING=1 on SIGTERM', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  const sock = path.join(h.dir, 'notify.sock');
  const listener = spawn('python3', ['-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
print("listening", flush=True)
try:
    while True:
        data = s.recv(65536).decode()
        print(data.replace("\\n", "|"), flush=True)
        if "STOPPING=1" in data:
            break
except socket.timeout:
    pass
`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let received = '';
  listener.stdout.setEncoding('utf8').on('data', (d: string) => (received += d));
  await eventually(() => Promise.resolve(received.includes('listening')), 'python listener ready', 10_000);
  const agent = h.start({ env: { NOTIFY_SOCKET: sock } });
  await eventually(() => Promise.resolve(received.includes('READY=1')), 'READY=1', 20_000);
  await eventually(async () => (await h.settledOn('1.0.0')) && /STATUS=web@1\.0\.0 healthy/.test(received), 'STATUS with the version', 30_000);
  agent.kill('SIGTERM');
  assert.equal((await agent.exited).code, 0);
  await eventually(() => Promise.resolve(received.includes('STOPPING=1')), 'STOPPING=1', 10_000);
  listener.kill();
});

test('an invalid config exits 2 listing every problem, before touching anything', async () => {
  await using h = await createHarness();
  const bad = path.join(h.dir, 'bad.yaml');
  await writeFile(
    bad,
    [
      'hostId: "bad host id"',
      `stateDir: ${path.join(h.dir, 'never-created')}`,
      'source: {}',
      'apps:',
      '  - name: web',
      '    env: prod',
      '    root: relative/path',
      '    health: { timeout: 2 seconds }',
      'limits: { artifactBytes: lots }',
    ].join('\n'),
  );
  const r = await run([HOIST_BIN, 'agent', '--config', bad, '--once']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /HOIST_CONFIG_INVALID/);
  for (const pathText of ['hostId', 'source', 'apps[0].root', 'apps[0].health.timeout', 'limits.artifactBytes', 'trust']) {
    assert.ok(r.stderr.includes(pathText), `mentions ${pathText}:\n${r.stderr}`);
  }
  await assert.rejects(readdir(path.join(h.dir, 'never-created')));
  const missing = await run([HOIST_BIN, 'agent', '--config', path.join(h.dir, 'nope.yaml'), '--once']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /HOIST_CONFIG_READ/);
});

test('a second agent on the same stateDir is refused', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const first = h.start();
  await first.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('starting'));
  const second = await h.once();
  assert.equal(second.code, 1);
  assert.match(second.stderr, /HOIST_LOCKED/);
  first.kill('SIGTERM');
  assert.equal((await first.exited).code, 0);
});
