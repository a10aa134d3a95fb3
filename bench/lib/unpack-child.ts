/**
 * The hoist side of the throughput benchmark, run in its own process like the agent is:
 *
 *   node bench/lib/unpack-child.ts deploy   '{"endpoint":..,"bucket":..,"key":..,"sha256":..,"size":..,"format":..,"work":..}'
 *   node bench/lib/unpack-child.ts unpack   '{"file":..,"format":..,"work":..}'
 *   node bench/lib/unpack-child.ts node-tar '{"file":..,"work":..}'
 *   node bench/lib/unpack-child.ts parse    '{"file":..,"format":..,"work":..}'
 *   node bench/lib/unpack-child.ts decode   '{"file":..,"format":..,"work":..}'
 *
 * `parse` decodes the archive with the unpack's decoder and reads it with node-tar's Parser
 * (strict, as the unpack does), writing nothing: what any unpack built on them pays first.
 * `decode` only decodes, so the difference is the Parser's.
 *
 * Prints one JSON line: wall milliseconds per phase and the CPU seconds of the whole process
 * (every thread, so the libuv pool doing zlib and fs work is counted) and of the children it
 * waited for (the `zstd` executable that decodes), as GNU tar's figure counts its compressor.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { x } from 'tar';
import { downloadArtifact } from '../../src/fetch/download.ts';
import type { ArtifactFormat } from '../../src/fetch/download.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive } from '../../src/unpack/unpack.ts';
import { decodeToNothing, parseToNothing } from './read-floor.ts';

interface Args {
  readonly endpoint?: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly sha256?: string;
  readonly size?: number;
  readonly format?: ArtifactFormat;
  readonly file?: string;
  /** A directory of its own; downloads and the staging dir go in there. */
  readonly work: string;
}

const [mode, json] = process.argv.slice(2);
const args = JSON.parse(json ?? '{}') as Args;
const phases: Record<string, number> = {};
const started = performance.now();
let mark = started;
const lap = (name: string): void => {
  const now = performance.now();
  phases[name] = now - mark;
  mark = now;
};

const dest = await mkdtemp(path.join(args.work, '.staging-'));
if (mode === 'deploy') {
  const s3 = new S3Client({ endpoint: args.endpoint ?? '', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const downloads = path.join(args.work, 'downloads');
  await mkdir(downloads, { recursive: true });
  const format = args.format ?? 'tar+gzip';
  const { path: file } = await downloadArtifact({ s3, bucket: args.bucket ?? '', key: args.key ?? '', sha256: args.sha256 ?? '', size: args.size ?? 0, format, dir: downloads });
  lap('fetch');
  await unpackArchive({ file, format, dest, limits: DEFAULT_UNPACK_LIMITS });
  lap('unpack');
  s3.destroy();
} else if (mode === 'unpack') {
  await unpackArchive({ file: args.file ?? '', format: args.format ?? 'tar+gzip', dest, limits: DEFAULT_UNPACK_LIMITS });
  lap('unpack');
} else if (mode === 'node-tar') {
  await x({ file: args.file ?? '', cwd: dest });
  lap('unpack');
} else if (mode === 'decode') {
  await decodeToNothing(args.file ?? '', args.format ?? 'tar+gzip');
  lap('unpack');
} else if (mode === 'parse') {
  await parseToNothing(args.file ?? '', args.format ?? 'tar+gzip');
  lap('unpack');
} else {
  throw new Error(`unknown mode ${mode ?? ''}`);
}

/** CPU seconds of the children waited for: cutime + cstime of /proc/self/stat, in clock ticks (100 a second on Linux). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3); cutime and cstime are fields 16 and 17
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

const usage = process.resourceUsage();
const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6 + childrenCpuSeconds();
process.stdout.write(`${JSON.stringify({ wallMs: performance.now() - started, phases, cpuSeconds })}\n`);
