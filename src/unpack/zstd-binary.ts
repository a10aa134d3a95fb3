/**
 * The host's `zstd` executable as a decoder stream, as GNU tar uses it: `zstd -d -c`, compressed
 * frames in on stdin, the tar out on stdout, in a process of its own (or as the compressor of
 * `hoist pack`, mode `compress`). It unpacked the 200 MB bench
 * tree in 0.60-0.85x the wall time of node:zlib's decoder, for about 15 % more CPU (the pipes);
 * decoding alone, without the unpack's writing to overlap with, it is no faster (docs/performance.md).
 *
 * It only ever sees the data frames zstd-frames.ts has read (no skippable frames, no padding), so
 * truncation and trailing data are judged by the scanner, exactly as on the node:zlib path. What it
 * refuses itself (corrupt blocks, a wrong content checksum) fails the stream with HOIST_UNPACK_FAILED
 * and its stderr. Destroying the stream (an error, an abort) kills the process.
 */

import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { HoistError } from '../errors.ts';

/** What is kept of the process's stderr for the error message. */
const STDERR_LIMIT = 4096;

const found = new Map<string, string | undefined>();

/**
 * The first executable `zstd` on `searchPath` (PATH by default) that only root or this user can
 * have written, looked up once per PATH value. The agent runs it on every zstd unpack, as root: a
 * `zstd` in a directory others can write to (or a relative PATH entry) is passed over.
 */
export function findZstdBinary(searchPath: string = process.env['PATH'] ?? ''): string | undefined {
  if (found.has(searchPath)) return found.get(searchPath);
  let hit: string | undefined;
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '' || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, 'zstd');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile() && onlyOursToWrite(candidate) && onlyOursToWrite(dir)) {
        hit = candidate;
        break;
      }
    } catch {
      // not here
    }
  }
  found.set(searchPath, hit);
  return hit;
}

/** Owned by root or by us, and not writable by group or others (as sshd's StrictModes asks). */
function onlyOursToWrite(file: string): boolean {
  const st = statSync(file);
  return (st.mode & 0o022) === 0 && (st.uid === 0 || st.uid === process.geteuid?.());
}

export interface ZstdProcessOptions {
  readonly chunkSize: number;
  /** `decompress` (the default): `zstd -d -c`; `compress`: `zstd -<level> -c`, as `tar --zstd` runs it. */
  readonly mode?: 'decompress' | 'compress';
  /** Compression level, with mode `compress` (default 3, zstd's own). */
  readonly level?: number;
  /**
   * A file descriptor the process writes its output to itself, instead of a pipe back to us: the
   * stream then yields no data and ends when the process has exited 0. `hoist pack` hands it the
   * archive's temp file, which saves a copy of every compressed byte through this process.
   */
  readonly output?: number;
}

export class ZstdProcess extends Duplex {
  readonly #child: ChildProcessByStdio<Writable, Readable | null, Readable>;
  readonly #executable: string;
  readonly #compress: boolean;
  #stderr = '';

  constructor(executable: string, options: ZstdProcessOptions) {
    super({ readableHighWaterMark: options.chunkSize });
    this.#executable = executable;
    this.#compress = options.mode === 'compress';
    const args = this.#compress ? [`-${options.level ?? 3}`, '-c', '-q', '--no-progress'] : ['-d', '-c', '--no-progress'];
    this.#child =
      options.output === undefined
        ? spawn(executable, args, { stdio: ['pipe', 'pipe', 'pipe'] })
        : // @types/node has no overload for a descriptor in the tuple: stdin and stderr are pipes, stdout is not ours
          (spawn(executable, args, { stdio: ['pipe', options.output, 'pipe'] }) as ChildProcessByStdio<Writable, null, Readable>);
    const child = this.#child;
    // a decoder that quits early closes its stdin: the exit status and stderr say why, not EPIPE
    child.stdin.on('error', () => {});
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (this.#stderr.length < STDERR_LIMIT) this.#stderr = (this.#stderr + text).slice(0, STDERR_LIMIT);
    });
    const stdout = child.stdout;
    stdout?.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) stdout.pause();
    });
    child.on('error', (error) => {
      const message = this.#compress
        ? `could not run ${executable} to compress the archive: ${error.message}; set HOIST_ZSTD=node to compress without it`
        : `could not run ${executable} to decompress the archive: ${error.message}; set HOIST_ZSTD=node to decode without it`;
      this.destroy(new HoistError(this.#compress ? 'HOIST_PACK_FAILED' : 'HOIST_UNPACK_FAILED', message, { cause: error }));
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        this.push(null);
        return;
      }
      const why = this.#stderr.trim().replace(/\s+/g, ' ');
      const status = `${code ?? signal ?? 'nothing'}${why === '' ? '' : `: ${why}`}`;
      const details = { exitCode: code, signal, stderr: this.#stderr };
      this.destroy(
        this.#compress
          ? new HoistError('HOIST_PACK_FAILED', `${this.#executable} exited with ${status} while compressing the archive; set HOIST_ZSTD=node to compress without it`, { details })
          : new HoistError('HOIST_UNPACK_FAILED', `the zstd data is corrupt: ${this.#executable} -d exited with ${status}; publish it again`, { details }),
      );
    });
  }

  /** The decoder's process id, while it runs. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // the pipe's own backpressure: the callback waits until the process has taken the bytes
    this.#child.stdin.write(chunk, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#child.stdin.end();
    callback();
  }

  override _read(): void {
    this.#child.stdout?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdin.destroy();
    child.stdout?.destroy();
    callback(error);
  }
}
