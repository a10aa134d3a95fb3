/**
 * Reading values out of untrusted JSON (status reports are unsigned; manifests are read before
 * anything verifies them): every accessor returns undefined for a missing or mistyped field, and
 * cuts strings so one hostile object cannot fill the page.
 */

/** Longest text kept from one field: error messages are the longest legitimate ones. */
export const MAX_TEXT = 500;

export type Json = Record<string, unknown>;

export function record(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** A string field, cut to `max` characters (with an ellipsis); undefined when it is not a string. */
export function text(value: unknown, max = MAX_TEXT): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length > max ? `${value.slice(0, max - 1)}\u2026` : value;
}

/** A finite number, or undefined. */
export function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Milliseconds since the epoch of an ISO time string, or undefined when it is not one. */
export function time(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Parses JSON bytes; undefined when they are not UTF-8 JSON. */
export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}
