/**
 * Kill-9 torture: the real agent is SIGKILLed at many points of the deploy path —
 * download, unpack, rename, hooks, flip, restart, health, commit, prune, and the rollback of a
 * release that fails health — then restarted. After every kill:
 *
 * - right away: state.json is valid, `current` resolves to a complete release that either was
 *   healthy or is the one under health check;
 * - after the restart: no `.staging-*`, `current.tmp-*` or `.part` is left, no transaction is open,
 *   and the host runs the channel's release (a release flipped but not committed is checked again
 *   at the start and, being healthy, committed) — or, when the release fails its health check or
 *   its rollback was under way, the previous healthy release with the bad artifact on the failed
 *   list — and the app serves exactly that version.
 *
 * The kill points come from a seeded PRNG (HOIST_TORTURE_SEED, printed with the plan). CI runs a
 * quick sample of 15 points, one per part of the path; HOIST_TORTURE=full runs 56.
 * One harness (fauxqs, dirs, app port) serves every round; each round publishes a new version.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createHarness, eventually, type Artifact, type Harness } from '../helpers/harness.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import {
  ArtifactFactory,
  createRng,
  killStrays,
  onceWithEnv,
  partsLeft,
  readCurrent,
  readValidState,
  seedFromEnv,
  stagingLeft,
  tempLinksLeft,
  webApp,
  type Payload,
  type Rng,
} from '../helpers/torture.ts';

const SEED = seedFromEnv('HOIST_TORTURE_SEED', 20261127);
const FULL = process.env.HOIST_TORTURE === 'full';
const FULL_POINTS = 56;

type Phase = 'download' | 'unpack' | 'deploying';

interface Template {
  /** The part of the deploy path it hits (quick mode takes one template per group). */
  readonly group: string;
  readonly payload: Payload;
  /** Self-kill at a journalled step (`HOIST_FAULT_KILL_AT=step[+ms]`), `delay` = [min, max] ms. */
  readonly step?: string;
  readonly delay?: readonly [number, number];
  /** Or an external SIGKILL of a daemon, a random [min, max] ms after `phase` is seen. */
  readonly external?: Phase;
}

const TEMPLATES: readonly Template[] = [
  { group: 'download', payload: 'healthy', step: 'fetching' },
  { group: 'download', payload: 'blob', step: 'fetching', delay: [150, 2500] },
  { group: 'unpack', payload: 'healthy', step: 'unpacking' },
  { group: 'unpack', payload: 'filler', step: 'unpacking', delay: [20, 1500] },
  { group: 'rename', payload: 'healthy', step: 'renamed' },
  { group: 'hooks', payload: 'healthy', step: 'pre-activate' },
  { group: 'hooks', payload: 'healthy', step: 'pre-activate', delay: [5, 150] },
  { group: 'hooks', payload: 'healthy', step: 'pre-activated' },
  { group: 'hooks', payload: 'healthy', step: 'post-activated' },
  { group: 'flip', payload: 'healthy', step: 'flipped' },
  { group: 'flip', payload: 'healthy', step: 'flip-done' },
  { group: 'restart', payload: 'healthy', step: 'flip-done', delay: [5, 250] },
  { group: 'restart', payload: 'healthy', step: 'restarted' },
  { group: 'health', payload: 'healthy', step: 'health' },
  { group: 'health', payload: 'healthy', step: 'health', delay: [0, 150] },
  { group: 'health', payload: 'unhealthy', step: 'health', delay: [200, 1800] },
  { group: 'commit', payload: 'healthy', step: 'committed' },
  { group: 'prune', payload: 'healthy', step: 'committed', delay: [0, 20] },
  { group: 'prune', payload: 'healthy', step: 'pruned' },
  { group: 'rolling-back', payload: 'unhealthy', step: 'rolling-back' },
  { group: 'rolling-back', payload: 'unhealthy', step: 'rolling-back', delay: [0, 600] },
  { group: 'rolled-back', payload: 'unhealthy', step: 'rolled-back' },
  { group: 'external-download', payload: 'blob', external: 'download', delay: [0, 1500] },
  { group: 'external-unpack', payload: 'filler', external: 'unpack', delay: [0, 1200] },
  { group: 'external-anytime', payload: 'healthy', external: 'deploying', delay: [0, 2500] },
  { group: 'external-anytime', payload: 'unhealthy', external: 'deploying', delay: [0, 4500] },
];

