/**
 * The real agent against a misbehaving S3: its endpoint is the fault proxy in front of fauxqs, so
 * every request (channel, pin, artifact, status) crosses a network that resets, fails, trickles
 * and lags. The artifact carries 64 KiB of random bytes so a body can be cut in the middle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, createHarness, eventually, type Harness } from '../helpers/harness.ts';
import { startFaultProxy, type FaultProxy, type ProxyLogEntry, type ProxyRequest } from '../helpers/fault-proxy.ts';
import { ArtifactFactory, onceWithEnv, partsLeft, stagingLeft } from '../helpers/torture.ts';

const isArtifactGet = (req: ProxyRequest): boolean => req.method === 'GET' && req.url.includes('/artifacts/');

function artifactGets(proxy: FaultProxy): ProxyLogEntry[] {
  return proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('/artifacts/'));
}

/** JSON log lines of a run. */
function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function retries(stdout: string): Array<Record<string, unknown>> {
  return logLines(stdout).filter((l) => l.msg === 'download failed, retrying');
}

async function rig(): Promise<{ h: Harness; proxy: FaultProxy; artifacts: ArtifactFactory } & AsyncDisposable> {
  const h = await createHarness();
  const proxy = await startFaultProxy(h.aws.endpoint);
  await h.writeConfig({ endpoint: proxy.url });
  return {
    h,
    proxy,
    artifacts: new ArtifactFactory(h),
    async [Symbol.asyncDispose]() {
      await proxy.stop();
      await h[Symbol.asyncDispose]();
    },
  };
}

test('a connection reset mid-body of the artifact: retried, resumed with Range, deployed', async () => {
  await using r = await rig();
  const { h, proxy } = r;
  const v1 = await r.artifacts.make('1.0.0', 'blob');
  await h.publish('1.0.0', v1);
  proxy.resetAfter(20_000, 1, isArtifactGet);
  const run = await h.once();
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-3000));
  assert.equal(await h.current(), '1.0.0');
  assert.equal(await h.served(), '1.0.0');
  const gets = artifactGets(proxy);
  assert.equal(gets[0]?.fault, 'reset');
  assert.equal(gets[0]?.range, undefined, 'the first GET asks for the whole object');
  const resumed = gets.find((g) => g.range !== undefined);
  assert.ok(resumed !== undefined, `a Range request followed: ${JSON.stringify(gets)}`);
  const from = Number(/^bytes=(\d+)-$/.exec(resumed.range ?? '')?.[1]);
  assert.ok(from > 0 && from <= 20_000, `resumed from the bytes already on disk (${resumed.range ?? ''})`);
  assert.equal(resumed.status, 206);
  assert.ok(retries(run.stdout).length >= 1, 'the retry is logged');
  assert.deepEqual(await partsLeft(h.stateDir), []);
});

test('a server that ignores Range after a reset: the agent starts over from byte 0 and deploys', async () => {
  await using r = await rig();
  const { h, proxy } = r;
  const v1 = await r.artifacts.make('1.0.0', 'blob');
  await h.publish('1.0.0', v1);
  proxy.resetAfter(20_000, 1, isArtifactGet);
  proxy.ignoreRange(1, (req) => isArtifactGet(req) && req.headers.range !== undefined);
  const run = await h.once();
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-3000));
  assert.equal(await h.current(), '1.0.0');
  const gets = artifactGets(proxy);
  assert.ok(gets.length >= 2);
  assert.equal(gets[1]?.status, 200, 'the whole object came back, and it was used from the start');
});

test('bursts of 500 and 503 on the artifact GET: retries complete the deploy', async () => {
  await using r = await rig();
  const { h, proxy } = r;
  const v1 = await r.artifacts.make('1.0.0', 'blob');
  await h.publish('1.0.0', v1);
  proxy.failNext(3, 500, isArtifactGet);
  proxy.failNext(3, 503, isArtifactGet);
  const run = await h.once();
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-3000));
  assert.equal(await h.current(), '1.0.0');
  const gets = artifactGets(proxy);
  assert.equal(gets.filter((g) => g.status === 500).length, 3);
  assert.equal(gets.filter((g) => g.status === 503).length, 3);
  assert.equal(gets.at(-1)?.status, 200, 'the last GET succeeded');
  assert.ok(retries(run.stdout).length >= 1, 'hoist retried on top of the SDK');
});

