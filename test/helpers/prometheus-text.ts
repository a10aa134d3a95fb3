/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: prom-client
 * writes the format but has no parser, and the parser packages on npm are small and unmaintained.
 * Anything the format does not allow throws, naming the line:
 *
 *   line      = "# HELP " name " " docstring | "# TYPE " name " " type | "#" comment | sample | ""
 *   sample    = name [ "{" [ label { "," label } [ "," ] ] "}" ] " " value [ " " timestamp ]
 *   label     = labelname "=" '"' escaped value '"'     (escapes: \\  \"  \n)
 *   name      = [a-zA-Z_:][a-zA-Z0-9_:]*      labelname = [a-zA-Z_][a-zA-Z0-9_]*
 *   value     = a Go float: digits, exponent, NaN, +Inf, -Inf
 *
 * and beyond single lines: the text ends with a newline; a family's TYPE comes before its samples
 * and at most once; HELP at most once; a family's lines are one group; no two samples have the
 * same name and labels; samples of a histogram are <name>_bucket (with `le`), _sum and _count, its
 * buckets cumulative and ending in le="+Inf" equal to _count; a counter is never negative.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help: string | undefined;
  type: MetricType;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf)$|^NaN$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  const seen = new Set<string>();
  const typedAlready = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n').slice(0, -1);
  const enter = (family: string, n: number): Family => {
    if (current !== family) {
      if (finished.has(family)) throw new Error(`line ${n}: ${family} continues after other families (its lines must be one group)`);
      if (current !== undefined) finished.add(current);
      current = family;
    }
    let f = families.get(family);
    if (f === undefined) {
      f = { name: family, help: undefined, type: 'untyped', samples: [] };
      families.set(family, f);
    }
    return f;
  };
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new Error(`line ${n}: malformed ${line}`);
        return; // a comment
      }
      const [, keyword, name = '', rest] = m;
      if (!NAME.test(name)) throw new Error(`line ${n}: bad metric name ${name}`);
      const f = enter(name, n);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${n}: a second HELP for ${name}`);
        f.help = unescapeHelp(rest ?? '', n);
      } else {
        if (f.samples.length > 0) throw new Error(`line ${n}: TYPE of ${name} after its samples`);
        if (typedAlready.has(name)) throw new Error(`line ${n}: a second TYPE for ${name}`);
        if (!TYPES.has(rest as MetricType)) throw new Error(`line ${n}: unknown type ${String(rest)}`);
        typedAlready.add(name);
        f.type = rest as MetricType;
      }
      return;
    }
    const sample = parseSample(line, n);
    const family = familyOf(sample.name, families);
    const f = enter(family, n);
    if (f.type === 'histogram' && !/_(bucket|sum|count)$/.test(sample.name)) throw new Error(`line ${n}: ${sample.name} is not a sample name of histogram ${family}`);
    if (f.type !== 'histogram' && f.type !== 'summary' && sample.name !== family) throw new Error(`line ${n}: ${sample.name} in family ${family}`);
    if (f.type === 'counter' && !(sample.value >= 0)) throw new Error(`line ${n}: counter ${family} is ${sample.value}`);
    const id = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (seen.has(id)) throw new Error(`line ${n}: a second sample ${line}`);
    seen.add(id);
    f.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The family a sample belongs to: its own name, or the histogram/summary it is a part of. */
function familyOf(name: string, families: Map<string, Family>): string {
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m?.[1] !== undefined) {
    const base = families.get(m[1]);
    if (base !== undefined && (base.type === 'histogram' || base.type === 'summary')) return m[1];
  }
  return name;
}

function parseSample(line: string, n: number): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (nameMatch === null) throw new Error(`line ${n}: no metric name: ${line}`);
  const name = nameMatch[0];
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at));
      if (ln === null || !LABEL_NAME.test(ln[0])) throw new Error(`line ${n}: bad label name at column ${at + 1}: ${line}`);
      at += ln[0].length;
      if (line.slice(at, at + 2) !== '="') throw new Error(`line ${n}: expected =" after ${ln[0]}: ${line}`);
      at += 2;
      let value = '';
      for (;;) {
        const c = line[at];
        if (c === undefined) throw new Error(`line ${n}: unterminated label value: ${line}`);
        at++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[at++];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new Error(`line ${n}: bad escape \\${String(e)} in a label value: ${line}`);
        } else value += c;
      }
      if (Object.hasOwn(labels, ln[0])) throw new Error(`line ${n}: label ${ln[0]} twice: ${line}`);
      labels[ln[0]] = value;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw new Error(`line ${n}: expected , or } at column ${at + 1}: ${line}`);
    }
    at++;
  }
  const rest = line.slice(at);
  const m = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (m?.[1] === undefined || !FLOAT.test(m[1])) throw new Error(`line ${n}: bad value or timestamp: ${line}`);
  return { name, labels, value: parseFloatGo(m[1]) };
}

function parseFloatGo(text: string): number {
  if (text === 'NaN') return Number.NaN;
  const inf = /^([+-]?)[Ii]nf$/.exec(text);
  if (inf !== null) return inf[1] === '-' ? -Infinity : Infinity;
  return Number(text);
}

function unescapeHelp(text: string, n: number): string {
  return text.replace(/\\(.?)/g, (_all, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${n}: bad escape \\${c} in HELP`);
  });
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push([parseFloatGo(le), s.value]);
    } else if (le !== undefined) {
      throw new Error(`${f.name}: le on ${s.name}`);
    } else if (s.name.endsWith('_sum')) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    if (g.sum === undefined || g.count === undefined) throw new Error(`${f.name}${key}: _sum or _count missing`);
    const last = g.buckets.at(-1);
    if (last === undefined || last[0] !== Infinity) throw new Error(`${f.name}${key}: no le="+Inf" bucket at the end`);
    if (last[1] !== g.count) throw new Error(`${f.name}${key}: +Inf bucket ${last[1]} is not _count ${g.count}`);
    for (let i = 1; i < g.buckets.length; i++) {
      const [le, v] = g.buckets[i] ?? [0, 0];
      const [prevLe, prev] = g.buckets[i - 1] ?? [0, 0];
      if (!(le > prevLe)) throw new Error(`${f.name}${key}: buckets not in increasing le`);
      if (v < prev) throw new Error(`${f.name}${key}: buckets not cumulative`);
    }
  }
}

/** The value of the one sample of `family` whose labels include `labels` (undefined: none). */
export function valueOf(families: Map<string, Family>, sampleName: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(sampleName) ?? families.get(sampleName.replace(/_(bucket|sum|count)$/, ''));
  const hits = (family?.samples ?? []).filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${sampleName} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}
