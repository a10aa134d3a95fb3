/** The agent process: config, lock, state, sources and signals around `Agent`. */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import { ERROR_CATALOGUE, HoistError, toHoistError, type HoistErrorCode } from '../errors.ts';
import { loadConfigFile } from '../config/load.ts';
import { resolveHostId } from '../config/host-id.ts';
import type { AgentConfig } from '../config/schema.ts';
import { resolveTrustPolicy, trustScope, type TrustPolicy } from '../trust/policy.ts';
import { createAwsClients } from '../aws/clients.ts';
import { acquireLock } from '../state/lock.ts';
import { loadState } from '../state/store.ts';
import { createNotifier } from '../systemd/notify.ts';
import { Agent } from '../agent/agent.ts';
import { createLogger, type Logger } from './logger.ts';
import type { Metrics } from '../metrics/create.ts';
import { execFile } from 'node:child_process';
import { watchServerClock } from '../aws/server-clock.ts';
import { formatDuration } from '../util/units.ts';
import { testPause } from '../util/test-pause.ts';


export async function loadAgentConfig(file: string): Promise<{ config: AgentConfig; policy: TrustPolicy }> {
  const config = await loadConfigFile(file);
  // Overrides belong to their (app, env) entry, in Maps: app names are the operator's strings.
  const apps = new Map<string, NonNullable<AgentConfig['apps'][number]['trust']>>();
  const appPaths = new Map<string, PropertyKey[]>();
  config.apps.forEach((app, i) => {
    if (app.trust === undefined) return;
    apps.set(trustScope(app.name, app.env), app.trust);
    appPaths.set(trustScope(app.name, app.env), ['apps', i, 'trust']);
  });
  const policy = await resolveTrustPolicy(config.trust, { baseDir: path.dirname(path.resolve(file)), apps, appPaths });
  return { config, policy };
}

export async function runAgent(file: string, once: boolean): Promise<void> {
  // Everything that can be wrong with the config is found before anything is touched (exit 2).
  const { config, policy } = await loadAgentConfig(file);
  const log = createLogger(config.log.level, { format: config.log.format });
  const hostId = await resolveHostId(config.hostId);
  await mkdir(config.stateDir, { recursive: true, mode: 0o750 });
  await using lock = await acquireLock(config.stateDir);
  const loaded = await loadState(config.stateDir);
  if (loaded.recoveredFromCorrupt !== undefined) {
    log.error({ code: 'HOIST_STATE_CORRUPT', movedTo: loaded.recoveredFromCorrupt, reason: loaded.corruptReason }, 'state.json was unreadable; moved aside, starting from an empty state');
  }
  await checkDrainBound(config.drain.timeout);
  const clients = createAwsClients({ ...(config.region === undefined ? {} : { region: config.region }), endpoint: config.endpoint ?? null, endpoints: config.endpoints ?? {} });
  const notifier = createNotifier({ onError: (err) => log.debug({ err: String(err) }, 'systemd notification failed') });
  await using metrics = await startMetrics(config.metrics, log);
  const onStep = stepHooks(faultInjection(process.env.HOIST_FAULT_KILL_AT, log), process.env.HOIST_TEST_PAUSE_AT === undefined ? undefined : (_key, step) => testPause(step));
  const agent = new Agent({
    config,
    policy,
    hostId,
    s3: clients.s3,
    sqs: clients.sqs,
    state: loaded.state,
    log,
    notifier,
    agentVersion: pkg.version,
    ...(onStep === undefined ? {} : { onStep }),
    ...(metrics === undefined ? {} : { observer: metrics }),
    ...stallTimeout(process.env.HOIST_STALL_TIMEOUT_MS),
  });
  watchServerClock(clients.s3, (skewMs, at) => agent.noteClockSkew(skewMs, at));
  log.info({ hostId, stateDir: config.stateDir, apps: config.apps.map((a) => `${a.name}/${a.env}`), lock: lock.path, once }, `hoist agent ${pkg.version} starting`);
  // Signals are handled from here on, before recovery and the first reconcile.
  let drainTimeout = config.drain.timeout;
  const lifecycle = handleSignals(agent, log, file, notifier, () => drainTimeout, (ms) => (drainTimeout = ms));
  try {
    await agent.init();
    if (once) {
      const problems = await agent.runOnce();
      log.info({ status: agent.statusLine() }, 'reconcile done');
      const first = problems[0];
      if (first !== undefined) {
        // Exit 1 naming the problem: the first one's code, every problem of every app in the message.
        const what = problems.map((p) => `${p.key} ${p.message} (${p.code})`).join('; ');
        throw new HoistError(first.code in ERROR_CATALOGUE ? (first.code as HoistErrorCode) : 'HOIST_HEALTH_FAILED', what);
      }
      return;
    }
    await notifier.ready();
    const watchdog = notifier.startWatchdog();
    agent.start();
    log.info({ status: agent.statusLine() }, 'ready');
    await lifecycle.stopped;
    watchdog.stop();
  } finally {
    lifecycle.dispose();
    clients.destroy();
  }
}

