/**
 * sd_notify(3) for the agent : READY, STATUS, WATCHDOG, STOPPING, RELOADING.
 *
 * Node cannot write to a unix datagram socket, so every notification runs the systemd-notify(1)
 * tool, which needs `NotifyAccess=all` in the unit (ours sets it). READY and STATUS go through the
 * `systemd-notify` npm package, the project's chosen wrapper. That package only knows --ready/--status/--pid, so
 * WATCHDOG=1, STOPPING=1 and RELOADING=1 run the same tool directly with the assignment as an
 * argument. Since systemd 246 the tool waits for the manager to read the message (BARRIER), so
 * its short life does not lose the message.
 *
 * Notifications are serialized (READY arrives before the STATUS sent after it) and never throw: a
 * failure is handed to onError, because a missing notification must not stop a deploy.
 */
import { execFile } from 'node:child_process';
import notify from 'systemd-notify';

export interface NotifierOptions {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Our pid, compared with WATCHDOG_PID (default process.pid). */
  readonly pid?: number;
  /** Called with every notification failure; notifications never throw. */
  readonly onError?: (err: unknown) => void;
}

export interface Notifier {
  /** True when NOTIFY_SOCKET is set, i.e. systemd listens. */
  readonly enabled: boolean;
  /** READY=1, with an optional STATUS= in the same message. */
  ready(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  watchdog(): Promise<void>;
  stopping(): Promise<void>;
  reloading(): Promise<void>;
  /** Half of WATCHDOG_USEC in ms when the watchdog is on for this process, else undefined. */
  watchdogIntervalMs(): number | undefined;
  /** Pings WATCHDOG=1 now and every watchdogIntervalMs() on an unref'd timer. */
  startWatchdog(): { stop(): void };
}

type Message = { kind: 'package'; ready: boolean; status?: string } | { kind: 'tool'; assignment: string };

export function createNotifier(options: NotifierOptions = {}): Notifier {
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const onError = options.onError ?? ((): void => {});
  const enabled = typeof env['NOTIFY_SOCKET'] === 'string' && env['NOTIFY_SOCKET'] !== '';
  let queue: Promise<void> = Promise.resolve();

  const send = (message: Message): Promise<void> => {
    if (!enabled) return Promise.resolve();
    queue = queue.then(() => deliver(message, env, pid).catch((err: unknown) => onError(asError(err))));
    return queue;
  };

  const watchdogIntervalMs = (): number | undefined => {
    if (!enabled) return undefined;
    const watchdogPid = env['WATCHDOG_PID'];
    if (watchdogPid !== undefined && watchdogPid !== '' && watchdogPid !== String(pid)) return undefined;
    const usec = Number(env['WATCHDOG_USEC']);
    if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
    return Math.max(1, Math.floor(usec / 2000));
  };

  return {
    enabled,
    ready: (status) => send({ kind: 'package', ready: true, ...(status === undefined ? {} : { status: oneLine(status) }) }),
    status: (text) => send({ kind: 'package', ready: false, status: oneLine(text) }),
    watchdog: () => send({ kind: 'tool', assignment: 'WATCHDOG=1' }),
    stopping: () => send({ kind: 'tool', assignment: 'STOPPING=1' }),
    // RELOADING=1 wants the CLOCK_MONOTONIC time of the reload; hrtime is that clock on Linux.
    reloading: () =>
      send({ kind: 'tool', assignment: `RELOADING=1\nMONOTONIC_USEC=${String(process.hrtime.bigint() / 1000n)}` }),
    watchdogIntervalMs,
    startWatchdog() {
      const interval = watchdogIntervalMs();
      if (interval === undefined) return { stop() {} };
      // One ping in flight at most: if systemd-notify stalls, pings must not pile up behind it.
      let pending = false;
      const ping = (): void => {
        if (pending) return;
        pending = true;
        void send({ kind: 'tool', assignment: 'WATCHDOG=1' }).finally(() => (pending = false));
      };
      ping();
      const timer = setInterval(ping, interval);
      timer.unref();
      return { stop: () => clearInterval(timer) };
    },
  };
}

/** The STATUS= line: `web@1.4.2 healthy; api@2.0.1 deploying` (`web (none) idle` when none runs). */
export function formatStatusLine(apps: ReadonlyArray<{ app: string; version?: string | undefined; state: string }>): string {
  if (apps.length === 0) return 'no apps configured';
  return apps.map((a) => (a.version === undefined ? `${a.app} (none) ${a.state}` : `${a.app}@${a.version} ${a.state}`)).join('; ');
}

async function deliver(message: Message, env: NodeJS.ProcessEnv, pid: number): Promise<void> {
  if (message.kind === 'package') {
    // The package inherits process.env; it only runs when NOTIFY_SOCKET is set there too.
    await notify({ ...(message.ready ? { ready: true } : {}), ...(message.status === undefined ? {} : { status: message.status }), pid });
    return;
  }
  const args = [`--pid=${String(pid)}`, ...message.assignment.split('\n')];
  await new Promise<void>((resolve, reject) => {
    execFile('systemd-notify', args, { env, timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`systemd-notify ${args.join(' ')} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

// The notify protocol is newline-separated assignments: a newline in STATUS would inject one.
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(`systemd-notify failed: ${typeof err === 'string' ? err : String(err)}`);
}
