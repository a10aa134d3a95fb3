/**
 * Process groups: is anything still running in one, and kill all of it (TERM, grace, KILL).
 *
 * Hooks run in their own process group so a timeout can stop everything they forked. Zombies do
 * not count as running: where PID 1 does not reap orphans (some containers and micro-VMs), a
 * killed grandchild stays a zombie forever, and `kill(-pgid, 0)` keeps succeeding for it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

const POLL_MS = 50;
/** SIGKILL cannot be ignored; this only bounds the wait for a process stuck in the kernel (state D). */
const AFTER_KILL_WAIT_MS = 5_000;

/** State letter, parent pid and process group of `/proc/<pid>/stat`, or undefined when it is gone. */
export function parseProcStat(text: string): { state: string; ppid: number; pgrp: number } | undefined {
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const end = text.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = text.slice(end + 2).split(' ');
  const [state, ppid, pgrp] = fields;
  if (state === undefined || ppid === undefined || pgrp === undefined) return undefined;
  return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/** True while the process exists and is not a zombie. */
export async function pidRunning(pid: number): Promise<boolean> {
  try {
    const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
    return stat !== undefined && stat.state !== 'Z';
  } catch {
    return signalReaches(pid);
  }
}

/** True while any process of group `pgid` is running (zombies excluded where /proc tells). */
export async function groupRunning(pgid: number): Promise<boolean> {
  if (!signalReaches(-pgid)) return false;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true; // no /proc: trust kill(2)
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const stat = parseProcStat(text);
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') return true;
  }
  return false;
}

/**
 * SIGTERM to every process of the group, SIGKILL to what is left after `graceMs`; resolves once
 * nothing of the group runs any more (bounded).
 */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  sendToGroup(pgid, 'SIGTERM');
  const termDeadline = performance.now() + graceMs;
  while (performance.now() < termDeadline) {
    if (!(await groupRunning(pgid))) return;
    await delay(POLL_MS);
  }
  sendToGroup(pgid, 'SIGKILL');
  const killDeadline = performance.now() + AFTER_KILL_WAIT_MS;
  while (performance.now() < killDeadline) {
    if (!(await groupRunning(pgid))) return;
    await delay(POLL_MS);
  }
}

function sendToGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what we want.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function signalReaches(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