interface KillPoint {
  readonly n: number;
  readonly template: Template;
  readonly delayMs: number | undefined;
  /** How the agent is brought back: `hoist agent --once` or a daemon. */
  readonly restart: 'once' | 'daemon';
}

function label(p: KillPoint): string {
  const t = p.template;
  const at = t.step !== undefined ? `${t.step}${p.delayMs === undefined ? '' : `+${p.delayMs}`}` : `external ${t.external ?? ''}+${p.delayMs ?? 0}ms`;
  return `#${p.n} ${at} [${t.payload}] restart=${p.restart}`;
}

function point(rng: Rng, n: number, template: Template): KillPoint {
  return {
    n,
    template,
    delayMs: template.delay === undefined ? undefined : rng.int(template.delay[0], template.delay[1]),
    restart: rng.next() < 0.3 ? 'daemon' : 'once',
  };
}

/** Quick: one template from every group. Full: every template once, then random ones. */
function planKillPoints(rng: Rng, full: boolean): KillPoint[] {
  const groups = [...new Set(TEMPLATES.map((t) => t.group))];
  const chosen: Template[] = full ? [...TEMPLATES] : groups.map((g) => rng.pick(TEMPLATES.filter((t) => t.group === g)));
  while (full && chosen.length < FULL_POINTS) chosen.push(rng.pick(TEMPLATES));
  // Fisher–Yates, so the order differs by seed too.
  for (let i = chosen.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [chosen[i], chosen[j]] = [chosen[j] as Template, chosen[i] as Template];
  }
  return chosen.map((t, i) => point(rng, i + 1, t));
}

interface Round {
  readonly h: Harness;
  readonly proxy: FaultProxy;
  readonly previous: { version: string; artifact: Artifact };
  readonly version: string;
  readonly artifact: Artifact;
}

const isArtifactGet = (req: { method: string; url: string }): boolean => req.method === 'GET' && req.url.includes('/artifacts/');

async function waitPhase(h: Harness, phase: Phase, agent: ReturnType<Harness['start']>): Promise<void> {
  if (phase === 'deploying') {
    await agent.waitFor((l) => l.step === 'fetch', 30_000);
    return;
  }
  if (phase === 'download') {
    await eventually(async () => {
      for (const name of await partsLeft(h.stateDir)) {
        if (((await stat(path.join(h.stateDir, 'downloads', name)).catch(() => undefined))?.size ?? 0) > 0) return true;
      }
      return false;
    }, 'the download is under way', 30_000);
    return;
  }
  await eventually(async () => {
    for (const name of await stagingLeft(h.root)) {
      if ((await readdir(path.join(h.root, 'releases', name)).catch(() => [])).length > 0) return true;
    }
    return false;
  }, 'unpacking is under way', 30_000);
}

/** Runs the agent until the kill point; true when it really died of SIGKILL there. */
async function kill(round: Round, p: KillPoint): Promise<boolean> {
  const { h } = round;
  const t = p.template;
  if (t.step !== undefined) {
    const spec = `${t.step}${p.delayMs === undefined ? '' : `+${p.delayMs}`}`;
    const r = await onceWithEnv(h, { HOIST_FAULT_KILL_AT: spec });
    if (r.signal !== 'SIGKILL') {
      // Only a delayed kill may miss (the run ended first); a bare step must be reached.
      assert.ok(p.delayMs !== undefined, `${label(p)}: the agent was not killed (code ${String(r.code)}):\n${r.stdout.slice(-3000)}\n${r.stderr}`);
      assert.ok(r.code === 0 || r.code === 1, `${label(p)}: exit ${String(r.code)}\n${r.stderr}`);
      return false;
    }
    return true;
  }
  const agent = h.start();
  await waitPhase(h, t.external ?? 'deploying', agent);
  await delay(p.delayMs ?? 0);
  const alive = agent.child.exitCode === null && agent.child.signalCode === null;
  agent.kill('SIGKILL');
  const r = await agent.exited;
  return alive && r.signal === 'SIGKILL';
}

