/**
 * Global set-up of `npm test` (node --test-global-setup): the local users and groups of the
 * privilege tests, made once for the whole run and removed at its end (only what this run made).
 * Their names end in a suffix of this run, handed to the test processes through the environment,
 * so runs side by side on one machine keep to their own users. Needs root, as CI runs; without
 * it nothing is made and the privilege tests say so.
 */
import { execFileSync } from 'node:child_process';

// set before the helpers read it: they name the users from it
process.env.HOIST_TEST_USER_SUFFIX ??= `-${process.pid.toString(36)}`;
const { APP_USER, EXTRA_GROUP, OTHER_USER, READER_GROUP, READER_USER } = await import('../helpers/users.ts');

const madeUsers: string[] = [];
const madeGroups: string[] = [];

function exists(db: 'passwd' | 'group', name: string): boolean {
  try {
    execFileSync('getent', [db, name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function group(name: string): void {
  if (exists('group', name)) return;
  execFileSync('groupadd', ['--system', name]);
  madeGroups.push(name);
}

function user(name: string, groups: string[]): void {
  if (exists('passwd', name)) return;
  execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', ...(groups.length > 0 ? ['--groups', groups.join(',')] : []), name]);
  madeUsers.push(name);
}

export function globalSetup(): void {
  if (process.getuid?.() !== 0) return;
  group(EXTRA_GROUP);
  group(READER_GROUP);
  user(APP_USER, [EXTRA_GROUP]);
  user(OTHER_USER, []);
  user(READER_USER, [READER_GROUP]);
}

export function globalTeardown(): void {
  for (const name of madeUsers.splice(0)) execFileSync('userdel', [name], { stdio: 'ignore' });
  for (const name of madeGroups.splice(0)) {
    try {
      execFileSync('groupdel', [name], { stdio: 'ignore' });
    } catch {
      // a group someone else has joined meanwhile stays
    }
  }
}
