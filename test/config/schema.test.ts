import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYamlText } from 'yaml';
import { isHoistError } from '../../src/errors.ts';
import { EXAMPLE_CONFIG_YAML } from '../../src/config/example.ts';
import { parseConfig, parseYaml } from '../../src/config/load.ts';
import type { HoistError } from '../../src/errors.ts';

/** The smallest config that is valid: one source, one app with a probe, a trust policy. */
function minimal(): Record<string, unknown> {
  return {
    source: { s3: { bucket: 'my-releases' } },
    apps: [{ name: 'web', env: 'prod', root: '/srv/web', health: { tcp: '127.0.0.1:8080' } }],
    trust: { keys: { ci: '/etc/hoist/keys/ci.pub' }, roles: { release: { keys: ['ci'] } } },
  };
}

function issuesOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    assert.ok(isHoistError(error, 'HOIST_CONFIG_INVALID'), String(error));
    const issues = error.details?.issues;
    assert.ok(Array.isArray(issues));
    return issues as string[];
  }
  assert.fail('expected HOIST_CONFIG_INVALID');
}

test('the example config parses, with values and defaults applied', () => {
  const config = parseConfig(parseYaml(EXAMPLE_CONFIG_YAML), 'example');
  assert.equal(config.hostId, 'auto');
  assert.equal(config.region, 'us-east-1');
  assert.equal(config.endpoint, null);
  assert.equal(config.stateDir, '/var/lib/hoist');
  assert.deepEqual(config.source.s3, { bucket: 'my-releases', prefix: '', poll: '0 */5 * * * *', jitter: 10_000 });
  assert.equal(config.source.sqs?.waitSeconds, 20);
  assert.equal(config.source.sqs?.visibilityTimeout, 5 * 60_000, 'default visibilityTimeout');
  const app = config.apps[0];
  assert.ok(app);
  assert.equal(app.keep, 5);
  assert.deepEqual(app.shared, ['log', 'uploads']);
  assert.equal(app.dedup, true);
  assert.equal(app.allowSymlinks, false, 'default allowSymlinks');
  assert.deepEqual(app.hooks?.preActivate, { run: './bin/migrate', timeout: 600_000 });
  assert.deepEqual(app.hooks?.postActivate, { run: './bin/warm-cache', timeout: 60_000 });
  assert.deepEqual(app.restart, { run: 'systemctl restart web', timeout: 120_000 });
  assert.deepEqual(app.health, {
    http: { url: 'http://127.0.0.1:8080/healthz', expectStatus: 200, bodyIncludes: 'ok' },
    timeout: 2000,
    interval: 2000,
    startPeriod: 60_000,
    successThreshold: 3,
    failureThreshold: 3,
    bake: 300_000,
  });
  assert.equal(app.window, '* 2-4 * * 1-5');
  assert.equal(app.trust?.roles.release?.threshold, 2);
  assert.deepEqual(config.limits, {
    manifestBytes: 64 * 1024,
    artifactBytes: 4 * 1024 ** 3,
    unpackedBytes: 16 * 1024 ** 3,
    entries: 500_000,
    maxDepth: 64,
    maxDecompressionRatio: 200,
  });
  assert.deepEqual(config.report, { s3: true, interval: 300_000, events: true });
  assert.deepEqual(config.log, { level: 'info', format: 'auto' });
  assert.equal(config.trust.clockSkew, 300_000);
  assert.equal(config.trust.maxValidity, 90 * 86_400_000);
  assert.deepEqual([...config.trust.keys.keys()], ['ci', 'alice', 'bob']);
});

test('a minimal config gets every documented default', () => {
  const config = parseConfig(minimal());
  assert.equal(config.hostId, 'auto');
  assert.equal(config.stateDir, '/var/lib/hoist');
  assert.equal(config.region, undefined);
  assert.equal(config.source.sqs, undefined);
  assert.deepEqual(config.source.s3, { bucket: 'my-releases', prefix: '', poll: '*/30 * * * * *', jitter: 10_000 });
  const app = config.apps[0];
  assert.ok(app);
  assert.equal(app.keep, 5);
  assert.deepEqual(app.shared, []);
  assert.equal(app.writableRelease, false);
  assert.equal(app.dedup, true, 'dedup is on for root-owned releases');
  assert.equal(app.allowSymlinks, false);
  assert.equal(app.hooks, undefined);
  assert.equal(app.restart, undefined);
  assert.equal(app.window, undefined);
  assert.deepEqual(app.health, {
    tcp: '127.0.0.1:8080',
    timeout: 2000,
    interval: 2000,
    startPeriod: 60_000,
    successThreshold: 3,
    failureThreshold: 3,
    bake: 0,
  });
  assert.deepEqual(config.limits, {
    manifestBytes: 65_536,
    artifactBytes: 4_294_967_296,
    unpackedBytes: 17_179_869_184,
    entries: 500_000,
    maxDepth: 64,
    maxDecompressionRatio: 200,
  });
  assert.deepEqual(config.report, { s3: true, interval: 300_000, events: true });
  assert.equal(config.log.level, 'info');
  assert.equal(config.trust.roles.release?.threshold, 1);
  assert.equal(config.trust.clockSkew, 300_000);
});

