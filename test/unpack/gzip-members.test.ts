import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { isHoistError } from '../../src/errors.ts';
import type { HoistErrorCode } from '../../src/errors.ts';
import { GzipMemberScanner } from '../../src/unpack/gzip-members.ts';
import { gzipMember } from './frame-builders.ts';
import type { MemberSpec } from './frame-builders.ts';

interface Laid {
  readonly bytes: Buffer;
  /** Each member's deflate data, as offsets into bytes, and what it inflates to. */
  readonly members: ReadonlyArray<{ readonly start: number; readonly end: number; readonly data: Buffer }>;
}

/** Members one after another, then `tail`. */
function lay(specs: readonly MemberSpec[], tail: Buffer = Buffer.alloc(0)): Laid {
  const parts: Buffer[] = [];
  const members: Array<{ start: number; end: number; data: Buffer }> = [];
  let at = 0;
  for (const spec of specs) {
    const { bytes, deflate } = gzipMember(spec);
    members.push({ start: at + deflate.start, end: at + deflate.end, data: Buffer.from(spec.data) });
    parts.push(bytes);
    at += bytes.length;
  }
  return { bytes: Buffer.concat([...parts, tail]), members };
}

/**
 * Feeds `laid.bytes` (cut at `cuts`) to a scanner, playing the inflater's part: it passes over
 * each member's deflate data and reports its end, as the decoder does. Returns the members read.
 */
function drive(laid: Laid, cuts: readonly number[] = [], length = laid.bytes.length): number {
  const scanner = new GzipMemberScanner();
  let member = 0;
  let from = 0;
  for (const cut of [...cuts, length]) {
    const chunk = laid.bytes.subarray(from, cut);
    let i = 0;
    while (i < chunk.length) {
      if (!scanner.inDeflate) {
        i = scanner.take(chunk, i);
        continue;
      }
      const { end, data } = laid.members[member] ?? assert.fail('deflate data where no member was laid');
      const n = Math.min(end - from, chunk.length) - i;
      scanner.deflate(n);
      i += n;
      if (from + i === end) {
        scanner.deflateEnded(crc32(data), data.length);
        member++;
      }
    }
    from = cut;
  }
  scanner.end();
  return scanner.members;
}

