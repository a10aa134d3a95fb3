import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HoistError } from '../../src/errors.ts';
import { keyById, resolveTrustPolicy, rolePolicy, signerNames } from '../../src/trust/policy.ts';
import { appTrustSchema, trustBlockSchema } from '../../src/trust/schema.ts';
import { makeKey, policyFor } from './fixtures.ts';

const ci = makeKey('ci');
const alice = makeKey('alice');

test('resolves key names to key ids, roles to key id sets, durations to ms', async () => {
  const policy = await policyFor([ci, alice], { release: { keys: ['ci', 'alice'], threshold: 2 }, pin: { keys: ['alice'] } }, { maxValidity: '90d', clockSkew: '1m' });
  assert.equal(policy.keys.get('ci')?.keyId, ci.keyId);
  assert.deepEqual([...(policy.roles.release?.keyIds ?? [])], [ci.keyId, alice.keyId]);
  assert.equal(policy.roles.release?.threshold, 2);
  assert.equal(policy.roles.pin?.threshold, 1);
  assert.equal(policy.maxValidityMs, 90 * 86_400_000);
  assert.equal(policy.clockSkewMs, 60_000);
  assert.equal(keyById(policy, alice.keyId)?.keyId, alice.keyId);
  assert.equal(keyById(policy, 'nope'), undefined);
});

test('clockSkew defaults to 5 minutes and maxValidity is absent when not set', async () => {
  const policy = await policyFor([ci], { release: { keys: ['ci'] } });
  assert.equal(policy.clockSkewMs, 300_000);
  assert.equal('maxValidityMs' in policy, false);
});

test('every problem is reported at once, with its path', async () => {
  const block = trustBlockSchema.parse({
    keys: { ci: ci.publicPem, broken: '/nonexistent/broken.pub' },
    roles: { release: { keys: ['ci', 'ghost'], threshold: 1 }, pin: { keys: ['ci', 'ci'], threshold: 2 } },
  });
  await assert.rejects(resolveTrustPolicy(block, { baseDir: '.' }), (error: unknown) => {
    assert.ok(error instanceof HoistError);
    assert.equal(error.code, 'HOIST_CONFIG_INVALID');
    const issues = error.details?.issues as string[];
    assert.equal(issues.length, 3, JSON.stringify(issues));
    assert.match(issues[0] ?? '', /^trust\.keys\.broken: .*does not exist/);
    assert.match(issues[1] ?? '', /^trust\.roles\.release\.keys\[1\]: unknown key "ghost"/);
    // The same key twice is one distinct key: a threshold of 2 could never be met.
    assert.match(issues[2] ?? '', /^trust\.roles\.pin\.threshold: threshold 2 is more than the 1 distinct key/);
    return true;
  });
});

test('a role naming a key whose file is missing reports the file once, not also an unknown key', async () => {
  const block = trustBlockSchema.parse({
    keys: { ci: '/nonexistent/ci.pub' },
    roles: { release: { keys: ['ci'], threshold: 1 } },
  });
  await assert.rejects(resolveTrustPolicy(block, { baseDir: '.' }), (error: unknown) => {
    assert.ok(error instanceof HoistError);
    const issues = error.details?.issues as string[];
    assert.deepEqual(issues.map((i) => i.split(':')[0]), ['trust.keys.ci']);
    return true;
  });
});

test('a policy needs at least one role', async () => {
  const block = trustBlockSchema.parse({ keys: { ci: ci.publicPem }, roles: {} });
  await assert.rejects(resolveTrustPolicy(block, { baseDir: '.', path: [] }), (error: unknown) => {
    assert.ok(error instanceof HoistError);
    assert.deepEqual(error.details?.issues, ['roles: define at least one role (release or pin)']);
    return true;
  });
});

