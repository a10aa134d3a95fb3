/**
 * One agent per stateDir.
 *
 * Why flock and not an O_EXCL pid file: a pid file has to be judged stale (dead pid, or a reused
 * pid told apart by its start time), and two agents breaking the same stale file at once can both
 * end up believing they hold it — fixing that takes a second lock with the same problem. A kernel
 * flock(2) has none of this: it is released by the kernel when the holder dies, even by SIGKILL,
 * so there is never a stale lock to take over and no takeover race.
 *
 * Node has no flock binding, so the lock is taken by util-linux `flock(1)` on a descriptor we
 * pass to it: flock locks belong to the open file description, which the child shares with us.
 * The child locks it and exits; the lock stays held through our own descriptor until we close it
 * or die. Node opens files with O_CLOEXEC, so hooks and restart commands never inherit the lock.
 * The lock file is never deleted (deleting a flock file reopens the races above); it holds the
 * holder's pid and process start time only so that HOIST_LOCKED can name it (see readHolder).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HoistError } from '../errors.ts';
import { sleep } from '../util/sleep.ts';

export const LOCK_FILE = 'agent.lock';

/** flock(1) exit status when the lock is held elsewhere (we choose it with -E). */
const CONFLICT_EXIT = 75;

export interface Lock extends AsyncDisposable {
  readonly path: string;
  /** Releases the lock; safe to call more than once. */
  release(): Promise<void>;
}

/** Takes the agent lock on `stateDir`, or throws HOIST_LOCKED naming the holder's pid. */
export async function acquireLock(stateDir: string): Promise<Lock> {
  const path = join(stateDir, LOCK_FILE);
  let handle: FileHandle;
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (err) {
    throw ioError(`Could not open the lock file ${path}`, err, path);
  }
  try {
    const status = await runFlock(handle.fd);
    if (status === CONFLICT_EXIT) {
      const holder = await readHolder(path);
      throw new HoistError(
        'HOIST_LOCKED',
        `Another hoist agent (${holder === undefined ? 'pid unknown' : `pid ${holder}`}) holds the lock ${path}. ` +
          'Stop it (systemctl status hoist-agent) or use another stateDir.',
        { details: { path, ...(holder === undefined ? {} : { pid: holder }) } },
      );
    }
    if (status !== 0) throw ioError(`flock(1) failed on ${path} with exit status ${String(status)}`, undefined, path);
    const startTime = await processStartTime(process.pid);
    const record = `${JSON.stringify({ pid: process.pid, startTime, acquiredAt: new Date().toISOString() })}\n`;
    await handle.truncate(0);
    // The holder record only names us in HOIST_LOCKED; on a full disk the lock holds without it.
    await handle.write(record, 0, 'utf8').catch((err: unknown) => {
      const code = (err as { code?: unknown } | null)?.code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
    });
  } catch (err) {
    await handle.close();
    if (err instanceof HoistError) throw err;
    throw ioError(`Could not lock ${path}`, err, path);
  }

  let released: Promise<void> | undefined;
  const release = (): Promise<void> => {
    released ??= (async () => {
      // Clear the pid first so nobody reads a dead holder; closing the last descriptor unlocks.
      try {
        await handle.truncate(0);
      } finally {
        await handle.close();
      }
    })();
    return released;
  };
  return { path, release, [Symbol.asyncDispose]: release };
}

function runFlock(fd: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    // The descriptor becomes fd 3 in the child, sharing our open file description.
    const child = spawn('flock', ['--nonblock', '--exclusive', '--conflict-exit-code', String(CONFLICT_EXIT), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (err) => {
      reject(
        new HoistError('HOIST_IO', `Could not run flock(1) (util-linux) to lock the stateDir: ${err.message}. Install util-linux.`, {
          cause: err,
        }),
      );
    });
    child.on('close', (code) => {
      if (code !== 0 && code !== CONFLICT_EXIT && stderr.trim() !== '') {
        reject(new HoistError('HOIST_IO', `flock(1) failed: ${stderr.trim()}`));
        return;
      }
      resolve(code);
    });
  });
}

/**
 * The live holder's pid. The file may still name a dead agent (the new holder has the lock but has
 * not written its pid yet), so a pid counts only when that process's start time matches the one
 * recorded, which also tells a reused pid apart. Looks again a few times before giving up.
 */
async function readHolder(path: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown; startTime?: unknown };
      if (typeof parsed.pid === 'number') {
        if (parsed.startTime === null) return parsed.pid;
        if (typeof parsed.startTime === 'string' && (await processStartTime(parsed.pid)) === parsed.startTime) return parsed.pid;
      }
    } catch {
      // empty or half-written: look again
    }
    await sleep(50);
  }
  return undefined;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null without /proc. */
export async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function ioError(what: string, err: unknown, path: string): HoistError {
  const reason = err instanceof Error ? `: ${err.message}` : '';
  return new HoistError('HOIST_IO', `${what}${reason}. Check the permissions of the stateDir.`, {
    ...(err === undefined ? {} : { cause: err }),
    details: { path },
  });
}
