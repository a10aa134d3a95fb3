/**
 * The fleet-wide halt with real agents against fauxqs: a broken release whose rollout carries
 * `maxFailures: 2` stops after the hosts that started before the second failure was written (the
 * hosts it could not stop: they were in flight), every other host reports `halted` and writes its
 * halted event, `hoist rollout status` exits 1 and shows the halt, and a fix with a higher sequence
 * proceeds everywhere, the hosts that rolled back and the halted ones alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cohortValue, placement, scheduleOf, stepBound } from '../../src/rollout/schedule.ts';
import { createFleet, hostsInBand } from '../helpers/fleet.ts';

test('a broken release with maxFailures 2 halts after the predicted hosts; the others report halted; a fix proceeds', { timeout: 300_000 }, async (t) => {
  const first = hostsInBand(0, stepBound(50), 7, 'a');
  const second = hostsInBand(stepBound(50), 10_000, 5, 'b');
  const ids = [...first, ...second];
  await using fleet = await createFleet({ hostIds: ids });
  const [v1, v2, v3] = [await fleet.artifact('1.0.0'), await fleet.artifact('2.0.0', { broken: true }), await fleet.artifact('3.0.0')];
  const state = (id: string) => fleet.hosts.find((h) => h.hostId === id)?.app();
  const settledOn = (version: string) => (id: string): boolean => {
    const s = state(id);
    return s?.current?.version === version && s.txn === undefined && s.state === 'healthy';
  };

  await fleet.publish(v1, { percent: 100 });
  fleet.start();
  await fleet.until(() => ids.every(settledOn('1.0.0')), 'every host runs 1.0.0', 120_000);

  // 2.0.0 fails its health check everywhere. Step 1's seven hosts start spread over 20 s.
  const rollout = {
    startAt: new Date(Date.now() + 3_000).toISOString(),
    steps: [
      { percent: 50, after: '0s', spread: '20s' },
      { percent: 100, after: '24s', spread: '2s' },
    ],
    halt: { maxFailures: 2 },
  };
  const broken = await fleet.publish(v2, rollout);
  const sequence = Number(broken.sequence);
  const schedule = scheduleOf(rollout, Date.parse(String(broken.issuedAt)));
  const eligibleAt = (id: string): number => {
    const p = placement(schedule, cohortValue(id, 'web', 'prod'), 0);
    return p.kind === 'outside' ? Number.POSITIVE_INFINITY : p.eligibleAt;
  };
  await fleet.until(() => ids.every((id) => ['rolled-back', 'halted'].includes(state(id)?.state ?? '') && state(id)?.txn === undefined), 'every host rolled 2.0.0 back or halted', 120_000);

  // a host's state changes before its event is written: wait for one event per host
  const written = async (seq: number, outcomes: string[]): Promise<number> => {
    const e = await fleet.events(seq);
    return outcomes.reduce((n, o) => n + (e.get(o)?.length ?? 0), 0);
  };
  await fleet.until(async () => (await written(sequence, ['rolled-back', 'halted'])) === ids.length, 'every host wrote its event of 2.0.0', 30_000);
  const events = await fleet.events(sequence);
  const attempted = fleet.hosts.filter((h) => h.started.has('2.0.0')).map((h) => h.hostId).sort();
  const rolledBack = events.get('rolled-back') ?? [];
  const halted = events.get('halted') ?? [];
  t.diagnostic(`attempted ${attempted.length} of ${first.length} in step 1: ${attempted.join(', ')}; halted ${halted.length}`);
  assert.deepEqual(rolledBack, attempted, 'every host that tried 2.0.0 rolled it back and said so');
  assert.equal(events.get('failed'), undefined);
  assert.equal(events.get('healthy'), undefined);
  assert.ok(attempted.length >= 2, 'the limit was reached');

  // The prediction: only hosts eligible before the second failure was written could try it.
  const failureTimes = await Promise.all(rolledBack.map(async (id) => Date.parse((JSON.parse(await fleet.getText(`events/web/prod/${sequence}/rolled-back/${id}.json`)) as { at: string }).at)));
  const limitAt = [...failureTimes].sort((a, b) => a - b)[1] ?? Number.POSITIVE_INFINITY;
  const predicted = ids.filter((id) => eligibleAt(id) <= limitAt);
  t.diagnostic(`the second failure was written ${limitAt - (schedule.steps[0]?.dueAt ?? 0)} ms after step 1 was due; ${predicted.length} hosts were eligible by then`);
  for (const id of attempted) assert.ok(eligibleAt(id) <= limitAt, `${id} tried 2.0.0 only because it was eligible before the limit was reached`);
  assert.ok(attempted.length <= predicted.length);
  assert.ok(attempted.length < first.length, 'the halt stopped step 1 part way');

  // Every other host, step 2 included, halted without touching 2.0.0, and says so.
  const others = ids.filter((id) => !attempted.includes(id)).sort();
  assert.deepEqual(halted, others);
  for (const id of others) {
    const s = state(id);
    assert.equal(s?.state, 'halted', id);
    assert.equal(s?.skipped?.reason, 'halted', id);
    assert.equal(s?.current?.version, '1.0.0', `${id} still runs 1.0.0`);
    await fleet.until(async () => (JSON.parse(await fleet.getText(`status/web/prod/${id}.json`)) as { state: string }).state === 'halted', `${id} reports halted`, 10_000);
  }
  for (const id of attempted) assert.equal(state(id)?.current?.version, '1.0.0', `${id} rolled back to 1.0.0`);

  const status = await fleet.cli(['rollout', 'status', '--app', 'web', '--env', 'prod']);
  assert.equal(status.code, 1, status.stdout + status.stderr);
  assert.match(status.stdout, /^HALTED /m);
  assert.match(status.stdout, new RegExp(`halt +${attempted.length} failed of a limit of 2 \\(maxFailures 2\\)`));
  assert.match(status.stderr, /hoist: HOIST_ROLLOUT_HALTED: /);
  const json = await fleet.cli(['rollout', 'status', '--app', 'web', '--env', 'prod', '--json']);
  assert.equal(json.code, 1);
  const progress = JSON.parse(json.stdout) as { halted: boolean; steps: Array<{ hosts: number; 'rolled-back': number; halted: number }> };
  assert.equal(progress.halted, true);
  assert.deepEqual(progress.steps.map((s) => s.hosts), [7, 5]);
  assert.equal(progress.steps.reduce((n, s) => n + s['rolled-back'], 0), attempted.length);
  assert.equal(progress.steps.reduce((n, s) => n + s.halted, 0), others.length);

  // A fix with a higher sequence proceeds on every host.
  const fix = await fleet.publish(v3, { percent: 100, halt: { maxFailures: 2 } });
  await fleet.until(() => ids.every(settledOn('3.0.0')), 'every host runs 3.0.0', 120_000);
  await fleet.until(async () => (await written(Number(fix.sequence), ['healthy'])) === ids.length, 'every host wrote its healthy event of 3.0.0', 30_000);
  assert.deepEqual((await fleet.events(Number(fix.sequence))).get('healthy'), [...ids].sort());
  const after = await fleet.cli(['rollout', 'status', '--app', 'web', '--env', 'prod']);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /^complete /m);
  assert.deepEqual(fleet.problems.filter((p) => p.includes(' error:')), []);
});
