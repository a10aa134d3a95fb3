/** Keys rotated and revoked through trust/root.json, followed by real agents against fauxqs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import path from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, createHarness, eventually, HOIST_BIN, nextSequence, run } from '../helpers/harness.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { addKeys, DAY, deleteObject, hostTrust, putTrust, signDoc, statusReport, trustDoc } from './trust-rig.ts';

const ROOTS = ['root1', 'root2', 'root3'];

test('a CI key revoked by a trust document: its next release is refused, the new key\'s deploys; the policy survives a restart', async (t) => {
  await using h = await createHarness();
  await addKeys(h, ...ROOTS, 'ci2');
  await h.writeConfig({ trust: hostTrust(h) });
  const agent = h.start();
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  await eventually(() => h.settledOn('1.0.0'), '1.0.0 runs');
  assert.deepEqual((await statusReport(h)).trust, { version: 0, expiresAt: null });
  const local = await run([HOIST_BIN, 'status', '--local', '--config', h.configPath]);
  assert.match(local.stdout, /^trust: version 0, the root keys of the config \(no trust document taken yet\)$/m, local.stdout);

  // One publish revokes ci and trusts ci2 (root1 + root2 of the 2-of-3 root sign it).
  const t0 = Date.now();
  await putTrust(h, signDoc(h, trustDoc(h, { version: 1, release: ['ci2', 'alice'] }), 'root1', 'root2'), 1);
  await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('took trust version 1'));
  const followedMs = Date.now() - t0;

  await h.publish('2.0.0', await h.artifact('2.0.0'));
  await agent.waitFor((l) => l.code === 'HOIST_SIGNATURE_UNTRUSTED' && /rejected a manifest/.test(String(l.msg)));
  assert.equal(await h.current(), '1.0.0', 'the serving release keeps serving');
  await h.publish('3.0.0', await h.artifact('3.0.0'), { keys: ['ci2'] });
  await eventually(() => h.settledOn('3.0.0'), 'the release signed by the new key runs');
  await eventually(async () => ((await statusReport(h)).trust as { version?: number } | undefined)?.version === 1, 'the report says trust version 1');
  const stored = JSON.parse(await readFile(path.join(h.stateDir, 'trust.json'), 'utf8')) as { version: number };
  assert.equal(stored.version, 1);

  // Restart with the trust objects gone from the bucket: the rotated policy came from stateDir.
  agent.kill('SIGTERM');
  assert.equal((await agent.exited).code, 0);
  await deleteObject(h, 'trust/root.json');
  await deleteObject(h, 'trust/history/1.json');
  const again = h.start();
  await again.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('holding trust version 1'));
  await h.publish('4.0.0', await h.artifact('4.0.0'));
  await again.waitFor((l) => l.code === 'HOIST_SIGNATURE_UNTRUSTED');
  assert.equal(await h.current(), '3.0.0');
  await h.publish('5.0.0', await h.artifact('5.0.0'), { keys: ['ci2'] });
  await eventually(() => h.settledOn('5.0.0'), '5.0.0 signed by ci2 runs after the restart');
  t.diagnostic(`trust version 1 taken ${followedMs} ms after it was written (poll every 1 s)`);
});

test('a release already held but not yet activated is dropped when its key is revoked, and reported', async () => {
  await using h = await createHarness();
  await addKeys(h, ...ROOTS, 'ci2');
  const closedMinute = (new Date().getMinutes() + 30) % 60;
  await h.writeConfig({ trust: hostTrust(h), app: { window: `${closedMinute} * * * *` } });
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  const held = await h.once();
  assert.equal(held.code, 0, held.stdout);
  assert.match(held.stdout, /outside the activation window/);
  assert.ok((await h.appState()).highWater.release !== undefined, 'accepted and held');

  await putTrust(h, signDoc(h, trustDoc(h, { version: 1, release: ['ci2'] }), 'root2', 'root3'), 1);
  await h.writeConfig({ trust: hostTrust(h) }); // the window opens
  const r = await h.once();
  assert.equal(r.code, 1, 'the newest manifest it read was rejected');
  assert.match(r.stdout, /the stored release manifest no longer verifies; dropped, not deployed/);
  assert.equal(await h.current(), undefined, 'never deployed');
  assert.equal(((await statusReport(h)).rejected as { code?: string }).code, 'HOIST_SIGNATURE_UNTRUSTED');

  await h.publish('2.0.0', await h.artifact('2.0.0'), { keys: ['ci2'] });
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');
});

test('refused trust documents are reported: one root key under a 2-of-3 root; an older document put back', async () => {
  await using h = await createHarness();
  await addKeys(h, ...ROOTS, 'ci2');
  await h.writeConfig({ trust: hostTrust(h) });
  const v1 = signDoc(h, trustDoc(h, { version: 1, release: ['ci2'] }), 'root1');
  await putTrust(h, v1, 1);
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  const one = await h.once();
  assert.equal(one.code, 1, 'a refused trust document fails --once');
  assert.match(one.stderr, /HOIST_TRUST_ROOT_THRESHOLD/);
  assert.match(one.stdout, /"code":"HOIST_TRUST_ROOT_THRESHOLD"/);
  assert.equal(await h.current(), '1.0.0', 'the config\'s policy still holds: ci deploys');
  const report = (await statusReport(h)).trust as { version: number; rejected?: { code: string; version?: number } };
  assert.equal(report.version, 0);
  assert.equal(report.rejected?.code, 'HOIST_TRUST_ROOT_THRESHOLD');
  assert.equal(report.rejected.version, 1);

  // Properly signed versions 1 and 2 are taken; then version 1 is put back as root.json.
  const good1 = signDoc(h, trustDoc(h, { version: 1, release: ['ci2'] }), 'root1', 'root3');
  await putTrust(h, good1, 1);
  await putTrust(h, signDoc(h, trustDoc(h, { version: 2, release: ['ci2', 'alice'] }), 'root2', 'root3'), 2);
  await h.publish('2.0.0', await h.artifact('2.0.0'), { keys: ['alice'] });
  const two = await h.once();
  assert.equal(two.code, 0, two.stdout + two.stderr);
  assert.match(two.stdout, /took trust version 2 \(from 0 through 1\)/);
  assert.equal(await h.current(), '2.0.0', 'version 2 lets alice release');
  assert.equal(((await statusReport(h)).trust as { rejected?: unknown }).rejected, undefined, 'a newer document ends the rejection');
  await putTrust(h, good1, 1, { history: false });
  const back = await h.once();
  assert.equal(back.code, 1);
  assert.match(back.stdout, /"code":"HOIST_TRUST_VERSION"/);
  const after = (await statusReport(h)).trust as { version: number; rejected?: { code: string } };
  assert.equal(after.version, 2, 'the host keeps the newer document');
  assert.equal(after.rejected?.code, 'HOIST_TRUST_VERSION');
});

test('a new host with the original root reaches the current document through two root rotations in trust/history/', async () => {
  await using h = await createHarness();
  await addKeys(h, ...ROOTS, 'root4', 'root5', 'ci2');
  // 1: ci → ci2. 2: root1 → root4 (signed by root1, root2 and root4). 3: root2 → root5, signed
  // by root3 + root4 of root 2 and root4 + root5: root 1's keys (root1-3) alone never signed it.
  await putTrust(h, signDoc(h, trustDoc(h, { version: 1, release: ['ci2'] }), 'root1', 'root2'), 1, { root: false });
  await putTrust(h, signDoc(h, trustDoc(h, { version: 2, release: ['ci2'], root: ['root2', 'root3', 'root4'] }), 'root1', 'root2', 'root4'), 2, { root: false });
  await putTrust(h, signDoc(h, trustDoc(h, { version: 3, release: ['ci2'], root: ['root3', 'root4', 'root5'] }), 'root3', 'root4', 'root5'), 3);
  await h.publish('1.0.0', await h.artifact('1.0.0'), { keys: ['ci2'] });
  await h.writeConfig({ trust: hostTrust(h) });
  const r = await h.once();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /took trust version 3 \(from 0 through 1, 2\)/);
  assert.equal(await h.current(), '1.0.0');
  assert.equal((JSON.parse(await readFile(path.join(h.stateDir, 'trust.json'), 'utf8')) as { version: number }).version, 3);

  // A broken chain (history 2 missing) is reported and the host stays at what it reached.
  await using fresh = await createHarness({ hostId: 'host-2' });
  await addKeys(fresh, ...ROOTS, 'root4', 'root5', 'ci2');
  await putTrust(fresh, signDoc(fresh, trustDoc(fresh, { version: 1, release: ['ci2'] }), 'root1', 'root2'), 1, { root: false });
  await putTrust(fresh, signDoc(fresh, trustDoc(fresh, { version: 3, release: ['ci2'], root: ['root3', 'root4', 'root5'] }), 'root3', 'root4', 'root5'), 3);
  await fresh.writeConfig({ trust: hostTrust(fresh) });
  const broken = await fresh.once();
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /"code":"HOIST_TRUST_CHAIN_BROKEN"/);
  assert.match(broken.stdout, /took trust version 1/);
});

test('an expired trust document stops new activations (the serving release keeps serving) until a newer one arrives', async () => {
  await using h = await createHarness();
  await addKeys(h, ...ROOTS, 'ci2');
  await h.writeConfig({ trust: hostTrust(h) });
  // with the expiry metric in a textfile, as node_exporter would collect it
  const prom = path.join(h.dir, 'hoist.prom');
  await writeFile(h.configPath, stringify({ ...(parse(await readFile(h.configPath, 'utf8')) as Record<string, unknown>), metrics: { textfile: prom } }));
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '1.0.0');

  // Genuine, but past its expiry (the bucket was frozen): taken, and nothing new is activated.
  const now = Date.now();
  const expiredAt = new Date(now - 10 * DAY).toISOString();
  const expired = trustDoc(h, { version: 1, release: ['ci2'], issuedAt: new Date(now - 100 * DAY).toISOString(), expiresAt: expiredAt });
  await putTrust(h, signDoc(h, expired, 'root1', 'root2'), 1);
  // its rollout is over its failure limit too: the expiry is what the host says, and no halt is read
  const sequence = nextSequence();
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `events/web/prod/${sequence}/failed/other-host.json`, Body: '{}' }));
  await h.publish('2.0.0', await h.artifact('2.0.0'), { keys: ['ci2'], sequence, halt: { maxFailures: 1 } });
  const frozen = await h.once();
  assert.equal(frozen.code, 1, frozen.stdout);
  assert.match(frozen.stderr, /HOIST_TRUST_EXPIRED/);
  assert.doesNotMatch(frozen.stderr, /HOIST_ROLLOUT_HALTED/);
  assert.notEqual((await h.appState()).state, 'halted');
  await deleteObject(h, `events/web/prod/${sequence}/failed/other-host.json`); // the thawed host may deploy it
  assert.equal(await h.current(), '1.0.0');
  assert.equal(await h.served(), '1.0.0');
  const s = await h.appState();
  assert.equal(s.lastAttempt?.code, 'HOIST_TRUST_EXPIRED');
  const report = await statusReport(h);
  assert.equal((report.lastAttempt as { code?: string }).code, 'HOIST_TRUST_EXPIRED');
  assert.equal((report.trust as { version: number; expiresAt: string }).version, 1);
  assert.ok(Date.parse((report.trust as { expiresAt: string }).expiresAt) < Date.now());
  // status --local says it too, from the held document (group-readable, as state.json)
  const local = await run([HOIST_BIN, 'status', '--local', '--config', h.configPath]);
  assert.match(local.stdout, /^trust: version 1, expires \S+ \(10d ago: nothing new is activated until a newer one is published\)$/m, local.stdout);
  const localJson = JSON.parse((await run([HOIST_BIN, 'status', '--local', '--json', '--config', h.configPath])).stdout) as { trust: { version: number; expiresAt: string } };
  assert.deepEqual(localJson.trust, { version: 1, expiresAt: expiredAt });
  assert.equal((await stat(path.join(h.stateDir, 'trust.json'))).mode & 0o777, 0o640);

  const expiresAt = new Date(Date.now() + 30 * DAY);
  await putTrust(h, signDoc(h, trustDoc(h, { version: 2, release: ['ci2'], expiresAt: expiresAt.toISOString() }), 'root1', 'root3'), 2);
  const thawed = await h.once();
  assert.equal(thawed.code, 0, thawed.stdout);
  assert.equal(await h.current(), '2.0.0');
  const gauge = /^hoist_trust_expires_timestamp_seconds (\S+)$/m.exec(await readFile(prom, 'utf8'));
  assert.equal(Number(gauge?.[1]), expiresAt.getTime() / 1000, 'the metric carries the expiry of the document in force');
});

test('one SQS message naming trust/root.json is enough: a release refused under the old keys is read again and deploys', async () => {
  await using h = await createHarness();
  await addKeys(h, ...ROOTS, 'ci2');
  const queueUrl = await h.aws.createQueue('host-1');
  await h.writeConfig({ trust: hostTrust(h), source: { s3: { bucket: BUCKET, poll: 'off' }, sqs: { queueUrl, waitSeconds: 1 } } });
  const agent = h.start();
  await agent.waitFor((l) => l.msg === 'ready');
  const send = (body: string) => h.aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  const s3Event = (key: string) => JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key } } }] });

  // Signed by ci2 before the fleet trusts it: refused.
  await send(await h.publish('1.0.0', await h.artifact('1.0.0'), { keys: ['ci2'] }));
  await agent.waitFor((l) => l.code === 'HOIST_SIGNATURE_UNTRUSTED');
  assert.equal(await h.current(), undefined);

  await putTrust(h, signDoc(h, trustDoc(h, { version: 1, release: ['ci2'] }), 'root1', 'root2'), 1);
  await send(s3Event('trust/root.json'));
  await eventually(() => h.settledOn('1.0.0'), 'the release signed by ci2 runs after the trust hint');
  assert.match(agent.output(), /took trust version 1/);
});

test('fail closed: while trust/root.json cannot be read no channel is read or deployed; an unchanged poll then costs one more 304', async (t) => {
  await using h = await createHarness();
  await addKeys(h, ...ROOTS);
  await using proxy = await startFaultProxy(h.aws.endpoint);
  await h.writeConfig({ trust: hostTrust(h), endpoint: proxy.url });
  await putTrust(h, signDoc(h, trustDoc(h, { version: 1, release: ['ci'] }), 'root1', 'root2'), 1);
  await h.publish('1.0.0', await h.artifact('1.0.0'));
  const isTrust = (r: { url: string }): boolean => r.url.includes('/trust/root.json');
  proxy.failNext(1_000_000, 503, isTrust);
  const agent = h.start();
  await eventually(() => Promise.resolve(proxy.requests.filter(isTrust).length >= 6), 'the agent tried trust/root.json on several polls');
  assert.equal(proxy.requests.filter((r) => r.url.includes('/channels/')).length, 0, 'no channel read before the trust walk');
  assert.equal(await h.current(), undefined);

  proxy.reset();
  await eventually(() => h.settledOn('1.0.0'), '1.0.0 runs once trust/root.json is readable');
  await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('took trust version 1'));
  // Steady state: count what polls cost.
  proxy.reset();
  const done = (): typeof proxy.requests => proxy.requests.filter((r) => r.status !== 0 && r.method === 'GET');
  await eventually(() => Promise.resolve(done().filter(isTrust).length >= 4), 'four more polls');
  const answered = done();
  const trust = answered.filter(isTrust);
  const channel = answered.filter((r) => r.url.includes('/channels/'));
  const pin = answered.filter((r) => r.url.includes('/pins/'));
  assert.ok(trust.every((r) => r.status === 304), JSON.stringify(trust));
  assert.ok(channel.every((r) => r.status === 304));
  assert.ok(Math.abs(channel.length - trust.length) <= 1 && Math.abs(pin.length - trust.length) <= 1, `${trust.length} trust, ${channel.length} channel, ${pin.length} pin GETs`);
  t.diagnostic(`per poll with trust.root: ${(answered.length / trust.length).toFixed(2)} GETs (trust/root.json 304, channel 304, pin ${pin[0]?.status ?? '?'})`);
});
