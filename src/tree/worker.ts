/**
 * The tree worker: `hoist tree-worker REQUEST` (hidden), started by the agent (root) to act
 * inside an app's tree with the app user's rights only. Before it reads anything of the tree it
 * takes on the app user's identity for good: its supplementary groups (initgroups), then its
 * group, then its uid, and checks that root cannot be regained. From then on a hostile archive
 * or a hostile local user racing it can get no more than the app user already has.
 *
 * The request is one JSON argument; the archive to unpack, when there is one, is stdin (opened
 * by the agent, so the user needs no access to the agent's state). The answer is one JSON line
 * on stdout: `{"ok":true,"result":…}` or `{"ok":false,"code":…,"message":…}`.
 *
 * Everything it runs is imported statically: once the identity is dropped it may not be able to
 * read hoist's own files.
 */
import { z } from 'zod';
import { HoistError, isHoistError, toHoistError } from '../errors.ts';
import { emptyOwnTree, fillStaging, makeSharedDirs } from './ops.ts';

const limitsSchema = z.object({
  entries: z.number(),
  unpackedBytes: z.number(),
  maxDepth: z.number(),
  maxDecompressionRatio: z.number(),
});

const userSchema = z.object({ uid: z.int().min(1), gid: z.int().min(0), name: z.string().min(1) });

export const workerRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('fill-staging'),
    user: userSchema,
    dest: z.string(),
    format: z.enum(['tar+gzip', 'tar+zstd']),
    limits: limitsSchema,
    allowSymlinks: z.boolean(),
    releasesDir: z.string(),
    sharedRoot: z.string(),
    shared: z.array(z.string()),
  }),
  z.object({ op: z.literal('empty'), user: userSchema, path: z.string() }),
  z.object({ op: z.literal('shared-dirs'), user: userSchema, sharedRoot: z.string(), shared: z.array(z.string()) }),
]);

export type WorkerRequest = z.input<typeof workerRequestSchema>;

/** Becomes `user` for good; throws when that did not fully happen. */
export function dropPrivileges(user: { uid: number; gid: number; name: string }): void {
  const p = posix();
  if (p.getuid() !== 0) {
    // already unprivileged (tests run the worker directly as the app user): only ever as that user
    if (p.getuid() !== user.uid) throw new HoistError('HOIST_INTERNAL', `the tree worker runs as uid ${p.getuid()}, not the app user's ${user.uid}`);
    return;
  }
  p.initgroups(user.name, user.gid);
  p.setgid(user.gid);
  p.setuid(user.uid);
  let regained = false;
  try {
    p.setuid(0);
    regained = true;
  } catch {
    // expected: no way back
  }
  if (regained || p.getuid() !== user.uid || p.geteuid() !== user.uid || p.getgid() !== user.gid || p.getegid() !== user.gid) {
    throw new HoistError('HOIST_INTERNAL', `the tree worker could not drop to uid ${user.uid} gid ${user.gid}; refusing to go on`);
  }
}

type Posix = Required<Pick<NodeJS.Process, 'getuid' | 'geteuid' | 'getgid' | 'getegid' | 'setuid' | 'setgid' | 'initgroups'>>;

/** The POSIX identity calls, which Node only has on POSIX systems (hoist runs on Linux). */
function posix(): Posix {
  const { getuid, geteuid, getgid, getegid, setuid, setgid, initgroups } = process;
  if (getuid === undefined || geteuid === undefined || getgid === undefined || getegid === undefined || setuid === undefined || setgid === undefined || initgroups === undefined) {
    throw new HoistError('HOIST_INTERNAL', 'the tree worker needs a POSIX system');
  }
  return {
    getuid: getuid.bind(process),
    geteuid: geteuid.bind(process),
    getgid: getgid.bind(process),
    getegid: getegid.bind(process),
    setuid: setuid.bind(process),
    setgid: setgid.bind(process),
    initgroups: initgroups.bind(process),
  };
}

export async function runWorker(text: string): Promise<void> {
  let answer: unknown;
  try {
    const request = workerRequestSchema.parse(JSON.parse(text));
    dropPrivileges(request.user);
    if (request.op === 'fill-staging') {
      answer = { ok: true, result: await fillStaging({ ...request, sealed: false }, { fd: 0 }) };
    } else if (request.op === 'empty') {
      await emptyOwnTree(request.path);
      answer = { ok: true, result: null };
    } else {
      await makeSharedDirs(request.sharedRoot, request.shared);
      answer = { ok: true, result: null };
    }
  } catch (error) {
    const e = isHoistError(error) ? error : toHoistError(error, ioCode(error));
    answer = { ok: false, code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) };
    process.exitCode = 1;
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

function ioCode(error: unknown): 'HOIST_IO' | 'HOIST_NO_SPACE' | 'HOIST_INTERNAL' {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'HOIST_NO_SPACE';
  return typeof code === 'string' && code.startsWith('E') ? 'HOIST_IO' : 'HOIST_INTERNAL';
}
