/**
 * Deploy events with the real agent (`hoist agent --once`): each outcome writes
 * events/<app>/<env>/<sequence>/<outcome>/<host-id>.json once, and a rerun of the same sequence
 * writes no duplicate (fauxqs, like some S3-compatible stores, ignores If-None-Match: the agent's
 * state is what stops the rewrite); `report.events: false` writes none; a host that finds the
 * rollout's failure limit reached does not activate, writes its halted event and reports halted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, createHarness, nextSequence } from '../helpers/harness.ts';
import { getText, listAll } from '../cli-ops/ops.ts';

interface EventBody {
  hostId: string;
  app: string;
  env: string;
  sequence: number;
  kind: string;
  version: string;
  sha256: string;
  outcome: string;
  at: string;
  duration?: number;
  code?: string;
  message?: string;
}

test('each outcome writes its event once; a rerun of the sequence writes no duplicate; report.events false writes none', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  const seq1 = nextSequence();
  await h.publish('1.0.0', v1, { sequence: seq1 });
  assert.equal((await h.once()).code, 0);
  const healthyKey = `events/web/prod/${seq1}/healthy/host-1.json`;
  assert.deepEqual(await listAll(h, 'events/'), [healthyKey]);
  const healthy = await getText(h, healthyKey);
  const body = JSON.parse(healthy) as EventBody;
  assert.deepEqual(
    { ...body, at: typeof body.at, duration: typeof body.duration },
    { hostId: 'host-1', app: 'web', env: 'prod', sequence: seq1, kind: 'release', version: '1.0.0', sha256: v1.sha256, outcome: 'healthy', at: 'string', duration: 'number' },
  );
  assert.equal((await h.once()).code, 0);
  assert.equal(await getText(h, healthyKey), healthy, 'a rerun writes nothing again');

  // A release that fails its health check: rolled-back, once, with its code.
  const v2 = await h.artifact('2.0.0', 'unhealthy');
  const seq2 = nextSequence();
  await h.publish('2.0.0', v2, { sequence: seq2 });
  assert.equal((await h.once()).code, 1);
  const rolledBackKey = `events/web/prod/${seq2}/rolled-back/host-1.json`;
  const rolledBack = await getText(h, rolledBackKey);
  assert.equal((JSON.parse(rolledBack) as EventBody).code, 'HOIST_HEALTH_FAILED');
  assert.equal((await h.once()).code, 1, 'on the failed list: not tried again');
  assert.equal(await getText(h, rolledBackKey), rolledBack);
  assert.deepEqual((await listAll(h, `events/web/prod/${seq2}/`)).length, 1);

  // A failure before the flip (the artifact is gone), tried again by the rerun: one failed event.
  const seq3 = nextSequence();
  await h.publish('3.0.0', { ...v1, key: `artifacts/web/${'e'.repeat(64)}.tar.gz`, sha256: 'e'.repeat(64) }, { sequence: seq3 });
  assert.equal((await h.once()).code, 1);
  const failedKey = `events/web/prod/${seq3}/failed/host-1.json`;
  const failed = await getText(h, failedKey);
  assert.match((JSON.parse(failed) as EventBody).code ?? '', /^HOIST_/);
  assert.equal((await h.once()).code, 1, 'tried again, failed again');
  assert.equal(await getText(h, failedKey), failed, 'the same outcome of the same sequence is written once');
  assert.equal(((await h.state()) as { apps: Record<string, { events?: unknown[] }> }).apps['web/prod']?.events?.length, 3);

  // report.events: false turns them off.
  await h.writeConfig({ report: { events: false } });
  const seq4 = nextSequence();
  await h.publish('4.0.0', await h.artifact('4.0.0'), { sequence: seq4 });
  assert.equal((await h.once()).code, 0);
  assert.deepEqual(await listAll(h, `events/web/prod/${seq4}/`), []);
});

test('a host that finds the failure limit reached does not activate: halted event, halted report, --once exits 1; a new manifest resumes', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);

  const v2 = await h.artifact('2.0.0');
  const sequence = nextSequence();
  const now = Date.now();
  const payload = {
    schema: 1,
    kind: 'release',
    app: 'web',
    env: 'prod',
    sequence,
    version: '2.0.0',
    artifact: { key: v2.key, sha256: v2.sha256, size: v2.size, format: v2.format },
    issuedAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now + 86_400_000).toISOString(),
    rollout: { percent: 100, halt: { maxFailures: 2 } },
  };
  await h.putChannel(h.sign(payload));
  // Two other hosts failed it already.
  for (const [outcome, host] of [['rolled-back', 'host-7'], ['failed', 'host-8']] as const) {
    await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `events/web/prod/${sequence}/${outcome}/${host}.json`, Body: JSON.stringify({ hostId: host, outcome }) }));
  }
  const r = await h.once();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /HOIST_ROLLOUT_HALTED/);
  assert.equal(await h.current(), '1.0.0', 'nothing activated');
  assert.equal((await h.appState()).state, 'halted');
  const haltedKey = `events/web/prod/${sequence}/halted/host-1.json`;
  const halted = JSON.parse(await getText(h, haltedKey)) as EventBody;
  assert.equal(halted.outcome, 'halted');
  assert.equal(halted.code, 'HOIST_ROLLOUT_HALTED');
  assert.match(halted.message ?? '', /2 hosts failed it, the limit is 2/);
  const report = JSON.parse(await getText(h, 'status/web/prod/host-1.json')) as { state: string; skipped: { reason: string }; desired: { version: string } };
  assert.equal(report.state, 'halted');
  assert.equal(report.skipped.reason, 'halted');
  assert.equal(report.desired.version, '2.0.0');

  // Halted stays halted for this sequence (even if the events went away), with no new event.
  const text = await getText(h, haltedKey);
  for (const key of [`events/web/prod/${sequence}/rolled-back/host-7.json`, `events/web/prod/${sequence}/failed/host-8.json`]) await h.aws.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
  assert.equal((await h.once()).code, 1);
  assert.equal(await getText(h, haltedKey), text);

  // A fix resumes.
  await h.publish('3.0.0', await h.artifact('3.0.0'));
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '3.0.0');
  assert.equal((await h.appState()).state, 'healthy');
});
