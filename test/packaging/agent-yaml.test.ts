/**
 * packaging/agent.yaml (installed as /etc/hoist/agent.yaml) is a valid agent config, also with
 * its optional commented-out blocks switched on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseConfig, parseYaml } from '../../src/config/load.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const text = await readFile(join(ROOT, 'packaging/agent.yaml'), 'utf8');

/** Uncomments `count` lines starting at the line `first` (exact text), keeping indentation. */
function uncomment(source: string, first: string, count: number): string {
  const lines = source.split('\n');
  const start = lines.indexOf(first);
  assert.ok(start >= 0, `line not found: ${first}`);
  for (let i = start; i < start + count; i++) {
    const line = lines[i];
    assert.ok(line !== undefined && /^\s*# /.test(line), `not a commented line: ${String(line)}`);
    lines[i] = line.replace('# ', '');
  }
  return lines.join('\n');
}

test('the example config parses with the agent schema', () => {
  const config = parseConfig(parseYaml(text, 'agent.yaml'), 'agent.yaml');
  assert.equal(config.stateDir, '/var/lib/hoist');
  assert.equal(config.source.s3?.bucket, 'my-releases');
  assert.equal(config.apps.length, 1);
  const app = config.apps[0];
  assert.equal(app?.name, 'web');
  assert.equal(app.health.successThreshold, 3);
  assert.equal(app.health.bake, 5 * 60_000);
  assert.deepEqual(config.trust.roles.pin?.keys, ['alice', 'bob']);
  assert.equal(config.source.s3.poll, '*/30 * * * * *', 'without sqs the S3 poll is every 30 s');
  assert.equal(app.dedup, true);
});

test('the commented-out options are valid too (sqs, window, per-app trust, group, limits, endpoints)', () => {
  let full = uncomment(text, '  # sqs:', 3);
  full = uncomment(full, '    # group: web              # default: the user\'s primary group', 1);
  full = uncomment(full, '    # allowSymlinks: false', 1);
  full = uncomment(full, '    # window: "* 2-4 * * 1-5"', 1);
  full = uncomment(full, '    # trust:', 4);
  full = uncomment(full, '  # maxDepth: 64              # deepest directory nesting in an archive', 2);
  full = uncomment(full, '# endpoints:', 3);
  full = uncomment(full, '    # dedup: true', 1);
  const config = parseConfig(parseYaml(full, 'agent.yaml'), 'agent.yaml');
  assert.match(config.endpoints?.sqs ?? '', /^https:\/\/vpce-/);
  assert.equal(config.source.sqs?.waitSeconds, 20);
  assert.equal(config.source.s3.poll, '0 */5 * * * *', 'with sqs the S3 poll is a 5-minute safety net');
  assert.equal(config.apps[0]?.dedup, true);
  const app = config.apps[0];
  assert.equal(app?.window, '* 2-4 * * 1-5');
  assert.equal(app.trust?.roles.release?.threshold, 2);
  assert.equal(app.group, 'web');
  assert.equal(config.limits.maxDepth, 64);
});

test('each commented-out metrics line is valid', () => {
  const listen = parseConfig(parseYaml(uncomment(text, '# metrics: { listen: "127.0.0.1:9464" }', 1), 'agent.yaml'), 'agent.yaml');
  assert.equal(listen.metrics?.listen, '127.0.0.1:9464');
  const textfile = parseConfig(parseYaml(uncomment(text, '# metrics: { textfile: /var/lib/node_exporter/textfile/hoist.prom }', 1), 'agent.yaml'), 'agent.yaml');
  assert.equal(textfile.metrics?.textfile, '/var/lib/node_exporter/textfile/hoist.prom');
  assert.equal(parseConfig(parseYaml(text, 'agent.yaml'), 'agent.yaml').log.format, 'auto');
});
