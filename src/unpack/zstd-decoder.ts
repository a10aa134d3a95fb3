/**
 * Decodes every frame of a zstd stream: zstd-frames.ts splits the input at frame boundaries and
 * leaves out skippable frames and padding; one decoder (node:zlib's, or the `zstd` process of
 * zstd-binary.ts) takes each data frame as writes of its own, and starts the next frame afresh
 * when one ends. (node:zlib's decoder stops, and drops the rest of a write, when a frame ends
 * inside it; it never does here.)
 *
 * The scanner's verdict is final: the stream fails with HOIST_ARCHIVE_TRUNCATED when the input
 * ends inside a frame, and with HOIST_UNPACK_FAILED on trailing data, before the decoder is told
 * the input has ended.
 */

import type { Duplex } from 'node:stream';
import { createZstdDecompress } from 'node:zlib';
import { HoistError } from '../errors.ts';
import { DecoderDuplex, decodeError } from './decoder-duplex.ts';
import { ZstdProcess } from './zstd-binary.ts';
import { ZstdFrameScanner } from './zstd-frames.ts';

export interface ZstdDecoderOptions {
  /** The `zstd` executable to run, or undefined for node:zlib's decoder. */
  readonly executable: string | undefined;
  readonly chunkSize: number;
  readonly signal?: AbortSignal | undefined;
}

export class ZstdDecoder extends DecoderDuplex {
  readonly #scanner = new ZstdFrameScanner();
  readonly #decoder: Duplex;
  /** _final's callback, once every frame is with the decoder. */
  #ending: ((error?: Error | null) => void) | undefined;

  constructor(options: ZstdDecoderOptions) {
    super(options);
    const { executable, chunkSize } = options;
    this.#decoder = executable === undefined ? createZstdDecompress({ chunkSize }) : new ZstdProcess(executable, { chunkSize });
    this.forward(this.#decoder);
    this.#decoder.on('error', (error: unknown) => this.destroy(decodeError('zstd', error)));
    this.#decoder.on('end', () => {
      const ending = this.#ending;
      if (ending === undefined) {
        this.destroy(new HoistError('HOIST_UNPACK_FAILED', 'the zstd decoder stopped before the end of the frames; the archive is corrupt, publish it again'));
        return;
      }
      this.push(null);
      ending();
    });
  }

  /** The `zstd` process's id when that decoder runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.#decoder instanceof ZstdProcess ? this.#decoder.pid : undefined;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let pieces;
    try {
      pieces = this.#scanner.scan(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    const last = pieces.pop();
    if (last === undefined) {
      callback();
      return;
    }
    // one write per piece: a write never holds the end of one frame and the start of the next
    for (const piece of pieces) this.#decoder.write(piece.bytes);
    // a failing decoder fails this stream through its 'error' event
    this.#decoder.write(last.bytes, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.#scanner.end();
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#ending = callback;
    this.#decoder.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#decoder.destroy();
    super._destroy(error, callback);
  }
}