/**
 * The metrics `metrics` asks for (module loaded only then), or none. Metrics that cannot start
 * (a port taken, a textfile directory missing) are logged at error and left off: they never stop
 * deploys. `await using` closes them (the endpoint stops listening) when the agent returns.
 */
async function startMetrics(config: AgentConfig['metrics'], log: Logger): Promise<Metrics | undefined> {
  if (config === undefined) return undefined;
  const { createMetrics } = await import('../metrics/create.ts');
  try {
    const metrics = await createMetrics(config, { log });
    log.info(metrics.url === undefined ? { textfile: config.textfile } : { url: metrics.url }, 'metrics on');
    return metrics;
  } catch (err) {
    const e = toHoistError(err);
    log.error({ code: e.code, err: e.message }, 'metrics are off; deploys go on without them');
    return undefined;
  }
}

interface Lifecycle {
  /** Resolves once a SIGTERM/SIGINT drain has finished (or ran over its bound). */
  readonly stopped: Promise<void>;
  dispose(): void;
}

function handleSignals(
  agent: Agent,
  log: ReturnType<typeof createLogger>,
  file: string,
  notifier: ReturnType<typeof createNotifier>,
  drainTimeout: () => number,
  setDrainTimeout: (ms: number) => void,
): Lifecycle {
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing or abandoning the current step');
    const stoppingSent = notifier.stopping();
    // the agent stops what it can a little before drain.timeout; this is the hard bound
    const boundMs = drainTimeout();
    const bound = setTimeout(() => {
      log.error({ boundMs }, 'drain did not finish in time; exiting');
      resolveStopped();
    }, boundMs);
    bound.unref();
    agent.drain().then(
      async () => {
        clearTimeout(bound);
        await stoppingSent;
        log.info({}, 'stopped');
        resolveStopped();
      },
      (err: unknown) => {
        clearTimeout(bound);
        log.error({ err: toHoistError(err).message }, 'error while stopping');
        resolveStopped();
      },
    );
  };
  const reload = (): void => {
    void notifier.reloading();
    void loadAgentConfig(file)
      .then(async ({ config, policy }) => {
        await agent.reload(config, policy);
        setDrainTimeout(config.drain.timeout);
        log.info({}, 'configuration reloaded');
      })
      .catch((err: unknown) => {
        const e = toHoistError(err);
        log.error({ code: e.code, err: e.message, issues: e.details?.issues }, 'new configuration is invalid; keeping the old one');
      })
      .finally(() => void notifier.ready());
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  // `on`, not `once`: a second SIGTERM while draining must not kill the process mid-step.
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', reload);
  return {
    stopped,
    dispose() {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', reload);
    },
  };
}

