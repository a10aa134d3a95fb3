/** One command health probe: run it in the release dir; exit 0 is healthy. */
import { isHoistError } from '../errors.ts';
import { runCommand } from '../proc/run.ts';
import { formatDuration } from '../util/units.ts';
import type { ProbeOptions, ProbeResult } from './spec.ts';

/** A probe is short-lived: do not wait the hooks' 5 s between SIGTERM and SIGKILL. */
const PROBE_KILL_GRACE_MS = 1_000;

export interface CommandProbeOptions extends ProbeOptions {
  readonly cwd: string;
  readonly env?: Record<string, string>;
  readonly user?: { readonly uid: number; readonly gid: number; readonly home?: string; readonly name?: string };
}

export async function probeCommand(command: string, options: CommandProbeOptions): Promise<ProbeResult> {
  try {
    await runCommand({
      name: 'health',
      command,
      cwd: options.cwd,
      timeoutMs: options.timeoutMs,
      killGraceMs: PROBE_KILL_GRACE_MS,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.user === undefined ? {} : { user: options.user }),
    });
    return { ok: true, detail: 'exit 0' };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (isHoistError(error, 'HOIST_HOOK_TIMEOUT')) {
      return { ok: false, detail: `timed out after ${formatDuration(options.timeoutMs)}` };
    }
    if (isHoistError(error, 'HOIST_HOOK_FAILED')) {
      const { exitCode, signal, outputTail } = error.details ?? {};
      const how = typeof exitCode === 'number' ? `exit ${exitCode}` : typeof signal === 'string' ? `killed by ${signal}` : error.message;
      const last = typeof outputTail === 'string' ? outputTail.trim().split('\n').at(-1)?.slice(0, 200) : undefined;
      // an exit code is the check's answer; a command killed by a signal did not answer
      return { ok: false, answered: typeof exitCode === 'number', detail: last ? `${how}: ${last}` : how };
    }
    throw error;
  }
}
