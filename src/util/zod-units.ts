/** zod types for the duration and size strings used in config files (see units.ts). */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.ts';

/** A duration string (`2s`, `5m`, `30d`) parsed to milliseconds. */
export const zDuration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like "2s"' });
    return z.NEVER;
  }
  return ms;
});

/** A size (`64KiB`, `4GiB`, or a plain integer of bytes) parsed to bytes. */
export const zSize = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a size like "64KiB"' });
    return z.NEVER;
  }
  return bytes;
});

/** Every issue of a failed parse as `path: message`, the form the CLI prints. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** The value schema of each map made by `zNamedMap`, for the generated config reference. */
export const NAMED_MAP_VALUES = new WeakMap<z.ZodType, z.ZodType>();

/**
 * A YAML/JSON mapping of user-chosen names (key names, say) parsed into a `Map`. Never a plain
 * object keyed by those names: `z.record` rebuilds one, where a name like `__proto__` silently
 * disappears (or worse), and later lookups by name could reach `Object.prototype`.
 */
export function zNamedMap<V extends z.ZodType>(name: z.ZodType<string>, value: V): z.ZodType<Map<string, z.output<V>>, unknown> {
  const schema = z
    .custom<object>((input) => typeof input === 'object' && input !== null && !Array.isArray(input) && !(input instanceof Map), {
      error: 'expected a mapping of names to values',
    })
    .transform((input, ctx) => {
      const out = new Map<string, z.output<V>>();
      // Object.entries reads own properties only: a `__proto__` key written in the file is one.
      for (const [key, raw] of Object.entries(input)) {
        const k = name.safeParse(key);
        if (!k.success) {
          for (const issue of k.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: [key] });
          continue;
        }
        const v = value.safeParse(raw);
        if (!v.success) {
          for (const issue of v.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: [key, ...issue.path] });
          continue;
        }
        out.set(key, v.data);
      }
      return out;
    });
  NAMED_MAP_VALUES.set(schema, value);
  return schema;
}