type Expect = 'target' | 'rollback';

/** Checks the host right after the kill and says where it must end up. */
async function inspectAfterKill(round: Round, p: KillPoint): Promise<Expect> {
  const { h, previous, version, artifact } = round;
  const state = await readValidState(h.stateDir);
  const app = webApp(state);
  const cur = await readCurrent(h.root);
  assert.ok(cur !== undefined, `${label(p)}: current must exist`);
  assert.ok(cur.complete, `${label(p)}: current -> ${cur.dir} is not a complete release`);
  assert.ok(cur.version === previous.version || cur.version === version, `${label(p)}: current is ${cur.version}`);
  if (cur.version === version) {
    // The new release is linked only while it is under health check (an open transaction for
    // it) or once it was committed.
    const underCheck = app.txn?.target.sha256 === artifact.sha256;
    const committed = app.txn === undefined && app.current?.sha256 === artifact.sha256;
    assert.ok(underCheck || committed, `${label(p)}: ${version} is linked but neither under check nor committed: ${JSON.stringify(app)}`);
  } else if (app.txn === undefined) {
    assert.equal(app.current?.version, previous.version, `${label(p)}: state and link agree`);
  }
  // A release that fails health always ends rolled back, wherever the kill landed.
  if (p.template.payload === 'unhealthy') return 'rollback';
  // A healthy release flipped but not committed is checked again and committed; only a rollback
  // that was under way (journalled, or `current` already back after the restart) is finished.
  const txn = app.txn;
  const rollingBack = txn !== undefined && (txn.step === 'rolling-back' || ((txn.step === 'restarted' || txn.step === 'health') && cur.dir !== txn.target.dir));
  return rollingBack ? 'rollback' : 'target';
}

async function converged(h: Harness, expect: Expect, round: Round): Promise<boolean> {
  const s = await readValidState(h.stateDir).catch(() => undefined);
  if (s === undefined) return false;
  const app = webApp(s);
  if (app.txn !== undefined) return false;
  if (expect === 'target') return app.current?.sha256 === round.artifact.sha256 && app.state === 'healthy';
  return app.current?.sha256 === round.previous.artifact.sha256 && app.failed.includes(round.artifact.sha256) && app.state === 'rolled-back';
}

async function restartAndConverge(round: Round, p: KillPoint, expect: Expect): Promise<void> {
  const { h } = round;
  round.proxy.reset();
  if (p.restart === 'once') {
    const r = await h.once();
    assert.equal(r.signal, null, `${label(p)}: the restart died:\n${r.stderr}`);
    assert.ok(r.code === 0 || r.code === 1, `${label(p)}: exit ${String(r.code)}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
    assert.ok(await converged(h, expect, round), `${label(p)}: expected ${expect}, state ${JSON.stringify(webApp(await readValidState(h.stateDir)))}\n${r.stdout.slice(-4000)}`);
  } else {
    const agent = h.start();
    // Recovery runs before "ready"; SIGTERM is handled from then on.
    await agent.waitFor((l) => l.msg === 'ready', 45_000);
    await eventually(() => converged(h, expect, round), `${label(p)}: the daemon converges (${expect})`, 45_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${agent.output().slice(-4000)}`);
    });
    agent.kill('SIGTERM');
    const r = await agent.exited;
    assert.equal(r.code, 0, `${label(p)}: the daemon stops cleanly on SIGTERM`);
  }
}

async function checkRecovered(round: Round, p: KillPoint, expect: Expect): Promise<void> {
  const { h, previous, version } = round;
  const want = expect === 'target' ? version : previous.version;
  const cur = await readCurrent(h.root);
  assert.equal(cur?.version, want, `${label(p)}: current`);
  assert.ok(cur.complete, `${label(p)}: current is complete`);
  assert.deepEqual(await stagingLeft(h.root), [], `${label(p)}: no staging left`);
  assert.deepEqual(await tempLinksLeft(h.root), [], `${label(p)}: no current.tmp-* left`);
  assert.deepEqual(await partsLeft(h.stateDir), [], `${label(p)}: no .part left`);
  const app = webApp(await readValidState(h.stateDir));
  assert.equal(app.txn, undefined);
  if (app.previous !== undefined) {
    assert.ok((await stat(path.join(h.root, app.previous.dir, 'VERSION')).catch(() => undefined)) !== undefined, `${label(p)}: previous release kept`);
  }
  // The app that runs is the one `current` names (a rollback restarts the previous release).
  await eventually(async () => (await h.served()) === want, `${label(p)}: the app serves ${want}`, 15_000);
}

