import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isHoistError } from '../../src/errors.ts';
import { EXAMPLE_CONFIG_YAML } from '../../src/config/example.ts';
import { loadConfigFile, parseYaml } from '../../src/config/load.ts';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-config-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('loadConfigFile reads and validates a YAML file', async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, EXAMPLE_CONFIG_YAML);
    const config = await loadConfigFile(file);
    assert.equal(config.apps[0]?.name, 'web');
    assert.equal(config.source.s3?.jitter, 10_000);
  });
});

test('loadConfigFile accepts JSON, which is YAML too', async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'agent.json');
    const raw = {
      hostId: 'h1',
      source: { s3: { bucket: 'b', poll: '*/5 * * * *' } },
      apps: [{ name: 'web', env: 'prod', root: '/srv/web', health: { command: 'true' } }],
      trust: { keys: { ci: 'k' }, roles: { release: { keys: ['ci'] } } },
    };
    await writeFile(file, JSON.stringify(raw, null, 2));
    const config = await loadConfigFile(file);
    assert.equal(config.hostId, 'h1');
    assert.equal(config.source.s3?.poll, '*/5 * * * *');
  });
});

test('a missing file is HOIST_CONFIG_READ naming the path', async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'nope.yaml');
    await assert.rejects(loadConfigFile(file), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_CONFIG_READ'));
      assert.ok(error.message.includes(file));
      assert.match(error.message, /ENOENT/);
      assert.equal(error.exitCode, 2);
      return true;
    });
  });
});

test('a directory given as the config is HOIST_CONFIG_READ', async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(loadConfigFile(dir), (error: unknown) => isHoistError(error, 'HOIST_CONFIG_READ'));
  });
});

test('a YAML syntax error is HOIST_CONFIG_READ with line and column', async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, 'hostId: auto\nsource:\n  s3: { bucket: b\napps: []\n');
    await assert.rejects(loadConfigFile(file), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_CONFIG_READ'));
      assert.match(error.message, /YAML syntax error at line \d+, column \d+/);
      assert.ok(error.message.startsWith(file));
      assert.equal(typeof error.details?.line, 'number');
      assert.equal(typeof error.details?.column, 'number');
      return true;
    });
  });
});

test('a duplicate key in YAML is a syntax error, not a silent override', () => {
  assert.throws(
    () => parseYaml('hostId: a\nhostId: b\n', 'agent.yaml'),
    (error: unknown) => isHoistError(error, 'HOIST_CONFIG_READ') && /line 2, column 1/.test(error.message),
  );
});

test('validation errors from a file name the file', async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, 'hostId: auto\n');
    await assert.rejects(loadConfigFile(file), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_CONFIG_INVALID'));
      assert.ok(error.message.startsWith(`${file} has 3 problems`), error.message);
      assert.equal(error.details?.source, file);
      return true;
    });
  });
});
