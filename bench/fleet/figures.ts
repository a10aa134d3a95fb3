/** The fleet simulation's figures (one JSON line each) and its bounded wait. */
import { setTimeout as delay } from 'node:timers/promises';

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: number | null;
  readonly ratio: number | null;
}

export function figure(name: string, value: number, unit: string, baseline: number | null): Figure {
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { name, value: round(value), unit, baseline, ratio: baseline === null || baseline === 0 ? null : round(value / baseline) };
}

/** Polls `check` every 100 ms until it holds or `timeoutMs` passed; whether it holds. */
export async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await delay(100);
  }
  return check();
}
