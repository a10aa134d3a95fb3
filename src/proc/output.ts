/**
 * Splits a child's stdout/stderr into lines for the log, and keeps the last few KiB of both for
 * error messages. Pure: fed chunks, never touches streams.
 */

/** Longest line passed on whole; longer runs without a newline are cut into pieces of this size. */
export const MAX_LINE_CHARS = 16 * 1024;
export const TAIL_CHARS = 4 * 1024;

export class OutputTail {
  #text = '';
  readonly #limit: number;

  constructor(limit = TAIL_CHARS) {
    this.#limit = limit;
  }

  push(line: string): void {
    const next = this.#text === '' ? line : `${this.#text}\n${line}`;
    this.#text = next.length > this.#limit ? next.slice(next.length - this.#limit) : next;
  }

  toString(): string {
    return this.#text;
  }
}

export class LineSplitter {
  #partial = '';
  readonly #emit: (line: string) => void;
  readonly #maxLine: number;

  constructor(emit: (line: string) => void, maxLine = MAX_LINE_CHARS) {
    this.#emit = emit;
    this.#maxLine = maxLine;
  }

  /** Feeds decoded text; emits every complete line (without its `\n` or `\r\n`). */
  write(text: string): void {
    let buffer = this.#partial + text;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      this.#emit(stripCr(buffer.slice(0, newline)));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
    while (buffer.length > this.#maxLine) {
      this.#emit(buffer.slice(0, this.#maxLine));
      buffer = buffer.slice(this.#maxLine);
    }
    this.#partial = buffer;
  }

  /** Emits what is left after the last newline, if anything. */
  end(): void {
    if (this.#partial !== '') this.#emit(stripCr(this.#partial));
    this.#partial = '';
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
