/**
 * `createMetrics(config)`: the agent's Prometheus metrics as an AgentObserver, exported the way
 * `metrics` says: an HTTP endpoint (`listen`) or a node_exporter textfile (`textfile`). The
 * entry point creates it when `metrics` is set and closes it on the way out.
 */
import type { AgentObserver } from '../agent/observer.ts';
import type { Log } from '../agent/types.ts';
import { HoistError, toHoistError } from '../errors.ts';
import { parseListen } from './address.ts';
import { createFamilies } from './families.ts';
import { serveMetrics } from './server.ts';
import { startTextfile } from './textfile.ts';

/** The `metrics` block as the config schema gives it (exactly one of listen and textfile). */
export interface MetricsConfig {
  readonly listen?: string | undefined;
  readonly textfile?: string | undefined;
}

export interface Metrics extends AgentObserver, AsyncDisposable {
  /** Where the endpoint answers (`http://127.0.0.1:9464/metrics`); undefined for a textfile. */
  readonly url: string | undefined;
  /** What a scrape returns now. */
  text(): Promise<string>;
  /** Stops the endpoint (open connections included) or writes the textfile a last time; idempotent. */
  close(): Promise<void>;
}

const NOOP_LOG: Pick<Log, 'warn' | 'info'> = { warn: () => undefined, info: () => undefined };

/**
 * Binds the endpoint or writes the first textfile before it returns. Throws
 * HOIST_METRICS_UNAVAILABLE when it cannot (the port is taken, the directory is missing or
 * read-only); the caller decides what that means for the agent.
 */
export async function createMetrics(config: MetricsConfig, options: { readonly log?: Pick<Log, 'warn' | 'info'>; readonly textfileIntervalMs?: number } = {}): Promise<Metrics> {
  const families = createFamilies();
  const { registry } = families;
  const text = (): Promise<string> => registry.metrics();
  let onChange: () => void = () => undefined;
  let close: () => Promise<void>;
  let url: string | undefined;
  if (config.listen !== undefined) {
    const address = parseListen(config.listen);
    if (address === undefined) throw new HoistError('HOIST_METRICS_UNAVAILABLE', `metrics.listen ${config.listen} is not "host:port"`);
    const server = await serveMetrics(address, async () => ({ contentType: registry.contentType, text: await text() }));
    url = server.url;
    close = () => server.close();
  } else if (config.textfile !== undefined) {
    const file = config.textfile;
    const writer = await startTextfile({
      path: file,
      render: text,
      log: options.log ?? NOOP_LOG,
      ...(options.textfileIntervalMs === undefined ? {} : { minIntervalMs: options.textfileIntervalMs }),
    }).catch((err: unknown) => {
      const e = toHoistError(err);
      throw new HoistError('HOIST_METRICS_UNAVAILABLE', `cannot write metrics.textfile ${file} (${e.message}); check that its directory exists and the agent may write it`, { cause: e, details: { path: file } });
    });
    onChange = () => writer.changed();
    close = () => writer.close();
  } else {
    throw new HoistError('HOIST_METRICS_UNAVAILABLE', 'metrics needs listen or textfile');
  }
  const observer = families.observer(() => onChange());
  return {
    ...observer,
    url,
    text,
    close: () => close(),
    [Symbol.asyncDispose]: () => close(),
  };
}
