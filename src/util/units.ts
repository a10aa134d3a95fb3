/**
 * Durations (`200ms`, `2s`, `5m`, `1h`, `30d`) and sizes (`512`, `64KiB`, `4GiB`, `10MB`) as
 * written in the config, on the command line and in docs.
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/;

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? Number.NaN);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Bytes for a size string (or a plain non-negative integer), or undefined when it is not one. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * (SIZE_UNITS[m[2] ?? ''] ?? Number.NaN);
  return Number.isFinite(bytes) && bytes <= Number.MAX_SAFE_INTEGER ? Math.floor(bytes) : undefined;
}

/** `1536` → `1.5 KiB`; for progress lines and messages. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[i]}`;
}

/** Milliseconds as a duration string `parseDuration` reads back exactly: `7_776_000_000` → `90d`. */
export function exactDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNITS[unit] ?? 1;
    if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** `93_000` → `1m33s`; for ages in the status table and messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d`;
}
