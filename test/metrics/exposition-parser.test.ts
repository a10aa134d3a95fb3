import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExposition, valueOf } from '../helpers/prometheus-text.ts';

// The parser is what the metrics tests trust: it must accept the format and refuse what is not.
const GOOD = `# HELP a_total Things, with a \\\\ and a\\nnewline.
# TYPE a_total counter
a_total{app="web",env="prod"} 3
a_total{app="w\\"e\\\\b\\n",env="prod",} 1e3

# a comment
# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="+Inf"} 2
h_sum 1.25
h_count 2
# TYPE g gauge
g NaN
g{x="1"} -Inf 1700000000000
`;

test('the parser reads a valid exposition: help, types, escaped labels, histograms, special values', () => {
  const f = parseExposition(GOOD);
  assert.deepEqual([...f.keys()], ['a_total', 'h', 'g']);
  assert.equal(f.get('a_total')?.help, 'Things, with a \\ and a\nnewline.');
  assert.equal(f.get('a_total')?.type, 'counter');
  assert.equal(valueOf(f, 'a_total', { app: 'w"e\\b\n' }), 1000);
  assert.equal(valueOf(f, 'h_count'), 2);
  assert.equal(valueOf(f, 'h_bucket', { le: '+Inf' }), 2);
  assert.ok(Number.isNaN(f.get('g')?.samples[0]?.value));
  assert.equal(valueOf(f, 'g', { x: '1' }), -Infinity);
  assert.equal(parseExposition('').size, 0);
});

test('the parser refuses what the format does not allow', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['no final newline', 'a 1', /newline/],
    ['bad name', '1a 1\n', /no metric name/],
    ['no value', 'a\n', /bad value/],
    ['bad value', 'a one\n', /bad value/],
    ['two spaces', 'a  1\n', /bad value/],
    ['unquoted label', 'a{x=1} 1\n', /expected ="/],
    ['bad escape', 'a{x="\\t"} 1\n', /bad escape/],
    ['unterminated', 'a{x="1} 1\n', /unterminated|expected/],
    ['label twice', 'a{x="1",x="2"} 1\n', /twice/],
    ['duplicate sample', 'a{x="1"} 1\na{x="1"} 2\n', /second sample/],
    ['type after samples', 'a 1\n# TYPE a gauge\n', /after its samples/],
    ['two types', '# TYPE a gauge\n# TYPE a gauge\n', /second TYPE/],
    ['unknown type', '# TYPE a thing\n', /unknown type/],
    ['two helps', '# HELP a x\n# HELP a y\n', /second HELP/],
    ['split group', 'a 1\nb 1\na{x="1"} 1\n', /one group/],
    ['negative counter', '# TYPE a counter\na -1\n', /counter/],
    ['histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ['histogram +Inf is not count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n', /_count/],
    ['histogram not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
    ['histogram without count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n', /missing/],
    ['foreign sample in a histogram', '# TYPE h histogram\nh 1\n', /not a sample name/],
    ['malformed HELP', '# HELP\n', /malformed/],
  ];
  for (const [what, text, error] of bad) assert.throws(() => parseExposition(text), error, what);
});
