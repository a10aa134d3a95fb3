/**
 * Crash safety with real SIGKILLs of the real agent, then a restart: `current`
 * always points at a complete release, an uncommitted flip is rolled back, no staging is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createHarness, eventually, type Harness } from '../helpers/harness.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';

async function stagingLeft(h: Harness): Promise<string[]> {
  const names = await readdir(path.join(h.root, 'releases')).catch(() => []);
  return names.filter((n) => n.startsWith('.staging-'));
}

async function runKilled(h: Harness, killAt: string): Promise<void> {
  const agent = h.start({ env: { HOIST_FAULT_KILL_AT: killAt } });
  const result = await Promise.race([
    agent.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`agent did not die at ${killAt}:\n${agent.output().slice(-3000)}`)), 30_000).unref()),
  ]);
  assert.equal(result.signal, 'SIGKILL', `killed at ${killAt}`);
}

test('SIGKILL during unpack: restart removes staging and deploys', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifact('2.0.0', 'healthy', { filler: 4000 });
  await h.publish('2.0.0', v2);
  const agent = h.start();
  // Kill while a staging dir is being filled.
  await eventually(async () => {
    for (const name of await stagingLeft(h)) {
      if ((await readdir(path.join(h.root, 'releases', name)).catch(() => [])).length > 0) return true;
    }
    return false;
  }, 'unpacking is under way', 30_000);
  agent.kill('SIGKILL');
  await agent.exited;
  assert.equal(await h.current(), '1.0.0');
  assert.notDeepEqual(await stagingLeft(h), [], 'killed mid-unpack: staging is left behind');
  assert.notEqual((await h.appState()).txn, undefined, 'the journal shows the interrupted deploy');
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await stagingLeft(h), []);
  assert.equal(await h.current(), '2.0.0');
  assert.equal((await h.appState()).txn, undefined);
});

test('SIGKILL during the download: the .part is resumed with Range and the deploy completes', async () => {
  await using h = await createHarness();
  await using proxy = await startFaultProxy(h.aws.endpoint);
  await h.writeConfig({ endpoint: proxy.url });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  proxy.trickle(300, 100, (req) => req.url.includes('/artifacts/'));
  const agent = h.start();
  const part = path.join(h.stateDir, 'downloads', `${v1.sha256}.part`);
  await eventually(async () => ((await stat(part).catch(() => undefined))?.size ?? 0) > 0, 'the download is under way');
  agent.kill('SIGKILL');
  await agent.exited;
  assert.equal(await h.current(), undefined, 'nothing flipped');
  proxy.reset();
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.current(), '1.0.0');
  assert.ok(proxy.requests.some((q) => q.url.includes('/artifacts/') && q.range !== undefined), 'resumed with a Range request');
  const downloads = await readdir(path.join(h.stateDir, 'downloads'));
  assert.deepEqual(downloads.filter((n) => n.endsWith('.part')), []);
  assert.deepEqual(await stagingLeft(h), []);
});

for (const step of ['flipped', 'flip-done', 'restarted', 'health']) {
  test(`SIGKILL at "${step}" (around the flip, before the health decision): checked again at the next start`, async () => {
    await using h = await createHarness();
    await h.writeConfig();
    const v1 = await h.artifact('1.0.0');
    await h.publish('1.0.0', v1);
    assert.equal((await h.once()).code, 0);
    const v2 = await h.artifact('2.0.0');
    await h.publish('2.0.0', v2);
    await runKilled(h, step);
    // Whatever the step, `current` resolves to a complete release.
    const cur = await h.current();
    assert.ok(cur === '1.0.0' || cur === '2.0.0', `current resolves (${String(cur)})`);
    await stat(path.join(h.root, 'current', 'server.mjs'));

    const r = await h.once();
    const s = await h.appState();
    assert.equal(s.txn, undefined);
    assert.deepEqual(await stagingLeft(h), []);
    // Before the flip (journalled but killed before rename): the deploy simply runs again. After
    // it: flipped but never committed, so 2.0.0 is checked again with the full policy (restarted
    // first when the restart had not been journalled), and being healthy, committed.
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await h.current(), '2.0.0');
    assert.equal(await h.served(), '2.0.0');
    assert.equal(s.state, 'healthy');
    assert.deepEqual(s.failed, []);
  });
}

test('SIGKILL during the health check of an unhealthy release: checked again at the next start and rolled back', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifact('2.0.0', 'unhealthy');
  await h.publish('2.0.0', v2);
  await runKilled(h, 'health');
  assert.equal(await h.current(), '2.0.0', 'killed with the unchecked v2 active');
  const r = await h.once();
  assert.equal(r.code, 1);
  assert.equal(await h.current(), '1.0.0');
  assert.equal(await h.served(), '1.0.0');
  const s = await h.appState();
  assert.equal(s.state, 'rolled-back');
  assert.ok(s.failed.includes(v2.sha256));
});

test('a release whose health check was cut short twice is rolled back without a third', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifact('2.0.0');
  await h.publish('2.0.0', v2);
  await runKilled(h, 'health');
  // the next start checks it again, and is killed in that check too
  await runKilled(h, 'health');
  assert.equal((await h.appState() as { txn?: { checks?: number } }).txn?.checks, 2);
  const r = await h.once();
  assert.equal(r.code, 1, 'rolled back: --once fails');
  assert.match(r.stdout, /cut short 2 times/);
  assert.equal(await h.current(), '1.0.0');
  assert.ok((await h.appState()).failed.includes(v2.sha256));
});

test('SIGKILL right after commit leaves a consistent, healthy host', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  await runKilled(h, 'committed');
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.current(), '1.0.0');
  assert.equal((await h.appState()).state, 'healthy');
});