/**
 * Crash testing (the kill-9 tests and the torture run): `HOIST_FAULT_KILL_AT=<step>[+<ms>]` makes
 * the agent SIGKILL itself when a deploy reaches that journalled step (optionally <ms> later), the
 * way a power cut would. Steps, in deploy order: fetching, unpacking, renamed, pre-activate,
 * pre-activated, flipped, flip-done, restarted, post-activated, health, committed, pruned; on a
 * failure rolling-back, rolled-back.
 */
export function faultInjection(spec: string | undefined, log: { warn(o: Record<string, unknown>, m: string): void }): ((key: string, step: string) => void) | undefined {
  if (spec === undefined || spec === '') return undefined;
  const [step, delay] = spec.split('+');
  const ms = delay === undefined ? 0 : Number(delay);
  log.warn({ faultKillAt: spec }, 'fault injection armed: the agent will SIGKILL itself');
  return (_key, reached) => {
    if (reached !== step) return;
    const kill = (): void => {
      process.kill(process.pid, 'SIGKILL');
    };
    if (ms > 0) setTimeout(kill, ms);
    else kill();
  };
}

/**
 * Under systemd, drain.timeout must end before the unit's TimeoutStopSec, or systemd kills the
 * agent in the middle of its drain. The unit's value is asked of systemctl; without it (no
 * systemd, an old systemctl) there is nothing to check.
 */
async function checkDrainBound(drainMs: number): Promise<void> {
  if (process.env.INVOCATION_ID === undefined) return;
  const stopMs = await unitStopTimeout();
  if (stopMs === undefined || drainMs < stopMs) return;
  throw new HoistError('HOIST_CONFIG_INVALID', `drain.timeout (${formatDuration(drainMs)}) is not below the unit's TimeoutStopSec (${formatDuration(stopMs)}): systemd would kill the agent during its drain. Lower drain.timeout or raise TimeoutStopSec in a drop-in`, {
    details: { issues: [`drain.timeout: must be below the unit's TimeoutStopSec (${formatDuration(stopMs)})`] },
  });
}

/** TimeoutStopUSec of the unit this process runs in (from /proc/self/cgroup), in ms. */
async function unitStopTimeout(): Promise<number | undefined> {
  const cgroup = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  const unit = /\/([^/\n]+\.service)\s*$/m.exec(cgroup)?.[1];
  if (unit === undefined) return undefined;
  return new Promise((resolve) => {
    execFile('systemctl', ['show', '--property=TimeoutStopUSec', '--value', unit], { timeout: 5_000 }, (error, stdout) => {
      resolve(error === null ? parseSystemdSpan(stdout.trim()) : undefined);
    });
  });
}

/** A systemd time span (`45s`, `1min 30s`, `2min`, `500ms`, `infinity`) in ms. */
export function parseSystemdSpan(text: string): number | undefined {
  if (text === '' || text === 'infinity') return undefined;
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  for (const part of text.split(/\s+/)) {
    const m = /^(\d+(?:\.\d+)?)(us|ms|s|min|h|d)$/.exec(part);
    const unit = m?.[2] === undefined ? undefined : units[m[2]];
    if (m === null || unit === undefined) return undefined;
    total += Number(m[1]) * unit;
  }
  return total;
}

type StepHook = (key: string, step: string) => void | Promise<void>;

/** The test hooks that are armed, called in turn at each deploy step. */
function stepHooks(...hooks: Array<StepHook | undefined>): StepHook | undefined {
  const armed = hooks.filter((h): h is StepHook => h !== undefined);
  if (armed.length === 0) return undefined;
  return async (key, step) => {
    for (const hook of armed) await hook(key, step);
  };
}

/**
 * `HOIST_STALL_TIMEOUT_MS`: how long a download may receive (almost) nothing before the attempt is
 * abandoned and retried (default 30 s). For links slower than 1 KiB per window, and for tests.
 */
function stallTimeout(value: string | undefined): { stallTimeoutMs?: number } {
  const ms = Number(value);
  return value !== undefined && Number.isSafeInteger(ms) && ms > 0 ? { stallTimeoutMs: ms } : {};
}
