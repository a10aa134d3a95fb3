/**
 * A local fleet for the demo and the multi-host tests: fauxqs (S3 + SQS + SNS) in-process on a
 * loopback port, signing keys (ci for releases, ops for pins), one directory per host with its
 * own app root, state, app port, SQS queue subscribed to one SNS topic, and agent config, and
 * the real `hoist` executable run as child processes. Everything is torn down by `close()`
 * (also `await using`), even after a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFauxqs } from 'fauxqs';
import { stringify } from 'yaml';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { packDirectory } from '../../src/pack/pack.ts';
import { freePort, restartCommand, stopApp, writeAppRelease, writeRestartScript, type AppBehaviour } from '../../test/helpers/app.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HOIST_BIN = path.join(REPO, 'bin', 'hoist.js');
export const AWS_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Host {
  readonly hostId: string;
  readonly dir: string;
  readonly root: string;
  readonly stateDir: string;
  readonly port: number;
  readonly pidFile: string;
  readonly configPath: string;
  readonly queueUrl: string;
}

export interface AgentHandle {
  readonly host: Host;
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<RunResult>;
}

export interface FleetOptions {
  readonly hostIds: readonly string[];
  readonly app?: string;
  readonly env?: string;
  /**
   * node-cron expression of the S3 poll, or "off" (SQS only). Default: the agent's own, every
   * 5 minutes with SQS, so the fleet converges through SNS and SQS, as a fleet with SQS does.
   */
  readonly poll?: string;
  readonly health?: Record<string, unknown>;
}

export interface Fleet extends AsyncDisposable {
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly app: string;
  readonly env: string;
  readonly dir: string;
  readonly topicArn: string;
  readonly hosts: readonly Host[];
  readonly keys: Record<'ci' | 'ops' | 'intruder', { key: string; pub: string }>;
  /** Runs `hoist <args> --endpoint … --region …` with test credentials. */
  hoist(args: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** Packs a release of the demo app; returns the tarball path. */
  artifact(version: string, behaviour?: AppBehaviour): Promise<string>;
  startAgent(host: Host): AgentHandle;
  /** SIGTERM every agent (SIGKILL after 10 s), stop the apps, fauxqs and remove the files. Idempotent. */
  close(): Promise<void>;
}

export async function createFleet(options: FleetOptions): Promise<Fleet> {
  const app = options.app ?? 'web';
  const env = options.env ?? 'prod';
  const bucket = 'hoist-demo';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-fleet-'));
  const agents: AgentHandle[] = [];
  const hosts: Host[] = [];
  let server: Awaited<ReturnType<typeof startFauxqs>> | undefined;
  let closed = false;

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all(agents.map((a) => stopAgent(a)));
    await Promise.all(hosts.map((h) => stopApp(h.pidFile).catch(() => undefined)));
    if (server !== undefined) await server.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
    const endpoint = `http://127.0.0.1:${server.port}`;
    server.createBucket(bucket);
    const { topicArn } = server.createTopic(`hoist-${app}-${env}`);

    await mkdir(path.join(dir, 'keys'));
    const keys = {} as Fleet['keys'];
    for (const name of ['ci', 'ops', 'intruder'] as const) {
      const pair = generateKeyPair();
      const key = path.join(dir, 'keys', `${name}.key`);
      const pub = path.join(dir, 'keys', `${name}.pub`);
      await writeFile(key, pair.privatePem, { mode: 0o600 });
      await writeFile(pub, pair.publicPem);
      keys[name] = { key, pub };
    }

    for (const hostId of options.hostIds) {
      const hostDir = path.join(dir, hostId);
      await mkdir(hostDir);
      await writeRestartScript(path.join(hostDir, 'restart.sh'));
      const queueName = `hoist-${app}-${env}-${hostId}`;
      server.createQueue(queueName);
      // fauxqs names queues sqs.<region>.<host>, which is no valid URL with an IP host; it routes
      // by path, so address the queue on the endpoint itself.
      const queueUrl = `${endpoint}/000000000000/${queueName}`;
      server.subscribe({ topic: `hoist-${app}-${env}`, queue: queueName });
      const port = await freePort();
      const host: Host = {
        hostId,
        dir: hostDir,
        root: path.join(hostDir, 'srv', app),
        stateDir: path.join(hostDir, 'state'),
        port,
        pidFile: path.join(hostDir, 'app.pid'),
        configPath: path.join(hostDir, 'agent.yaml'),
        queueUrl,
      };
      const config = {
        hostId,
        region: 'us-east-1',
        endpoint,
        stateDir: host.stateDir,
        source: {
          s3: { bucket, ...(options.poll === undefined ? {} : { poll: options.poll }), jitter: '0s' },
          sqs: { queueUrl, waitSeconds: 1 },
        },
        apps: [
          {
            name: app,
            env,
            root: host.root,
            keep: 3,
            // outside the app root: restart runs as root and never runs a release's own file
            restart: { run: restartCommand({ port, pidFile: host.pidFile, node: process.execPath, script: path.join(hostDir, 'restart.sh') }), timeout: '20s' },
            health: {
              http: { url: `http://127.0.0.1:${port}/healthz`, expectStatus: 200, bodyIncludes: 'ok' },
              timeout: '1s',
              interval: '200ms',
              startPeriod: '5s',
              successThreshold: 2,
              bake: '0s',
              ...options.health,
            },
          },
        ],
        report: { s3: true },
        log: { level: 'info' },
        trust: {
          keys: { ci: keys.ci.pub, ops: keys.ops.pub },
          roles: { release: { keys: ['ci', 'ops'], threshold: 1 }, pin: { keys: ['ops'], threshold: 1 } },
        },
      };
      await writeFile(host.configPath, stringify(config));
      hosts.push(host);
    }

    const fleet: Fleet = {
      endpoint,
      region: 'us-east-1',
      bucket,
      app,
      env,
      dir,
      topicArn,
      hosts,
      keys,
      hoist: (args, timeoutMs = 30_000) => runHoist([...args, '--endpoint', endpoint, '--region', 'us-east-1'], timeoutMs),
      async artifact(version, behaviour = 'healthy') {
        const src = path.join(dir, 'build', version);
        await mkdir(src, { recursive: true });
        await writeAppRelease(src, { version, behaviour });
        const file = path.join(dir, 'build', `${app}-${version}.tar.gz`);
        await packDirectory(src, file);
        return file;
      },
      startAgent(host) {
        const child = spawn(process.execPath, [HOIST_BIN, 'agent', '--config', host.configPath], {
          env: { ...process.env, ...AWS_ENV },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout?.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-200_000)));
        child.stderr?.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-200_000)));
        const exited = new Promise<RunResult>((resolve) => child.on('exit', (code) => resolve({ code, stdout: out, stderr: '' })));
        const handle: AgentHandle = { host, child, output: () => out, exited };
        agents.push(handle);
        return handle;
      },
      close,
      [Symbol.asyncDispose]: close,
    };
    return fleet;
  } catch (error) {
    await close();
    throw error;
  }
}

async function stopAgent(agent: AgentHandle): Promise<void> {
  const { child } = agent;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await agent.exited;
  clearTimeout(timer);
}

export function runHoist(args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOIST_BIN, ...args], {
      env: { ...process.env, ...AWS_ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