async function torture(t: TestContext, full: boolean): Promise<void> {
  const rng = createRng(SEED);
  const plan = planKillPoints(rng, full);
  t.diagnostic(`HOIST_TORTURE_SEED=${SEED} ${full ? 'full' : 'quick'}: ${plan.length} kill points`);
  for (const p of plan) t.diagnostic(`plan ${label(p)}`);

  await using h = await createHarness();
  await using proxy = await startFaultProxy(h.aws.endpoint);
  try {
    await h.writeConfig({
      endpoint: proxy.url,
      app: { hooks: { preActivate: { run: 'sleep 0.2', timeout: '10s' }, postActivate: { run: 'true', timeout: '10s' } } },
      health: { startPeriod: '2500ms' },
    });
    const artifacts = new ArtifactFactory(h);
    const base = await artifacts.make('0.0.0', 'healthy');
    await h.publish('0.0.0', base);
    const first = await h.once();
    assert.equal(first.code, 0, first.stderr);
    let previous = { version: '0.0.0', artifact: base };
    let killed = 0;
    const started = performance.now();
    for (const p of plan) {
      const t0 = performance.now();
      proxy.reset();
      const version = `1.${p.n}.0`;
      const artifact = await artifacts.make(version, p.template.payload);
      await h.publish(version, artifact);
      // A trickle keeps the download of a blob going for a few seconds (64 KiB at 16 KiB/s).
      if (p.template.payload === 'blob') proxy.trickle(16 * 1024, 100, isArtifactGet);
      const round: Round = { h, proxy, previous, version, artifact };
      const died = await kill(round, p);
      if (died) killed++;
      const expect = await inspectAfterKill(round, p);
      await restartAndConverge(round, p, expect);
      await checkRecovered(round, p, expect);
      if (expect === 'target') previous = { version, artifact };
      t.diagnostic(`${label(p)}: ${died ? 'killed' : 'finished before the kill'} -> ${expect === 'target' ? version : `rolled back to ${previous.version}`} (${Math.round(performance.now() - t0)} ms)`);
    }
    t.diagnostic(`${killed}/${plan.length} rounds really SIGKILLed the agent; ${Math.round((performance.now() - started) / 1000)} s`);
    // Delayed kills may land after a short run ended; most must not.
    assert.ok(killed >= Math.ceil(plan.length * 0.8), `only ${killed} of ${plan.length} kill points killed the agent`);
  } finally {
    await killStrays(h.dir);
  }
}

if (FULL) {
  test(`kill -9 torture, full: ${FULL_POINTS} seeded kill points over the deploy and rollback paths`, { timeout: 60 * 60_000 }, (t) => torture(t, true));
} else {
  test('kill -9 torture, quick: one seeded kill point in every part of the deploy and rollback paths', { timeout: 240_000 }, (t) => torture(t, false));
}

test('the kill-point plan is reproducible from the seed and covers every part of the path', () => {
  const a = planKillPoints(createRng(7), false).map(label);
  const b = planKillPoints(createRng(7), false).map(label);
  assert.deepEqual(a, b);
  assert.notDeepEqual(planKillPoints(createRng(8), false).map(label), a);
  const groups = new Set(TEMPLATES.map((t) => t.group));
  assert.equal(a.length, groups.size);
  const full = planKillPoints(createRng(7), true);
  assert.ok(full.length >= 50);
  for (const tpl of TEMPLATES) assert.ok(full.some((p) => p.template === tpl), `full plan includes ${tpl.group} ${tpl.step ?? tpl.external ?? ''}`);
});
