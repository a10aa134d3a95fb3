import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { buildStatusReport, parseStatusReport, publishStatus, statusReportSchema } from '../../src/report/status.ts';
import type { StatusReport } from '../../src/report/status.ts';
import { emptyAppState } from '../../src/state/store.ts';
import type { AppState, ReleaseRecord } from '../../src/state/schema.ts';
import { s3Keys } from '../../src/aws/keys.ts';
import { isHoistError } from '../../src/errors.ts';
import { startAws } from '../helpers/fauxqs.ts';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const NOW = new Date('2026-11-26T22:05:00.000Z');

function release(version: string, sha256: string, sequence: number, since: string): ReleaseRecord {
  return { version, sha256, sequence, dir: `releases/${version}-${sha256.slice(0, 12)}`, since, kind: 'release' };
}

const rolledBack: AppState = {
  current: release('1.4.1', SHA_A, 10, '2026-11-20T10:00:00.000Z'),
  previous: release('1.4.0', SHA_B, 5, '2026-11-10T10:00:00.000Z'),
  highWater: { release: { sequence: 11, digest: SHA_B } },
  failed: [SHA_B],
  lastAttempt: {
    version: '1.4.2',
    sha256: SHA_B,
    sequence: 11,
    outcome: 'rolled-back',
    code: 'HOIST_HEALTH_FAILED',
    message: 'http://127.0.0.1:8080/healthz answered 503',
    at: '2026-11-26T22:04:00.000Z',
  },
  state: 'rolled-back',
  txn: {
    id: 'x',
    step: 'health',
    target: release('1.4.2', SHA_B, 11, '2026-11-26T22:00:00.000Z'),
    startedAt: '2026-11-26T22:00:00.000Z',
  },
};

test('buildStatusReport has exactly the documented fields (plus previous)', () => {
  const report = buildStatusReport({ hostId: 'i-0abc', app: 'web', env: 'prod', appState: rolledBack, agentVersion: '0.1.0', now: NOW });
  assert.deepEqual(report, {
    hostId: 'i-0abc',
    app: 'web',
    env: 'prod',
    state: 'rolled-back',
    current: { version: '1.4.1', sha256: SHA_A, sequence: 10, since: '2026-11-20T10:00:00.000Z' },
    previous: { version: '1.4.0', sha256: SHA_B, sequence: 5, since: '2026-11-10T10:00:00.000Z' },
    desired: { version: '1.4.1', sha256: SHA_A, sequence: 10, kind: 'release' },
    rejected: null,
    skipped: null,
    trust: null,
    lastAttempt: {
      version: '1.4.2',
      outcome: 'rolled-back',
      code: 'HOIST_HEALTH_FAILED',
      message: 'http://127.0.0.1:8080/healthz answered 503',
      at: '2026-11-26T22:04:00.000Z',
    },
    agentVersion: '0.1.0',
    updatedAt: '2026-11-26T22:05:00.000Z',
  });
});

test('a fresh host reports nulls, never missing keys', () => {
  const report = buildStatusReport({ hostId: 'h', app: 'web', env: 'prod', appState: emptyAppState(), agentVersion: '0.1.0', now: NOW });
  assert.deepEqual(report, {
    hostId: 'h',
    app: 'web',
    env: 'prod',
    state: 'idle',
    current: null,
    previous: null,
    desired: null,
    rejected: null,
    skipped: null,
    trust: null,
    lastAttempt: null,
    agentVersion: '0.1.0',
    updatedAt: NOW.toISOString(),
  });
  const skipped = buildStatusReport({
    hostId: 'h',
    app: 'web',
    env: 'prod',
    appState: { ...emptyAppState(), lastAttempt: { outcome: 'skipped', at: NOW.toISOString() } },
    agentVersion: '0.1.0',
    now: NOW,
  });
  assert.deepEqual(skipped.lastAttempt, { version: null, outcome: 'skipped', code: null, message: null, at: NOW.toISOString() });
});

test('statusReportSchema round-trips a report and is lenient with extra and older fields', () => {
  const report = buildStatusReport({ hostId: 'h', app: 'web', env: 'prod', appState: rolledBack, agentVersion: '0.1.0', now: NOW });
  assert.deepEqual(statusReportSchema.parse(JSON.parse(JSON.stringify(report))), report);
  // A newer agent's extra top-level fields are kept (`hoist status --json` passes them on).
  const fromNewerAgent = { ...report, uptime: 12, current: { ...report.current, extra: true } };
  assert.deepEqual(parseStatusReport(fromNewerAgent), { ...report, uptime: 12 });
  const { previous: _previous, ...fromOlderAgent } = report;
  assert.deepEqual(parseStatusReport(fromOlderAgent), { ...report, previous: null });
  // A state this version does not know is kept as it is, never dropped.
  assert.equal(parseStatusReport({ ...report, state: 'exploded' })?.state, 'exploded');
  assert.equal(parseStatusReport('not an object'), undefined);
  assert.equal(parseStatusReport({ hostId: 'h' }), undefined);
});

test('publishStatus writes the report to S3 as JSON', async () => {
  await using aws = await startAws();
  const bucket = await aws.createBucket('hoist-status-test');
  const key = s3Keys('fleet/').status('web', 'prod', 'i-0abc');
  const report: StatusReport = buildStatusReport({ hostId: 'i-0abc', app: 'web', env: 'prod', appState: rolledBack, agentVersion: '0.1.0', now: NOW });
  await publishStatus(aws.s3, { bucket, key, report });
  const out = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'fleet/status/web/prod/i-0abc.json' }));
  assert.match(out.ContentType ?? '', /application\/json/);
  const text = (await out.Body?.transformToString()) ?? '';
  assert.deepEqual(parseStatusReport(JSON.parse(text)), report);
});

test('publishStatus surfaces S3 failures as HOIST_S3 and honours an abort', async () => {
  await using aws = await startAws();
  const report = buildStatusReport({ hostId: 'h', app: 'web', env: 'prod', appState: emptyAppState(), agentVersion: '0.1.0', now: NOW });
  await assert.rejects(
    publishStatus(aws.s3, { bucket: 'no-such-bucket', key: 'status/web/prod/h.json', report }),
    (err) => isHoistError(err, 'HOIST_S3'),
  );
  await aws.createBucket('hoist-status-abort');
  const controller = new AbortController();
  controller.abort(new Error('shutting down'));
  await assert.rejects(
    publishStatus(aws.s3, { bucket: 'hoist-status-abort', key: 'status/web/prod/h.json', report, signal: controller.signal }),
    /shutting down/,
  );
});
