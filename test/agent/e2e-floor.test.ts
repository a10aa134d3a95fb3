/** A host without a high-water mark takes the newest verified history entry as its floor. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, createHarness, nextSequence } from '../helpers/harness.ts';

test('attack: an old release put back in the channel is refused by a new host (floor from history/), the current one deploys', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  const put = (key: string, body: string) => h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  const s1 = nextSequence();
  const old = await h.publish('1.0.0', await h.artifact('1.0.0'), { sequence: s1 });
  await put(`history/web/prod/${s1}.json`, old);
  const s2 = nextSequence();
  const current = await h.publish('2.0.0', await h.artifact('2.0.0'), { sequence: s2 });
  await put(`history/web/prod/${s2}.json`, current);
  // A bucket writer puts the old (validly signed, unexpired) release back, and plants a forged
  // history entry above the real one.
  await h.putChannel(old);
  await put(`history/web/prod/${s2 + 1000}.json`, forged(current, s2 + 1000));

  const r = await h.once();
  assert.match(r.stdout, /"code":"HOIST_REPLAY"/);
  assert.match(r.stdout, /below the newest verified copy in history\/, /);
  assert.match(r.stdout, /history entry not counted for the anti-replay floor/);
  assert.equal(await h.current(), undefined, 'the new host was not served the old release');

  await h.putChannel(current);
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');
  assert.equal((await h.appState()).highWater.release?.sequence, s2);
});

/** The envelope with its payload's sequence changed after signing (its signature no longer verifies). */
function forged(envelope: string, sequence: number): string {
  const env = JSON.parse(envelope) as { payload: string };
  const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Record<string, unknown>;
  return JSON.stringify({ ...env, payload: Buffer.from(JSON.stringify({ ...payload, sequence })).toString('base64') });
}
