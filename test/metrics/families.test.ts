import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFamilies, APP_STATES } from '../../src/metrics/families.ts';
import { parseExposition, valueOf, type Family } from '../helpers/prometheus-text.ts';
import { FAMILIES } from '../helpers/metric-families.ts';


async function scrape(families: ReturnType<typeof createFamilies>): Promise<Map<string, Family>> {
  return parseExposition(await families.registry.metrics());
}

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

test('every family is listed with its type and help before anything happened; only the poll time has a sample', async () => {
  const families = createFamilies();
  const got = await scrape(families);
  assert.deepEqual([...got.keys()].sort(), FAMILIES.map(([n]) => n).sort());
  for (const [name, type] of FAMILIES) {
    assert.equal(got.get(name)?.type, type, name);
    assert.ok((got.get(name)?.help ?? '').length > 10, name);
  }
  assert.equal(valueOf(got, 'hoist_last_poll_timestamp_seconds'), 0);
  assert.equal(got.get('hoist_trust_expires_timestamp_seconds')?.samples.length, 0);
  assert.equal(got.get('hoist_deploys_total')?.samples.length, 0);
});

test('deployFinished counts the outcome and observes each phase it reached', async () => {
  const families = createFamilies();
  let changes = 0;
  const o = families.observer(() => changes++);
  o.deployFinished('web', 'prod', 'healthy', { fetch: 1.5, unpack: 0.2, activate: 0.05, health: 12 });
  o.deployFinished('web', 'prod', 'healthy', { fetch: 0.5 });
  o.deployFinished('web', 'prod', 'rolled-back', { fetch: 2, unpack: 1, activate: 0.1, health: 4 });
  o.deployFinished('api', 'prod', 'failed', { fetch: Number.NaN });
  assert.equal(changes, 4);
  const got = await scrape(families);
  assert.equal(valueOf(got, 'hoist_deploys_total', { app: 'web', env: 'prod', outcome: 'healthy' }), 2);
  assert.equal(valueOf(got, 'hoist_deploys_total', { app: 'web', env: 'prod', outcome: 'rolled-back' }), 1);
  assert.equal(valueOf(got, 'hoist_deploys_total', { app: 'api', env: 'prod', outcome: 'failed' }), 1);
  assert.equal(valueOf(got, 'hoist_deploy_duration_seconds_count', { app: 'web', env: 'prod', phase: 'fetch' }), 3);
  assert.equal(valueOf(got, 'hoist_deploy_duration_seconds_sum', { app: 'web', env: 'prod', phase: 'fetch' }), 4);
  assert.equal(valueOf(got, 'hoist_deploy_duration_seconds_count', { app: 'web', env: 'prod', phase: 'health' }), 2);
  assert.equal(valueOf(got, 'hoist_deploy_duration_seconds_bucket', { app: 'web', env: 'prod', phase: 'health', le: '5' }), 1);
  assert.equal(valueOf(got, 'hoist_deploy_duration_seconds_bucket', { app: 'web', env: 'prod', phase: 'health', le: '+Inf' }), 2);
  // a phase not reached, or a time that is not one, is not observed
  assert.equal(valueOf(got, 'hoist_deploy_duration_seconds_count', { app: 'api', env: 'prod', phase: 'fetch' }), undefined);
  for (const s of got.get('hoist_deploy_duration_seconds')?.samples ?? []) assert.ok(['fetch', 'unpack', 'activate', 'health'].includes(s.labels.phase ?? ''));
});

