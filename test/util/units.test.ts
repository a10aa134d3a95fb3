import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, parseDuration, parseSize } from '../../src/util/units.ts';

test('parseDuration accepts every documented unit', () => {
  const cases: Array<[string, number]> = [
    ['200ms', 200],
    ['2s', 2000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['30d', 2_592_000_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('parseDuration rejects what is not a duration', () => {
  for (const text of ['', '2', 's', '2 weeks', '-1s', '2w', 'abc']) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test('parseSize accepts binary and decimal units and plain integers', () => {
  const cases: Array<[string | number, number]> = [
    ['64KiB', 65_536],
    ['4GiB', 4 * 1024 ** 3],
    ['10MB', 10_000_000],
    ['512', 512],
    ['1 MiB', 1_048_576],
    [4096, 4096],
  ];
  for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, String(text));
});

test('parseSize rejects what is not a size', () => {
  for (const text of ['', 'big', '-1', '1PiB', 1.5, -3]) assert.equal(parseSize(text), undefined, String(text));
});

test('formatBytes and formatDuration are readable', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(42_000), '42s');
  assert.equal(formatDuration(93_000), '1m33s');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(3 * 3_600_000 + 60_000), '3h1m');
  assert.equal(formatDuration(72 * 3_600_000), '3d');
});