function refused(fn: () => unknown, code: HoistErrorCode, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isHoistError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

const everyCut = (bytes: Buffer): number[][] => Array.from({ length: bytes.length + 1 }, (_, k) => [k]);

const VALID: ReadonlyArray<readonly [string, MemberSpec]> = [
  ['a bare header', { data: 'hello' }],
  ['an empty member', { data: '' }],
  ['a file name', { data: 'hello', name: 'release.tar' }],
  ['a comment', { data: 'hello', comment: 'built by CI' }],
  ['an extra field', { data: 'hello', extra: Buffer.from('AP\x04\x00abcd', 'latin1') }],
  ['an empty extra field', { data: 'hello', extra: Buffer.alloc(0) }],
  ['a header CRC', { data: 'hello', headerCrc: true }],
  ['every optional field and FTEXT', { data: 'hello', name: 'n', comment: 'c', extra: Buffer.from('xy'), headerCrc: true, flags: 0x01 }],
  ['200 KB of random data', { data: randomBytes(200_000) }],
];

describe('GzipMemberScanner', () => {
  for (const [name, spec] of VALID) {
    it(`reads a member with ${name}, however the chunks are cut`, () => {
      const laid = lay([spec]);
      for (const cuts of laid.bytes.length < 100 ? everyCut(laid.bytes) : [[], [1], [9], [10], [laid.bytes.length - 4]]) {
        assert.equal(drive(laid, cuts), 1, `cut at ${cuts.join()}`);
      }
    });
  }

  it('reads members one after another, then zero padding, however the chunks are cut', () => {
    const laid = lay([{ data: 'one', name: 'a' }, { data: '' }, { data: 'three', headerCrc: true }], Buffer.alloc(20));
    for (const cuts of everyCut(laid.bytes)) assert.equal(drive(laid, cuts), 3);
    const bytewise = Array.from({ length: laid.bytes.length - 1 }, (_, k) => k + 1);
    assert.equal(drive(laid, bytewise), 3);
  });

  const CORRUPT: ReadonlyArray<readonly [string, MemberSpec, RegExp]> = [
    ['a compression method other than deflate', { data: 'x', method: 7 }, /corrupt at byte 2: member 1 uses compression method 7, not deflate/],
    ['reserved header flags', { data: 'x', flags: 0x20 }, /corrupt at byte 3: member 1 has reserved header flags set/],
    ['a header CRC that does not match', { data: 'x', name: 'n', headerCrc: false }, /corrupt at byte 12: the header CRC of member 1 does not match/],
    ['a trailer CRC-32 that does not match the data', { data: 'hello', crc: 1 }, /the CRC-32 of member 1 does not match its data/],
    ['a trailer size that does not match the data', { data: 'hello', isize: 6 }, /member 1 inflated to 5 bytes, its trailer says 6/],
  ];
  for (const [name, spec, message] of CORRUPT) {
    it(`refuses ${name}`, () => {
      refused(() => drive(lay([spec])), 'HOIST_UNPACK_FAILED', message);
    });
  }

  // header 0-9, extra length 10-11, extra 12-15, name 16-18 ("ab\0"), header CRC 19-20, deflate from 21
  const full = lay([{ data: 'hello', extra: Buffer.from('wxyz'), name: 'ab', headerCrc: true }]);
  const [{ start, end } = { start: 0, end: 0 }] = full.members;
  const TRUNCATED: ReadonlyArray<readonly [string, number, RegExp]> = [
    ['inside the magic number', 1, /ends at byte 1, inside the header of member 1/],
    ['inside the fixed header', 6, /ends at byte 6, inside the header of member 1/],
    ['inside the extra field length', 11, /inside the header of member 1/],
    ['inside the extra field', 14, /inside the header of member 1/],
    ['inside the file name', 17, /inside the header of member 1/],
    ['inside the header CRC', 20, /inside the header of member 1/],
    ['at the start of the deflate data', start, /inside the compressed data of member 1/],
    ['inside the deflate data', start + 2, /inside the compressed data of member 1/],
    ['inside the trailer', end + 3, /ends at byte \d+, inside the trailer \(CRC-32 and size\) of member 1/],
  ];
  for (const [name, cut, message] of TRUNCATED) {
    it(`says truncated when the stream ends ${name}`, () => {
      assert.equal(start, 21);
      refused(() => drive(full, [Math.floor(cut / 2)], cut), 'HOIST_ARCHIVE_TRUNCATED', message);
    });
  }

  const one = lay([{ data: 'one' }]).bytes;
  const two = lay([{ data: 'two' }]).bytes;
  const n = one.length;
  const TAILS: ReadonlyArray<readonly [string, Buffer, HoistErrorCode | 'ok', RegExp]> = [
    ['zero padding after the last member', Buffer.concat([one, Buffer.alloc(1000)]), 'ok', /./],
    ['text after the last member', Buffer.concat([one, Buffer.from('junk')]), 'HOIST_UNPACK_FAILED', new RegExp(`trailing data after the compressed archive: byte ${n} \\(0x6a\\) follows the last complete gzip member`)],
    ['a member after zero padding', Buffer.concat([one, Buffer.alloc(2), two]), 'HOIST_UNPACK_FAILED', new RegExp(`byte ${n + 2} \\(0x1f\\)`)],
    ['a non-zero byte far into the padding', Buffer.concat([one, Buffer.alloc(5000), Buffer.from([7])]), 'HOIST_UNPACK_FAILED', new RegExp(`byte ${n + 5000} \\(0x07\\)`)],
    ['a gzip magic number going wrong in its second byte', Buffer.concat([one, Buffer.from([0x1f, 0x00, 0, 0])]), 'HOIST_UNPACK_FAILED', /trailing data after the compressed archive/],
    ['the first byte of a magic number, then the end', Buffer.concat([one, Buffer.from([0x1f])]), 'HOIST_ARCHIVE_TRUNCATED', /inside the header of member 2/],
    ['a tar, not gzip at all', Buffer.from('ustar\0'), 'HOIST_UNPACK_FAILED', /not gzip-compressed: it starts with 0x75/],
    ['zero bytes from the start', Buffer.alloc(512), 'HOIST_UNPACK_FAILED', /not gzip-compressed: it starts with 0x00/],
    ['no bytes at all', Buffer.alloc(0), 'HOIST_ARCHIVE_TRUNCATED', /ends at byte 0, before its first gzip member/],
  ];
  for (const [name, bytes, verdict, message] of TAILS) {
    it(`${verdict === 'ok' ? 'accepts' : 'refuses'} ${name}, in one chunk or byte by byte`, () => {
      const laid: Laid = { bytes, members: lay([{ data: 'one' }]).members };
      const bytewise = Array.from({ length: bytes.length }, (_, k) => k).slice(1);
      for (const cuts of [[], bytewise]) {
        if (verdict === 'ok') assert.equal(drive(laid, cuts), 1);
        else refused(() => drive(laid, cuts), verdict, message);
      }
    });
  }

  it('refuses to hear of a deflate end outside deflate data (a decoder bug)', () => {
    assert.throws(() => new GzipMemberScanner().deflateEnded(0, 0), /outside deflate data/);
  });
});
