/**
 * Scheduled rollout steps with real agents against fauxqs: a three-step schedule, time compressed
 * by short `after` values, reaches exactly the cohorts the schedule predicts at each step, each host
 * no earlier than its predicted eligibleAt. The agents poll S3 once (at start): the steps advance by
 * the agents' own timers, with no further poll and no further publish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placement, scheduleOf, stepBound } from '../../src/rollout/schedule.ts';
import { cohortValue } from '../../src/rollout/schedule.ts';
import { createFleet, hostsInBand } from '../helpers/fleet.ts';

test('a three-step schedule reaches exactly the predicted cohorts at each step, by itself', { timeout: 240_000 }, async (t) => {
  const bands = [hostsInBand(0, stepBound(10), 3, 'one'), hostsInBand(stepBound(10), stepBound(40), 4, 'two'), hostsInBand(stepBound(40), 10_000, 5, 'three')];
  const ids = bands.flat();
  // Polled once, at start: only the agents' timers can move the rollout on.
  await using fleet = await createFleet({ hostIds: ids, poll: '0 0 0 1 1 *' });
  const v2 = await fleet.artifact('2.0.0');
  const startAt = Date.now() + 6_000;
  const rollout = {
    startAt: new Date(startAt).toISOString(),
    steps: [
      { percent: 10, after: '0s', spread: '3s' },
      { percent: 40, after: '20s', spread: '3s' },
      { percent: 100, after: '40s', spread: '3s' },
    ],
  };
  const manifest = await fleet.publish(v2, rollout);
  const schedule = scheduleOf(rollout, Date.parse(String(manifest.issuedAt)));
  const predicted = new Map(
    ids.map((id) => {
      const p = placement(schedule, cohortValue(id, 'web', 'prod'), 0);
      if (p.kind === 'outside') throw new Error(`${id} is outside every step`);
      return [id, { step: p.step.index, eligibleAt: p.eligibleAt }] as const;
    }),
  );
  for (const [i, band] of bands.entries()) for (const id of band) assert.equal(predicted.get(id)?.step, i, `${id} is in step ${i + 1}`);
  fleet.start();

  // Every host reports waiting with its own eligibleAt before its step comes.
  await fleet.until(() => fleet.hosts.every((h) => h.app()?.skipped?.eligibleAt !== undefined || h.started.has('2.0.0')), 'every host learned of the schedule');
  for (const h of fleet.hosts) {
    const s = h.app();
    if (s?.skipped === undefined) continue; // already past its time
    assert.equal(s.state, 'waiting', h.hostId);
    assert.equal(s.skipped.reason, 'step', h.hostId);
    assert.equal(s.skipped.eligibleAt, new Date(predicted.get(h.hostId)?.eligibleAt ?? 0).toISOString(), `${h.hostId} waits for its predicted time`);
  }

  // Step by step: once the hosts of a step run it, exactly the cohorts up to that step do.
  const on = (id: string): boolean => {
    const s = fleet.hosts.find((h) => h.hostId === id)?.app();
    return s?.current?.version === '2.0.0' && s.txn === undefined && s.state === 'healthy';
  };
  for (const [i, step] of schedule.steps.entries()) {
    const upTo = bands.slice(0, i + 1).flat();
    await fleet.until(() => upTo.every(on), `the hosts of steps 1-${i + 1} run 2.0.0`, 90_000);
    const started = fleet.hosts.filter((h) => h.started.has('2.0.0')).map((h) => h.hostId).sort();
    const next = schedule.steps[i + 1];
    t.diagnostic(`step ${i + 1} (${step.percent}%): ${started.length} hosts started${next === undefined ? '' : `, ${next.dueAt - Date.now()} ms before the next step`}`);
    assert.deepEqual(started, [...upTo].sort(), `after step ${i + 1}, exactly the cohort of steps 1-${i + 1}`);
  }
  // No host started before its predicted time.
  for (const h of fleet.hosts) {
    const at = h.started.get('2.0.0');
    const want = predicted.get(h.hostId)?.eligibleAt ?? Number.POSITIVE_INFINITY;
    assert.ok(at !== undefined && at >= want, `${h.hostId} started at ${at ?? '-'}, not before ${want}`);
  }
  // Each host wrote its healthy event, once (a host reports healthy just before it writes it).
  await fleet.until(async () => ((await fleet.events(Number(manifest.sequence))).get('healthy')?.length ?? 0) >= ids.length, 'every host wrote its healthy event', 30_000);
  const events = await fleet.events(Number(manifest.sequence));
  assert.deepEqual(events.get('healthy'), [...ids].sort());
  assert.deepEqual([...events.keys()], ['healthy']);

  const status = await fleet.cli(['rollout', 'status', '--app', 'web', '--env', 'prod', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const json = JSON.parse(status.stdout) as { steps: Array<{ hosts: number; healthy: number; due: boolean }>; halted: boolean; complete: boolean };
  assert.deepEqual(json.steps.map((s) => [s.hosts, s.healthy, s.due]), [[3, 3, true], [4, 4, true], [5, 5, true]]);
  assert.equal(json.halted, false);
  assert.equal(json.complete, true);
  assert.deepEqual(fleet.problems.filter((p) => p.includes(' error:')), []);
});
