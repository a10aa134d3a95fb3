/** Hooks, shared paths, retention, several apps, SIGHUP reload and `status --local`, end to end. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHarness, eventually, HOIST_BIN, run } from '../helpers/harness.ts';

test('hooks: preActivate sees the HOIST_* env and a failing one aborts the deploy; shared paths are linked in', async () => {
  await using h = await createHarness();
  const envFile = path.join(h.dir, 'hook-env.txt');
  await h.writeConfig({
    app: {
      shared: ['log'],
      hooks: {
        preActivate: { run: `env | grep ^HOIST_ | sort > ${envFile}; test ! -f FAIL_PRE`, timeout: '10s' },
        postActivate: { run: 'echo post-activate ran in $PWD', timeout: '10s' },
      },
    },
  });
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  const env = await readFile(envFile, 'utf8');
  const releaseDir = path.join(h.root, 'releases', `1.0.0-${v1.sha256.slice(0, 12)}`);
  assert.match(env, /^HOIST_APP=web$/m);
  assert.match(env, /^HOIST_ENV=prod$/m);
  assert.match(env, /^HOIST_VERSION=1\.0\.0$/m);
  assert.ok(env.includes(`HOIST_RELEASE_DIR=${releaseDir}`));
  assert.match(r.stdout, /post-activate ran in/);
  // shared/log is a relative link into root/shared/log.
  assert.equal(await readlink(path.join(releaseDir, 'log')), '../../shared/log');
  await writeFile(path.join(releaseDir, 'log', 'app.log'), 'kept across releases');
  assert.equal(await readFile(path.join(h.root, 'shared', 'log', 'app.log'), 'utf8'), 'kept across releases');

  // A release whose preActivate fails never goes live.
  const v2 = await h.artifact('2.0.0');
  await h.writeConfig({
    app: { shared: ['log'], hooks: { preActivate: { run: 'echo refusing; exit 3', timeout: '10s' } } },
  });
  await h.publish('2.0.0', v2);
  const bad = await h.once();
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /HOIST_HOOK_FAILED/);
  assert.equal(await h.current(), '1.0.0');
  assert.equal(await h.served(), '1.0.0');
  const s = await h.appState();
  assert.equal(s.state, 'healthy');
  assert.equal(s.lastAttempt?.code, 'HOIST_HOOK_FAILED');
});

test('retention keeps `keep` releases and never current or previous; downloads go with them', async () => {
  await using h = await createHarness();
  await h.writeConfig({ app: { keep: 2 } });
  const shas: string[] = [];
  for (const v of ['1.0.0', '2.0.0', '3.0.0', '4.0.0']) {
    const a = await h.artifact(v);
    shas.push(a.sha256);
    await h.publish(v, a);
    assert.equal((await h.once()).code, 0);
  }
  const releases = (await readdir(path.join(h.root, 'releases'))).sort();
  assert.deepEqual(releases, [`3.0.0-${shas[2]?.slice(0, 12)}`, `4.0.0-${shas[3]?.slice(0, 12)}`]);
  const downloads = await readdir(path.join(h.stateDir, 'downloads'));
  assert.ok(!downloads.some((n) => n.startsWith(shas[0] ?? 'x')), 'the pruned release download is gone');
  assert.ok(downloads.some((n) => n.startsWith(shas[3] ?? 'x')), 'the current one stays cached');
});

test('several apps deploy in one reconcile; status --local shows them', async () => {
  await using h = await createHarness();
  const apiRoot = path.join(h.dir, 'srv', 'api');
  await h.writeConfig({
    extraApps: [
      {
        name: 'api',
        env: 'prod',
        root: apiRoot,
        health: { command: 'test -f VERSION', interval: '100ms', startPeriod: '5s', successThreshold: 1 },
      },
    ],
  });
  const web = await h.artifact('1.0.0');
  await h.publish('1.0.0', web);
  const api = await h.artifact('7.0.0');
  await h.publish('7.0.0', api, { app: 'api' });
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.current(), '1.0.0');
  assert.equal((await readFile(path.join(apiRoot, 'current', 'VERSION'), 'utf8')).trim(), '7.0.0');

  const status = await run([HOIST_BIN, 'status', '--local', '--config', h.configPath]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^web\s+prod\s+healthy\s+1\.0\.0/m);
  assert.match(status.stdout, /^api\s+prod\s+healthy\s+7\.0\.0/m);
  const json = await run([HOIST_BIN, 'status', '--local', '--json', '--config', h.configPath]);
  const parsed = JSON.parse(json.stdout) as { apps: Array<{ app: string; current: { version: string } }> };
  assert.deepEqual(parsed.apps.map((a) => `${a.app}@${a.current.version}`), ['web@1.0.0', 'api@7.0.0']);
});

test('SIGHUP reloads the config; an invalid new config is logged and the old one kept', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const agent = h.start();
  await agent.waitFor((l) => l.msg === 'ready');
  const good = await readFile(h.configPath, 'utf8');
  await writeFile(h.configPath, 'apps: not-a-list\n');
  agent.kill('SIGHUP');
  await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('keeping the old one'));
  // Still working on the old config.
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  await eventually(() => h.settledOn('1.0.0'), 'deployed with the old config');
  // A valid new config is applied.
  await writeFile(h.configPath, good.replace('successThreshold: 2', 'successThreshold: 1'));
  agent.kill('SIGHUP');
  await agent.waitFor((l) => l.msg === 'configuration reloaded');
  const v2 = await h.artifact('2.0.0');
  await h.publish('2.0.0', v2);
  await eventually(() => h.settledOn('2.0.0'), 'deployed after the reload');
  agent.kill('SIGTERM');
  assert.equal((await agent.exited).code, 0);
});

test('activation window: outside it a new release waits; inside it deploys', async () => {
  await using h = await createHarness();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  // A window 30 minutes away from now (5-field cron: minute first) is closed for this run.
  const closedMinute = (new Date().getMinutes() + 30) % 60;
  await h.writeConfig({ app: { window: `${closedMinute} * * * *` } });
  const waiting = await h.once();
  assert.equal(waiting.code, 0, waiting.stderr);
  assert.equal(await h.current(), undefined);
  assert.match(waiting.stdout, /outside the activation window/);
  await h.writeConfig({ app: { window: '* * * * *' } });
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.current(), '1.0.0');
});

test('status --local reads a corrupt state.json without moving it (the agent owns it)', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const { mkdir } = await import('node:fs/promises');
  await mkdir(h.stateDir, { recursive: true });
  await writeFile(path.join(h.stateDir, 'state.json'), '{ not json');
  const r = await run([HOIST_BIN, 'status', '--local', '--config', h.configPath]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /HOIST_STATE_CORRUPT/);
  assert.equal(await readFile(path.join(h.stateDir, 'state.json'), 'utf8'), '{ not json');
});

test('the agent moves a corrupt state.json aside, says so, and carries on', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const { mkdir, readdir } = await import('node:fs/promises');
  await mkdir(h.stateDir, { recursive: true });
  await writeFile(path.join(h.stateDir, 'state.json'), '{ not json');
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  const r = await h.once();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /HOIST_STATE_CORRUPT/);
  assert.equal(await h.current(), '1.0.0');
  assert.ok((await readdir(h.stateDir)).some((n) => n.startsWith('state.json.corrupt-')));
});
