/** A one-line upload progress meter on a TTY (bytes and rate); silent otherwise (CI logs). */
import { formatBytes } from '../util/units.ts';

export interface Progress {
  update(loaded: number, total: number): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream, label: string, now: () => number = () => performance.now()): Progress {
  if (stream.isTTY !== true) return { update() {}, done() {} };
  const started = now();
  let shown = false;
  return {
    update(loaded, total) {
      const seconds = Math.max((now() - started) / 1000, 0.001);
      stream.write(`\r${label} ${formatBytes(loaded)} / ${formatBytes(total)} (${formatBytes(Math.round(loaded / seconds))}/s)\u001b[K`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\n');
    },
  };
}
