/**
 * The fleet simulation (bench/fleet.ts) in small: 20 real agents in one worker process against one
 * fauxqs behind a counting proxy. Every host converges; an idle poll costs exactly one conditional
 * GET per key, answered 304; a 10 % rollout reaches exactly the hosts `inCohort` predicts; the
 * rollout phases (steps one short gap apart, a broken release that halts, its fix) hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inCohort } from '../../src/agent/decide.ts';
import { hostIds, runFleetSimulation } from '../../bench/fleet/sim.ts';

test('fleet of 20 agents: convergence, 304 idle polls, exact 10 % cohort, steps and the halt', { timeout: 420_000 }, async (t) => {
  const result = await runFleetSimulation({ hosts: 20, pollSeconds: 2, idlePolls: 3, stepGapSeconds: 12, progress: (line) => t.diagnostic(line) });
  for (const f of result.figures) t.diagnostic(JSON.stringify(f));

  assert.equal(result.hosts, 20);
  assert.ok(result.converged.initial, 'every host took 1.0.0');
  assert.ok(result.converged.v2, 'every host took 2.0.0');

  // Idle: only conditional GETs of the channel and the pin, all 304, one per key per poll.
  assert.deepEqual(Object.keys(result.idle.proxy).sort(), ['GET channel 304', 'GET pin 304'], JSON.stringify(result.idle.proxy));
  const perHost = Object.entries(result.idle.perHost);
  assert.equal(perHost.length, 20);
  for (const [id, c] of perHost) {
    assert.equal(c.other, 0, `${id} made no other requests while idle`);
    assert.equal(c.not304, 0, `${id}: every idle GET was a 304`);
    assert.ok(c.polls >= 1, `${id} polled in the window`);
    assert.equal(c.pinPolls, c.polls, `${id}: each poll reads the channel and the pin`);
    assert.equal(c.channel, c.polls, `${id}: one channel request per poll (no retries)`);
    assert.equal(c.pin, c.pinPolls, `${id}: one pin request per poll (no retries)`);
  }
  const total = Object.values(result.idle.proxy).reduce((s, x) => s + x, 0);
  const hostGets = perHost.reduce((s, [, c]) => s + c.channel + c.pin, 0);
  assert.equal(total, hostGets, 'the proxy saw exactly the requests the hosts counted');

  // Rollout 10 %: the cohort formula's prediction, exactly.
  const predicted = hostIds(20).filter((id) => inCohort(id, 'web', 'prod', 10));
  assert.ok(predicted.length > 0, 'the sample has canaries');
  assert.deepEqual(result.cohort.predicted, predicted);
  assert.deepEqual(result.cohort.actual, predicted);
  assert.deepEqual(result.cohort.missing, []);
  assert.deepEqual(result.cohort.unexpected, []);

  // Steps: at each step exactly the predicted cohorts had started; the halt held within its bound.
  const rollout = result.rollout;
  assert.ok(rollout !== undefined);
  assert.deepEqual(rollout.steps.map((s) => s.mismatched), [0, 0, 0]);
  assert.deepEqual(rollout.steps.map((s) => s.reached.length), rollout.steps.map((s) => s.predicted.length));
  assert.ok(rollout.halt.touched.length >= 3, 'the limit was reached');
  assert.ok(rollout.halt.touched.length <= rollout.halt.predicted, `${rollout.halt.touched.length} touched, at most the ${rollout.halt.predicted} eligible before the limit`);
  assert.deepEqual(rollout.halt.stuck, []);
  assert.equal(rollout.halt.halted.length, 20 - rollout.halt.touched.length, 'every other host halted');
  assert.equal(rollout.fixConverged, true);
  assert.equal(rollout.ok, true);
  assert.deepEqual(result.errors.filter((e) => e.includes(' error:')), [], 'no agent logged an error');
});
