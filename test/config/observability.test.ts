/** The `log` and `metrics` blocks of the agent config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHoistError } from '../../src/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import { isLoopbackHost, parseListen } from '../../src/metrics/address.ts';

function withBlocks(blocks: Record<string, unknown>): Record<string, unknown> {
  return {
    source: { s3: { bucket: 'my-releases' } },
    apps: [{ name: 'web', env: 'prod', root: '/srv/web', health: { tcp: '127.0.0.1:8080' } }],
    trust: { keys: { ci: '/etc/hoist/keys/ci.pub' }, roles: { release: { keys: ['ci'] } } },
    ...blocks,
  };
}

function issuesOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    assert.ok(isHoistError(error, 'HOIST_CONFIG_INVALID'), String(error));
    return error.details?.issues as string[];
  }
  assert.fail('expected HOIST_CONFIG_INVALID');
}

test('log.format defaults to auto and takes journal, json and pretty', () => {
  assert.deepEqual(parseConfig(withBlocks({})).log, { level: 'info', format: 'auto' });
  for (const format of ['auto', 'journal', 'json', 'pretty']) assert.equal(parseConfig(withBlocks({ log: { format } })).log.format, format);
  assert.deepEqual(issuesOf(withBlocks({ log: { format: 'syslog' } })).map((i) => i.split(':')[0]), ['log.format']);
});

test('metrics are off by default; listen on loopback or a textfile is accepted', () => {
  assert.equal(parseConfig(withBlocks({})).metrics, undefined);
  assert.deepEqual(parseConfig(withBlocks({ metrics: { listen: '127.0.0.1:9464' } })).metrics, { listen: '127.0.0.1:9464', allowRemote: false });
  assert.deepEqual(parseConfig(withBlocks({ metrics: { listen: '[::1]:9464' } })).metrics?.listen, '[::1]:9464');
  assert.deepEqual(parseConfig(withBlocks({ metrics: { listen: 'localhost:9464' } })).metrics?.listen, 'localhost:9464');
  assert.deepEqual(parseConfig(withBlocks({ metrics: { textfile: '/var/lib/node_exporter/textfile/hoist.prom' } })).metrics, {
    textfile: '/var/lib/node_exporter/textfile/hoist.prom',
    allowRemote: false,
  });
  assert.equal(parseConfig(withBlocks({ metrics: { listen: '0.0.0.0:9464', allowRemote: true } })).metrics?.listen, '0.0.0.0:9464');
});

test('a non-loopback listen without allowRemote is a config error with its path', () => {
  for (const listen of ['0.0.0.0:9464', '10.1.2.3:9464', '[::]:9464', 'metrics.example.internal:9464', '[fe80::1]:9464']) {
    const issues = issuesOf(withBlocks({ metrics: { listen } }));
    assert.equal(issues.length, 1, listen);
    assert.match(issues[0] ?? '', /^metrics\.listen: .* is not a loopback address: .*allowRemote: true/, listen);
  }
});

test('metrics needs exactly one of listen and textfile; a textfile ends in .prom; the address is host:port', () => {
  assert.deepEqual(issuesOf(withBlocks({ metrics: {} })), ['metrics: set listen or textfile']);
  assert.deepEqual(issuesOf(withBlocks({ metrics: { listen: '127.0.0.1:9464', textfile: '/x/hoist.prom' } })), ['metrics: set listen or textfile, not both']);
  assert.deepEqual(issuesOf(withBlocks({ metrics: { textfile: '/x/hoist.txt' } })), ['metrics.textfile: node_exporter only reads files ending in .prom']);
  assert.match(issuesOf(withBlocks({ metrics: { textfile: 'hoist.prom' } }))[0] ?? '', /^metrics\.textfile: expected an absolute path/);
  assert.match(issuesOf(withBlocks({ metrics: { listen: '9464' } }))[0] ?? '', /^metrics\.listen: expected "host:port"/);
  assert.match(issuesOf(withBlocks({ metrics: { listen: '127.0.0.1:9464', port: 1 } }))[0] ?? '', /^metrics: unknown key "port"/);
});

test('parseListen and isLoopbackHost', () => {
  assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseListen('localhost:80'), { host: 'localhost', port: 80 });
  for (const bad of ['127.0.0.1', ':9464', '[localhost]:1', '127.0.0.1:65536', '[::1]', 'a b:1']) assert.equal(parseListen(bad), undefined, bad);
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true], ['127.1.2.3', true], ['localhost', true], ['LOCALHOST', true], ['::1', true], ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['::', false], ['10.0.0.1', false], ['128.0.0.1', false], ['::ffff:10.0.0.1', false], ['fe80::1', false], ['myhost', false], ['127.example.com', false],
  ];
  for (const [host, loopback] of cases) assert.equal(isLoopbackHost(host), loopback, host);
});
