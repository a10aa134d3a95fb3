/** Anti-replay, pins and rollout cohorts through the real agent. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, nextSequence } from '../helpers/harness.ts';
import { inCohort } from '../../src/agent/decide.ts';

test('replay of a lower sequence is ignored, a duplicate is a no-op, the same sequence with other bytes is rejected and reported; marks survive restarts', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  const v2 = await h.artifact('2.0.0');
  const seq1 = nextSequence();
  const old = await h.publish('1.0.0', v1, { sequence: seq1 });
  assert.equal((await h.once()).code, 0);
  const seq2 = nextSequence();
  const current = await h.publish('2.0.0', v2, { sequence: seq2 });
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');

  // Each run is a new process: the high-water mark came from state.json.
  await h.putChannel(old);
  const replay = await h.once();
  assert.equal(replay.code, 1, 'the newest manifest read was rejected');
  assert.match(replay.stdout, /HOIST_REPLAY/);
  assert.equal((await h.appState() as { rejected?: { code: string } }).rejected?.code, 'HOIST_REPLAY');
  assert.equal(await h.current(), '2.0.0');
  assert.equal((await h.appState()).highWater.release?.sequence, seq2);

  await h.putChannel(current);
  const dup = await h.once();
  assert.equal(dup.code, 0);
  assert.equal(await h.current(), '2.0.0');
  assert.equal((await h.appState() as { rejected?: unknown }).rejected, undefined, 'an accepted manifest of the kind ends the rejection');

  // Same sequence, different bytes (another version): an attack.
  await h.publish('1.0.0', v1, { sequence: seq2 });
  const conflict = await h.once();
  assert.equal(conflict.code, 1);
  assert.match(conflict.stdout, /HOIST_SEQUENCE_CONFLICT/);
  assert.equal(await h.current(), '2.0.0');
  const s = await h.appState();
  assert.equal((s as { rejected?: { code: string } }).rejected?.code, 'HOIST_SEQUENCE_CONFLICT');
  assert.equal(s.highWater.release?.sequence, seq2);
});

test('an envelope that fails verification changes nothing', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifact('2.0.0');
  // A payload altered after signing, as an attacker with write access to the bucket would.
  const text = await h.publish('2.0.0', v2);
  const env = JSON.parse(text) as { payload: string };
  const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as Record<string, unknown>;
  payload.version = '2.0.1';
  env.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
  await h.putChannel(JSON.stringify(env));
  const r = await h.once();
  assert.equal(r.code, 1, 'a rejected manifest fails --once');
  assert.match(r.stdout, /HOIST_SIGNATURE_INVALID/);
  assert.equal(await h.current(), '1.0.0');
});

test('pin, host-scoped pin and unpin', async () => {
  await using h = await createHarness({ hostId: 'host-a' });
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  const v2 = await h.artifact('2.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  await h.publish('2.0.0', v2);
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');

  // A pin scoped to another host does not move this one.
  await h.pin('1.0.0', v1, { hosts: ['host-b'] });
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');

  // A pin naming this host moves it back to 1.0.0 and it reports `pinned`.
  await h.pin('1.0.0', v1, { hosts: ['host-a', 'host-b'] });
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '1.0.0');
  assert.equal((await h.appState()).state, 'pinned');

  // A pin signed by the CI key (not in the pin role) is refused: still pinned.
  await h.pin(null, null, { keys: ['ci'] });
  const refused = await h.once();
  assert.match(refused.stdout, /HOIST_SIGNATURE_UNTRUSTED/);
  assert.equal(await h.current(), '1.0.0');

  // Unpin returns to the channel.
  await h.pin(null, null);
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');
  assert.equal((await h.appState()).state, 'healthy');

  // A pin to what already runs needs no deploy but is reported; so is the unpin after it.
  await h.pin('2.0.0', v2);
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');
  assert.equal((await h.appState()).state, 'pinned');
  await h.pin(null, null);
  assert.equal((await h.once()).code, 0);
  assert.equal((await h.appState()).state, 'healthy');
});

test('rollout 0% leaves the host alone, 100% deploys', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const v1 = await h.artifact('1.0.0');
  await h.publish('1.0.0', v1);
  assert.equal((await h.once()).code, 0);
  const v2 = await h.artifact('2.0.0');
  await h.publish('2.0.0', v2, { rollout: 0 });
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '1.0.0');
  // A cohort between: this host's fate is the documented formula's.
  await h.publish('2.0.0', v2, { rollout: 50 });
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), inCohort('host-1', 'web', 'prod', 50) ? '2.0.0' : '1.0.0');
  await h.publish('2.0.0', v2, { rollout: 100 });
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');
});