test('sizes and durations are parsed to bytes and milliseconds', () => {
  const raw = minimal();
  raw.limits = { manifestBytes: '128KiB', artifactBytes: '10MB', unpackedBytes: 1_000_000, entries: 10, maxDepth: 8, maxDecompressionRatio: 12.5 };
  raw.source = { s3: { bucket: 'b' }, sqs: { queueUrl: 'http://127.0.0.1:4566/000000000000/q', waitSeconds: 5, visibilityTimeout: '90s' } };
  raw.apps = [
    {
      name: 'api',
      env: 'staging',
      root: '/srv/api',
      restart: { run: 'true' },
      hooks: { preActivate: { run: 'make', timeout: '1h' } },
      health: { command: './check', timeout: '200ms', interval: '1.5s', startPeriod: '5m', bake: '0s', successThreshold: 1 },
    },
  ];
  raw.trust = { keys: { ci: 'x' }, roles: { release: { keys: ['ci'] } }, clockSkew: '30s', maxValidity: '30d' };
  const config = parseConfig(raw);
  assert.deepEqual(config.limits, {
    manifestBytes: 131_072,
    artifactBytes: 10_000_000,
    unpackedBytes: 1_000_000,
    entries: 10,
    maxDepth: 8,
    maxDecompressionRatio: 12.5,
  });
  assert.deepEqual(config.source.sqs, { queueUrl: 'http://127.0.0.1:4566/000000000000/q', waitSeconds: 5, visibilityTimeout: 90_000 });
  const app = config.apps[0];
  assert.ok(app);
  assert.deepEqual(app.restart, { run: 'true', timeout: 120_000 }, 'restart default timeout is 2m');
  assert.deepEqual(app.hooks?.preActivate, { run: 'make', timeout: 3_600_000 });
  assert.equal(app.health.timeout, 200);
  assert.equal(app.health.interval, 1500);
  assert.equal(app.health.startPeriod, 300_000);
  assert.equal(app.health.bake, 0);
  assert.equal(app.health.command, './check');
  assert.equal(config.trust.clockSkew, 30_000);
  assert.equal(config.trust.maxValidity, 30 * 86_400_000);
});

test('a config with many mistakes reports every one at once, each with its path', () => {
  const raw = {
    hostId: 'auto',
    stateDir: 'var/lib/hoist',
    sourc: {},
    source: {},
    apps: [
      {
        name: 'web',
        env: 'prod',
        root: '/srv/web',
        health: { http: { url: 'http://127.0.0.1:8080/' }, tcp: '127.0.0.1:8080', timeout: 'two seconds' },
        window: 'every night',
      },
      { name: 'web', env: 'prod', root: 'srv/web2', health: { command: './check' }, kepe: 3 },
    ],
  };
  let thrown: HoistError | undefined;
  try {
    parseConfig(raw, '/etc/hoist/agent.yaml');
  } catch (error) {
    assert.ok(isHoistError(error, 'HOIST_CONFIG_INVALID'));
    thrown = error;
  }
  assert.ok(thrown, 'expected HOIST_CONFIG_INVALID');
  assert.equal(thrown.exitCode, 2);
  const issues = thrown.details?.issues as string[];
  const expected = [
    'stateDir: expected an absolute path',
    '(root): unknown key "sourc"',
    'source.s3: required',
    'apps[0].health.timeout: expected a duration like "2s"',
    'apps[0].health: set exactly one probe: http, tcp or command (found http and tcp)',
    'apps[0].window: expected a cron expression',
    'apps[1].root: expected an absolute path',
    'apps[1]: unknown key "kepe"',
    'apps[1]: duplicate app web env prod (already apps[0])',
    'trust: required: without a trust policy the agent refuses to start',
  ];
  for (const prefix of expected) {
    assert.ok(issues.some((issue) => issue.startsWith(prefix)), `missing "${prefix}" in:\n${issues.join('\n')}`);
    assert.ok(thrown.message.includes(prefix), `message lists "${prefix}"`);
  }
  assert.equal(issues.length, expected.length, issues.join('\n'));
  assert.match(thrown.message, /^\/etc\/hoist\/agent\.yaml has 10 problems/);
});

