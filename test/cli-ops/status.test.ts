import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { createHarness, eventually, BUCKET, HOIST_BIN, TEST_AWS_ENV } from '../helpers/harness.ts';
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
  // A rolled-back host, a stale one and unreadable reports: not converged.
  assertCode(r, 1, 'HOIST_NOT_CONVERGED');
  assert.match(r.stderr, /4 of 6 hosts of web\/prod not converged: host-a \(rolled-back \(HOIST_HEALTH_FAILED\)\), host-d \(stale report\), host-e \(unreadable report\), host-f \(unreadable report\)/);
  const lines = r.stdout.split('\n');
  assert.match(lines[0] ?? '', /^HOST +VERSION +DESIRED +STATE +PIN REASON +LAST ERROR +AGE$/);
  assert.deepEqual(lines.slice(1, 7).map((l) => l.split(/\s+/)[0]), ['host-a', 'host-b', 'host-c', 'host-d', 'host-e', 'host-f']);
  assert.match(lines[1] ?? '', /^host-a +2\.0\.0 +\? +rolled-back +- +HOIST_HEALTH_FAILED: 3\.0\.0 is unhealthy.*… +\d+s$/);
  assert.match(lines[2] ?? '', /^host-b +1\.0\.0 +\? +pinned +- +- +10m(\d+s)?$/);
  assert.match(lines[4] ?? '', /^host-d .* 1h STALE$/);
  assert.match(lines[5] ?? '', /^host-e +\? +\? +unreadable +- +not JSON/);
  assert.match(r.stdout, /6 hosts; versions: 1\.0\.0 on 1 host, 2\.0\.0 on 3 hosts/);
  assert.match(r.stdout, /states: healthy 2, rolled-back 1, failed 0, pinned 1, deploying 0, idle 0, waiting 0, halted 0/);
  assert.match(r.stdout, /STALE: host-d \(no report for over 15m/);
  assert.match(r.stdout, /unreadable reports: host-e, host-f/);

  const short = await ops(h, [...args, '--stale-after', '5m']);
  assert.match(short.stdout, /STALE: host-b, host-d/);

  const json = await ops(h, [...args, '--json']);
  assert.equal(json.code, 1, json.stderr);
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

/**
 * Synthetic reports with the fields newer agents write: `desired` (version, sha256, sequence,
 * kind, reason for a pin), `rejected` (sequence, code, message, at), `skipped` (reason,
 * eligibleAt), `trust` (version, expiresAt) and `clockSkew`, beside the fields of every agent.
 */
function newReport(hostId: string, state: string, runs: [string, string], desires: [string, string] | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const at = new Date(Date.now() - 2_000).toISOString();
  return {
    ...report(hostId, state, runs[0], 2_000),
    current: { version: runs[0], sha256: runs[1], sequence: 1, since: at },
    desired: desires === null ? null : { version: desires[0], sha256: desires[1], sequence: 2, kind: 'release' },
    trust: { version: 3, expiresAt: '2027-01-01T00:00:00Z' },
    ...extra,
  };
}

const V1: [string, string] = ['1.0.0', '1'.repeat(64)];
const V2: [string, string] = ['2.0.0', '2'.repeat(64)];

test('status exits 0 only when every host runs its desired release healthy; DESIRED, pin reason, rejected, skipped, unknown states', async () => {
  await using h = await createHarness();
  const put = (host: string, value: unknown): Promise<unknown> => h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${host}.json`, Body: JSON.stringify(value) }));
  await put('host-a', newReport('host-a', 'healthy', V2, V2));
  await put('host-b', newReport('host-b', 'pinned', V1, V1, { desired: { version: V1[0], sha256: V1[1], sequence: 9, kind: 'pin', reason: '2.0.0 leaks memory' } }));
  await put('host-c', newReport('host-c', 'waiting', V1, V1, { skipped: { reason: 'step', eligibleAt: '2026-12-02T10:00:00Z' } }));
  const args = ['status', '--app', 'web', '--env', 'prod'];
  const ok = await ops(h, args);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^host-a +2\.0\.0 +2\.0\.0 +healthy +- +- +\d+s$/m);
  assert.match(ok.stdout, /^host-b +1\.0\.0 +1\.0\.0 \(pin\) +pinned +2\.0\.0 leaks memory +- +\d+s$/m);
  assert.match(ok.stdout, /^skipped: host-c step \(eligible at 2026-12-02T10:00:00Z\)$/m);
  assert.match(ok.stdout, /converged: every host runs its desired release healthy/);

  // A host healthy on an old release, one with a rejected manifest, one in a state this version does not know.
  await put('host-d', newReport('host-d', 'healthy', V1, V2, { rejected: { sequence: 77, code: 'HOIST_SIGNATURE_UNTRUSTED', message: 'no signature by a trusted key', at: new Date().toISOString() } }));
  await put('host-e', newReport('host-e', 'quarantined', V2, V2));
  const bad = await ops(h, args);
  assertCode(bad, 1, 'HOIST_NOT_CONVERGED');
  assert.match(bad.stderr, /host-d \(runs 1\.0\.0, desires 2\.0\.0\), host-e \(quarantined\)/);
  assert.match(bad.stdout, /^host-e +2\.0\.0 +2\.0\.0 +quarantined /m);
  assert.match(bad.stdout, /^rejected: host-d sequence 77 HOIST_SIGNATURE_UNTRUSTED: no signature by a trusted key/m);
  assert.match(bad.stdout, /quarantined 1/);
  const json = await ops(h, [...args, '--json']);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout) as { hosts: Array<Record<string, unknown>>; summary: { converged: boolean; notConverged: Array<{ hostId: string }> } };
  assert.equal(parsed.summary.converged, false);
  assert.deepEqual(parsed.summary.notConverged.map((n) => n.hostId), ['host-d', 'host-e']);
  assert.deepEqual(parsed.hosts[3]?.rejected, { sequence: 77, code: 'HOIST_SIGNATURE_UNTRUSTED', message: 'no signature by a trusted key', at: (parsed.hosts[3]?.rejected as { at: string }).at });
});

test('--forget-after hides the reports of terminated hosts; without it they are stale', async () => {
  await using h = await createHarness();
  const put = (host: string, value: unknown): Promise<unknown> => h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${host}.json`, Body: JSON.stringify(value) }));
  await put('live', newReport('live', 'healthy', V2, V2));
  await put('gone', report('gone', 'healthy', '1.0.0', 9 * 86_400_000));
  assertCode(await ops(h, ['status', '--app', 'web', '--env', 'prod']), 1, 'HOIST_NOT_CONVERGED');
  const r = await ops(h, ['status', '--app', 'web', '--env', 'prod', '--forget-after', '7d']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /^gone /m);
  assert.match(r.stdout, /hidden: 1 report older than --forget-after \(gone\)/);
  assertCode(await ops(h, ['status', '--app', 'web', '--env', 'prod', '--forget-after', 'soon']), 2, 'HOIST_USAGE');
});

