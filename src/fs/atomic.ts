/**
 * Crash-safe file replacement: after a power cut the path holds either the old or the new
 * content, never a mix. Write a temp file in the same directory (rename is only atomic within one
 * filesystem), fsync it, rename it over the target, then fsync the directory so the rename itself
 * is durable.
 */
import { open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { HoistError } from '../errors.ts';

export interface WriteFileAtomicOptions {
  /** File mode of the new file (default 0o644, before the umask). */
  readonly mode?: number;
  /** Group of the new file (the owner stays whoever writes it). */
  readonly gid?: number;
}

/** Replaces `path` with `data` atomically and durably. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      // The umask may have narrowed the mode given to open(); chmod makes it exact.
      if (options.gid !== undefined) await handle.chown(-1, options.gid);
      if (options.mode !== undefined) await handle.chmod(options.mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new HoistError('HOIST_NO_SPACE', `Could not write ${path}: the disk is full (${describe(err)}). Free space on it.`, { cause: err, details: { path } });
    }
    throw new HoistError('HOIST_IO', `Could not write ${path}: ${describe(err)}. Check free space and permissions.`, {
      cause: err,
      details: { path },
    });
  }
  await fsyncDir(dir);
}

/** Flushes a directory's entries (creations, renames, removals) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    throw new HoistError('HOIST_IO', `Could not fsync directory ${dir}: ${describe(err)}.`, {
      cause: err,
      details: { path: dir },
    });
  } finally {
    await handle?.close();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