test('releaseChanged keeps one series per app: the new release replaces the old', async () => {
  const families = createFamilies();
  const o = families.observer(() => undefined);
  o.releaseChanged('web', 'prod', { version: '1.0.0', sha256: SHA_A });
  o.releaseChanged('web', 'staging', { version: '0.9.0', sha256: SHA_A });
  o.releaseChanged('web', 'prod', { version: '1.1.0', sha256: SHA_B });
  let got = await scrape(families);
  assert.deepEqual(
    got.get('hoist_release_info')?.samples.map((s) => [s.labels, s.value]),
    [
      [{ app: 'web', env: 'staging', version: '0.9.0', sha256: SHA_A }, 1],
      [{ app: 'web', env: 'prod', version: '1.1.0', sha256: SHA_B }, 1],
    ],
  );
  o.releaseChanged('web', 'staging', undefined);
  got = await scrape(families);
  assert.deepEqual(got.get('hoist_release_info')?.samples.map((s) => s.labels.env), ['prod']);
});

test('stateChanged sets 1 for the current state and 0 for every other', async () => {
  const families = createFamilies();
  const o = families.observer(() => undefined);
  o.stateChanged('web', 'prod', 'deploying');
  o.stateChanged('web', 'prod', 'healthy');
  o.stateChanged('api', 'prod', 'a-state-added-later');
  const got = await scrape(families);
  const web = (got.get('hoist_state')?.samples ?? []).filter((s) => s.labels.app === 'web');
  assert.deepEqual(new Set(web.map((s) => s.labels.state)), new Set(APP_STATES));
  assert.deepEqual(web.filter((s) => s.value === 1).map((s) => s.labels.state), ['healthy']);
  assert.equal(web.filter((s) => s.value === 0).length, APP_STATES.length - 1);
  const api = (got.get('hoist_state')?.samples ?? []).filter((s) => s.labels.app === 'api');
  assert.deepEqual(api.filter((s) => s.value === 1).map((s) => s.labels.state), ['a-state-added-later']);
  assert.equal(api.length, APP_STATES.length + 1);
});

test('manifestRejected counts by code; polled and trustExpires set Unix seconds, trust absent again when it does not expire', async () => {
  const families = createFamilies();
  const o = families.observer(() => undefined);
  o.manifestRejected('web', 'prod', 'HOIST_SIGNATURE_UNTRUSTED');
  o.manifestRejected('web', 'prod', 'HOIST_SIGNATURE_UNTRUSTED');
  o.manifestRejected('web', 'prod', 'HOIST_MANIFEST_EXPIRED');
  o.polled(new Date('2026-12-01T10:00:00.500Z'));
  o.trustExpires(new Date('2027-01-01T00:00:00Z'));
  let got = await scrape(families);
  assert.equal(valueOf(got, 'hoist_manifests_rejected_total', { code: 'HOIST_SIGNATURE_UNTRUSTED' }), 2);
  assert.equal(valueOf(got, 'hoist_manifests_rejected_total', { code: 'HOIST_MANIFEST_EXPIRED' }), 1);
  assert.equal(valueOf(got, 'hoist_last_poll_timestamp_seconds'), Date.parse('2026-12-01T10:00:00.500Z') / 1000);
  assert.equal(valueOf(got, 'hoist_trust_expires_timestamp_seconds'), Date.parse('2027-01-01T00:00:00Z') / 1000);
  o.trustExpires(undefined);
  got = await scrape(families);
  assert.equal(got.get('hoist_trust_expires_timestamp_seconds')?.samples.length, 0);
});

test('label values are escaped: an operator-chosen version with quotes still parses', async () => {
  const families = createFamilies();
  const o = families.observer(() => undefined);
  o.releaseChanged('web', 'prod', { version: '1.0 "beta"\\x', sha256: SHA_A });
  const got = await scrape(families);
  assert.equal(valueOf(got, 'hoist_release_info', { version: '1.0 "beta"\\x' }), 1);
});

test('two sets of families are independent registries (never the global one)', async () => {
  const a = createFamilies();
  const b = createFamilies();
  a.observer(() => undefined).manifestRejected('web', 'prod', 'X');
  assert.equal((await scrape(b)).get('hoist_manifests_rejected_total')?.samples.length, 0);
  const { register } = await import('prom-client');
  assert.equal(register.getSingleMetric('hoist_deploys_total'), undefined);
});
