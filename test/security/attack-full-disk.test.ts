/**
 * Attack class: a full disk (filled by a big artifact, by the app, or by anyone on the volume).
 * A download that filled stateDir kept its `.part`, so every later start failed writing state; a
 * rollback journalled before it flipped back, so with a full disk an unhealthy, never-checked
 * release stayed active across restarts.
 *
 * Each test mounts small ext4 images only inside the agent's own mount namespace (see
 * full-disk.ts) and fills them while the agent runs (through /proc/<pid>/root) or before it starts.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { fillImage, fillSeenBy, inMountNamespace, makeImage, seenBy, type Mount } from '../helpers/full-disk.ts';
import { createHarness, eventually, type AgentProcess } from '../helpers/harness.ts';
import { makePauses } from '../helpers/attack.ts';

async function appStateSeenBy(pid: number, stateDir: string): Promise<{ lastAttempt?: { code?: string; version?: string }; state?: string; txn?: unknown }> {
  const s = JSON.parse(await readFile(seenBy(pid, path.join(stateDir, 'state.json')), 'utf8')) as { apps: Record<string, { lastAttempt?: { code?: string } }> };
  return s.apps['web/prod'] ?? {};
}

async function stop(agent: AgentProcess): Promise<void> {
  agent.kill('SIGTERM');
  await agent.exited;
}

test('attack: full disk during the download: the .part is removed, HOIST_NO_SPACE is reported, and the next start (still full) starts and serves', async () => {
  await using h = await createHarness();
  await using proxy = await startFaultProxy(h.aws.endpoint);
  await mkdir(h.stateDir, { recursive: true });
  const state: Mount = { image: path.join(h.dir, 'state.img'), dir: h.stateDir };
  makeImage(state.image, 8);
  const wrap = inMountNamespace([state]);
  await h.writeConfig({ endpoint: proxy.url });
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  const first = await h.once([], { wrap });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await h.served(), '1.0.0');

  // v2 carries 3 MiB that do not compress: room for it is checked, then the disk fills mid-way
  const v2 = await h.artifactWith('2.0.0', [{ path: 'blob.bin', body: randomBytes(3 * 1024 * 1024) }]);
  await h.publish('2.0.0', v2);
  proxy.trickle(256 * 1024, 10, (req) => req.url.includes('/artifacts/'));
  const agent = h.start({ wrap });
  const pid = agent.child.pid ?? 0;
  const part = seenBy(pid, path.join(h.stateDir, 'downloads', `${v2.sha256}.part`));
  await eventually(async () => (await readFile(part).catch(() => Buffer.alloc(0))).length > 0, 'the download is under way', 30_000);
  fillSeenBy(pid, h.stateDir);
  const line = await agent.waitFor((l) => l.code === 'HOIST_NO_SPACE', 60_000);
  assert.match(String(line.err), /filled up while downloading|partial download was removed/);
  assert.deepEqual((await readdir(seenBy(pid, path.join(h.stateDir, 'downloads')))).filter((n) => n.endsWith('.part')), [], 'the .part is gone');
  await eventually(async () => (await appStateSeenBy(pid, h.stateDir)).lastAttempt?.code === 'HOIST_NO_SPACE', 'the refusal is in state.json');
  assert.equal(agent.child.exitCode, null, 'the agent keeps running');
  assert.equal(await h.served(), '1.0.0', 'the serving release keeps serving');
  await stop(agent);

  // the volume is full to the last block when the agent starts again: it starts, and v1 serves
  fillImage(state, 'filler-2');
  proxy.reset();
  const again = h.start({ wrap });
  await again.waitFor((l) => l.msg === 'ready', 30_000);
  // nothing can be journalled, so nothing is started (and it is retried with backoff)
  await again.waitFor((l) => l.code === 'HOIST_NO_SPACE', 60_000);
  assert.equal(again.child.exitCode, null, 'a full disk is not a crash loop');
  assert.equal(await h.served(), '1.0.0');
  await stop(again);
});

test('free space for the artifact is checked before the download', async () => {
  await using h = await createHarness();
  await mkdir(h.stateDir, { recursive: true });
  const state: Mount = { image: path.join(h.dir, 'state.img'), dir: h.stateDir };
  makeImage(state.image, 8);
  // about 1.5 MiB stay free: state.json fits, a 3 MiB artifact does not
  fillImage(state, 'filler', 5 * 1024);
  const wrap = inMountNamespace([state]);
  await h.writeConfig();
  const v1 = await h.artifactWith('1.0.0', [{ path: 'blob.bin', body: randomBytes(3 * 1024 * 1024) }]);
  await h.publish('1.0.0', v1);
  const r = await h.once([], { wrap });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /HOIST_NO_SPACE: .*the artifact .* needs 3\.\d+ MiB more in .*downloads, which has .* free; nothing was downloaded/);
  assert.equal(await h.current(), undefined);
});

test('attack: full disk during the unpack: HOIST_NO_SPACE, the staging dir is removed, the serving release keeps serving', async () => {
  await using h = await createHarness();
  await mkdir(h.root, { recursive: true });
  const root: Mount = { image: path.join(h.dir, 'root.img'), dir: h.root };
  makeImage(root.image, 8);
  const wrap = inMountNamespace([root]);
  // a highly compressible release: 20 MiB of zeros in a small artifact (ratio cap raised for it)
  await h.writeConfig({ limits: { maxDecompressionRatio: 100_000 } });
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  assert.equal((await h.once([], { wrap })).code, 0);
  const v2 = await h.artifactWith('2.0.0', [{ path: 'zeros.bin', body: Buffer.alloc(20 * 1024 * 1024) }]);
  await h.publish('2.0.0', v2);
  const agent = h.start({ wrap });
  const pid = agent.child.pid ?? 0;
  const line = await agent.waitFor((l) => l.code === 'HOIST_NO_SPACE', 60_000);
  assert.match(String(line.err), /ran out of space/);
  await eventually(async () => (await readdir(seenBy(pid, path.join(h.root, 'releases')))).every((n) => !n.startsWith('.staging-')), 'the staging dir is removed');
  assert.equal(await readlink(seenBy(pid, path.join(h.root, 'current'))), `releases/1.0.0-${(await h.appState()).current?.sha256.slice(0, 12) ?? ''}`);
  assert.equal(await h.served(), '1.0.0');
  await stop(agent);
});

test('attack: full disk during a rollback: current is flipped back first, and stays back across restarts', async () => {
  await using h = await createHarness();
  await using pauses = await makePauses();
  await mkdir(h.stateDir, { recursive: true });
  const state: Mount = { image: path.join(h.dir, 'state.img'), dir: h.stateDir };
  makeImage(state.image, 8);
  const wrap = inMountNamespace([state]);
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once([], { wrap })).code, 0);
  const v2 = await h.artifact('2.0.0', 'unhealthy');
  await h.publish('2.0.0', v2);
  // paused after the flip and the restart, just before the health check: the disk fills there
  const agent = h.start({ wrap, env: pauses.env(['health']) });
  await pauses.reached('health');
  assert.equal(await h.current(), '2.0.0', 'v2 is active and not yet checked');
  fillSeenBy(agent.child.pid ?? 0, h.stateDir);
  await pauses.resume('health');
  await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('rolled back to 1.0.0'), 60_000);
  assert.equal(await h.current(), '1.0.0', 'flipped back although nothing could be saved');
  assert.equal(await h.served(), '1.0.0');
  assert.ok(agent.output().includes('could not save state.json'), 'the failed save is reported');
  await stop(agent);

  // next start, disk still full: the journal (saved before the disk filled) says v2 was under
  // health check, `current` says it was already flipped back: it finishes the rollback
  const again = h.start({ wrap });
  await again.waitFor((l) => l.msg === 'ready', 60_000);
  assert.equal(await h.current(), '1.0.0');
  assert.equal(await h.served(), '1.0.0');
  await stop(again);
});
