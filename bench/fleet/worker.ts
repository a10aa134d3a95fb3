/**
 * One worker process of the fleet simulation: runs many real `Agent`s in-process, each built the
 * way `src/cli/run-agent.ts` builds one (config file, trust policy, its own AWS clients, state
 * loaded from its own stateDir, a notifier without NOTIFY_SOCKET), then started on the S3 poller.
 * Not taken: the flock (one flock(1) child per host buys nothing here).
 *
 * IPC (child_process fork-style 'ipc' channel):
 *   ← { type: 'start', configs: string[] }            agent.yaml of each host
 *   → { type: 'ready', hosts, rssBytes, errors }
 *   → { type: 'change', at, hostId, version, sha256, state, settled, halted }   per host, when it changes
 *   → { type: 'started', at, hostId, sha256 }          a deploy began (the `fetching` step)
 *   ← { type: 'counters', id }  → { type: 'counters', id, perHost: { hostId: Counter } }
 *   ← { type: 'stop' }          → { type: 'stopped', errors }, then exit
 *
 * Every S3 request of a host is counted per key kind and status by a middleware on that host's
 * own client (inside the SDK retry loop, so every HTTP attempt counts: `GET channel 304`), and
 * every command once more outside that loop (`cmd GET channel`): attempts ÷ commands is the number
 * of requests one poll of one key costs.
 */
import pkg from '../../package.json' with { type: 'json' };
import { createAwsClients, type AwsClients } from '../../src/aws/clients.ts';
import { resolveHostId } from '../../src/config/host-id.ts';
import { loadAgentConfig } from '../../src/cli/run-agent.ts';
import { loadState } from '../../src/state/store.ts';
import { createNotifier } from '../../src/systemd/notify.ts';
import { Agent } from '../../src/agent/agent.ts';
import type { Log } from '../../src/agent/types.ts';
import { keyKind } from './counting-proxy.ts';

/** `${method} ${kind} ${status}` → count. */
export type Counter = Record<string, number>;

export type WorkerIn = { type: 'start'; configs: string[] } | { type: 'counters'; id: number } | { type: 'stop' };

export type WorkerOut =
  | { type: 'ready'; hosts: number; rssBytes: number; errors: string[] }
  | { type: 'change'; at: number; hostId: string; version: string | null; sha256: string | null; state: string; settled: boolean; halted: number | null }
  | { type: 'started'; at: number; hostId: string; sha256: string }
  | { type: 'counters'; id: number; perHost: Record<string, Counter> }
  | { type: 'stopped'; errors: string[] };

interface Host {
  readonly hostId: string;
  readonly agent: Agent;
  readonly clients: AwsClients;
  readonly counter: Counter;
  last: string;
}

const errors: string[] = [];

/**
 * Drops info/debug; keeps warnings and errors (the first few) for the report, except the halt
 * every host but a few logs in the halt phase: the simulation counts those itself, and they would
 * fill the report before anything unexpected.
 */
function quietLog(hostId: string): Log {
  const keep = (level: string) => (obj: Record<string, unknown>, msg?: string): void => {
    if (obj.code === 'HOIST_ROLLOUT_HALTED') return;
    if (errors.length < 50) errors.push(`${hostId} ${level}: ${msg ?? ''} ${JSON.stringify(obj).slice(0, 300)}`);
  };
  const log: Log = { child: () => log, debug: () => undefined, info: () => undefined, warn: keep('warn'), error: keep('error') };
  return log;
}

function send(message: WorkerOut): void {
  process.send?.(message);
}

