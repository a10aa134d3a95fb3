import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BLOCK, SimpleHeaders, encodeHeader } from '../../src/pack/header.ts';
import type { TarEntryHeader } from '../../src/pack/header.ts';
import { mulberry32 } from '../helpers/prng.ts';

const EPOCH = new Date(0);

function simple(h: TarEntryHeader): Buffer | undefined {
  // a dirty buffer: the writer must not rely on zeros
  const buf = Buffer.alloc(3 * BLOCK, 0xaa);
  return new SimpleHeaders(h.mtime).write(buf, BLOCK, h) ? buf.subarray(BLOCK, 2 * BLOCK) : undefined;
}

describe('SimpleHeaders', () => {
  it('writes exactly the block node-tar writes, for the entries it takes', () => {
    const table: TarEntryHeader[] = [
      { name: 'README', type: 'file', mode: 0o644, size: 6, mtime: EPOCH },
      { name: 'bin/', type: 'directory', mode: 0o755, size: 0, mtime: EPOCH },
      { name: 'bin/app', type: 'file', mode: 0o755, size: 0, mtime: new Date('2024-01-02T03:04:05Z') },
      { name: 'bin/data', type: 'symlink', mode: 0o755, size: 0, mtime: EPOCH, linkpath: '../lib/deep/data.json' },
      { name: 'x'.repeat(99), type: 'file', mode: 0o644, size: 1, mtime: EPOCH },
      { name: 'l', type: 'symlink', mode: 0o755, size: 0, mtime: EPOCH, linkpath: 'y'.repeat(100) },
      // sizes either side of the switch from "10 digits, space, NUL" to "11 digits, NUL"
      { name: 'big', type: 'file', mode: 0o644, size: 8 ** 10 - 1, mtime: EPOCH },
      { name: 'bigger', type: 'file', mode: 0o644, size: 8 ** 10, mtime: EPOCH },
      { name: 'largest', type: 'file', mode: 0o644, size: 8 ** 11 - 1, mtime: EPOCH },
      { name: 'frac', type: 'file', mode: 0o644, size: 3, mtime: new Date(1_700_000_000_750) },
      { name: 'late', type: 'file', mode: 0o644, size: 3, mtime: new Date((8 ** 11 - 1) * 1000) },
    ];
    for (const h of table) assert.deepEqual(simple(h), encodeHeader(h), h.name);
  });

  it('agrees with node-tar on random short ASCII entries', () => {
    const random = mulberry32(17);
    const pick = (s: string): string => s[Math.floor(random() * s.length)] ?? 'a';
    const chars = 'abcdefghijklmnopqrstuvwxyz0123456789._-@+~ ';
    for (let i = 0; i < 500; i++) {
      const len = 1 + Math.floor(random() * 98);
      let name = '';
      for (let j = 0; j < len; j++) name += j > 0 && random() < 0.1 ? '/' : pick(chars);
      const type = (['file', 'directory', 'symlink'] as const)[i % 3] ?? 'file';
      const h: TarEntryHeader = {
        name: type === 'directory' ? `${name.slice(0, 98)}/` : name,
        type,
        mode: type === 'file' && random() < 0.5 ? 0o644 : 0o755,
        size: type === 'file' ? Math.floor(random() ** 4 * (8 ** 11 - 1)) : 0,
        mtime: new Date(Math.floor(random() * 2 ** 31) * 1000),
        ...(type === 'symlink' ? { linkpath: 'target/'.repeat(1 + Math.floor(random() * 14)) } : {}),
      };
      assert.deepEqual(simple(h), encodeHeader(h), JSON.stringify(h));
    }
  });

  it('splits long names into the ustar prefix exactly as node-tar does', () => {
    const random = mulberry32(23);
    let split = 0;
    for (let i = 0; i < 2000; i++) {
      // components of 1-120 characters, 100-300 characters in all, directories with their '/'
      let name = '';
      const target = 100 + Math.floor(random() * 200);
      while (name.length < target) name += `${name === '' ? '' : '/'}${'abcdefgh'[i % 8] ?? 'a'}${'n'.repeat(Math.floor(random() ** 2 * 120))}`;
      const type = random() < 0.3 ? 'directory' : 'file';
      const h: TarEntryHeader = { name: type === 'directory' ? `${name}/` : name, type, mode: 0o644, size: 5, mtime: EPOCH };
      const mine = simple(h);
      if (mine === undefined) continue;
      split += 1;
      assert.deepEqual(mine, encodeHeader(h), h.name);
    }
    assert.ok(split > 500, `only ${split} names took the prefix`);
  });

  it('leaves to node-tar what needs a pax header or a base-256 number', () => {
    const refused: TarEntryHeader[] = [
      { name: 'x'.repeat(100), type: 'file', mode: 0o644, size: 1, mtime: EPOCH },
      { name: `${'x'.repeat(99)}/`, type: 'directory', mode: 0o755, size: 0, mtime: EPOCH },
      { name: `${'p'.repeat(156)}/${'q'.repeat(10)}`, type: 'file', mode: 0o644, size: 1, mtime: EPOCH },
      { name: `${'p'.repeat(10)}/${'q'.repeat(101)}`, type: 'file', mode: 0o644, size: 1, mtime: EPOCH },
      { name: `${'p'.repeat(60)}/${'ü'.repeat(60)}`, type: 'file', mode: 0o644, size: 1, mtime: EPOCH },
      { name: 'ünï', type: 'file', mode: 0o644, size: 1, mtime: EPOCH },
      { name: 'l', type: 'symlink', mode: 0o755, size: 0, mtime: EPOCH, linkpath: 'y'.repeat(101) },
      { name: 'l', type: 'symlink', mode: 0o755, size: 0, mtime: EPOCH, linkpath: 'tärget' },
      { name: 'huge', type: 'file', mode: 0o644, size: 8 ** 11, mtime: EPOCH },
      { name: 'old', type: 'file', mode: 0o644, size: 1, mtime: new Date(-1000) },
      { name: 'future', type: 'file', mode: 0o644, size: 1, mtime: new Date(8 ** 11 * 1000) },
    ];
    for (const h of refused) {
      assert.equal(simple(h), undefined, h.name);
      const bytes = encodeHeader(h);
      assert.equal(bytes.length % BLOCK, 0, h.name);
    }
    // a pax header first for what ustar cannot hold
    const pax = encodeHeader({ name: `${'a'.repeat(200)}/f`, type: 'file', mode: 0o644, size: 1, mtime: EPOCH });
    assert.equal(pax.length, 3 * BLOCK);
    assert.equal(String.fromCharCode(pax[156] ?? 0), 'x');
    // a name that only needs the ustar prefix gets no pax header
    const name = `${'p'.repeat(60)}/${'q'.repeat(60)}`;
    const prefixed = simple({ name, type: 'file', mode: 0o644, size: 1, mtime: EPOCH });
    assert.equal(prefixed?.subarray(345, 406).toString(), `${'p'.repeat(60)}\0`);
    assert.equal(prefixed?.subarray(0, 61).toString(), `${'q'.repeat(60)}\0`);
  });
});
