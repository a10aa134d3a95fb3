/** What every benchmark gets from the runner. */
import type { Figure } from './figures.ts';

export interface BenchContext {
  /** Reduced sizes and durations (`npm run bench -- quick`). */
  readonly quick: boolean;
  /** A scratch directory on the file system under test, removed by the runner. */
  readonly work: string;
  /** Progress lines (stderr), so stdout stays the table. */
  log(message: string): void;
}

export interface Bench {
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}