function countRequests(clients: AwsClients, counter: Counter): void {
  clients.s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method?: string; path?: string };
      const what = `${request.method ?? '?'} ${keyKind(request.path ?? '')}`;
      const bump = (status: number | string): void => {
        const k = `${what} ${status}`;
        counter[k] = (counter[k] ?? 0) + 1;
      };
      try {
        const out = await next(args);
        bump((out.response as { statusCode?: number } | undefined)?.statusCode ?? 0);
        return out;
      } catch (err) {
        // No status: a network error (ECONNRESET, a timeout), counted by its code.
        const e = err as { $metadata?: { httpStatusCode?: number }; code?: unknown; name?: unknown };
        const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'error';
        bump(e.$metadata?.httpStatusCode ?? code);
        throw err;
      }
    },
    { step: 'finalizeRequest', name: 'hoistFleetCounter' },
  );
  // Outside the retry loop: one count per command, i.e. per key per poll for channel and pin.
  clients.s3.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: unknown };
      const method = context.commandName === 'GetObjectCommand' ? 'GET' : (context.commandName ?? '?');
      const k = `cmd ${method} ${keyKind(`/${typeof input.Key === 'string' ? input.Key : ''}`)}`;
      // Counted when it completes, like its attempts: a poll in flight counts in neither.
      try {
        return await next(args);
      } finally {
        counter[k] = (counter[k] ?? 0) + 1;
      }
    },
    { step: 'initialize', name: 'hoistFleetCommandCounter' },
  );
}

async function startHost(configPath: string): Promise<Host> {
  const { config, policy } = await loadAgentConfig(configPath);
  const hostId = await resolveHostId(config.hostId);
  const loaded = await loadState(config.stateDir);
  const clients = createAwsClients({ ...(config.region === undefined ? {} : { region: config.region }), endpoint: config.endpoint ?? null });
  const counter: Counter = {};
  countRequests(clients, counter);
  const agent: Agent = new Agent({
    config,
    policy,
    hostId,
    s3: clients.s3,
    sqs: clients.sqs,
    state: loaded.state,
    log: quietLog(hostId),
    notifier: createNotifier({ env: {} }),
    agentVersion: pkg.version,
    onStep: (key, step) => {
      const sha256 = step === 'fetching' ? agent.state.apps[key]?.txn?.target.sha256 : undefined;
      if (sha256 !== undefined) send({ type: 'started', at: Date.now(), hostId, sha256 });
    },
  });
  await agent.init();
  return { hostId, agent, clients, counter, last: '' };
}

function snapshot(host: Host): void {
  const app = host.agent.state.apps['web/prod'];
  const version = app?.current?.version ?? null;
  const sha256 = app?.current?.sha256 ?? null;
  const state = app?.state ?? 'idle';
  const settled = app !== undefined && app.txn === undefined;
  const halted = app?.halted?.sequence ?? null;
  const key = `${sha256 ?? '-'} ${state} ${String(settled)} ${halted ?? '-'}`;
  if (key === host.last) return;
  host.last = key;
  send({ type: 'change', at: Date.now(), hostId: host.hostId, version, sha256, state, settled, halted });
}

let hosts: Host[] = [];
let watcher: NodeJS.Timeout | undefined;

async function start(configs: string[]): Promise<void> {
  // Built a few at a time: 100+ config loads at once only make the first poll later.
  for (let i = 0; i < configs.length; i += 16) {
    hosts.push(...(await Promise.all(configs.slice(i, i + 16).map((c) => startHost(c)))));
  }
  for (const h of hosts) h.agent.start();
  watcher = setInterval(() => {
    for (const h of hosts) snapshot(h);
  }, 100);
  send({ type: 'ready', hosts: hosts.length, rssBytes: process.memoryUsage().rss, errors: errors.slice(0, 10) });
}

async function stop(): Promise<void> {
  clearInterval(watcher);
  await Promise.all(hosts.map((h) => h.agent.drain()));
  for (const h of hosts) h.clients.destroy();
  hosts = [];
  // Exit once the last message is out of the pipe.
  const last: WorkerOut = { type: 'stopped', errors };
  process.send?.(last, () => process.exit(0));
}

process.on('message', (message: WorkerIn) => {
  if (message.type === 'start') {
    start(message.configs).catch((err: unknown) => {
      errors.push(`start failed: ${String(err)}`);
      send({ type: 'stopped', errors });
      process.exit(1);
    });
  } else if (message.type === 'counters') {
    send({ type: 'counters', id: message.id, perHost: Object.fromEntries(hosts.map((h) => [h.hostId, { ...h.counter }])) });
  } else {
    stop().catch((err: unknown) => {
      errors.push(`stop failed: ${String(err)}`);
      process.exit(1);
    });
  }
});
// The parent going away ends the worker too.
process.on('disconnect', () => {
  clearInterval(watcher);
  setTimeout(() => process.exit(0), 2_000).unref();
});
