/**
 * Field types of the agent config that are more than a plain string: cron expressions, paths,
 * `host:port`, names. Each one carries the message an operator sees next to the field's path.
 */
import path from 'node:path';
import { validate, validateDetailed } from 'node-cron';
import { z } from 'zod';

/** App and env names: they become S3 key parts and directory names. */
export const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
/** Host ids: they become an S3 key part (`status/<app>/<env>/<host-id>.json`). */
export const HOST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

export const zName = z
  .string()
  .regex(NAME_RE, 'expected 1–64 characters of letters, digits, ".", "_" or "-"');

/** A node-cron expression (5 fields, or 6 with seconds first). */
export const zCron = z.string().superRefine((text, ctx) => {
  if (validate(text)) return;
  // validateDetailed says which field is wrong; fall back to a generic hint.
  const why = validateDetailed(text).errors[0]?.message;
  ctx.addIssue({
    code: 'custom',
    message: `expected a cron expression like "*/30 * * * * *"${why === undefined ? '' : ` (${why})`}`,
  });
});

/** The S3 poll: a cron expression, or "off" when SQS alone carries the notifications. */
export const zPoll = z.union([z.literal('off'), zCron]);

export const zAbsolutePath = z
  .string()
  .refine((p) => path.posix.isAbsolute(p), 'expected an absolute path like "/srv/web"');

/** A path relative to the app root that cannot climb out of it. */
export const zRelativePath = z
  .string()
  .min(1, 'expected a relative path like "log"')
  .refine((p) => !path.posix.isAbsolute(p), 'expected a relative path, not an absolute one')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** `host:port` (IPv6 in brackets) for the tcp health probe. */
export const zHostPort = z.string().refine((text) => {
  const m = HOST_PORT_RE.exec(text);
  const port = Number(m?.[2]);
  return m !== null && port >= 1 && port <= 65_535;
}, 'expected "host:port" like "127.0.0.1:8080"');

export const zHttpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });
