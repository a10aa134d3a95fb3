/**
 * pino for the agent, on stdout (fd 1), always synchronous: a line is written before the call
 * returns, so nothing is lost when the process exits, and no worker-thread transport is needed
 * (the single executable cannot start one).
 *
 * Formats (`log.format`):
 * - `json`: one JSON object a line, `"level":"warn"` (names, not pino's numbers).
 * - `journal`: the same line behind its syslog priority, `<4>{"level":"warn",...}`. journald
 *   strips the prefix and files the line at that priority (SyslogLevelPrefix=yes, its default), so
 *   `journalctl -p warning` works.
 * - `pretty`: pino-pretty, loaded as a plain stream when it is installed; json otherwise.
 * - `auto`: journal when systemd connected stdout to the journal (JOURNAL_STREAM names fd 1's
 *   device and inode), pretty on a TTY, else json.
 */
import { createRequire } from 'node:module';
import { fstatSync } from 'node:fs';
import pino from 'pino';
import type { Log } from '../agent/types.ts';
import type { LogFormat } from '../config/schema.ts';

export type Logger = pino.Logger & Log;

/** syslog priorities (journald's `<N>` prefix) by pino level number. */
const PRIORITY_BY_LEVEL = new Map<number, number>([
  [60, 2], // fatal: crit
  [50, 3], // error: err
  [40, 4], // warn: warning
  [30, 6], // info: info
  [20, 7], // debug: debug
  [10, 7], // trace: debug
]);

/** The syslog priority of a pino level number (`info`, 6, for levels it does not know). */
export function syslogPriority(level: number): number {
  return PRIORITY_BY_LEVEL.get(level) ?? 6;
}

export interface LoggerOptions {
  readonly format?: LogFormat;
  /** Where JOURNAL_STREAM is read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const format = resolveLogFormat(options.format ?? 'auto', {
    journalStream: (options.env ?? process.env).JOURNAL_STREAM,
    stdout: stdoutIdentity(),
    isTTY: process.stdout.isTTY,
  });
  const base: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (format === 'pretty') {
    const stream = loadPretty();
    if (stream !== undefined) return pino(base, stream);
  }
  const destination = pino.destination({ fd: 1, sync: true });
  return pino(base, format === 'journal' ? journalStream(destination) : destination);
}

/**
 * The format `auto` stands for, from what the process was started with: JOURNAL_STREAM is
 * `<device>:<inode>` of the journal socket systemd gave as stdout. It is inherited by children
 * whose stdout is something else (a pipe, a file), so it only counts when it names fd 1.
 */
export function resolveLogFormat(
  format: LogFormat,
  facts: { readonly journalStream: string | undefined; readonly stdout: string | undefined; readonly isTTY: boolean },
): Exclude<LogFormat, 'auto'> {
  if (format !== 'auto') return format;
  if (facts.journalStream !== undefined && facts.stdout !== undefined && facts.journalStream.trim() === facts.stdout) return 'journal';
  return facts.isTTY ? 'pretty' : 'json';
}

/** `<device>:<inode>` of fd 1 as JOURNAL_STREAM writes it (decimal), or undefined when closed. */
function stdoutIdentity(): string | undefined {
  try {
    const st = fstatSync(1, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * A pino stream that writes each line behind its `<N>` priority, in one write. pino hands the
 * level of the line being written to streams that ask for it (`Symbol.for('pino.metadata')`, as
 * pino.multistream does).
 */
function journalStream(destination: pino.DestinationStream): pino.DestinationStream {
  const stream = {
    [Symbol.for('pino.metadata')]: true,
    lastLevel: 30,
    write(line: string): void {
      destination.write(`<${syslogPriority(stream.lastLevel)}>${line}`);
    },
    flushSync(): void {
      (destination as { flushSync?: () => void }).flushSync?.();
    },
  };
  return stream;
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
