/**
 * Decodes every member of a gzip stream: gzip-members.ts reads each member's header and trailer,
 * a fresh raw inflater takes its deflate data and says where that data ends (it stops taking
 * input there), and the trailer's CRC-32 and size are checked against what it inflated.
 *
 * The scanner's verdict is final, as for zstd: HOIST_ARCHIVE_TRUNCATED when the input ends inside
 * a member, HOIST_UNPACK_FAILED on trailing data (stream-verdicts.ts).
 */

import { createInflateRaw, crc32 } from 'node:zlib';
import type { InflateRaw } from 'node:zlib';
import { DecoderDuplex, decodeError } from './decoder-duplex.ts';
import { GzipMemberScanner } from './gzip-members.ts';

export interface GzipDecoderOptions {
  readonly chunkSize: number;
  readonly signal?: AbortSignal | undefined;
}

interface Member {
  readonly inflater: InflateRaw;
  /** Settles when the inflater has passed on its last byte. */
  readonly ended: Promise<void>;
  crc: number;
  size: number;
}

export class GzipDecoder extends DecoderDuplex {
  readonly #scanner = new GzipMemberScanner();
  readonly #chunkSize: number;
  #member: Member | undefined;

  constructor(options: GzipDecoderOptions) {
    super(options);
    this.#chunkSize = options.chunkSize;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#consume(chunk).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  async #consume(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (!this.#scanner.inDeflate) {
        at = this.#scanner.take(chunk, at);
        continue;
      }
      const member = (this.#member ??= this.#open());
      const piece = at === 0 ? chunk : chunk.subarray(at);
      const used = await inflate(member.inflater, piece);
      this.#scanner.deflate(used);
      at += used;
      // an inflater takes all it is given until its deflate data ends
      if (used < piece.length) await this.#endMember(member);
    }
  }

  #open(): Member {
    const inflater = createInflateRaw({ chunkSize: this.#chunkSize });
    const member: Member = { inflater, ended: new Promise((resolve) => inflater.once('end', resolve)), crc: 0, size: 0 };
    inflater.on('error', (error: unknown) => this.destroy(decodeError('gzip', error)));
    this.forward(inflater, (chunk) => {
      member.crc = crc32(chunk, member.crc);
      member.size += chunk.length;
    });
    return member;
  }

  async #endMember(member: Member): Promise<void> {
    await member.ended;
    this.#scanner.deflateEnded(member.crc, member.size);
    member.inflater.destroy();
    this.#member = undefined;
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.#scanner.end();
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#member?.inflater.destroy();
    super._destroy(error, callback);
  }
}

/** Writes `piece` to the inflater; resolves to how many of its bytes the inflater took. */
function inflate(inflater: InflateRaw, piece: Buffer): Promise<number> {
  const before = inflater.bytesWritten;
  return new Promise((resolve, reject) => {
    inflater.write(piece, (error) => {
      if (error) reject(error);
      else resolve(inflater.bytesWritten - before);
    });
  });
}
