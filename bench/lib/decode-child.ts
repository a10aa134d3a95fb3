/**
 * The hoist side of the decode benchmark, in a process of its own:
 *
 *   node bench/lib/decode-child.ts decode '{"file":..,"format":..,"engine":"node"|"binary"|"zlib"}'
 *   node bench/lib/decode-child.ts unpack '{"file":..,"format":..,"engine":"node"|"binary","work":..}'
 *
 * `decode` decompresses the archive to nothing (createDecompressor with HOIST_ZSTD=engine, or
 * `zlib`: node:zlib's decoder alone, as hoist decoded before it read frames itself); `unpack` runs
 * the full unpackArchive. Prints one JSON line: wall milliseconds, bytes decoded, and the CPU
 * seconds of this process and of the children it waited for (the `zstd` process included).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type { ArchiveFormat } from '../../src/pack/pack.ts';
import { createDecompressor } from '../../src/unpack/decompress.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';

interface Args {
  readonly file: string;
  readonly format: ArchiveFormat;
  readonly engine: 'node' | 'binary' | 'zlib';
  readonly work?: string;
}

const CLOCK_TICKS = 100;
const DECOMPRESS_CHUNK = 512 * 1024;

/** CPU seconds of the children this process has waited for (cutime + cstime). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[13]) + Number(rest[14])) / CLOCK_TICKS;
}

const [mode, json] = process.argv.slice(2);
const args = JSON.parse(json ?? '{}') as Args;
if (args.engine !== 'zlib') process.env['HOIST_ZSTD'] = args.engine;
let bytes = 0;
const started = performance.now();
if (mode === 'decode') {
  const decoder =
    args.engine === 'zlib'
      ? args.format === 'tar+zstd'
        ? createZstdDecompress({ chunkSize: DECOMPRESS_CHUNK })
        : createGunzip({ chunkSize: DECOMPRESS_CHUNK })
      : createDecompressor(args.format);
  await pipeline(
    createReadStream(args.file, { highWaterMark: 1024 * 1024 }),
    decoder,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback();
      },
    }),
  );
} else if (mode === 'unpack') {
  const dest = await mkdtemp(path.join(args.work ?? '', '.staging-'));
  bytes = (await unpackArchive({ file: args.file, format: args.format, dest, limits: DEFAULT_UNPACK_LIMITS })).bytes;
} else {
  throw new Error(`unknown mode ${mode ?? ''}`);
}
const wallMs = performance.now() - started;
const usage = process.resourceUsage();
process.stdout.write(`${JSON.stringify({ wallMs, bytes, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 + childrenCpuSeconds() })}\n`);
