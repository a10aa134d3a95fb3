/**
 * Runs one hook, restart or health command: `/bin/sh -c COMMAND` in its own process group, with a
 * timeout that kills the whole group, output streamed line by line, and a typed error on failure.
 *
 * Only the command's own process group is ever killed: an app the restart command daemonises into
 * its own session (setsid, systemd) survives, and nothing at all is killed after a normal exit.
 *
 * As another user, the command runs through `setpriv --reuid --regid --init-groups` (util-linux):
 * Node's own `spawn({ uid, gid })` drops every supplementary group, so a hook could not use a
 * group the app user is in (the docker or adm group, a shared deploy group).
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { HoistError } from '../errors.ts';
import { formatDuration } from '../util/units.ts';
import { baseEnv } from './env.ts';
import { killGroup } from './group.ts';
import { LineSplitter, OutputTail } from './output.ts';

export { hookEnv, baseEnv, BASE_ENV_KEYS } from './env.ts';
export type { HookInfo } from './env.ts';
export { resolveUser } from './user.ts';
export type { ResolvedUser } from './user.ts';

export type CommandName = 'preActivate' | 'restart' | 'postActivate' | 'health' | (string & {});
export type OutputStream = 'stdout' | 'stderr';

export interface RunUser {
  readonly uid: number;
  readonly gid: number;
  /** HOME for the command; without it HOME/USER/LOGNAME are not set at all. */
  readonly home?: string;
  /** USER and LOGNAME for the command. */
  readonly name?: string;
}

export interface RunOptions {
  /** What runs, for messages: 'preActivate', 'restart', 'postActivate', 'health'. */
  readonly name: CommandName;
  /** Run with `/bin/sh -c`. */
  readonly command: string;
  readonly cwd: string;
  /** Added to the base environment (see env.ts), overriding it. */
  readonly env?: Record<string, string>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Run as this user (needs root). */
  readonly user?: RunUser;
  /** Time between SIGTERM and SIGKILL to the process group on timeout or abort; default 5 s. */
  readonly killGraceMs?: number;
  readonly onOutput?: (stream: OutputStream, line: string) => void;
}

export interface RunResult {
  readonly durationMs: number;
  /** The last ~4 KiB of stdout and stderr lines, interleaved as they arrived. */
  readonly outputTail: string;
}

export const DEFAULT_KILL_GRACE_MS = 5_000;
/** How long to keep reading output after the shell exited, for pipes a background job still holds. */
const DRAIN_MS = 250;
const MAX_COMMAND_CHARS = 200;

export async function runCommand(options: RunOptions): Promise<RunResult> {
  const { name, command, cwd, signal, user } = options;
  signal?.throwIfAborted();
  const started = performance.now();
  const tail = new OutputTail();
  const env = { ...baseEnv(process.env, user), ...options.env };

  const shell = ['/bin/sh', '-c', command];
  const [file, ...args] = user === undefined ? shell : [...dropTo(user), ...shell];
  const child = spawn(file ?? '/bin/sh', args, {
    cwd,
    env,
    detached: true, // own process group (and session): the unit a timeout kills
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal }));
  });
  const drained = Promise.all([
    pipeLines(child.stdout, 'stdout', tail, options.onOutput),
    pipeLines(child.stderr, 'stderr', tail, options.onOutput),
  ]);

  let stopReason: 'timeout' | 'abort' | undefined;
  let killing: Promise<void> | undefined;
  let killError: string | undefined;
  let leaderExited = false;
  const stop = (reason: 'timeout' | 'abort'): void => {
    if (leaderExited || stopReason !== undefined || child.pid === undefined) return;
    stopReason = reason;
    // Caught here: it is only awaited after the shell exits, and must never be an unhandled rejection.
    killing = killGroup(child.pid, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS).catch((error: unknown) => {
      killError = error instanceof Error ? error.message : 'unknown error';
    });
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = (): void => stop('abort');
  signal?.addEventListener('abort', onAbort, { once: true });

  try {
    let exit: { code: number | null; signal: NodeJS.Signals | null };
    try {
      exit = await exited;
    } catch (error) {
      const missingSetpriv = user !== undefined && (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new HoistError(
        'HOIST_HOOK_FAILED',
        missingSetpriv
          ? `${name}: could not run ${quote(command)} as uid ${user.uid}: setpriv (util-linux) is not installed; install util-linux`
          : `${name}: could not start ${quote(command)} in ${cwd}: ${(error as Error).message}. Check that the directory exists and the user may enter it.`,
        { cause: error, details: { name, command, cwd } },
      );
    }
    leaderExited = true;
    clearTimeout(timer);
    await settleWithin(drained, DRAIN_MS);
    child.stdout.destroy();
    child.stderr.destroy();
    const durationMs = Math.round(performance.now() - started);
    const outputTail = tail.toString();

    if (stopReason !== undefined) {
      await killing;
      if (stopReason === 'abort') throw signal?.reason;
      throw new HoistError(
        'HOIST_HOOK_TIMEOUT',
        `${name}: ${quote(command)} ran over its timeout of ${formatDuration(options.timeoutMs)}; its process group was killed. Make it faster or raise its timeout.`,
        {
          details: {
            name,
            command,
            timeoutMs: options.timeoutMs,
            durationMs,
            outputTail,
            ...(killError === undefined ? {} : { killError }),
          },
        },
      );
    }
    if (exit.code !== 0) {
      const how = exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
      const last = lastLine(outputTail);
      throw new HoistError(
        'HOIST_HOOK_FAILED',
        `${name}: ${quote(command)} failed with ${how} after ${formatDuration(durationMs)}${last ? `; last output: ${last}` : ''}. Read its output in the agent log and fix the release or the command.`,
        { details: { name, command, exitCode: exit.code, signal: exit.signal, durationMs, outputTail } },
      );
    }
    return { durationMs, outputTail };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The argv prefix that runs a command as `user`, with the user's supplementary groups. */
export function dropTo(user: RunUser): string[] {
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--'];
}

function pipeLines(
  stream: Readable,
  which: OutputStream,
  tail: OutputTail,
  onOutput: RunOptions['onOutput'],
): Promise<void> {
  const splitter = new LineSplitter((line) => {
    tail.push(line);
    try {
      onOutput?.(which, line);
    } catch {
      // A failing log callback must not turn into an uncaught exception that kills the agent.
    }
  });
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => splitter.write(text));
  return new Promise((resolve) => {
    stream.once('close', () => {
      splitter.end();
      resolve();
    });
  });
}

/** Waits for `promise`, but no longer than `ms`. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function quote(command: string): string {
  const short = command.length > MAX_COMMAND_CHARS ? `${command.slice(0, MAX_COMMAND_CHARS)}…` : command;
  return JSON.stringify(short);
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines.at(-1)?.slice(0, 200) ?? '';
}
