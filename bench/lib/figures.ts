/**
 * One measured figure, as printed in the table and written as a JSON line. `baseline` is what the
 * figure is compared with in the same run (GNU tar, curl, a target), `ratio` is value / baseline.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The same-run baseline or the target the value is held against. */
  readonly baseline?: number;
  readonly ratio?: number;
  /** What the baseline is ("GNU tar", "target"). */
  readonly against?: string;
  readonly note?: string;
}

export function figure(name: string, value: number, unit: string, extra: { baseline?: number; against?: string; note?: string } = {}): Figure {
  const { baseline, against, note } = extra;
  return {
    name,
    value: round(value),
    unit,
    ...(baseline === undefined ? {} : { baseline: round(baseline), ratio: baseline === 0 ? 0 : round(value / baseline, 3) }),
    ...(against === undefined ? {} : { against }),
    ...(note === undefined ? {} : { note }),
  };
}

/** The value of the figure called `name` among `figures`; throws when there is none. */
export function valueOf(figures: readonly Figure[], name: string): number {
  const f = figures.find((x) => x.name === name);
  if (f === undefined) throw new Error(`figure ${name} missing`);
  return f.value;
}

/** The baseline of the figure called `name`; throws when it has none. */
export function baselineOf(figures: readonly Figure[], name: string): number {
  const f = figures.find((x) => x.name === name);
  if (f?.baseline === undefined) throw new Error(`baseline of ${name} missing`);
  return f.baseline;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function formatTable(figures: readonly Figure[]): string {
  const rows = [
    ['figure', 'value', 'unit', 'baseline', 'ratio', 'against'],
    ...figures.map((f) => [f.name, String(f.value), f.unit, f.baseline === undefined ? '' : String(f.baseline), f.ratio === undefined ? '' : `${f.ratio}x`, f.against ?? '']),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

export async function appendJsonLines(file: string, figures: readonly Figure[], context: Record<string, unknown>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, figures.map((f) => `${JSON.stringify({ ...f, ...context })}\n`).join(''));
}
