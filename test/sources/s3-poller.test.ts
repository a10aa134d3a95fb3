import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { startAws } from '../helpers/fauxqs.ts';
import { putObjectBytes } from '../../src/aws/object-store.ts';
import { pollManifests, startS3Poller } from '../../src/sources/s3-poller.ts';
import { isHoistError } from '../../src/errors.ts';
import { sleep } from '../../src/util/sleep.ts';

const BUCKET = 'hoist-test';

/** Records every GetObject the poll sends, to prove the requests were conditional. */
function spyGets(s3: S3Client): Array<{ key: string | undefined; ifNoneMatch: string | undefined }> {
  const gets: Array<{ key: string | undefined; ifNoneMatch: string | undefined }> = [];
  const original = s3.send.bind(s3) as (...args: unknown[]) => unknown;
  s3.send = ((command: unknown, ...rest: unknown[]) => {
    if (command instanceof GetObjectCommand) gets.push({ key: command.input.Key, ifNoneMatch: command.input.IfNoneMatch });
    return original(command, ...rest);
  }) as typeof s3.send;
  return gets;
}

test('pollManifests: first poll returns channel and pin, an unchanged poll returns nothing via 304s, a change returns just that key', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'rel/channels/web/prod.json', body: 'channel-1' });
  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'rel/pins/web/prod.json', body: 'pin-1' });
  const gets = spyGets(aws.s3);
  const etags = new Map<string, string>();
  const options = { bucket: BUCKET, prefix: 'rel/', targets: [{ app: 'web', env: 'prod' }], etags, maxBytes: 1024 };

  const first = await pollManifests(aws.s3, options);
  assert.deepEqual(
    first.map((r) => [r.key, r.kind, r.app, r.env, r.status, r.status === 'changed' ? r.body.toString() : '']).sort(),
    [
      ['rel/channels/web/prod.json', 'release', 'web', 'prod', 'changed', 'channel-1'],
      ['rel/pins/web/prod.json', 'pin', 'web', 'prod', 'changed', 'pin-1'],
    ],
  );
  assert.equal(etags.size, 2);
  assert.ok(gets.every((g) => g.ifNoneMatch === undefined));

  gets.length = 0;
  assert.deepEqual(await pollManifests(aws.s3, options), []);
  assert.equal(gets.length, 2);
  for (const g of gets) assert.equal(g.ifNoneMatch, etags.get(g.key ?? ''), `conditional GET for ${g.key}`);

  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'rel/channels/web/prod.json', body: 'channel-2' });
  const third = await pollManifests(aws.s3, options);
  assert.equal(third.length, 1);
  const [changed] = third;
  assert.ok(changed?.status === 'changed');
  assert.equal(changed.key, 'rel/channels/web/prod.json');
  assert.equal(changed.body.toString(), 'channel-2');
  assert.deepEqual(await pollManifests(aws.s3, options), []);
});

test('pollManifests: a pin that never existed is not reported; one that disappears is reported once as missing', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'channels/web/prod.json', body: 'c' });
  const etags = new Map<string, string>();
  const options = { bucket: BUCKET, prefix: '', targets: [{ app: 'web', env: 'prod' }, { app: 'web', env: 'prod' }], etags, maxBytes: 1024 };
  const first = await pollManifests(aws.s3, options);
  assert.deepEqual(first.map((r) => `${r.kind}:${r.status}`), ['release:changed']);

  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'pins/web/prod.json', body: 'p' });
  assert.deepEqual((await pollManifests(aws.s3, options)).map((r) => `${r.kind}:${r.status}`), ['pin:changed']);

  aws.server.emptyBucket(BUCKET);
  const gone = await pollManifests(aws.s3, options);
  assert.deepEqual(gone.map((r) => `${r.kind}:${r.status}`).sort(), ['pin:missing', 'release:missing']);
  assert.equal(etags.size, 0);
  assert.deepEqual(await pollManifests(aws.s3, options), []);
});

test('pollManifests: one unreadable key is reported as an error without hiding the other', async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'channels/web/prod.json', body: 'ok' });
  await putObjectBytes(aws.s3, { bucket: BUCKET, key: 'pins/web/prod.json', body: Buffer.alloc(100, 0x20) });
  const etags = new Map<string, string>();
  const results = await pollManifests(aws.s3, { bucket: BUCKET, prefix: '', targets: [{ app: 'web', env: 'prod' }], etags, maxBytes: 10 });
  const byKind = new Map(results.map((r) => [r.kind, r]));
  assert.equal(byKind.get('release')?.status, 'changed');
  const pin = byKind.get('pin');
  assert.ok(pin?.status === 'error' && isHoistError(pin.error, 'HOIST_ENVELOPE_TOO_LARGE'));
  assert.equal(etags.has('pins/web/prod.json'), false);

  const controller = new AbortController();
  controller.abort(new Error('bye'));
  await assert.rejects(
    pollManifests(aws.s3, { bucket: BUCKET, prefix: '', targets: [{ app: 'web', env: 'prod' }], etags, maxBytes: 10, signal: controller.signal }),
    /bye/,
  );
});

