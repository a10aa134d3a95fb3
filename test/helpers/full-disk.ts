/**
 * Small file systems for full-disk tests. Each is an ext4 image (no reserved blocks, so root fills
 * it as anyone would) mounted only inside the private mount namespace of the process under test
 * (`unshare --mount`): when that process and its children end, the mount goes with them, so a
 * crashed test leaves no mount behind. The image itself is a file, so what the agent wrote
 * survives into its next start. Needs root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

export interface Mount {
  readonly image: string;
  readonly dir: string;
}

/** An empty ext4 image of `mib` MiB. */
export function makeImage(image: string, mib: number): void {
  execFileSync('truncate', ['-s', `${mib}M`, image]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
}

/** The argv prefix that runs a command with the images mounted (in a private mount namespace). */
export function inMountNamespace(mounts: readonly Mount[]): string[] {
  const script = [...mounts.map((_, i) => `mount -o loop "$${2 * i + 1}" "$${2 * i + 2}"`), `shift ${2 * mounts.length}`, 'exec "$@"'].join(' && ');
  return ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', ...mounts.flatMap((m) => [m.image, m.dir])];
}

/** Fills the file system of `dir` as the process `pid` sees it (its mount namespace). */
export function fillSeenBy(pid: number, dir: string, name = 'filler'): void {
  fill(path.join(`/proc/${pid}/root`, dir, name));
}

/**
 * Fills an image that no process has mounted (mounted for the moment in a namespace of its own):
 * to the last block, or with `kib` KiB.
 */
export function fillImage(mount: Mount, name = 'filler', kib?: number): void {
  const count = kib === undefined ? '' : ` count=${Math.ceil(kib / 4)}`;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', `mount -o loop "$1" "$2" && { dd if=/dev/zero of="$2/${name}" bs=4k${count} 2>/dev/null; sync; true; }`, 'sh', mount.image, mount.dir]);
  if (r.status !== 0) throw new Error(`could not fill ${mount.image}: ${r.stderr.toString()}`);
}

/** Frees what fillImage or fillSeenBy wrote. */
export function emptyImage(mount: Mount, name = 'filler'): void {
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', `mount -o loop "$1" "$2" && rm -f "$2/${name}"`, 'sh', mount.image, mount.dir]);
  if (r.status !== 0) throw new Error(`could not empty ${mount.image}: ${r.stderr.toString()}`);
}

/** Reads a file as `pid` sees it. */
export function seenBy(pid: number, file: string): string {
  return path.join(`/proc/${pid}/root`, file);
}

function fill(file: string): void {
  // dd stops at ENOSPC (exit 1): that is the point
  spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4k'], { stdio: 'ignore' });
  spawnSync('sync', ['-f', file], { stdio: 'ignore' });
}
