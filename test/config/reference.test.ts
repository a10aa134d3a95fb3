import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { renderConfigReference } from '../../src/config/reference.ts';

const DOC = path.join(import.meta.dirname, '..', '..', 'docs', 'configuration.md');

test('docs/configuration.md is up to date (regenerate it with renderConfigReference())', async () => {
  assert.equal(await readFile(DOC, 'utf8'), renderConfigReference());
});

test('the reference lists every field with its type, default and description', () => {
  const doc = renderConfigReference();
  const rows = doc.split('\n').filter((line) => line.startsWith('| `'));
  assert.ok(rows.length > 60, `only ${rows.length} rows`);
  for (const row of rows) {
    const cells = row.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
    assert.equal(cells.length, 4, row);
    assert.ok(cells.every((cell) => cell !== ''), `empty cell in ${row}`);
  }
  const expected = [
    '| `source.s3.jitter` | duration | `"10s"` |',
    '| `source.sqs.waitSeconds` | integer ≥ 1, ≤ 20 | `20` |',
    '| `apps[].health.bake` | duration | `"0s"` |',
    '| `apps[].restart.timeout` | duration | `"2m"` |',
    '| `limits.artifactBytes` | size | `"4GiB"` |',
    '| `trust` | object | required |',
    '| `trust.clockSkew` | duration | `"5m"` |',
    '| `endpoint` | URL or null | — |',
  ];
  for (const start of expected) assert.ok(rows.some((row) => row.startsWith(start)), start);
  assert.ok(doc.includes('```yaml\n# hoist agent configuration'), 'the example is included');
});
