/**
 * Attack class: trust overrides that leak between (app, env) pairs. An override written for
 * web/staging (threshold 1) once replaced web/prod's (threshold 2), so CI alone could deploy to
 * prod; an app named `__proto__` silently lost its override. Overrides are now keyed by
 * (app, env) in Maps, through the real config loaders.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { addSignature, serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { isHoistError } from '../../src/errors.ts';
import { loadAgentConfig } from '../../src/cli/run-agent.ts';
import { loadTrustFile } from '../../src/trust/load.ts';
import type { TrustPolicy } from '../../src/trust/policy.ts';
import { verifyEnvelope } from '../../src/trust/verify.ts';
import { makeKey, NOW, payload, type TestKey } from './fixtures.ts';

const ci = makeKey('ci');
const alice = makeKey('alice');

function envelope(app: string, env: string, ...keys: TestKey[]): string {
  const [first, ...rest] = keys;
  if (first === undefined) throw new Error('needs a key');
  let e = signEnvelope(payload({ app, env }), first.privateKey);
  for (const k of rest) e = addSignature(e, k.privateKey);
  return serializeEnvelope(e);
}

function app(name: string, env: string, threshold: number): Record<string, unknown> {
  return {
    name,
    env,
    root: `/srv/${name === '__proto__' ? 'proto' : name}-${env}`,
    health: { tcp: '127.0.0.1:1' },
    trust: { roles: { release: { keys: ['ci', 'alice'], threshold } } },
  };
}

/** prod (2 of ci, alice) listed before staging (1): the order that let staging's override win. */
async function withConfig(apps: Record<string, unknown>[], fn: (file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-override-'));
  try {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(
      file,
      stringify({
        source: { s3: { bucket: 'b' } },
        apps,
        trust: { keys: { ci: ci.publicPem, alice: alice.publicPem, ['__proto__']: ci.publicPem }, roles: { release: { keys: ['ci'], threshold: 1 } } },
      }),
    );
    await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function accepts(policy: TrustPolicy, app: string, env: string, ...keys: TestKey[]): boolean {
  try {
    verifyEnvelope(envelope(app, env, ...keys), policy, NOW, { app, env, kind: 'release' });
    return true;
  } catch (error) {
    assert.ok(isHoistError(error, 'HOIST_SIGNATURE_THRESHOLD'), String(error));
    return false;
  }
}

for (const [loader, load] of [
  ['agent config', async (file: string) => (await loadAgentConfig(file)).policy],
  ['--trust file', loadTrustFile],
] as const) {
  test(`attack: override scope (${loader}): web/staging's threshold 1 never applies to web/prod's threshold 2`, async () => {
    await withConfig([app('web', 'prod', 2), app('web', 'staging', 1)], async (file) => {
      const policy = await load(file);
      assert.equal(accepts(policy, 'web', 'prod', ci), false, 'CI alone must not deploy to prod');
      assert.equal(accepts(policy, 'web', 'prod', ci, alice), true, 'CI plus an approver deploys to prod');
      assert.equal(accepts(policy, 'web', 'staging', ci), true, 'CI alone deploys to staging');
    });
    // the same with the entries the other way round
    await withConfig([app('web', 'staging', 1), app('web', 'prod', 2)], async (file) => {
      const policy = await load(file);
      assert.equal(accepts(policy, 'web', 'prod', ci), false);
      assert.equal(accepts(policy, 'web', 'staging', ci), true);
    });
  });

  test(`attack: override scope (${loader}): an app named __proto__ keeps its override, a key named __proto__ loads`, async () => {
    await withConfig([app('__proto__', 'prod', 2), app('web', 'prod', 1)], async (file) => {
      const policy = await load(file);
      assert.equal(accepts(policy, '__proto__', 'prod', ci), false, 'the __proto__ app needs two signatures');
      assert.equal(accepts(policy, '__proto__', 'prod', ci, alice), true);
      assert.equal(accepts(policy, 'web', 'prod', ci), true);
      assert.equal(policy.keys.get('__proto__')?.keyId, ci.keyId, 'a key may be named __proto__');
      assert.equal(policy.apps.size, 2);
    });
  });
}
