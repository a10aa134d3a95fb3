import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHarness, BUCKET } from '../helpers/harness.ts';
import { assertCode, ops } from './ops.ts';

function report(hostId: string, state: string, version: string, ageMs: number, error?: [string, string]): Record<string, unknown> {
  const at = new Date(Date.now() - ageMs).toISOString();
  return {
    hostId,
    app: 'web',
    env: 'prod',
    state,
    current: { version, sha256: 'a'.repeat(64), sequence: 1, since: at },
    previous: null,
    lastAttempt: error === undefined ? null : { version: '3.0.0', outcome: 'rolled-back', code: error[0], message: error[1], at },
    agentVersion: '0.1.0',
    updatedAt: at,
  };
}

test('fleet status: table, summary, stale and unreadable reports, --json', async () => {
  await using h = await createHarness();
  const put = (host: string, body: string): Promise<unknown> => h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${host}.json`, Body: body }));
  await put('host-c', JSON.stringify(report('host-c', 'healthy', '2.0.0', 5_000)));
  await put('host-a', JSON.stringify(report('host-a', 'rolled-back', '2.0.0', 10_000, ['HOIST_HEALTH_FAILED', '3.0.0 is unhealthy: GET /healthz answered 500 every time within startPeriod'])));
  await put('host-b', JSON.stringify(report('host-b', 'pinned', '1.0.0', 10 * 60_000)));
  await put('host-d', JSON.stringify(report('host-d', 'healthy', '2.0.0', 3_600_000)));
  await put('host-e', 'garbage{');
  await put('host-f', JSON.stringify({ hello: 'world' }));
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'status/web/prod/nested/x.json', Body: '{}' }));

  const args = ['status', '--app', 'web', '--env', 'prod', '--concurrency', '2'];
  const r = await ops(h, args);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0] ?? '', /^HOST +VERSION +STATE +LAST ERROR +AGE$/);
  assert.deepEqual(lines.slice(1, 7).map((l) => l.split(/\s+/)[0]), ['host-a', 'host-b', 'host-c', 'host-d', 'host-e', 'host-f']);
  assert.match(lines[1] ?? '', /^host-a +2\.0\.0 +rolled-back +HOIST_HEALTH_FAILED: 3\.0\.0 is unhealthy.*… +\d+s$/);
  assert.match(lines[2] ?? '', /^host-b +1\.0\.0 +pinned +- +10m(\d+s)?$/);
  assert.match(lines[4] ?? '', /^host-d .* 1h STALE$/);
  assert.match(lines[5] ?? '', /^host-e +\? +unreadable +not JSON/);
  assert.match(r.stdout, /6 hosts; versions: 1\.0\.0 on 1 host, 2\.0\.0 on 3 hosts/);
  assert.match(r.stdout, /states: healthy 2, rolled-back 1, failed 0, pinned 1, deploying 0, idle 0/);
  assert.match(r.stdout, /STALE: host-d \(no report for over 15m/);
  assert.match(r.stdout, /unreadable reports: host-e, host-f/);

  const short = await ops(h, [...args, '--stale-after', '5m']);
  assert.match(short.stdout, /STALE: host-b, host-d/);

  const json = await ops(h, [...args, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { hosts: Array<Record<string, unknown>>; summary: { states: Record<string, number>; stale: string[] } };
  assert.equal(parsed.hosts.length, 6);
  assert.equal(parsed.hosts[0]?.hostId, 'host-a');
  assert.equal(parsed.hosts[0]?.stale, false);
  assert.equal(parsed.hosts[3]?.stale, true);
  assert.equal((parsed.hosts[0]?.lastAttempt as { code: string }).code, 'HOIST_HEALTH_FAILED');
  assert.equal(parsed.summary.states['rolled-back'], 1);
  assert.deepEqual(parsed.summary.stale, ['host-d']);

  const empty = await ops(h, ['status', '--app', 'api', '--env', 'prod']);
  assert.match(empty.stdout, /no status reports for api\/prod/);
  assertCode(await ops(h, ['status', '--app', 'web'], { bucket: false }), 2, 'HOIST_USAGE');
  assertCode(await ops(h, [...args, '--stale-after', 'x']), 2, 'HOIST_USAGE');
  assertCode(await ops(h, ['status', '--app', 'web', '--env', 'prod', '--concurrency', '0']), 2, 'HOIST_USAGE');
});
