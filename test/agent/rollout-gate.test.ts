/**
 * The halt gate against fauxqs: a deploy decision passes while the failures are under the limit,
 * turns into a halted skip at the limit (remembered in the state, with one halted event), passes
 * untouched for releases without a limit, and reports an error (nothing activated) when the
 * events cannot be listed. A percent limit counts the reporting hosts whose step is due.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decide, type ManifestView } from '../../src/agent/decide.ts';
import { EventWriter } from '../../src/agent/events.ts';
import { createStateKeeper } from '../../src/agent/keeper.ts';
import { gateOnHalt } from '../../src/agent/rollout-gate.ts';
import type { Log } from '../../src/agent/types.ts';
import { emptyState } from '../../src/state/store.ts';
import { startAws } from '../helpers/fauxqs.ts';

const SHA = 'a'.repeat(64);
const log: Log = { child: () => log, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function release(sequence: number, halt?: { maxFailures: number | string }): ManifestView {
  return {
    kind: 'release',
    sequence,
    version: '2.0.0',
    issuedAt: new Date(Date.now() - 60_000).toISOString(),
    artifact: { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 1, format: 'tar+gzip' },
    rollout: { percent: 100, ...(halt === undefined ? {} : { halt }) },
  };
}

test('gateOnHalt: under the limit, at the limit, no limit, a percent limit, and events that cannot be read', async () => {
  await using aws = await startAws();
  await aws.createBucket('gate-bucket');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-gate-'));
  try {
    const keeper = createStateKeeper(dir, emptyState(), () => undefined);
    const events = new EventWriter({ s3: aws.s3, bucket: () => 'gate-bucket', prefix: () => '', hostId: 'me', keeper, enabled: () => true, now: () => new Date() });
    const put = (key: string): Promise<unknown> => aws.s3.send(new PutObjectCommand({ Bucket: 'gate-bucket', Key: key, Body: '{}' }));
    const ctx = (r: ManifestView, s3 = aws.s3) => ({ s3, bucket: 'gate-bucket', prefix: '', key: 'web/prod', app: { name: 'web', env: 'prod' }, release: r, now: new Date(), keeper, events, log });
    const base = { hostId: 'me', app: 'web', env: 'prod', pin: undefined, currentSha256: undefined, failed: [], windowOpen: true, now: Date.now() };

    const r1 = release(1, { maxFailures: 2 });
    await put('events/web/prod/1/rolled-back/h1.json');
    await put('events/web/prod/1/healthy/h2.json');
    const d1 = decide({ ...base, release: r1 });
    assert.equal(d1.action, 'deploy');
    const passed = await gateOnHalt(ctx(r1), d1);
    assert.ok('decision' in passed && passed.decision === d1, 'one failure of two: it deploys');

    await put('events/web/prod/1/failed/h3.json');
    const halted = await gateOnHalt(ctx(r1), d1);
    assert.ok('decision' in halted);
    assert.equal(halted.decision.action, 'none');
    assert.equal(halted.decision.action === 'none' ? halted.decision.skip?.reason : undefined, 'halted');
    assert.equal(keeper.app('web/prod').halted?.sequence, 1, 'remembered');
    assert.deepEqual(keeper.app('web/prod').events, [{ sequence: 1, outcome: 'halted' }]);
    // remembered: the next decision is halted without reading anything
    const again = decide({ ...base, release: r1, haltedSequence: keeper.app('web/prod').halted?.sequence });
    assert.equal(again.action === 'none' ? again.skip?.reason : undefined, 'halted');

    // no limit: nothing is read, the decision passes as it is
    const r2 = release(2);
    const d2 = decide({ ...base, release: r2 });
    const free = await gateOnHalt(ctx(r2, new S3Client({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 })), d2);
    assert.ok('decision' in free && free.decision === d2);

    // 50 % of the hosts due: 4 reporting hosts, all due -> a limit of 2
    const r3 = release(3, { maxFailures: '50%' });
    for (const h of ['h1', 'h2', 'h3', 'h4']) await put(`status/web/prod/${h}.json`);
    await put('events/web/prod/3/failed/h1.json');
    const d3 = decide({ ...base, release: r3 });
    const one = await gateOnHalt(ctx(r3), d3);
    assert.ok('decision' in one && one.decision.action === 'deploy');
    await put('events/web/prod/3/rolled-back/h2.json');
    const two = await gateOnHalt(ctx(r3), d3);
    assert.ok('decision' in two && two.decision.action === 'none');

    // the events cannot be listed: an error, and nothing is activated
    const r4 = release(4, { maxFailures: 1 });
    const broken = new S3Client({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    const failed = await gateOnHalt(ctx(r4, broken), decide({ ...base, release: r4 }));
    assert.ok('error' in failed);
    assert.match(failed.error.code, /^HOIST_S3/);
    broken.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
