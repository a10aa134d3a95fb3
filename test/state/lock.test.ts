import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { acquireLock, LOCK_FILE, processStartTime } from '../../src/state/lock.ts';
import { isHoistError } from '../../src/errors.ts';

const HOLDER = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));

type Child = ChildProcessByStdio<Writable, Readable, null>;

async function stateDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a lock-holder child; resolves with it and the first line it prints. */
async function holder(t: { after(fn: () => Promise<void> | void): void }, dir: string): Promise<{ child: Child; line: string }> {
  const child = spawn(process.execPath, [HOLDER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, line };
}

function lockedBy(pid: number | undefined) {
  return (err: unknown): boolean =>
    isHoistError(err, 'HOIST_LOCKED') && err.details?.['pid'] === pid && err.message.includes(`pid ${String(pid)}`);
}

test('a second lock on the same stateDir in this process is refused; release is idempotent', async (t) => {
  const dir = await stateDir(t);
  const lock = await acquireLock(join(dir, 'state'));
  assert.equal(lock.path, join(dir, 'state', LOCK_FILE));
  assert.equal((JSON.parse(await readFile(lock.path, 'utf8')) as { pid: number }).pid, process.pid);
  await assert.rejects(acquireLock(join(dir, 'state')), lockedBy(process.pid));
  await lock.release();
  await lock.release();
  assert.equal(await readFile(lock.path, 'utf8'), '', 'a released lock names no holder');
  {
    await using again = await acquireLock(join(dir, 'state'));
    assert.ok(again.path.endsWith(LOCK_FILE));
    await assert.rejects(acquireLock(join(dir, 'state')), (err) => isHoistError(err, 'HOIST_LOCKED'));
  }
  const third = await acquireLock(join(dir, 'state'));
  await third.release();
});

test('another process holding the lock gets HOIST_LOCKED naming its pid, and releases on SIGTERM', async (t) => {
  const dir = await stateDir(t);
  const { child, line } = await holder(t, dir);
  assert.equal(line, `ok ${String(child.pid)}`);
  await assert.rejects(acquireLock(dir), lockedBy(child.pid));
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0);
  const lock = await acquireLock(dir);
  await lock.release();
});

test('a lock left by a process killed with SIGKILL is taken over', async (t) => {
  const dir = await stateDir(t);
  const { child, line } = await holder(t, dir);
  assert.equal(line, `ok ${String(child.pid)}`);
  // The dead holder's pid stays in the file: it must not block us.
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal((JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid, child.pid);
  const lock = await acquireLock(dir);
  assert.equal((JSON.parse(await readFile(lock.path, 'utf8')) as { pid: number }).pid, process.pid);
  // And now other processes are refused in turn.
  const second = await holder(t, dir);
  assert.equal(second.line, `error HOIST_LOCKED ${String(process.pid)}`);
  await lock.release();
});

test('agents racing to take over a dead holder\'s lock: exactly one wins', async (t) => {
  const dir = await stateDir(t);
  // A stale pid file from a crashed agent (pid 1 is never us): only the kernel lock matters.
  await writeFile(join(dir, LOCK_FILE), `${JSON.stringify({ pid: 1, startTime: 'long-gone', acquiredAt: '2026-01-01T00:00:00Z' })}\n`);
  const racers = await Promise.all(Array.from({ length: 4 }, () => holder(t, dir)));
  const winners = racers.filter((r) => r.line === `ok ${String(r.child.pid)}`);
  assert.equal(winners.length, 1, racers.map((r) => r.line).join(' | '));
  const winner = winners[0];
  assert.ok(winner);
  for (const r of racers) {
    // A loser names the winner, or no one if the winner had not written its pid yet; never the dead pid.
    if (r !== winner) assert.ok([`error HOIST_LOCKED ${String(winner.child.pid)}`, 'error HOIST_LOCKED undefined'].includes(r.line), r.line);
  }
  winner.child.stdin.end();
  await once(winner.child, 'exit');
  const lock = await acquireLock(dir);
  await lock.release();
});

test('a stateDir that cannot be created is HOIST_IO', async (t) => {
  const dir = await stateDir(t);
  await writeFile(join(dir, 'file'), 'x');
  await assert.rejects(acquireLock(join(dir, 'file', 'state')), (err) => isHoistError(err, 'HOIST_IO'));
});

test('a holder that has not written its pid yet is reported as pid unknown', async (t) => {
  const dir = await stateDir(t);
  const lock = await acquireLock(dir);
  t.after(() => lock.release());
  await writeFile(lock.path, '');
  await assert.rejects(
    acquireLock(dir),
    (err) => isHoistError(err, 'HOIST_LOCKED') && err.message.includes('pid unknown') && err.details?.['pid'] === undefined,
  );
});

test('a missing flock(1) is a clear HOIST_IO error', async (t) => {
  const dir = await stateDir(t);
  const savedPath = process.env['PATH'];
  process.env['PATH'] = join(dir, 'empty-bin');
  try {
    await assert.rejects(acquireLock(dir), (err) => isHoistError(err, 'HOIST_IO') && err.message.includes('util-linux'));
  } finally {
    process.env['PATH'] = savedPath;
  }
  const lock = await acquireLock(dir);
  await lock.release();
});

test('a lock file naming a dead or reused pid does not name it as the holder', async (t) => {
  const dir = await stateDir(t);
  const lock = await acquireLock(dir);
  t.after(() => lock.release());
  const own = await processStartTime(process.pid);
  assert.match(own ?? '', /^\d+$/);
  assert.equal(await processStartTime(2 ** 30), null);
  // Our pid with another start time: a reused pid, not the holder.
  await writeFile(lock.path, JSON.stringify({ pid: process.pid, startTime: `${own ?? ''}9` }));
  await assert.rejects(acquireLock(dir), (err) => isHoistError(err, 'HOIST_LOCKED') && err.message.includes('pid unknown'));
  // Written where /proc was not readable: the pid is taken at its word.
  await writeFile(lock.path, JSON.stringify({ pid: 77, startTime: null }));
  await assert.rejects(acquireLock(dir), lockedBy(77));
});
