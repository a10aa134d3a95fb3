/** Resolves the `user:` of an app to the uid/gid its hooks run as. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { HoistError } from '../errors.ts';

export interface ResolvedUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** One `name:x:uid:gid:gecos:home:shell` line, or undefined when it is not one. */
export function parsePasswdLine(line: string): ResolvedUser | undefined {
  const fields = line.split(':');
  if (fields.length < 7) return undefined;
  const [name, , uid, gid, , home] = fields;
  if (!name || !uid || !gid || home === undefined) return undefined;
  if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home };
}

/** Finds `name` in a passwd file's text (by name, or by uid when `name` is numeric). */
export function findInPasswd(text: string, name: string): ResolvedUser | undefined {
  for (const line of text.split('\n')) {
    const user = parsePasswdLine(line);
    if (user && (user.name === name || String(user.uid) === name)) return user;
  }
  return undefined;
}

/**
 * Looks the user up with `getent passwd` (so NSS sources such as LDAP or sssd count), falling
 * back to /etc/passwd where getent is missing. An unknown user is a config error.
 */
export async function resolveUser(name: string, passwdFile = '/etc/passwd'): Promise<ResolvedUser> {
  if (name === '' || name.includes(':') || name.includes('\n')) throw unknownUser(name);
  const line = await getent(name);
  const user = line === undefined ? findInPasswd(await readPasswd(passwdFile), name) : parsePasswdLine(line);
  if (!user) throw unknownUser(name);
  return user;
}

/** The getent output line, '' when getent says "not found", undefined when getent cannot run. */
function getent(name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('getent', ['passwd', '--', name], { timeout: 10_000 }, (error, stdout) => {
      if (!error) return resolve(stdout.split('\n')[0] ?? '');
      // Exit status 2 is "key not found"; anything else (ENOENT, timeout) → use the file.
      resolve(typeof error.code === 'number' && error.code === 2 ? '' : undefined);
    });
  });
}

async function readPasswd(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new HoistError('HOIST_IO', `Cannot read ${file} to look up users: ${(error as Error).message}.`, {
      cause: error,
    });
  }
}

function unknownUser(name: string): HoistError {
  return new HoistError(
    'HOIST_CONFIG_INVALID',
    `apps[].user: no such user ${JSON.stringify(name)} on this host. Create it (useradd --system) or fix the config.`,
    { details: { user: name } },
  );
}

/** The gid of a group name (or a numeric gid as is), from /etc/group; unknown → HOIST_CONFIG_INVALID. */
export async function resolveGroup(name: string, groupFile = '/etc/group'): Promise<number> {
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  if (/^\d+$/.test(name)) return Number(name);
  throw new HoistError('HOIST_CONFIG_INVALID', `group "${name}" does not exist on this host; create it or fix apps[].group`);
}
