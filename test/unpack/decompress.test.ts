/**
 * createDecompressor against streams made by the real `zstd`, `pzstd` and `gzip` CLIs and by hand:
 * both zstd decoders (node:zlib's and the `zstd` executable) give the bytes `zstd -dc` gives, and
 * reach the same verdict on cut streams and trailing data.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { isHoistError } from '../../src/errors.ts';
import type { HoistErrorCode } from '../../src/errors.ts';
import { DecompressionGuard, createDecompressor, zstdEngineFromEnv } from '../../src/unpack/decompress.ts';
import type { DecompressorOptions } from '../../src/unpack/decompress.ts';
import { findZstdBinary } from '../../src/unpack/zstd-binary.ts';
import { ZstdDecoder } from '../../src/unpack/zstd-decoder.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { rawFrame, skippableFrame } from './frame-builders.ts';

const run = promisify(execFile);

/** Runs a shell command in `cwd`; stdout as bytes. */
async function sh(cwd: string, command: string): Promise<Buffer> {
  const { stdout } = await run('bash', ['-c', `set -euo pipefail; ${command}`], { cwd, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Mixed content: incompressible runs, text and long repeats, so frames hold every block type. */
function mixed(bytes: number, seed: number): Buffer {
  const random = mulberry32(seed);
  const out = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; ) {
    const run = Math.min(bytes - at, 1 + Math.floor(random() * 20_000));
    const kind = random();
    for (let k = 0; k < run; k++) out[at + k] = kind < 0.3 ? Math.floor(random() * 256) : kind < 0.7 ? 0x61 + ((at + k) % 26) : 0x20;
    at += run;
  }
  return out;
}

/** Decodes `input` (fed in chunks of `chunk` bytes) and returns the output. */
async function decode(input: Buffer, format: 'tar+zstd' | 'tar+gzip', options: DecompressorOptions = {}, chunk = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  const chunks = Array.from({ length: Math.ceil(input.length / chunk) }, (_, k) => input.subarray(k * chunk, (k + 1) * chunk));
  await pipeline(
    Readable.from(chunks),
    createDecompressor(format, options),
    new Writable({
      write(data: Buffer, _encoding, callback) {
        parts.push(data);
        callback();
      },
    }),
  );
  return Buffer.concat(parts);
}

function rejectsWith(code: HoistErrorCode, message: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isHoistError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  };
}

/** Waits until the process is gone (killed and reaped), or fails after a generous deadline. */
async function gone(pid: number): Promise<void> {
  for (let k = 0; k < 500; k++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`process ${pid} still runs`);
}

/** Runs `fn` with the environment variable set, then puts it back. */
function withEnv<T>(name: string, value: string, fn: () => T): T {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

const ENGINES = ['node', 'binary'] as const;

describe('createDecompressor, zstd', () => {
  let dir = '';
  const files: Record<string, Buffer> = {};
  const expected: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-decompress-'));
    await writeFile(path.join(dir, 'a'), mixed(1_500_000, 1));
    await writeFile(path.join(dir, 'b'), mixed(700_000, 2));
    await writeFile(path.join(dir, 'big'), mixed(9_000_000, 3));
    await sh(dir, 'zstd -q -3 a -o a.zst && zstd -q -19 b -o b.zst && cat a.zst b.zst > cat.zst');
    await sh(dir, 'zstd -q --long a -o a.long.zst && cat a.long.zst b.zst > long.zst');
    // a tar cut in the middle of an entry, each half compressed on its own
    await sh(dir, 'mkdir t && cp a b t/ && tar -cf t.tar -C t . && n=$(( $(stat -c %s t.tar) / 2 + 100 )) && head -c $n t.tar | zstd -q -o h1.zst && tail -c +$(( n + 1 )) t.tar | zstd -q --no-check -o h2.zst && cat h1.zst h2.zst > split.zst');
    await sh(dir, 'pzstd -q -p 2 big -o pzstd.zst');
    await writeFile(path.join(dir, 'skip.zst'), Buffer.concat([skippableFrame('an index nobody reads', 0xa), await readFile(path.join(dir, 'a.zst'))]));
    for (const name of ['cat', 'long', 'split', 'pzstd', 'skip', 'a']) {
      files[name] = await readFile(path.join(dir, `${name === 'a' ? 'a' : name}.zst`));
      expected[name] = sha256(await sh(dir, `zstd -dc ${name}.zst`));
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('made real multi-frame streams: pzstd writes a skippable frame before each of several frames', async () => {
    assert.equal(expected['cat'], sha256(await sh(dir, 'cat a b')));
    assert.equal(expected['split'], sha256(await readFile(path.join(dir, 't.tar'))));
    assert.equal(expected['pzstd'], sha256(await readFile(path.join(dir, 'big'))));
    const pz = files['pzstd'] ?? Buffer.alloc(0);
    assert.equal(pz.readUInt32LE(0), 0x184d2a50, 'pzstd starts with a skippable frame');
    assert.ok(pz.indexOf(Buffer.from([0x50, 0x2a, 0x4d, 0x18]), 8) > 0, 'and has another one further on');
  });

  for (const engine of ENGINES) {
    const options = { zstd: engine } as const;
    for (const [name, what] of [
      ['cat', '`cat a.zst b.zst`'],
      ['long', 'a frame made by zstd --long (128 MiB window) followed by another'],
      ['split', 'a tar split across two frames (head -c / tail -c, each compressed, then cat)'],
      ['pzstd', "pzstd's output"],
      ['skip', 'a stream starting with a skippable frame'],
    ] as const) {
      it(`${engine}: decodes ${what} to the bytes zstd -dc gives`, async () => {
        assert.equal(sha256(await decode(files[name] ?? Buffer.alloc(0), 'tar+zstd', options)), expected[name]);
      });
    }

    it(`${engine}: decodes every frame whatever the input chunks, one byte at a time included`, async () => {
      const frames = Buffer.concat([rawFrame('one '), skippableFrame('x'), rawFrame(''), rawFrame('three')]);
      for (const chunk of [1, 3, 1024]) assert.equal((await decode(frames, 'tar+zstd', options, chunk)).toString(), 'one three');
    });

    it(`${engine}: says HOIST_ARCHIVE_TRUNCATED for a stream cut inside a frame header, a block, or before the checksum`, async () => {
      const a = files['a'] ?? Buffer.alloc(0);
      const second = files['cat']?.subarray(a.length) ?? Buffer.alloc(0);
      const cuts: ReadonlyArray<readonly [Buffer, RegExp]> = [
        [Buffer.concat([a, second.subarray(0, 5)]), /inside the header of frame 2/],
        [Buffer.concat([a, second.subarray(0, 200)]), /inside block 1 of frame 2/],
        [a.subarray(0, a.length - 4), /inside the content checksum of frame 1/],
        [a.subarray(0, a.length - 1), /inside the content checksum of frame 1/],
        [a.subarray(0, 3), /inside the magic number of frame 1/],
      ];
      for (const [bytes, message] of cuts) {
        await assert.rejects(decode(bytes, 'tar+zstd', options), rejectsWith('HOIST_ARCHIVE_TRUNCATED', message));
      }
    });

    it(`${engine}: accepts trailing zero bytes (zstd -dc does not) and refuses any other trailing byte`, async () => {
      const a = files['a'] ?? Buffer.alloc(0);
      await writeFile(path.join(dir, `zeros-${engine}.zst`), Buffer.concat([a, Buffer.alloc(4096)]));
      await assert.rejects(sh(dir, `zstd -dc zeros-${engine}.zst > /dev/null`), /unsupported format/);
      assert.equal(sha256(await decode(Buffer.concat([a, Buffer.alloc(4096)]), 'tar+zstd', options)), expected['a']);
      await assert.rejects(
        decode(Buffer.concat([a, Buffer.from('PADDING?')]), 'tar+zstd', options),
        rejectsWith('HOIST_UNPACK_FAILED', new RegExp(`^trailing data after the compressed archive: byte ${a.length} \\(0x50\\)`)),
      );
      await assert.rejects(decode(Buffer.concat([a, Buffer.alloc(10), a]), 'tar+zstd', options), rejectsWith('HOIST_UNPACK_FAILED', /trailing data after the compressed archive/));
    });

    it(`${engine}: refuses corrupt compressed data with HOIST_UNPACK_FAILED`, async () => {
      const a = Buffer.from(files['a'] ?? Buffer.alloc(0));
      const middle = Math.floor(a.length / 2);
      a[middle] = (a[middle] ?? 0) ^ 0x55;
      await assert.rejects(decode(a, 'tar+zstd', options), rejectsWith('HOIST_UNPACK_FAILED', engine === 'binary' ? /zstd -d exited with 1: .*(corrupt|checksum|Corrupt|error)/ : /the zstd data is corrupt/));
    });

    it(`${engine}: stops on abort with the signal's reason${engine === 'binary' ? ' and kills zstd' : ''}`, async () => {
      const controller = new AbortController();
      const decoder = createDecompressor('tar+zstd', { ...options, signal: controller.signal });
      const pid = decoder instanceof ZstdDecoder ? decoder.pid : undefined;
      assert.equal(pid === undefined, engine === 'node');
      const reason = new Error('shutting down');
      let seen = 0;
      const done = pipeline(
        Readable.from([files['pzstd'] ?? Buffer.alloc(0)]),
        decoder,
        new Writable({
          write(data: Buffer, _encoding, callback) {
            seen += data.length;
            if (seen > 100_000) controller.abort(reason);
            callback();
          },
        }),
      );
      await assert.rejects(done, (error: unknown) => error === reason);
      assert.ok(decoder.destroyed);
      if (pid !== undefined) await gone(pid);
    });
  }

  it('binary: a stream destroyed half way kills the zstd process', async () => {
    const decoder = createDecompressor('tar+zstd', { zstd: 'binary' });
    const pid = decoder instanceof ZstdDecoder ? decoder.pid : undefined;
    assert.ok(pid !== undefined);
    decoder.write((files['pzstd'] ?? Buffer.alloc(0)).subarray(0, 100_000));
    decoder.destroy();
    await gone(pid);
  });

  it('an aborted signal stops the stream before it starts', async () => {
    await assert.rejects(decode(files['a'] ?? Buffer.alloc(0), 'tar+zstd', { zstd: 'node', signal: AbortSignal.abort() }), { name: 'AbortError' });
  });
});

describe('createDecompressor, gzip', () => {
  let dir = '';
  let a = Buffer.alloc(0);
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-decompress-'));
    await writeFile(path.join(dir, 'a'), mixed(1_200_000, 4));
    await writeFile(path.join(dir, 'b'), mixed(300_000, 5));
    await sh(dir, 'gzip -k -6 a && gzip -k -n -9 b && cat a.gz b.gz > cat.gz');
    a = await readFile(path.join(dir, 'a.gz'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('decodes every member of `cat a.gz b.gz` to the bytes gzip -dc gives, in any chunks', async () => {
    const input = await readFile(path.join(dir, 'cat.gz'));
    const want = sha256(await sh(dir, 'gzip -dc cat.gz'));
    assert.equal(want, sha256(await sh(dir, 'cat a b')));
    for (const chunk of [1 << 20, 4096, 17]) assert.equal(sha256(await decode(input, 'tar+gzip', {}, chunk)), want);
  });

  it('says HOIST_ARCHIVE_TRUNCATED for a stream cut in a header, the deflate data or the trailer (today a generic zlib error)', async () => {
    for (const [bytes, message] of [
      [a.subarray(0, 5), /inside the header of member 1/],
      [a.subarray(0, Math.floor(a.length / 2)), /inside the compressed data of member 1/],
      [a.subarray(0, a.length - 3), /inside the trailer/],
      [Buffer.concat([a, a.subarray(0, 1)]), /inside the header of member 2/],
    ] as const) {
      await assert.rejects(decode(bytes, 'tar+gzip'), rejectsWith('HOIST_ARCHIVE_TRUNCATED', message));
    }
  });

  it('accepts trailing zero bytes (as gzip -dc does) and refuses any other trailing byte, as for zstd', async () => {
    const want = sha256(await sh(dir, 'cat a'));
    await writeFile(path.join(dir, 'zeros.gz'), Buffer.concat([a, Buffer.alloc(4096)]));
    assert.equal(sha256(await sh(dir, 'gzip -dc zeros.gz')), want);
    assert.equal(sha256(await decode(Buffer.concat([a, Buffer.alloc(4096)]), 'tar+gzip')), want);
    await assert.rejects(
      decode(Buffer.concat([a, Buffer.from('PADDING?')]), 'tar+gzip'),
      rejectsWith('HOIST_UNPACK_FAILED', new RegExp(`^trailing data after the compressed archive: byte ${a.length} \\(0x50\\)`)),
    );
    // node:zlib's gunzip dropped this member when the zeros and it arrived in one read
    await assert.rejects(decode(Buffer.concat([a, Buffer.alloc(2), gzipSync('more')]), 'tar+gzip'), rejectsWith('HOIST_UNPACK_FAILED', /trailing data after the compressed archive/));
  });

  it('refuses corrupt deflate data with HOIST_UNPACK_FAILED', async () => {
    const bad = Buffer.from(a);
    bad.fill(0xff, 100, 140);
    await assert.rejects(decode(bad, 'tar+gzip'), rejectsWith('HOIST_UNPACK_FAILED', /the gzip (data|archive) is corrupt/));
  });

  it('stops on abort with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const decoder = createDecompressor('tar+gzip', { signal: controller.signal });
    const done = pipeline(
      Readable.from([a]),
      decoder,
      new Writable({
        write(_data: Buffer, _encoding, callback) {
          controller.abort(reason);
          callback();
        },
      }),
    );
    await assert.rejects(done, (error: unknown) => error === reason);
  });
});

describe('choosing the zstd decoder', () => {
  it('reads HOIST_ZSTD: unset or empty is auto, an unknown value is refused', () => {
    assert.equal(zstdEngineFromEnv(undefined), 'auto');
    assert.equal(zstdEngineFromEnv(''), 'auto');
    for (const engine of ['node', 'binary', 'auto'] as const) assert.equal(zstdEngineFromEnv(engine), engine);
    assert.throws(() => zstdEngineFromEnv('fast'), (error: unknown) => isHoistError(error, 'HOIST_CONFIG_INVALID') && /HOIST_ZSTD must be one of node, binary, auto/.test(error.message));
  });

  it('follows HOIST_ZSTD when no option is given, and auto takes the executable when PATH has one', () => {
    const pidWith = (env: string): number | undefined =>
      withEnv('HOIST_ZSTD', env, () => {
        const decoder = createDecompressor('tar+zstd');
        decoder.destroy();
        return decoder instanceof ZstdDecoder ? decoder.pid : undefined;
      });
    assert.equal(pidWith('node'), undefined);
    assert.equal(typeof pidWith('binary'), 'number');
    assert.equal(typeof pidWith('auto'), 'number');
  });

  it('without zstd on PATH: auto decodes with node:zlib, binary is refused', () => {
    withEnv('PATH', path.join(os.tmpdir(), 'no-such-dir'), () => {
      const auto = createDecompressor('tar+zstd', { zstd: 'auto' });
      auto.destroy();
      assert.ok(auto instanceof ZstdDecoder && auto.pid === undefined);
      assert.throws(() => createDecompressor('tar+zstd', { zstd: 'binary' }), (error: unknown) => isHoistError(error, 'HOIST_CONFIG_INVALID') && /no zstd executable is on PATH/.test(error.message));
    });
  });

  it('finds zstd in absolute PATH entries only', () => {
    const system = findZstdBinary();
    assert.ok(system !== undefined && path.isAbsolute(system));
    assert.equal(findZstdBinary(['.', 'bin', ''].join(path.delimiter)), undefined);
    assert.equal(findZstdBinary([path.join(os.tmpdir(), 'nothing-here'), path.dirname(system)].join(path.delimiter)), system);
  });

  it('passes over a zstd that others could have written, or that lies in a directory they can write to', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-fake-zstd-'));
    try {
      const fake = path.join(dir, 'zstd');
      await writeFile(fake, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      assert.equal(findZstdBinary(dir), fake);
      await chmod(fake, 0o775);
      assert.equal(findZstdBinary(`${dir}${path.delimiter}`), undefined, 'group-writable file');
      await chmod(fake, 0o755);
      await chmod(dir, 0o777);
      assert.equal(findZstdBinary(`${dir}${path.delimiter}${path.delimiter}`), undefined, 'world-writable directory');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says how to do without a zstd that cannot be run', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-fake-zstd-'));
    try {
      await writeFile(path.join(dir, 'zstd'), '#!/nonexistent/interpreter\n', { mode: 0o755 });
      const decoder = withEnv('PATH', dir, () => createDecompressor('tar+zstd', { zstd: 'binary' }));
      await assert.rejects(
        pipeline(Readable.from([rawFrame('x')]), decoder, new Writable({ write: (_data, _encoding, callback) => callback() })),
        rejectsWith('HOIST_UNPACK_FAILED', /could not run .*zstd to decompress the archive: .*ENOENT.*; set HOIST_ZSTD=node to decode without it/),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reports a failing zstd's exit status and stderr", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-fake-zstd-'));
    try {
      await writeFile(path.join(dir, 'zstd'), '#!/bin/sh\ncat > /dev/null\necho "zstd: simulated failure" >&2\nexit 3\n', { mode: 0o755 });
      const decoder = withEnv('PATH', `${dir}${path.delimiter}/usr/bin${path.delimiter}/bin`, () => createDecompressor('tar+zstd', { zstd: 'binary' }));
      await assert.rejects(
        pipeline(Readable.from([rawFrame('x')]), decoder, new Writable({ write: (_data, _encoding, callback) => callback() })),
        rejectsWith('HOIST_UNPACK_FAILED', /zstd -d exited with 3: zstd: simulated failure; publish it again$/),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('DecompressionGuard', () => {
  async function guarded(chunks: readonly Buffer[]): Promise<Buffer> {
    const parts: Buffer[] = [];
    await pipeline(
      Readable.from(chunks),
      new DecompressionGuard(1 << 20, 200),
      new Writable({
        write(data: Buffer, _encoding, callback) {
          parts.push(data);
          callback();
        },
      }),
    );
    return Buffer.concat(parts);
  }

  it('refuses a second layer of compression even when its magic number comes split over several chunks', async () => {
    for (const chunks of [[Buffer.from([0x1f]), Buffer.from([0x8b, 0x08, 0x00])], [Buffer.from([0x28, 0xb5]), Buffer.from([0x2f]), Buffer.from([0xfd, 0x00])]]) {
      await assert.rejects(guarded(chunks), rejectsWith('HOIST_UNPACK_FAILED', /compressed twice/));
    }
  });

  it('refuses a second layer made of one-byte zstd frames, through the whole decoder', async () => {
    const frames = Buffer.concat([rawFrame(Buffer.from([0x1f])), rawFrame(Buffer.from([0x8b, 0x08, 0, 0, 0, 0]))]);
    const parts: Buffer[] = [];
    await assert.rejects(
      pipeline(
        Readable.from([frames]),
        createDecompressor('tar+zstd', { zstd: 'node' }),
        new DecompressionGuard(1 << 20, 200),
        new Writable({
          write(data: Buffer, _encoding, callback) {
            parts.push(data);
            callback();
          },
        }),
      ),
      rejectsWith('HOIST_UNPACK_FAILED', /compressed twice/),
    );
    assert.deepEqual(parts, []);
  });

  it('passes on streams shorter than a magic number, and everything after the head unchanged', async () => {
    assert.deepEqual(await guarded([Buffer.from('ab')]), Buffer.from('ab'));
    assert.deepEqual(await guarded([Buffer.from('a'), Buffer.from('bcdef'), Buffer.from('g')]), Buffer.from('abcdefg'));
    assert.deepEqual(await guarded([]), Buffer.alloc(0));
  });
});
