/**
 * Mode normalisation for packed entries. Pure, so the rule is table-tested on its own.
 *
 * A release must not depend on the umask of the CI runner or carry privilege bits: directories are
 * 0755, files 0755 when any execute bit is set and 0644 otherwise; setuid, setgid and sticky are
 * never packed. Symlink modes mean nothing on Linux; they are written as 0755, as node-tar's
 * `portable` output (hoist's format before it wrote its own tar) had them.
 */

export type PackEntryType = 'file' | 'directory' | 'symlink';

export function normalisePackMode(type: PackEntryType, mode: number): number {
  switch (type) {
    case 'directory':
      return 0o755;
    case 'symlink':
      return 0o755;
    case 'file':
      return (mode & 0o111) !== 0 ? 0o755 : 0o644;
  }
}
