import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { constants, zstdCompressSync } from 'node:zlib';
import { isHoistError } from '../../src/errors.ts';
import type { HoistErrorCode } from '../../src/errors.ts';
import { ZstdFrameScanner } from '../../src/unpack/zstd-frames.ts';
import { rawFrame, skippableFrame, zstdFrame } from './frame-builders.ts';

interface Scanned {
  /** The bytes handed out for each data frame, joined. */
  readonly frames: Buffer[];
  /** How many pieces said their frame ended. */
  readonly ends: number;
  readonly skippable: number;
}

/** Scans `stream` cut at the given offsets, checks no piece spans two frames, and ends the scan. */
function scan(stream: Buffer, cuts: readonly number[] = []): Scanned {
  const scanner = new ZstdFrameScanner();
  const frames: Buffer[][] = [];
  let ends = 0;
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    for (const piece of scanner.scan(stream.subarray(from, cut))) {
      assert.ok(piece.bytes.length > 0, 'no empty pieces');
      assert.equal(frames.length >= piece.frame - 1, true, 'frames come in order');
      (frames[piece.frame - 1] ??= []).push(piece.bytes);
      if (piece.end) ends++;
    }
    from = cut;
  }
  scanner.end();
  return { frames: frames.map((parts) => Buffer.concat(parts)), ends, skippable: scanner.skippableFrames };
}

