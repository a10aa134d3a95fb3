/**
 * A test hook for race tests: the process stops at a named step until the test lets it go, so an
 * attacker can act at exactly that point instead of hoping to win a race.
 *
 * `HOIST_TEST_PAUSE_AT=step[,step...]` and `HOIST_TEST_PAUSE_DIR=dir`: on reaching a listed step
 * the process writes `<dir>/<step>.paused` (its pid) and waits until `<dir>/<step>.resume`
 * exists, for at most two minutes. Unset (always, outside tests), it costs one environment lookup.
 * The directory must be writable by whoever pauses (an unprivileged worker too): tests use a
 * sticky, world-writable one.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MAX_WAIT_MS = 120_000;
const POLL_MS = 10;

export async function testPause(step: string): Promise<void> {
  const at = process.env.HOIST_TEST_PAUSE_AT;
  const dir = process.env.HOIST_TEST_PAUSE_DIR;
  if (at === undefined || dir === undefined || !at.split(',').includes(step)) return;
  writeFileSync(path.join(dir, `${step}.paused`), `${process.pid}\n`);
  const resume = path.join(dir, `${step}.resume`);
  for (let waited = 0; waited < MAX_WAIT_MS && !existsSync(resume); waited += POLL_MS) await sleep(POLL_MS);
}

/** The variables a child process needs to honour the same pauses. */
export function testPauseEnv(): Record<string, string> {
  const at = process.env.HOIST_TEST_PAUSE_AT;
  const dir = process.env.HOIST_TEST_PAUSE_DIR;
  return at === undefined || dir === undefined ? {} : { HOIST_TEST_PAUSE_AT: at, HOIST_TEST_PAUSE_DIR: dir };
}