test('per-app overrides: replace a role for that app, fall back for the others', async () => {
  const bob = makeKey('bob');
  const policy = await resolveTrustPolicy(trustBlockSchema.parse({ keys: { ci: ci.publicPem }, roles: { release: { keys: ['ci'] }, pin: { keys: ['ci'] } } }), {
    baseDir: '.',
    apps: new Map([['api/prod', appTrustSchema.parse({ keys: { bob: bob.publicPem }, roles: { release: { keys: ['ci', 'bob'], threshold: 2 } } })]]),
  });
  assert.equal(rolePolicy(policy, 'api', 'prod', 'release')?.threshold, 2);
  assert.equal(rolePolicy(policy, 'api', 'prod', 'pin')?.threshold, 1, 'pin falls back to the global role');
  assert.equal(rolePolicy(policy, 'api', 'staging', 'release')?.threshold, 1, 'another env of the same app keeps the global role');
  assert.equal(rolePolicy(policy, 'web', 'prod', 'release')?.threshold, 1);
  assert.equal(rolePolicy(policy, undefined, undefined, 'release')?.threshold, 1);
  assert.deepEqual(signerNames(policy, [bob.keyId, ci.keyId, 'f'.repeat(64)]), ['bob', 'ci', `${'f'.repeat(12)}…`]);
});

test('an app override may not reuse a key name for a different key', async () => {
  const other = makeKey('ci');
  await assert.rejects(
    resolveTrustPolicy(trustBlockSchema.parse({ keys: { ci: ci.publicPem }, roles: { release: { keys: ['ci'] } } }), {
      baseDir: '.',
      apps: new Map([['api/prod', appTrustSchema.parse({ keys: { ci: other.publicPem }, roles: { release: { keys: ['ci', 'nobody'], threshold: 1 } } })]]),
      appPaths: new Map([['api/prod', ['apps', 0, 'trust']]]),
    }),
    (error: unknown) => {
      assert.ok(error instanceof HoistError);
      const issues = error.details?.issues as string[];
      assert.deepEqual(
        issues.map((i) => i.split(':')[0]),
        ['apps[0].trust.keys.ci', 'apps[0].trust.roles.release.keys[1]'],
      );
      return true;
    },
  );
});

test('two names for the same key are one distinct key', async () => {
  const twin = { ...ci, name: 'ci-again' };
  const policy = await policyFor([ci, twin], { release: { keys: ['ci', 'ci-again'] } });
  assert.equal(policy.roles.release?.keyIds.size, 1);
  assert.deepEqual(signerNames(policy, [ci.keyId]), ['ci/ci-again']);
});

test('trust.root resolves like a role, with its version (0 unless a fleet image names a later root)', async () => {
  const r1 = makeKey('root1');
  const r2 = makeKey('root2');
  const policy = await policyFor([ci, r1, r2], { release: { keys: ['ci'] } }, { root: { keys: ['root1', 'root2'], threshold: 2 } });
  assert.deepEqual(policy.root, { keyIds: new Set([r1.keyId, r2.keyId]), names: ['root1', 'root2'], threshold: 2, version: 0 });
  const later = await policyFor([ci, r1], { release: { keys: ['ci'] } }, { root: { keys: ['root1'], version: 7 } });
  assert.equal(later.root?.version, 7);
  assert.equal((await policyFor([ci], { release: { keys: ['ci'] } })).root, undefined);

  const block = trustBlockSchema.parse({ keys: { ci: ci.publicPem, root1: r1.publicPem }, roles: { release: { keys: ['ci'] } }, root: { keys: ['root1', 'rootX'], threshold: 1 } });
  await assert.rejects(resolveTrustPolicy(block, { baseDir: '.' }), (error: unknown) => {
    assert.ok(error instanceof HoistError);
    assert.deepEqual(error.details?.issues, ['trust.root.keys[1]: unknown key "rootX"; add it under keys or fix the name']);
    return true;
  });
  const tooHigh = trustBlockSchema.parse({ keys: { root1: r1.publicPem, ci: ci.publicPem }, roles: { release: { keys: ['ci'] } }, root: { keys: ['root1'], threshold: 2 } });
  await assert.rejects(resolveTrustPolicy(tooHigh, { baseDir: '.' }), (error: unknown) => {
    assert.ok(error instanceof HoistError);
    assert.match(String((error.details?.issues as string[])[0]), /^trust\.root\.threshold: threshold 2 is more than the 1 distinct key of the root role/);
    return true;
  });
  assert.equal(trustBlockSchema.safeParse({ keys: {}, roles: {}, root: { keys: [], threshold: 1 } }).success, false);
});