/** Runs `fn`, expecting a HoistError with this code whose message matches. */
function refused(fn: () => unknown, code: HoistErrorCode, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isHoistError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

const hello = Buffer.from('hello, frames');

const VALID: ReadonlyArray<readonly [string, Buffer]> = [
  ['one raw block, window descriptor, no content size', zstdFrame({ blocks: [{ type: 'raw', data: hello }] })],
  ['single segment with a 1-byte content size', zstdFrame({ singleSegment: true, contentSize: hello.length, blocks: [{ type: 'raw', data: hello }] })],
  ['single segment, empty content, one empty raw block', zstdFrame({ singleSegment: true, contentSize: 0, blocks: [{ type: 'raw', data: Buffer.alloc(0) }] })],
  ['2-byte content size (stored as size - 256)', zstdFrame({ contentSize: 300, blocks: [{ type: 'raw', data: Buffer.alloc(300, 1) }] })],
  ['4-byte content size', zstdFrame({ contentSize: hello.length, fcsBytes: 4, blocks: [{ type: 'raw', data: hello }] })],
  ['8-byte content size', zstdFrame({ contentSize: hello.length, fcsBytes: 8, blocks: [{ type: 'raw', data: hello }] })],
  ['an RLE block: one byte of content for 1,000 of output', zstdFrame({ blocks: [{ type: 'rle', byte: 0x41, size: 1000 }] })],
  [
    'raw, RLE and empty blocks, last one flagged',
    zstdFrame({ blocks: [{ type: 'raw', data: hello }, { type: 'rle', byte: 0, size: 1024 }, { type: 'raw', data: Buffer.alloc(0) }, { type: 'raw', data: hello }] }),
  ],
  ['a content checksum after the last block', zstdFrame({ blocks: [{ type: 'raw', data: hello }], checksum: Buffer.from([1, 2, 3, 4]) })],
  ['dictionary id fields of 1, 2 and 4 bytes holding 0 (no dictionary)', Buffer.concat(([1, 2, 4] as const).map((didBytes) => zstdFrame({ didBytes, blocks: [{ type: 'raw', data: hello }] })))],
  ['the largest window (128 MiB) and the largest block (128 KiB)', zstdFrame({ windowDescriptor: 17 << 3, blocks: [{ type: 'raw', data: Buffer.alloc(128 * 1024, 2) }] })],
  ['a window with a mantissa (1 KiB + 7/8)', zstdFrame({ windowDescriptor: 0x07, blocks: [{ type: 'raw', data: Buffer.alloc(1920, 3) }] })],
];

describe('ZstdFrameScanner', () => {
  for (const [name, frame] of VALID) {
    it(`reads ${name}`, () => {
      const { frames, ends } = scan(frame);
      assert.deepEqual(Buffer.concat(frames), frame, 'every byte of the frame is handed out, in order');
      assert.equal(ends, frames.length);
    });
  }

  it('reads the frames node:zlib writes, with and without a checksum, whatever their size', () => {
    for (const data of [Buffer.alloc(0), hello, randomBytes(300_000), Buffer.alloc(3_000_000, 0x61)]) {
      for (const checksum of [0, 1]) {
        const frame = zstdCompressSync(data, { params: { [constants.ZSTD_c_checksumFlag]: checksum } });
        const { frames } = scan(frame, [1, 7, Math.floor(frame.length / 2)].filter((c) => c < frame.length).sort((a, b) => a - b));
        assert.deepEqual(frames, [frame]);
      }
    }
  });

  const one = zstdFrame({ blocks: [{ type: 'raw', data: hello }, { type: 'rle', byte: 0x2e, size: 40 }], checksum: Buffer.from('csum') });
  const two = zstdFrame({ singleSegment: true, contentSize: 3, blocks: [{ type: 'raw', data: Buffer.from('two') }] });
  const empty = zstdFrame({ singleSegment: true, contentSize: 0, blocks: [{ type: 'raw', data: Buffer.alloc(0) }] });
  const stream = Buffer.concat([skippableFrame('pzstd index'), one, skippableFrame('', 0xf), two, empty, skippableFrame(Buffer.alloc(9)), Buffer.alloc(7)]);

  it('hands out each data frame on its own and leaves out skippable frames and padding, wherever the chunks are cut', () => {
    const expected = [one, two, empty];
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = scan(stream, [cut]);
      assert.deepEqual(got.frames, expected, `cut at ${cut}`);
      assert.equal(got.ends, 3);
      assert.equal(got.skippable, 3);
    }
    for (const size of [1, 2, 3, 5, 64]) {
      const cuts = Array.from({ length: Math.ceil(stream.length / size) }, (_, k) => k * size).slice(1);
      assert.deepEqual(scan(stream, cuts).frames, expected, `chunks of ${size} bytes`);
    }
  });

  it('accepts all sixteen skippable magic numbers', () => {
    const skippables = Array.from({ length: 16 }, (_, nibble) => skippableFrame(`payload ${nibble}`, nibble));
    assert.deepEqual(scan(Buffer.concat([...skippables, one])).frames, [one]);
  });

  // a frame laid out as: magic 0-3, descriptor 4, window 5, content size 6-9, block header 10-12,
  // raw block 13-17, block header 18-20, RLE byte 21, checksum 22-25; then a skippable frame:
  // magic 26-29, size 30-33, payload 34-38
  const laidOut = zstdFrame({ contentSize: 45, fcsBytes: 4, blocks: [{ type: 'raw', data: Buffer.from('abcde') }, { type: 'rle', byte: 0x2e, size: 40 }], checksum: Buffer.from('sum!') });
  const withSkippable = Buffer.concat([laidOut, skippableFrame('index')]);
  const TRUNCATED: ReadonlyArray<readonly [string, number, RegExp]> = [
    ['inside the magic number', 2, /ends at byte 2, inside the magic number of frame 1/],
    ['after the magic number', 4, /inside the header of frame 1/],
    ['inside the content size', 8, /inside the header of frame 1/],
    ['inside the first block header', 11, /inside block 1 of frame 1/],
    ['inside a raw block', 15, /inside block 1 of frame 1/],
    ['between two blocks', 18, /inside block 2 of frame 1/],
    ['before the RLE byte', 21, /inside block 2 of frame 1/],
    ['before the checksum', 22, /inside the content checksum of frame 1/],
    ['inside the checksum', 24, /inside the content checksum of frame 1/],
    ['inside the magic number of the next frame', 28, /inside the magic number of frame 2/],
    ['inside the size of a skippable frame', 31, /inside frame 2, a skippable frame/],
    ['inside the payload of a skippable frame', 35, /inside frame 2, a skippable frame/],
  ];
  for (const [name, cut, message] of TRUNCATED) {
    it(`says truncated when the stream ends ${name}`, () => {
      assert.equal(laidOut.length, 26);
      refused(() => scan(withSkippable.subarray(0, cut)), 'HOIST_ARCHIVE_TRUNCATED', message);
    });
  }

  it('says truncated at every cut inside a frame, and at none between frames', () => {
    const pair = Buffer.concat([laidOut, two]);
    for (let cut = 0; cut <= pair.length; cut++) {
      const bytes = pair.subarray(0, cut);
      if (cut === laidOut.length || cut === pair.length) assert.equal(scan(bytes).frames.length, cut === pair.length ? 2 : 1);
      else refused(() => scan(bytes, [Math.floor(cut / 2)]), 'HOIST_ARCHIVE_TRUNCATED', /zstd archive ends at byte \d+/);
    }
  });

  const CORRUPT: ReadonlyArray<readonly [string, Buffer, RegExp]> = [
    ['the reserved bit of the header descriptor', zstdFrame({ reservedBit: true, blocks: [{ type: 'raw', data: hello }] }), /corrupt at byte 4: the reserved bit/],
    ['the reserved block type', zstdFrame({ blocks: [{ type: 'reserved', size: 4 }] }), /block 1 of frame 1 has the reserved block type/],
    ['a raw block larger than the window', zstdFrame({ windowDescriptor: 0x00, blocks: [{ type: 'raw', data: Buffer.alloc(1025) }] }), /declares 1025 bytes, over the frame's block maximum of 1024/],
    ['an RLE block larger than the window', zstdFrame({ windowDescriptor: 0x00, blocks: [{ type: 'rle', byte: 1, size: 5000 }] }), /declares 5000 bytes, over the frame's block maximum of 1024/],
    ['a block larger than 128 KiB', zstdFrame({ windowDescriptor: 17 << 3, blocks: [{ type: 'rle', byte: 1, size: 128 * 1024 + 1 }] }), /over the frame's block maximum of 131072/],
    ['a block larger than a single segment', zstdFrame({ singleSegment: true, contentSize: 3, blocks: [{ type: 'raw', data: Buffer.from('four') }] }), /block maximum of 3/],
    ['a dictionary', zstdFrame({ dictionary: 0x1234, blocks: [{ type: 'raw', data: hello }] }), /needs zstd dictionary 4660/],
    ['a 256 MiB window (zstd --long=28)', zstdFrame({ windowDescriptor: 18 << 3, blocks: [{ type: 'raw', data: hello }] }), /needs a 256 MiB window, over the 128 MiB/],
    ['a single segment over 128 MiB', zstdFrame({ singleSegment: true, contentSize: 2 ** 27 + 1, fcsBytes: 4, blocks: [] }), /needs a 128 MiB window/],
  ];
  for (const [name, frame, message] of CORRUPT) {
    it(`refuses ${name}`, () => {
      refused(() => scan(frame), 'HOIST_UNPACK_FAILED', message);
    });
  }

  const after = one.length;
  const TAILS: ReadonlyArray<readonly [string, Buffer, HoistErrorCode | 'ok', RegExp]> = [
    ['zero padding after the last frame', Buffer.concat([one, Buffer.alloc(1000)]), 'ok', /./],
    ['text after the last frame', Buffer.concat([one, Buffer.from('junk')]), 'HOIST_UNPACK_FAILED', new RegExp(`trailing data after the compressed archive: byte ${after} \\(0x6a\\)`)],
    ['a frame after zero padding', Buffer.concat([one, Buffer.alloc(3), two]), 'HOIST_UNPACK_FAILED', new RegExp(`trailing data after the compressed archive: byte ${after + 3} \\(0x28\\)`)],
    ['a non-zero byte far into the padding', Buffer.concat([one, Buffer.alloc(5000), Buffer.from([1])]), 'HOIST_UNPACK_FAILED', new RegExp(`byte ${after + 5000} \\(0x01\\)`)],
    ['a magic number going wrong in its third byte', Buffer.concat([one, Buffer.from([0x28, 0xb5, 0x00, 0xfd])]), 'HOIST_UNPACK_FAILED', /trailing data after the compressed archive/],
    ['the first bytes of a magic number, then the end', Buffer.concat([one, Buffer.from([0x28, 0xb5])]), 'HOIST_ARCHIVE_TRUNCATED', /inside the magic number of frame 2/],
    ['a tar, not zstd at all', Buffer.from('ustar\0'), 'HOIST_UNPACK_FAILED', /not zstd-compressed: it starts with 0x75/],
    ['zero bytes from the start', Buffer.alloc(512), 'HOIST_UNPACK_FAILED', /not zstd-compressed: it starts with 0x00/],
    ['no bytes at all', Buffer.alloc(0), 'HOIST_ARCHIVE_TRUNCATED', /ends at byte 0, before its first zstd frame/],
    ['a skippable frame and nothing else', skippableFrame('x'), 'HOIST_ARCHIVE_TRUNCATED', /before its first zstd frame/],
    ['a skippable frame, then zero padding', Buffer.concat([skippableFrame('x'), Buffer.alloc(4)]), 'HOIST_ARCHIVE_TRUNCATED', /before its first zstd frame/],
  ];
  for (const [name, bytes, verdict, message] of TAILS) {
    it(`${verdict === 'ok' ? 'accepts' : 'refuses'} ${name}, in one chunk or byte by byte`, () => {
      const bytewise = Array.from({ length: bytes.length }, (_, k) => k).slice(1);
      for (const cuts of [[], bytewise]) {
        if (verdict === 'ok') assert.deepEqual(scan(bytes, cuts).frames, [one]);
        else refused(() => scan(bytes, cuts), verdict, message);
      }
    });
  }

  it('hands out a magic number split across chunks as a copy, and the rest in place', () => {
    const scanner = new ZstdFrameScanner();
    const frame = rawFrame('split');
    assert.deepEqual(scanner.scan(frame.subarray(0, 3)), []);
    const pieces = scanner.scan(frame.subarray(3));
    assert.deepEqual(
      pieces.map((p) => [p.bytes.toString('hex'), p.end]),
      [
        [frame.subarray(0, 3).toString('hex'), false],
        [frame.subarray(3).toString('hex'), true],
      ],
    );
    assert.equal(pieces[1]?.bytes.buffer, frame.buffer, 'a subarray of the chunk, not a copy');
    scanner.end();
    assert.equal(scanner.dataFrames, 1);
  });
});
