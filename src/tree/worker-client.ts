/**
 * Runs one tree-worker request (see worker.ts) and returns its answer. The worker starts as root
 * and drops to the app user itself before it touches anything; an abort kills it (TERM, then KILL).
 */
import { spawn } from 'node:child_process';
import { HoistError, type HoistErrorCode, ERROR_CATALOGUE } from '../errors.ts';
import { baseEnv } from '../proc/env.ts';
import { selfCommand } from '../cli/self.ts';
import { testPauseEnv } from '../util/test-pause.ts';
import type { WorkerRequest } from './worker.ts';

const KILL_GRACE_MS = 3_000;
const MAX_OUTPUT = 64 * 1024;

export interface WorkerCall {
  readonly request: WorkerRequest;
  /** A descriptor the worker reads as stdin (the archive to unpack). */
  readonly stdin?: number;
  readonly signal?: AbortSignal;
}

export function callWorker(call: WorkerCall): Promise<unknown> {
  const { request, signal } = call;
  signal?.throwIfAborted();
  const self = selfCommand();
  const env = { ...baseEnv(process.env, { name: request.user.name }), ...testPauseEnv(), ...zstdEnv() };
  return new Promise((resolve, reject) => {
    const child = spawn(self.command, [...self.args, 'tree-worker', JSON.stringify(request)], {
      cwd: '/',
      env,
      stdio: [call.stdin ?? 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new HoistError('HOIST_INTERNAL', `could not start the tree worker (${self.command}): ${error.message}`, { cause: error }));
    });
    child.once('close', (code, exitSignal) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (signal?.aborted === true) {
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        return;
      }
      const answer = lastJsonLine(stdout);
      if (answer?.ok === true) {
        resolve(answer.result);
        return;
      }
      if (answer !== undefined && typeof answer.code === 'string' && answer.code in ERROR_CATALOGUE) {
        reject(new HoistError(answer.code as HoistErrorCode, String(answer.message), isRecord(answer.details) ? { details: answer.details } : {}));
        return;
      }
      const how = exitSignal === null ? `exit code ${code}` : `signal ${exitSignal}`;
      reject(new HoistError('HOIST_INTERNAL', `the tree worker (${request.op}) failed with ${how}: ${stderr.trim().slice(-2000) || 'no output'}`));
    });
  });
}

/** The zstd decoder choice reaches the worker too. */
function zstdEnv(): Record<string, string> {
  const value = process.env.HOIST_ZSTD;
  return value === undefined ? {} : { HOIST_ZSTD: value };
}

function lastJsonLine(text: string): Record<string, unknown> | undefined {
  const line = text.trim().split('\n').at(-1) ?? '';
  try {
    const parsed: unknown = JSON.parse(line);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
