import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSystemdSpan } from '../../src/cli/run-agent.ts';

test('parseSystemdSpan reads the spans systemctl prints for TimeoutStopUSec', () => {
  const cases: Array<[string, number | undefined]> = [
    ['45s', 45_000],
    ['1min 30s', 90_000],
    ['2min', 120_000],
    ['500ms', 500],
    ['1h 2min 3s', 3_723_000],
    ['1.5s', 1500],
    ['infinity', undefined],
    ['', undefined],
    ['forty', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseSystemdSpan(text), ms, text);
});