test('duplicate roots are reported at the duplicate', () => {
  const raw = minimal();
  raw.apps = [
    { name: 'web', env: 'prod', root: '/srv/web', health: { tcp: 'localhost:80' } },
    { name: 'web', env: 'staging', root: '/srv/web/', health: { tcp: 'localhost:81' } },
  ];
  assert.deepEqual(issuesOf(raw), ['apps[1].root: root /srv/web/ is already used by apps[0]']);
});

test('field rules: names, paths, probes, numbers, enums and URLs', () => {
  const cases: Array<[string, (raw: Record<string, unknown>, app: Record<string, unknown>) => void, string]> = [
    ['bad app name', (_r, app) => (app.name = 'web app'), 'apps[0].name: expected 1–64 characters'],
    ['long env', (_r, app) => (app.env = 'e'.repeat(65)), 'apps[0].env: expected 1–64 characters'],
    ['keep too small', (_r, app) => (app.keep = 1), 'apps[0].keep: '],
    ['keep not an integer', (_r, app) => (app.keep = 2.5), 'apps[0].keep: '],
    ['shared with ..', (_r, app) => (app.shared = ['log', '../etc']), 'apps[0].shared[1]: must not contain ".."'],
    ['shared absolute', (_r, app) => (app.shared = ['/var/log']), 'apps[0].shared[0]: expected a relative path'],
    ['shared empty', (_r, app) => (app.shared = ['']), 'apps[0].shared[0]: expected a relative path'],
    ['no probe', (_r, app) => (app.health = { timeout: '1s' }), 'apps[0].health: set exactly one probe'],
    ['missing health', (_r, app) => delete app.health, 'apps[0].health: required'],
    ['bad tcp', (_r, app) => (app.health = { tcp: '127.0.0.1' }), 'apps[0].health.tcp: expected "host:port"'],
    ['tcp port too big', (_r, app) => (app.health = { tcp: 'localhost:70000' }), 'apps[0].health.tcp: expected "host:port"'],
    ['bad url', (_r, app) => (app.health = { http: { url: 'ftp://x/' } }), 'apps[0].health.http.url: expected an http(s) URL'],
    ['bad status', (_r, app) => (app.health = { http: { url: 'http://localhost/', expectStatus: 99 } }), 'apps[0].health.http.expectStatus: '],
    ['zero threshold', (_r, app) => (app.health = { tcp: 'a:1', successThreshold: 0 }), 'apps[0].health.successThreshold: '],
    ['hook without run', (_r, app) => (app.restart = { timeout: '1m' }), 'apps[0].restart.run: required'],
    ['hook unknown key', (_r, app) => (app.hooks = { preActivat: { run: 'x' } }), 'apps[0].hooks: unknown key "preActivat"'],
    ['bad hostId', (raw) => (raw.hostId = 'my host'), 'hostId: expected "auto" or 1–128 characters'],
    ['bad endpoint', (raw) => (raw.endpoint = 'not a url'), 'endpoint: expected an http(s) URL'],
    ['bad log level', (raw) => (raw.log = { level: 'loud' }), 'log.level: '],
    ['bad poll', (raw) => (raw.source = { s3: { bucket: 'b', poll: '61 * * * *' } }), 'source.s3.poll: expected a cron expression'],
    ['waitSeconds over 20', (raw) => (raw.source = { s3: { bucket: 'b' }, sqs: { queueUrl: 'http://127.0.0.1/q', waitSeconds: 21 } }), 'source.sqs.waitSeconds: '],
    ['bad size', (raw) => (raw.limits = { artifactBytes: '4 gigs' }), 'limits.artifactBytes: expected a size like "64KiB"'],
    ['no apps', (raw) => (raw.apps = []), 'apps: configure at least one app'],
    ['apps not a list', (raw) => (raw.apps = { web: {} }), 'apps: '],
    ['role names an unknown key', (raw) => (raw.trust = { keys: { ci: 'x' }, roles: { release: { keys: ['ci', 'eve'] } } }), 'trust.roles.release.keys[1]: unknown key "eve"'],
    [
      'app role names an unknown key',
      (_r, app) => (app.trust = { keys: { alice: 'y' }, roles: { release: { keys: ['ci', 'alice', 'mallory'], threshold: 2 } } }),
      'apps[0].trust.roles.release.keys[2]: unknown key "mallory"',
    ],
  ];
  for (const [name, mutate, prefix] of cases) {
    const raw = minimal();
    const app = (raw.apps as Array<Record<string, unknown>>)[0];
    assert.ok(app);
    mutate(raw, app);
    const issues = issuesOf(raw);
    assert.equal(issues.length, 1, `${name}: ${issues.join('; ')}`);
    assert.ok(issues[0]?.startsWith(prefix), `${name}: got ${issues[0]}`);
  }
});

