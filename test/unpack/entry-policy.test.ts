import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HoistErrorCode } from '../../src/errors.ts';
import { isHoistError } from '../../src/errors.ts';
import { EntryPolicy } from '../../src/unpack/entry-policy.ts';
import type { EntryFacts } from '../../src/unpack/entry-policy.ts';
import { DEFAULT_UNPACK_LIMITS, RATIO_FLOOR_BYTES, ratioBudget } from '../../src/unpack/limits.ts';

const policy = (allowSymlinks = true, compressedSize = 1000): EntryPolicy =>
  new EntryPolicy({ limits: { ...DEFAULT_UNPACK_LIMITS, maxDepth: 4 }, allowSymlinks, compressedSize });

const file = (path: string, size = 1): EntryFacts => ({ path, type: 'File', size });
const link = (path: string, linkpath: string): EntryFacts => ({ path, type: 'SymbolicLink', size: 0, linkpath });

describe('EntryPolicy', () => {
  // expected: the normalised path, or the code of the error it throws
  const cases: [string, EntryFacts, string][] = [
    ['plain file', file('a/b'), 'a/b'],
    ['./ prefix', file('./a/b'), 'a/b'],
    ['archive root', { path: './', type: 'Directory', size: 0 }, '.'],
    ['OldFile', { path: 'x', type: 'OldFile', size: 1 }, 'x'],
    ['ContiguousFile', { path: 'x', type: 'ContiguousFile', size: 1 }, 'x'],
    ['directory with a size', { path: 'd/', type: 'Directory', size: 1e15 }, 'd'],
    ['symlink inside', link('a/l', '../b'), 'a/l'],
    ['file as the root', file('./'), 'HOIST_UNSAFE_ENTRY'],
    ['..', file('../x'), 'HOIST_UNSAFE_ENTRY'],
    ['inner ..', file('a/../../x'), 'HOIST_UNSAFE_ENTRY'],
    ['absolute', file('/etc/x'), 'HOIST_UNSAFE_ENTRY'],
    ['drive', file('C:x'), 'HOIST_UNSAFE_ENTRY'],
    ['backslash root', file('\\\\server\\x'), 'HOIST_UNSAFE_ENTRY'],
    ['symlink absolute', link('l', '/etc'), 'HOIST_UNSAFE_ENTRY'],
    ['symlink drive', link('l', 'c:/x'), 'HOIST_UNSAFE_ENTRY'],
    ['symlink escaping', link('a/l', '../../x'), 'HOIST_UNSAFE_ENTRY'],
    ['symlink to ..', link('l', '..'), 'HOIST_UNSAFE_ENTRY'],
    ['hardlink', { path: 'h', type: 'Link', size: 0, linkpath: 'a' }, 'HOIST_UNSAFE_ENTRY'],
    ['char device', { path: 'c', type: 'CharacterDevice', size: 0 }, 'HOIST_UNSAFE_ENTRY'],
    ['FIFO', { path: 'p', type: 'FIFO', size: 0 }, 'HOIST_UNSAFE_ENTRY'],
    ['sparse', { path: 's', type: 'SparseFile', size: 0 }, 'HOIST_UNSAFE_ENTRY'],
    ['too deep', file('a/b/c/d/e'), 'HOIST_UNPACK_LIMIT'],
    ['deep but fine with ./ and //', file('./a//b/c/d'), 'a/b/c/d'],
    ['huge declared size', file('big', 2 ** 40), 'HOIST_UNPACK_LIMIT'],
  ];
  for (const [name, entry, expected] of cases) {
    it(name, () => {
      const p = policy();
      if (expected.startsWith('HOIST_')) {
        assert.throws(() => p.admit(entry), (e: unknown) => isHoistError(e, expected as HoistErrorCode));
      } else {
        assert.equal(p.admit(entry), expected);
      }
    });
  }

  it('refuses symlinks when they are not allowed', () => {
    assert.throws(() => policy(false).admit(link('l', 'a')), (e: unknown) => isHoistError(e, 'HOIST_UNSAFE_ENTRY'));
  });

  it('refuses an entry below an earlier symlink', () => {
    const p = policy();
    p.admit(link('a/l', 'b'));
    assert.throws(() => p.admit(file('a/l/x')), (e: unknown) => isHoistError(e, 'HOIST_UNSAFE_ENTRY') && /through the symlink a\/l/.test(e.message));
  });

  it('counts entries and bytes, and stops at the entries cap', () => {
    const p = new EntryPolicy({ limits: { ...DEFAULT_UNPACK_LIMITS, entries: 2 }, allowSymlinks: false, compressedSize: 10 });
    p.admit(file('a', 5));
    p.admit({ path: 'd/', type: 'Directory', size: 0 });
    assert.deepEqual([p.entries, p.bytes, [...p.topLevel]], [2, 5, ['a', 'd']]);
    assert.throws(() => p.admit(file('b')), (e: unknown) => isHoistError(e, 'HOIST_UNPACK_LIMIT') && e.details?.['limit'] === 'entries');
  });

  it('applies the ratio cap to declared bytes beyond the floor', () => {
    assert.equal(ratioBudget(10, DEFAULT_UNPACK_LIMITS), RATIO_FLOOR_BYTES);
    assert.equal(ratioBudget(1e6, DEFAULT_UNPACK_LIMITS), 2e8);
    const p = policy(false, 1000);
    p.admit(file('fits', RATIO_FLOOR_BYTES));
    assert.throws(() => p.admit(file('over', 1)), (e: unknown) => isHoistError(e, 'HOIST_UNPACK_LIMIT') && e.details?.['limit'] === 'maxDecompressionRatio');
  });
});
