/**
 * The host clock against S3's: expiry and issue times of manifests are judged by the host clock,
 * so a skew over half of trust.clockSkew is warned about and reported as `clockSkew`. S3's answers
 * go through a loopback proxy that moves their `Date` header 10 minutes back.
 */
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { skewMatters } from '../../src/aws/server-clock.ts';
import { BUCKET, createHarness } from '../helpers/harness.ts';

async function skewingProxy(target: string, skewMs: number): Promise<{ url: string; close: () => Promise<void> }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers, date: new Date(Date.now() + skewMs).toUTCString() };
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('skewMatters: over half of the allowed skew, and over a second', () => {
  assert.equal(skewMatters(150_000, 300_000), false);
  assert.equal(skewMatters(151_000, 300_000), true);
  assert.equal(skewMatters(-151_000, 300_000), true);
  assert.equal(skewMatters(900, 0), false);
});

test('S3\'s clock 10 minutes behind: the agent warns (HOIST_CLOCK_SKEW) and reports clockSkew', async () => {
  await using h = await createHarness();
  const proxy = await skewingProxy(h.aws.endpoint, -10 * 60_000);
  try {
    await h.writeConfig({ endpoint: proxy.url });
    await h.publish('1.0.0', await h.artifact('1.0.0'));
    const r = await h.once();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"level":"warn".*"code":"HOIST_CLOCK_SKEW".*the host clock is (9m5\ds|10m) ahead of S3.s/);
    const report = await h.aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${h.hostId}.json` }));
    const body = JSON.parse((await report.Body?.transformToString()) ?? '{}') as { clockSkew?: { seconds: number } };
    assert.ok(body.clockSkew !== undefined && Math.abs(body.clockSkew.seconds - 600) <= 5, JSON.stringify(body.clockSkew));
  } finally {
    await proxy.close();
  }
});