test('accepted variants: endpoint, literal hostId, IPv6 tcp, window, SQS with the S3 poll off', () => {
  const raw = minimal();
  raw.hostId = 'web-01.example';
  raw.endpoint = 'http://127.0.0.1:4566';
  raw.source = { s3: { bucket: 'my-releases', poll: 'off' }, sqs: { queueUrl: 'https://sqs.us-east-1.amazonaws.com/123/q' } };
  const app = (raw.apps as Array<Record<string, unknown>>)[0];
  assert.ok(app);
  app.health = { tcp: '[::1]:8080', bake: '0s' };
  app.window = '0 2-4 * * 1-5';
  app.user = 'web';
  app.group = 'www-data';
  app.allowSymlinks = true;
  const config = parseConfig(raw);
  assert.equal(config.hostId, 'web-01.example');
  assert.equal(config.endpoint, 'http://127.0.0.1:4566');
  assert.equal(config.source.s3.poll, 'off');
  assert.equal(config.source.sqs?.waitSeconds, 20);
  assert.equal(config.apps[0]?.health.tcp, '[::1]:8080');
  assert.equal(config.apps[0]?.allowSymlinks, true);
  assert.equal(config.apps[0]?.group, 'www-data');
});

test('an empty document and a non-object are reported, not crashed on', () => {
  const empty = issuesOf(parseYaml(''));
  assert.ok(empty.includes('source: required'), empty.join('\n'));
  assert.ok(empty.includes('apps: required'), empty.join('\n'));
  assert.ok(empty.some((issue) => issue.startsWith('trust: required')), empty.join('\n'));
  const scalar = issuesOf(parseYamlText('just a string'));
  assert.equal(scalar.length, 1);
  assert.match(scalar[0] ?? '', /^\(root\): /);
});

test('the S3 poll defaults to every 30 s, or every 5 minutes once SQS carries the notifications; a poll set is kept', () => {
  const sqs = { queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/web-prod' };
  const withSqs = parseConfig({ ...minimal(), source: { s3: { bucket: 'b' }, sqs } });
  assert.equal(withSqs.source.s3.poll, '0 */5 * * * *');
  assert.equal(parseConfig({ ...minimal(), source: { s3: { bucket: 'b' } } }).source.s3.poll, '*/30 * * * * *');
  assert.equal(parseConfig({ ...minimal(), source: { s3: { bucket: 'b', poll: '*/10 * * * * *' }, sqs } }).source.s3.poll, '*/10 * * * * *');
  assert.equal(parseConfig({ ...minimal(), source: { s3: { bucket: 'b', poll: 'off' }, sqs } }).source.s3.poll, 'off');
  assert.deepEqual(issuesOf({ ...minimal(), source: { s3: { bucket: 'b', poll: 'every minute' }, sqs } }).length, 1);
});

test('dedup: on by default for root-owned releases, off with writableRelease, and refused with it', () => {
  const app = (extra: Record<string, unknown>): Record<string, unknown> => ({
    ...minimal(),
    apps: [{ name: 'web', env: 'prod', root: '/srv/web', health: { tcp: '127.0.0.1:8080' }, ...extra }],
  });
  assert.equal(parseConfig(app({})).apps[0]?.dedup, true);
  assert.equal(parseConfig(app({ dedup: false })).apps[0]?.dedup, false);
  assert.equal(parseConfig(app({ writableRelease: true })).apps[0]?.dedup, false, 'a writable release never shares files');
  assert.equal(parseConfig(app({ writableRelease: true, dedup: false })).apps[0]?.dedup, false);
  const issues = issuesOf(app({ writableRelease: true, dedup: true }));
  assert.equal(issues.length, 1);
  assert.match(issues[0] ?? '', /^apps\[0\]\.dedup: .*app user could change a linked file through one release/);
  assert.match(issuesOf(app({ dedup: 'yes' }))[0] ?? '', /^apps\[0\]\.dedup: /);
});
