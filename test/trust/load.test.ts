import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoistError } from '../../src/errors.ts';
import { loadTrustFile } from '../../src/trust/load.ts';
import { rolePolicy } from '../../src/trust/policy.ts';
import { makeKey } from './fixtures.ts';

const ci = makeKey('ci');
const alice = makeKey('alice');

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-trust-'));
  try {
    await mkdir(join(dir, 'keys'));
    await writeFile(join(dir, 'keys', 'ci.pub'), ci.publicPem);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejectsWith(path: string, code: string, check?: (error: HoistError) => void): Promise<void> {
  await assert.rejects(loadTrustFile(path), (error: unknown) => {
    assert.ok(error instanceof HoistError, String(error));
    assert.equal(error.code, code, error.message);
    check?.(error);
    return true;
  });
}

test('a YAML trust block with a relative key path (resolved from the file) and inline PEM', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'trust.yaml');
    await writeFile(
      file,
      `keys:\n  ci: keys/ci.pub\n  alice: ${JSON.stringify(alice.publicPem)}\nroles:\n  release: { keys: [ci, alice], threshold: 2 }\nmaxValidity: 90d\nclockSkew: 1m\n`,
    );
    const policy = await loadTrustFile(file);
    assert.equal(policy.keys.get('ci')?.keyId, ci.keyId);
    assert.equal(policy.keys.get('alice')?.keyId, alice.keyId);
    assert.equal(policy.roles.release?.threshold, 2);
    assert.equal(policy.clockSkewMs, 60_000);
  });
});

test('a JSON trust block', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'trust.json');
    await writeFile(file, JSON.stringify({ keys: { ci: 'keys/ci.pub' }, roles: { pin: { keys: ['ci'] } } }));
    const policy = await loadTrustFile(file);
    assert.equal(policy.roles.pin?.threshold, 1);
    assert.equal(policy.roles.release, undefined);
  });
});

test('an agent config: its trust block and apps[].trust overrides are used, the rest ignored', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'agent.yaml');
    await writeFile(
      file,
      [
        'hostId: auto',
        'stateDir: /var/lib/hoist',
        'trust:',
        '  keys: { ci: keys/ci.pub, alice: ' + JSON.stringify(alice.publicPem) + ' }',
        '  roles: { release: { keys: [ci, alice] } }',
        'apps:',
        '  - name: web',
        '    env: prod',
        '  - name: api',
        '    env: prod',
        '    trust:',
        '      roles: { release: { keys: [ci, alice], threshold: 2 } }',
        '',
      ].join('\n'),
    );
    const policy = await loadTrustFile(file);
    assert.equal(rolePolicy(policy, 'api', 'prod', 'release')?.threshold, 2);
    assert.equal(rolePolicy(policy, 'web', 'prod', 'release')?.threshold, 1);
  });
});

test('unreadable or unparsable files are HOIST_CONFIG_READ', async () => {
  await withDir(async (dir) => {
    await rejectsWith(join(dir, 'missing.yaml'), 'HOIST_CONFIG_READ', (e) => assert.match(e.message, /cannot read trust file/));
    await writeFile(join(dir, 'bad.yaml'), 'keys: [unclosed\n');
    await rejectsWith(join(dir, 'bad.yaml'), 'HOIST_CONFIG_READ', (e) => assert.match(e.message, /not valid YAML or JSON/));
  });
});

test('every schema issue is listed with its path', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'trust.yaml');
    await writeFile(file, 'keys: { ci: keys/ci.pub }\nroles: { release: { keys: [], threshold: 0 } }\nclockSkew: soon\nextra: 1\n');
    await rejectsWith(file, 'HOIST_CONFIG_INVALID', (e) => {
      const issues = e.details?.issues as string[];
      for (const path of ['roles.release.keys', 'roles.release.threshold', 'clockSkew', '(root)']) {
        assert.ok(issues.some((i) => i.startsWith(`${path}: `)), `${path} missing from ${JSON.stringify(issues)}`);
      }
    });
  });
});

test('agent config issues carry trust. and apps[i].trust. paths', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'agent.yaml');
    await writeFile(
      file,
      'trust:\n  keys: { ci: keys/ci.pub }\n  roles: { release: { keys: [ci, nobody] } }\napps:\n  - name: web\n    env: prod\n    trust: { roles: { release: { keys: [ci], threshold: 5 } } }\n  - trust: { roles: {} }\n  - name: db\n    env: prod\n    trust: { bogus: 1 }\n',
    );
    await rejectsWith(file, 'HOIST_CONFIG_INVALID', (e) => {
      const issues = e.details?.issues as string[];
      assert.ok(issues.some((i) => i.startsWith('apps[1].name: ')), JSON.stringify(issues));
      assert.ok(issues.some((i) => i.startsWith('apps[2].trust: ')), JSON.stringify(issues));
    });
    // With the schema problems fixed, the resolution problems are reported with their paths.
    await writeFile(
      file,
      'trust:\n  keys: { ci: keys/ci.pub }\n  roles: { release: { keys: [ci, nobody] } }\napps:\n  - name: web\n    env: prod\n    trust: { roles: { release: { keys: [ci], threshold: 5 } } }\n',
    );
    await rejectsWith(file, 'HOIST_CONFIG_INVALID', (e) => {
      const issues = e.details?.issues as string[];
      assert.deepEqual(issues.map((i) => i.split(': ')[0]), ['trust.roles.release.keys[1]', 'apps[0].trust.roles.release.threshold']);
      assert.match(e.message, /agent\.yaml/);
    });
  });
});

test('a plain trust file may carry app/env overrides under apps (a trust publish policy), and a root', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'policy.yaml');
    await writeFile(
      file,
      [
        'keys:',
        '  ci: keys/ci.pub',
        `  alice: ${JSON.stringify(alice.publicPem)}`,
        'roles:',
        '  release: { keys: [ci, alice], threshold: 1 }',
        'root: { keys: [alice], threshold: 1 }',
        'apps:',
        '  web/prod: { roles: { release: { keys: [ci, alice], threshold: 2 } } }',
        '  __proto__/prod: { roles: { pin: { keys: [alice] } } }',
        '',
      ].join('\n'),
    );
    const policy = await loadTrustFile(file);
    assert.equal(rolePolicy(policy, 'web', 'prod', 'release')?.threshold, 2);
    assert.equal(rolePolicy(policy, 'web', 'staging', 'release')?.threshold, 1);
    assert.equal(rolePolicy(policy, '__proto__', 'prod', 'pin')?.threshold, 1);
    assert.equal(policy.root?.threshold, 1);
    await writeFile(file, 'keys: { ci: keys/ci.pub }\nroles: { release: { keys: [ci] } }\napps: { webprod: { roles: { release: { keys: [ghost] } } } }\n');
    await rejectsWith(file, 'HOIST_CONFIG_INVALID', (error) => {
      assert.deepEqual(error.details?.issues, ['apps.webprod: expected "app/env"']);
    });
  });
});