test('startS3Poller: ticks on a fast schedule, never overlapping, errors reported and the poller keeps going', async () => {
  const controller = new AbortController();
  let active = 0;
  let maxActive = 0;
  let ticks = 0;
  const errors: unknown[] = [];
  const poller = startS3Poller({
    schedule: '* * * * * *',
    jitterMs: 20,
    signal: controller.signal,
    onError: (err) => errors.push(err),
    tick: async (signal) => {
      ticks++;
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        // The first tick outlives the 1 s period: the next scheduled fire must be skipped.
        if (ticks === 1) await sleep(1100, signal).catch(() => {});
      } finally {
        active--;
      }
      if (ticks === 1) throw new Error('first tick fails');
    },
  });
  try {
    // Bounded wait for two ticks (about 3 s at most when the machine keeps up).
    for (let i = 0; i < 80 && ticks < 2; i++) await sleep(50);
    assert.ok(ticks >= 2, `expected two ticks, saw ${ticks}`);
    assert.equal(maxActive, 1);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /first tick fails/);
  } finally {
    controller.abort();
    await poller.stop();
  }
});

test('startS3Poller: stop returns promptly once the tick honours the abort, and no tick follows', async () => {
  const controller = new AbortController();
  let ticks = 0;
  let active = 0;
  const poller = startS3Poller({
    schedule: '* * * * * *',
    jitterMs: 0,
    signal: controller.signal,
    tick: async (signal) => {
      ticks++;
      active++;
      await sleep(10_000, signal).catch(() => {});
      active--;
    },
  });
  for (let i = 0; i < 40 && ticks < 1; i++) await sleep(50);
  assert.equal(ticks, 1);
  const stopped = poller.stop();
  let settled = false;
  void stopped.then(() => (settled = true));
  await sleep(50);
  assert.equal(settled, false, 'stop waits for the running tick');
  const before = Date.now();
  controller.abort();
  await stopped;
  assert.ok(Date.now() - before < 1000, 'stop waited too long');
  assert.equal(active, 0);
  await sleep(1100);
  assert.equal(ticks, 1, 'no tick after stop');
  await poller.stop(); // idempotent
  await poller.runNow(); // a no-op once stopped
  assert.equal(ticks, 1);
});

test('startS3Poller: runNow runs a tick at once without jitter and joins a running one', async () => {
  const controller = new AbortController();
  let ticks = 0;
  let release: () => void = () => {};
  const poller = startS3Poller({
    schedule: '0 0 0 1 1 *', // once a year: only runNow ticks here
    jitterMs: 60_000,
    random: () => 0.99,
    signal: controller.signal,
    tick: async () => {
      ticks++;
      await new Promise<void>((resolve) => (release = resolve));
    },
  });
  const a = poller.runNow();
  const b = poller.runNow();
  assert.equal(a, b);
  await sleep(20);
  assert.equal(ticks, 1);
  release();
  await a;
  await poller.stop();
  controller.abort();
});

test('startS3Poller: a pending jitter wait is cancelled by stop and the tick never runs', async () => {
  const controller = new AbortController();
  let ticks = 0;
  const poller = startS3Poller({
    schedule: '* * * * * *',
    jitterMs: 60_000,
    random: () => 0.5,
    signal: controller.signal,
    tick: () => {
      ticks++;
      return Promise.resolve();
    },
  });
  await sleep(1200); // at least one scheduled fire, now waiting ~30 s of jitter
  const before = Date.now();
  controller.abort(); // the signal alone stops it
  await poller.stop();
  assert.ok(Date.now() - before < 1000);
  assert.equal(ticks, 0);
});

test('startS3Poller refuses an invalid schedule with HOIST_CONFIG_INVALID', () => {
  assert.throws(
    () => startS3Poller({ schedule: 'every minute', jitterMs: 0, signal: new AbortController().signal, tick: async () => {} }),
    (err) => isHoistError(err, 'HOIST_CONFIG_INVALID'),
  );
});