test('status --wait returns 0 once a lagging host converges, and 1 listing the laggard at its time-out', async () => {
  await using h = await createHarness();
  const put = (host: string, value: unknown): Promise<unknown> => h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${host}.json`, Body: JSON.stringify(value) }));
  await put('host-a', newReport('host-a', 'healthy', V2, V2));
  await put('host-b', newReport('host-b', 'deploying', V1, V2));
  const args = ['status', '--app', 'web', '--env', 'prod', '--poll-interval', '200ms'];

  const timedOut = await ops(h, [...args, '--wait', '1s']);
  assertCode(timedOut, 1, 'HOIST_NOT_CONVERGED');
  assert.match(timedOut.stderr, /1 of 2 hosts of web\/prod not converged after waiting 1s: host-b \(deploying\)/);
  assert.match(timedOut.stderr, /^waiting: 1 of 2 hosts converged; not yet: host-b \(deploying\)$/m);

  // host-b's agent reports healthy on 2.0.0 only once the wait has read it lagging.
  const child = spawn(process.execPath, [HOIST_BIN, ...args, '--wait', '--bucket', BUCKET, '--endpoint', h.aws.endpoint, '--region', 'us-east-1'], { env: { ...process.env, ...TEST_AWS_ENV } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually(() => Promise.resolve(stderr.includes('not yet: host-b (deploying)')), 'the wait reported host-b lagging');
  await put('host-b', newReport('host-b', 'healthy', V2, V2));
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /converged: every host runs its desired release healthy/);
});
