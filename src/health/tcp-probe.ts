/** One TCP health probe: does anything accept a connection on host:port. */
import { connect } from 'node:net';
import { formatDuration } from '../util/units.ts';
import type { ProbeOptions, ProbeResult } from './spec.ts';

/** `127.0.0.1:8080`, `localhost:80`, `[::1]:8080` → host and port, or undefined. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

export function probeTcp(target: string, options: ProbeOptions): Promise<ProbeResult> {
  const address = parseHostPort(target);
  if (!address) return Promise.resolve({ ok: false, detail: `not a host:port: ${JSON.stringify(target)}` });
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const socket = connect(address);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      settle();
    };
    const onAbort = (): void => finish(() => reject(signal?.reason as Error));
    const timer = setTimeout(
      () => finish(() => resolve({ ok: false, detail: `timed out after ${formatDuration(options.timeoutMs)}` })),
      options.timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish(() => resolve({ ok: true, detail: `connected to ${target}` })));
    socket.once('error', (error) => finish(() => resolve({ ok: false, detail: error.message })));
  });
}
