/**
 * The throw-away local users of the privilege tests, made once per test run by the global set-up
 * (test/setup/global.ts, `useradd` takes a lock: never per test) and removed at its end. Their
 * names carry a suffix of the run (HOIST_TEST_USER_SUFFIX, set by the set-up for the test
 * processes it starts), so two runs on one machine never remove each other's users.
 *
 * - APP_USER: an app's user, and the attacker in race tests (a real process with its uid);
 *   a member of EXTRA_GROUP, so hooks can be checked for supplementary groups;
 * - OTHER_USER: another app's user;
 * - READER_USER: a member of READER_GROUP (stands for the `hoist` group: reads `status --local`).
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';

const suffix = process.env.HOIST_TEST_USER_SUFFIX ?? '';

export const APP_USER = `hoist-t-app${suffix}`;
export const OTHER_USER = `hoist-t-other${suffix}`;
export const READER_USER = `hoist-t-reader${suffix}`;
export const EXTRA_GROUP = `hoist-t-extra${suffix}`;
export const READER_GROUP = `hoist-t-readers${suffix}`;

export interface LocalUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** The user, asserting the run is privileged and the global set-up made it. */
export function localUser(name: string): LocalUser {
  assert.equal(process.getuid?.(), 0, 'privilege tests run as root (CI does); run npm test as root');
  const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  const [, , uid, gid] = line.split(':');
  assert.ok(uid !== undefined && gid !== undefined, `the global test set-up made no user ${name}`);
  return { name, uid: Number(uid), gid: Number(gid) };
}

export function groupId(name: string): number {
  const line = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
  return Number(line.split(':')[2]);
}
