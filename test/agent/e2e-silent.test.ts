/**
 * Nothing silent: every refused manifest and every skipped target shows up in the S3 status
 * report, in `hoist status --local` and in `--once`'s exit status; a 503 app fails fast; SIGTERM
 * during a long health check stays inside drain.timeout and the next start checks the release
 * again; members of the stateDir's group read the local status.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, createHarness, eventually, HOIST_BIN, nextSequence, run, type Harness } from '../helpers/harness.ts';
import { groupId, READER_GROUP, localUser, READER_USER } from '../helpers/users.ts';

async function report(h: Harness): Promise<Record<string, unknown>> {
  const r = await h.aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${h.hostId}.json` }));
  return JSON.parse(await r.Body?.transformToString() ?? '{}') as Record<string, unknown>;
}

async function localStatus(h: Harness): Promise<{ apps: Array<Record<string, unknown>> }> {
  const r = await run([HOIST_BIN, 'status', '--local', '--config', h.configPath, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { apps: Array<Record<string, unknown>> };
}

test('untrusted, expired, replayed and wrong-app manifests are rejected with their code: S3 report, status --local, --once exit 1', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  const seq1 = nextSequence();
  await h.publish('1.0.0', v1, { sequence: seq1 });
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifact('2.0.0');
  const now = Date.now();
  const cases: Array<[string, () => Promise<string>]> = [
    // signed by no key the policy trusts
    ['HOIST_SIGNATURE_UNTRUSTED', async () => h.publish('2.0.0', v2, { keys: ['alice'], app: 'web' }).then(async (text) => {
      // re-sign with a key outside the policy: drop alice's signature, keep the payload
      const env = JSON.parse(text) as { signatures: Array<{ keyid: string; sig: string }> };
      env.signatures = [{ keyid: 'f'.repeat(64), sig: env.signatures[0]?.sig ?? '' }];
      const forged = JSON.stringify(env);
      await h.putChannel(forged);
      return forged;
    })],
    ['HOIST_MANIFEST_EXPIRED', () => h.publish('2.0.0', v2, { issuedAt: new Date(now - 40 * 86_400_000).toISOString(), expiresAt: new Date(now - 10 * 86_400_000).toISOString() })],
    // signed and valid, but older than the release this host accepted
    ['HOIST_REPLAY', () => h.publish('1.0.0', v1, { sequence: seq1 - 1 })],
    ['HOIST_MANIFEST_MISMATCH', () => h.publish('2.0.0', v2, { app: 'api' }).then(async (text) => {
      await h.putChannel(text);
      return text;
    })],
  ];
  for (const [code, put] of cases) {
    await put();
    const r = await h.once();
    assert.equal(r.code, 1, `${code}: --once fails on a rejection`);
    assert.match(r.stderr, new RegExp(code));
    assert.match(r.stdout, new RegExp(`"level":"warn".*"code":"${code}"`), `${code} is logged at warn`);
    const rep = await report(h);
    assert.equal((rep.rejected as { code?: string } | null)?.code, code, `${code} in the S3 report`);
    const local = (await localStatus(h)).apps[0];
    assert.equal((local?.rejected as { code?: string } | null)?.code, code, `${code} in status --local`);
    assert.equal(await h.current(), '1.0.0', 'the serving release keeps serving');
  }
  // the plain-text view says it too
  const text = await run([HOIST_BIN, 'status', '--local', '--config', h.configPath]);
  assert.match(text.stdout, /web\/prod rejected .*HOIST_MANIFEST_MISMATCH/);
  // a good manifest again ends the rejection
  await h.publish('2.0.0', v2);
  assert.equal((await h.once()).code, 0);
  assert.equal((await report(h)).rejected, null);
});

test('a failed-list skip is reported; retryFailed tries the artifact once more, once', async () => {
  await using h = await createHarness();
  await h.writeConfig({ health: { startPeriod: '2s' } });
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  assert.equal((await h.once()).code, 0);
  const bad = await h.artifact('2.0.0', 'unhealthy');
  await h.publish('2.0.0', bad);
  assert.equal((await h.once()).code, 1);
  // the same artifact again, as a new manifest: skipped, and said so
  await h.publish('2.0.0', bad);
  const skipped = await h.once();
  assert.equal(skipped.code, 1);
  assert.match(skipped.stderr, /HOIST_FAILED_LIST/);
  assert.deepEqual({ reason: (await report(h)).skipped }, { reason: { reason: 'failed-list' } });
  assert.match(skipped.stdout, /"level":"info".*"skipped":"failed-list"/, 'logged at info with its reason');
  // retryFailed: one more try (still broken, so rolled back again), and not a second one
  const retry = h.sign({ ...JSON.parse(Buffer.from((JSON.parse(await h.publish('2.0.0', bad)) as { payload: string }).payload, 'base64').toString()) as Record<string, unknown>, sequence: nextSequence(), retryFailed: true });
  await h.putChannel(retry);
  const tried = await h.once();
  assert.equal(tried.code, 1);
  assert.match(tried.stdout, /one more try, as its manifest asks/);
  assert.equal((await h.appState()).lastAttempt?.outcome, 'rolled-back');
  const again = await h.once();
  assert.equal(again.code, 1);
  assert.doesNotMatch(again.stdout, /one more try, as its manifest asks/);
  assert.match(again.stderr, /failed again when its manifest asked for one more try/);
  assert.equal(await h.served(), '1.0.0');
});

test('a 503 app rolls back after failureThreshold answers, long before startPeriod', async () => {
  await using h = await createHarness();
  await h.writeConfig({ health: { startPeriod: '60s', interval: '200ms', failureThreshold: 3 } });
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  assert.equal((await h.once()).code, 0);
  await h.publish('2.0.0', await h.artifact('2.0.0', 'unhealthy'));
  const started = Date.now();
  const r = await h.once();
  const took = Date.now() - started;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /3 failed answers in a row \(failureThreshold 3\)/);
  assert.ok(took < 45_000, `rolled back in ${took} ms, not after the 60 s startPeriod`);
  console.log(`# a 503 release rolled back in ${(took / 1000).toFixed(1)} s (startPeriod 60 s)`);
  assert.equal(await h.served(), '1.0.0');
});

for (const behaviour of ['healthy', 'unhealthy'] as const) {
  test(`SIGTERM during a 60 s startPeriod exits 0 within drain.timeout; the next start checks the ${behaviour} release again`, async () => {
    await using h = await createHarness();
    // the new release answers nothing (refused) for a while: the check cannot decide before the drain ends
    await h.writeConfig({ health: { startPeriod: '60s', interval: '200ms', timeout: '500ms' }, drain: { timeout: '4s' } });
    await h.publish('1.0.0', await h.artifact('1.0.0'));
    assert.equal((await h.once()).code, 0);
    // /healthz does not answer for 20 s (probes time out: no decision), then healthy or 500
    const v2 = await h.artifact('2.0.0', { hangFirstMs: 20_000, then: behaviour });
    await h.publish('2.0.0', v2);
    const agent = h.start();
    await eventually(async () => (await h.appState()).txn !== undefined && ((await h.appState()).txn as { step?: string }).step === 'health', 'the health check is under way', 30_000);
    const stopAt = Date.now();
    agent.kill('SIGTERM');
    const exit = await agent.exited;
    const took = Date.now() - stopAt;
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(took < 8_000, `stopped in ${took} ms with drain.timeout 4s`);
    const s = await h.appState();
    assert.equal((s.txn as { step?: string } | undefined)?.step, 'health', 'journalled at health');
    assert.equal((await report(h)).state, 'deploying');
    assert.equal(await h.current(), '2.0.0');
    // next start: checked again with the full policy (the probes time out until /healthz answers)
    const r = await h.once();
    if (behaviour === 'healthy') {
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await h.appState()).state, 'healthy');
      assert.equal(await h.current(), '2.0.0');
    } else {
      assert.equal(r.code, 1);
      assert.equal(await h.current(), '1.0.0');
      assert.equal(await h.served(), '1.0.0');
    }
  });
}

test('a member of the stateDir\'s group reads the local state (0640)', async () => {
  const reader = localUser(READER_USER);
  await using h = await createHarness();
  await mkdir(h.stateDir, { recursive: true, mode: 0o750 });
  await chown(h.stateDir, 0, groupId(READER_GROUP));
  await h.writeConfig();
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  assert.equal((await h.once()).code, 0);
  const cat = spawnSync('setpriv', [`--reuid=${reader.uid}`, `--regid=${reader.gid}`, '--init-groups', '--', 'cat', path.join(h.stateDir, 'state.json')], { encoding: 'utf8' });
  assert.equal(cat.status, 0, cat.stderr);
  assert.match(cat.stdout, /"web\/prod"/);
  const outsider = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'cat', path.join(h.stateDir, 'state.json')], { encoding: 'utf8' });
  assert.notEqual(outsider.status, 0, 'nobody else reads it');
});

test('unpin onto an artifact on the failed list: the host says why nothing happened and is no longer "pinned"', async () => {
  await using h = await createHarness();
  await h.writeConfig({ health: { startPeriod: '2s' } });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const bad = await h.artifact('2.0.0', 'unhealthy');
  await h.publish('2.0.0', bad);
  assert.equal((await h.once()).code, 1, 'v2 rolls back');
  await h.pin('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  assert.equal((await h.appState()).state, 'pinned');
  await h.pin(null, null);
  const r = await h.once();
  assert.equal(r.code, 1, 'the channel names a failed artifact: --once says so');
  assert.match(r.stdout, /"level":"info".*"skipped":"failed-list"/);
  const rep = await report(h);
  assert.equal(rep.state, 'healthy');
  assert.deepEqual(rep.skipped, { reason: 'failed-list' });
  assert.equal((rep.desired as { version?: string } | null)?.version, '2.0.0');
  assert.equal(await h.served(), '1.0.0');
});
