/**
 * Start-up check of each app root (like sshd's StrictModes): the agent, running as root, works by
 * path in `root/` and `root/releases/`, so neither they nor any directory above them may be
 * writable by anyone but root. Otherwise the app user (or anyone) could rename a directory the
 * agent is about to use and put a symlink in its place. A root-owned sticky directory such as
 * /tmp is fine as a parent: others may create entries in it but not replace ours.
 *
 * `judgeDir` is pure; `checkAppRoot` reads the file system and creates `root` and `releases/`
 * (owned by root, mode 0755) when they are missing, after their parents were found safe.
 */
import type { Stats } from 'node:fs';
import { lstat, mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.ts';

export interface DirFacts {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly isDirectory: boolean;
}

export type DirRole = 'root' | 'releases' | 'parent';

/** Why the directory is unsafe for its role, or undefined when it is safe. */
export function judgeDir(facts: DirFacts, role: DirRole, appUid: number | undefined): string | undefined {
  if (!facts.isDirectory) return 'is not a directory';
  if (facts.uid !== 0) return `is owned by ${facts.uid === appUid ? 'the app user' : 'a user other than root'} (uid ${facts.uid}), who can replace what is in it`;
  const sticky = (facts.mode & 0o1000) !== 0;
  if ((facts.mode & 0o002) !== 0 && !(role === 'parent' && sticky)) return `is writable by others (mode ${octal(facts.mode)})`;
  if ((facts.mode & 0o020) !== 0 && facts.gid !== 0) return `is writable by its group (gid ${facts.gid}, mode ${octal(facts.mode)})`;
  return undefined;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Every directory from `/` down to `dir`, outermost first. */
export function ancestry(dir: string): string[] {
  const out: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    out.unshift(p);
    if (p === path.dirname(p)) return out;
  }
}

/**
 * Refuses (HOIST_UNSAFE_ROOT) an app root, its releases/ or any parent that someone other than
 * root could write. Creates root and releases/ when missing. `where` names the config entry.
 */
export async function checkAppRoot(root: string, appUid: number | undefined, where: string): Promise<void> {
  const lexical = ancestry(root);
  // the deepest directory of the path that exists already (at least `/`)
  let existing = '/';
  for (const p of lexical) {
    if ((await lstatOrUndefined(p)) === undefined) break;
    existing = p;
  }
  // every parent, as written (a symlink among them is judged by where it leads) and as resolved
  for (const p of lexical) {
    if (p === root || !isAncestorOrSelf(p, existing)) continue;
    await judge(p, 'parent', appUid, where, root);
  }
  const resolved = await realpath(existing);
  for (const p of ancestry(resolved)) {
    if (p === resolved && existing === root) continue;
    await judge(p, 'parent', appUid, where, root);
  }
  await mkdir(root, { recursive: true, mode: 0o755 });
  await judge(await realpath(root), 'root', appUid, where, root);
  const releases = path.join(root, 'releases');
  await mkdir(releases, { recursive: true, mode: 0o755 });
  await judge(releases, 'releases', appUid, where, root);
}

function isAncestorOrSelf(p: string, of: string): boolean {
  return p === of || of.startsWith(p.endsWith('/') ? p : `${p}/`);
}

async function judge(p: string, role: DirRole, appUid: number | undefined, where: string, root: string): Promise<void> {
  const st = await lstatOrUndefined(p);
  if (st === undefined) return;
  // a symlink among the parents is judged by where it leads (its own mode means nothing)
  if (st.isSymbolicLink() && role === 'parent') return;
  const reason = judgeDir({ uid: st.uid, gid: st.gid, mode: st.mode, isDirectory: st.isDirectory() }, role, appUid);
  if (reason === undefined) return;
  const what = role === 'parent' ? `${p}, a parent of the app root ${root},` : role === 'releases' ? `${p} (the releases directory)` : `the app root ${p}`;
  throw new HoistError(
    'HOIST_UNSAFE_ROOT',
    `${where}: ${what} ${reason}; a local user could make the agent (root) write or delete through it. Make it owned by root and writable by root only: chown root:root ${p} && chmod go-w ${p}`,
    { details: { path: p, role, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 } },
  );
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
