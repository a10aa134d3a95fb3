/**
 * pino for the agent: JSON lines on stdout (journald), pretty when stdout is a TTY and pino-pretty
 * is installed. pino-pretty is optional and loaded as a plain stream (no worker-thread transport),
 * so the bundled single executable works without it.
 */
import { createRequire } from 'node:module';
import pino from 'pino';
import type { Log } from '../agent/types.ts';

export type Logger = pino.Logger & Log;

export function createLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY;
  const base = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (pretty) {
    const stream = loadPretty();
    if (stream !== undefined) return pino(base, stream);
  }
  return pino(base, pino.destination({ fd: 1, sync: true }));
}

function loadPretty(): NodeJS.WritableStream | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pretty = require('pino-pretty') as (opts: Record<string, unknown>) => NodeJS.WritableStream;
    return pretty({ colorize: true, sync: true, ignore: 'pid,hostname' });
  } catch {
    return undefined;
  }
}