test('a 10 byte/s trickle is abandoned by the stall watchdog, then resumed and deployed', { timeout: 120_000 }, async () => {
  await using r = await rig();
  const { h, proxy } = r;
  const v1 = await r.artifacts.make('1.0.0', 'blob');
  await h.publish('1.0.0', v1);
  // The proxy's finest trickle is one byte per 100 ms: far below 1 KiB per stall window.
  proxy.trickle(1, 1, isArtifactGet);
  // The agent's stall window is the download default (30 s / 1 KiB). HOIST_STALL_TIMEOUT_MS is
  // the knob asked for to shorten it in tests; until the agent reads it, this test waits 30 s.
  const run = await onceWithEnv(h, { HOIST_STALL_TIMEOUT_MS: '3000' });
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-3000));
  assert.equal(await h.current(), '1.0.0');
  const stalled = retries(run.stdout).find((l) => String(l.err).includes('stalled'));
  assert.ok(stalled !== undefined, `the watchdog abandoned the trickle:\n${run.stdout.slice(-3000)}`);
  const gets = artifactGets(proxy);
  assert.equal(gets[0]?.fault, 'trickle');
  assert.ok(gets.length >= 2, 'retried');
  assert.ok(gets.slice(1).some((g) => g.range !== undefined && g.status === 206), 'the retry resumed what the trickle delivered');
});

test('added latency on every S3 request: --once and the daemon still deploy', { timeout: 120_000 }, async () => {
  await using r = await rig();
  const { h, proxy } = r;
  const v1 = await r.artifacts.make('1.0.0', 'blob');
  await h.publish('1.0.0', v1);
  proxy.latency(400);
  const run = await h.once();
  assert.equal(run.code, 0, run.stderr + run.stdout.slice(-3000));
  assert.equal(await h.current(), '1.0.0');
  assert.ok(artifactGets(proxy).length >= 1);

  // Latency above the 1 s poll period: ticks must not pile up, and the deploy still happens.
  proxy.latency(1500);
  const v2 = await r.artifacts.make('2.0.0', 'blob');
  await h.publish('2.0.0', v2);
  const agent = h.start();
  await agent.waitFor((l) => l.msg === 'ready', 30_000);
  await eventually(() => h.settledOn('2.0.0'), 'the daemon deployed through a slow network', 60_000);
  assert.equal(await h.served(), '2.0.0');
  agent.kill('SIGTERM');
  assert.equal((await agent.exited).code, 0);
});

test('a partial artifact (reset, then the object replaced by a truncated one) is never unpacked or activated', async () => {
  await using r = await rig();
  const { h, proxy } = r;
  const v1 = await r.artifacts.make('1.0.0', 'blob');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const v2 = await r.artifacts.make('2.0.0', 'blob');
  await h.publish('2.0.0', v2);
  const truncated = (await readFile(v2.file)).subarray(0, 30_000);
  let replaced: Promise<unknown> | undefined;
  proxy.resetAfter(20_000, 1, (req) => {
    if (!(isArtifactGet(req) && req.url.includes(v2.sha256))) return false;
    // While the first body is cut, the object is overwritten with a truncated copy; the retry
    // is held back long enough for that write to land.
    proxy.latency(1500);
    replaced ??= h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: v2.key, Body: truncated }));
    return true;
  });
  const run = await h.once();
  await replaced;
  assert.ok(replaced !== undefined, 'the artifact was requested');
  assert.equal(run.code, 1, run.stdout.slice(-3000));
  assert.match(run.stderr, /HOIST_SIZE_MISMATCH|HOIST_DIGEST_MISMATCH/);
  assert.equal(await h.current(), '1.0.0');
  assert.equal(await h.served(), '1.0.0');
  const releases = await readdir(path.join(h.root, 'releases'));
  assert.deepEqual(releases.filter((n) => n.startsWith('2.0.0-')), [], 'no release dir for the partial artifact');
  assert.deepEqual(await stagingLeft(h.root), [], 'nothing was unpacked');
  const downloads = await readdir(path.join(h.stateDir, 'downloads'));
  assert.deepEqual(downloads.filter((n) => n.startsWith(v2.sha256)), [], 'neither a .part nor a cached copy is kept');
  const s = await h.appState();
  assert.equal(s.current?.version, '1.0.0');
  assert.equal(s.txn, undefined);
  assert.equal(s.lastAttempt?.outcome, 'failed');
  assert.ok(logLines(run.stdout).every((l) => l.step !== 'flip' && l.step !== 'unpack'), 'no unpack or flip was logged');
});
