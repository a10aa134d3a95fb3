import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createFleet, type Host } from '../../scripts/demo/fleet.ts';

async function current(host: Host): Promise<string | undefined> {
  try {
    const target = await readlink(path.join(host.root, 'current'));
    return (await readFile(path.join(host.root, target, 'VERSION'), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

test('SNS fan-out: one publish reaches two hosts through their own queues (S3 polling off)', async () => {
  await using fleet = await createFleet({ hostIds: ['host-1', 'host-2'], poll: 'off' });
  const agents = fleet.hosts.map((h) => fleet.startAgent(h));
  const file = await fleet.artifact('1.0.0');
  const r = await fleet.hoist(['publish', '--app', 'web', '--env', 'prod', '--version', '1.0.0', '--artifact', file, '--bucket', fleet.bucket, '--key', fleet.keys.ci.key, '--notify-sns', fleet.topicArn]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /notified +sns arn:aws:sns:/);
  const deadline = Date.now() + 45_000;
  let versions: Array<string | undefined> = [];
  while (Date.now() < deadline) {
    versions = await Promise.all(fleet.hosts.map((h) => current(h)));
    if (versions.every((v) => v === '1.0.0')) break;
    await delay(200);
  }
  assert.deepEqual(versions, ['1.0.0', '1.0.0'], agents.map((a) => a.output().slice(-2000)).join('\n'));
  await fleet.close();
  for (const a of agents) assert.equal((await a.exited).code, 0, 'SIGTERM drains and exits 0');
});
