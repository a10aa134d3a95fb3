/**
 * What the zstd and gzip decoders share: a Duplex whose output is that of an inner decoder (a
 * node:zlib stream or the zstd process), passed on with backpressure, and an optional AbortSignal
 * that destroys it (and so the inner decoder, and a child process) with the signal's reason.
 */

import { Duplex } from 'node:stream';
import type { Readable } from 'node:stream';
import { HoistError, isHoistError } from '../errors.ts';
import type { StreamFormat } from './stream-verdicts.ts';

export abstract class DecoderDuplex extends Duplex {
  #source: Readable | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;

  constructor(options: { readonly signal?: AbortSignal | undefined; readonly chunkSize: number }) {
    // one decoded chunk may wait in our buffer without pausing the decoder
    super({ readableHighWaterMark: options.chunkSize });
    const { signal } = options;
    this.#signal = signal;
    if (signal !== undefined) {
      const onAbort = (): void => {
        this.destroy(signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError'));
      };
      this.#onAbort = onAbort;
      if (signal.aborted) process.nextTick(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** Makes `source`'s output ours from now on; `observe` sees each chunk first. */
  protected forward(source: Readable, observe?: (chunk: Buffer) => void): void {
    this.#source = source;
    source.on('data', (chunk: Buffer) => {
      observe?.(chunk);
      if (!this.push(chunk)) source.pause();
    });
  }

  override _read(): void {
    this.#source?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    callback(error);
  }
}

/** An inner decoder's failure, as the HoistError the unpack reports (kept when it is one already). */
export function decodeError(format: StreamFormat, error: unknown): Error {
  if (isHoistError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new HoistError('HOIST_UNPACK_FAILED', `the ${format} data is corrupt: ${message}; publish it again`, { cause: error });
}
