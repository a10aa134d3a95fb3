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
