/**
 * An end-to-end rig for agent tests: fauxqs (S3 + SQS) on loopback, a signing key and trust
 * policy, real artifacts of the test HTTP app packed by `hoist pack`'s code, an agent config, and
 * the real `hoist` executable run as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { signEnvelope, addSignature, serializeEnvelope } from '../../src/dsse/envelope.ts';
import { packDirectory } from '../../src/pack/pack.ts';
import { startAws, type AwsEnv } from './fauxqs.ts';
import { compress, tarBytes, type TarEntrySpec } from './tarballs.ts';
import { freePort, getApp, restartCommand, stopApp, writeAppRelease, writeRestartScript, type AppBehaviour } from './app.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HOIST_BIN = path.join(REPO, 'bin', 'hoist.js');
export const BUCKET = 'hoist-test';

export interface Artifact {
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
  readonly format: 'tar+gzip' | 'tar+zstd';
  readonly file: string;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Harness extends AsyncDisposable {
  readonly aws: AwsEnv;
  readonly dir: string;
  readonly root: string;
  readonly stateDir: string;
  readonly port: number;
  readonly pidFile: string;
  readonly configPath: string;
  readonly hostId: string;
  /** The test app's restart command (a script outside the app root, run as root). */
  readonly restart: string;
  artifact(version: string, behaviour?: AppBehaviour, options?: { zstd?: boolean; filler?: number }): Promise<Artifact>;
  /** A hand-built archive: the test app's files (sorted, directories first) followed by `extra` entries. */
  artifactWith(version: string, extra: readonly TarEntrySpec[], options?: { behaviour?: AppBehaviour; format?: 'tar+gzip' | 'tar+zstd'; end?: boolean }): Promise<Artifact>;
  /** Uploads archive bytes as a content-addressed artifact. */
  upload(bytes: Buffer, format: 'tar+gzip' | 'tar+zstd'): Promise<Artifact>;
  publish(version: string, artifact: Artifact, options?: PublishOptions): Promise<string>;
  pin(version: string | null, artifact: Artifact | null, options?: PublishOptions & { hosts?: string[] }): Promise<string>;
  sign(payload: Record<string, unknown>, keys?: string[]): string;
  putChannel(text: string): Promise<void>;
  writeConfig(overrides?: ConfigOverrides): Promise<string>;
  /** `wrap`: a command line the agent runs under (e.g. `unshare --mount ...`), ending in its argv. */
  once(extraArgs?: string[], options?: { wrap?: readonly string[]; env?: Record<string, string> }): Promise<RunResult>;
  /** `nodeArgs`: runtime flags before the entry point (V8 flags NODE_OPTIONS does not accept). */
  start(options?: { env?: Record<string, string>; nodeArgs?: readonly string[]; wrap?: readonly string[] }): AgentProcess;
  current(): Promise<string | undefined>;
  /** True once `version` is current, committed and no deploy is under way. */
  settledOn(version: string): Promise<boolean>;
  served(): Promise<string | undefined>;
  state(): Promise<Record<string, unknown>>;
  appState(): Promise<AppStateView>;
  keyPaths: Record<string, { pub: string; key: string; pem: string }>;
}

export interface AppStateView {
  state: string;
  current?: { version: string; sha256: string; dir: string };
  previous?: { version: string };
  failed: string[];
  lastAttempt?: { version?: string; outcome: string; code?: string };
  highWater: { release?: { sequence: number }; pin?: { sequence: number } };
  txn?: unknown;
}

export interface PublishOptions {
  readonly sequence?: number;
  readonly rollout?: number;
  readonly keys?: string[];
  readonly app?: string;
  readonly env?: string;
  readonly issuedAt?: string;
  readonly expiresAt?: string;
  /** rollout.halt of a release. */
  readonly halt?: { readonly maxFailures: number | string };
}

export interface ConfigOverrides {
  readonly source?: Record<string, unknown>;
  readonly health?: Record<string, unknown>;
  readonly app?: Record<string, unknown>;
  readonly trust?: Record<string, unknown>;
  readonly hostId?: string;
  readonly limits?: Record<string, unknown>;
  readonly endpoint?: string;
  /** More apps, appended after `web/prod` as they are. */
  readonly extraApps?: Array<Record<string, unknown>>;
  readonly report?: Record<string, unknown>;
  readonly drain?: Record<string, unknown>;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  waitFor(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<RunResult>;
  kill(signal: NodeJS.Signals): void;
}

let sequenceClock = Date.now();
/** Strictly increasing sequences, like `max(now, previous + 1)`. */
/** Credentials fauxqs accepts; no IMDS lookups from the SDK in tests. */
export const TEST_AWS_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true' };

export function nextSequence(): number {
  sequenceClock = Math.max(Date.now(), sequenceClock + 1);
  return sequenceClock;
}

export async function createHarness(options: { hostId?: string } = {}): Promise<Harness> {
  const aws = await startAws();
  await aws.createBucket(BUCKET);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-e2e-'));
  // app users (privilege tests) must reach the app root and the restart script
  await chmod(dir, 0o755);
  const root = path.join(dir, 'srv', 'web');
  const restartScript = path.join(dir, 'restart.sh');
  await writeRestartScript(restartScript);
  const stateDir = path.join(dir, 'state');
  const port = await freePort();
  const pidFile = path.join(dir, 'app.pid');
  const restart = restartCommand({ port, pidFile, node: process.execPath, script: restartScript });
  const configPath = path.join(dir, 'agent.yaml');
  const hostId = options.hostId ?? 'host-1';
  await mkdir(path.join(dir, 'keys'), { recursive: true });
  const keyPaths: Harness['keyPaths'] = {};
  for (const name of ['ci', 'alice', 'bob']) {
    const pair = generateKeyPair();
    const pub = path.join(dir, 'keys', `${name}.pub`);
    const key = path.join(dir, 'keys', `${name}.key`);
    await writeFile(pub, pair.publicPem);
    await writeFile(key, pair.privatePem, { mode: 0o600 });
    keyPaths[name] = { pub, key, pem: pair.privatePem };
  }
  const agents: AgentProcess[] = [];

  const sign = (payload: Record<string, unknown>, keys: string[] = ['ci']): string => {
    const bytes = Buffer.from(JSON.stringify(payload));
    const [first, ...rest] = keys.map((k) => createPrivateKey(keyPaths[k]?.pem ?? ''));
    if (first === undefined) throw new Error('sign needs a key');
    let env = signEnvelope(bytes, first);
    for (const k of rest) env = addSignature(env, k);
    return serializeEnvelope(env);
  };

  const manifest = (kind: 'release' | 'pin', version: string | null, artifact: Artifact | null, o: PublishOptions & { hosts?: string[] }) => {
    const now = Date.now();
    return {
      schema: 1,
      kind,
      app: o.app ?? 'web',
      env: o.env ?? 'prod',
      sequence: o.sequence ?? nextSequence(),
      ...(version === null ? {} : { version }),
      artifact: artifact === null ? null : { key: artifact.key, sha256: artifact.sha256, size: artifact.size, format: artifact.format },
      issuedAt: o.issuedAt ?? new Date(now - 1000).toISOString(),
      expiresAt: o.expiresAt ?? new Date(now + 30 * 86_400_000).toISOString(),
      ...(kind === 'release' ? { rollout: { percent: o.rollout ?? 100, ...(o.halt === undefined ? {} : { halt: o.halt }) } } : {}),
      ...(o.hosts === undefined ? {} : { hosts: o.hosts }),
      ...(kind === 'pin' ? { reason: 'test' } : { notes: { by: 'test' } }),
    };
  };

  const put = async (key: string, body: string | Buffer): Promise<void> => {
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  };

  const harness: Harness = {
    aws,
    dir,
    root,
    stateDir,
    port,
    pidFile,
    configPath,
    hostId,
    restart,
    keyPaths,
    sign,
    async artifact(version, behaviour = 'healthy', o = {}) {
      const src = path.join(dir, 'build', `${version}-${Math.random().toString(36).slice(2, 8)}`);
      await mkdir(src, { recursive: true });
      await writeAppRelease(src, { version, behaviour });
      if (o.filler !== undefined) {
        // Many small files, like a node_modules tree: makes unpacking take a while.
        for (let d = 0; d < Math.ceil(o.filler / 100); d++) {
          const sub = path.join(src, 'node_modules', `pkg-${d}`);
          await mkdir(sub, { recursive: true });
          for (let f = 0; f < 100 && d * 100 + f < o.filler; f++) await writeFile(path.join(sub, `f${f}.js`), `module.exports = ${d * 100 + f};\n`);
        }
      }
      const format = o.zstd === true ? 'tar+zstd' : 'tar+gzip';
      const file = path.join(dir, 'build', `${path.basename(src)}.${o.zstd === true ? 'tar.zst' : 'tar.gz'}`);
      const packed = await packDirectory(src, file, { zstd: o.zstd === true });
      const key = `artifacts/web/${packed.sha256}.${o.zstd === true ? 'tar.zst' : 'tar.gz'}`;
      await put(key, await readFile(file));
      return { key, sha256: packed.sha256, size: packed.size, format, file };
    },
    async artifactWith(version, extra, o = {}) {
      const src = path.join(dir, 'build', `${version}-${Math.random().toString(36).slice(2, 8)}`);
      await mkdir(src, { recursive: true });
      await writeAppRelease(src, { version, behaviour: o.behaviour ?? 'healthy' });
      const entries: TarEntrySpec[] = [];
      for (const name of ['VERSION', 'behaviour.json', 'restart.sh', 'server.mjs']) {
        entries.push({ path: name, body: await readFile(path.join(src, name)), mode: name === 'restart.sh' ? 0o755 : 0o644 });
      }
      return harness.upload(compress(tarBytes([...entries, ...extra], { end: o.end ?? true }), o.format ?? 'tar+gzip'), o.format ?? 'tar+gzip');
    },
    async upload(bytes, format) {
      const sha = createHash('sha256').update(bytes).digest('hex');
      const ext = format === 'tar+zstd' ? 'tar.zst' : 'tar.gz';
      const file = path.join(dir, 'build', `${sha}.${ext}`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, bytes);
      const key = `artifacts/web/${sha}.${ext}`;
      await put(key, bytes);
      return { key, sha256: sha, size: bytes.length, format, file };
    },
    async publish(version, artifact, o = {}) {
      const text = sign(manifest('release', version, artifact, o), o.keys);
      await put(`channels/${o.app ?? 'web'}/${o.env ?? 'prod'}.json`, text);
      return text;
    },
    async pin(version, artifact, o = {}) {
      const text = sign(manifest('pin', version, artifact, o), o.keys ?? ['alice']);
      await put(`pins/${o.app ?? 'web'}/${o.env ?? 'prod'}.json`, text);
      return text;
    },
    async putChannel(text) {
      await put('channels/web/prod.json', text);
    },
    async writeConfig(o = {}) {
      const config = {
        hostId: o.hostId ?? hostId,
        region: aws.region,
        endpoint: o.endpoint ?? aws.endpoint,
        stateDir,
        source: o.source ?? { s3: { bucket: BUCKET, poll: '*/1 * * * * *', jitter: '0s' } },
        apps: [
          {
            name: 'web',
            env: 'prod',
            root,
            keep: 3,
            restart: { run: restart, timeout: '20s' },
            health: {
              http: { url: `http://127.0.0.1:${port}/healthz`, expectStatus: 200, bodyIncludes: 'ok' },
              timeout: '1s',
              interval: '100ms',
              startPeriod: '6s',
              successThreshold: 2,
              bake: '0s',
              ...o.health,
            },
            ...o.app,
          },
          ...(o.extraApps ?? []),
        ],
        ...(o.report === undefined ? {} : { report: o.report }),
        ...(o.drain === undefined ? {} : { drain: o.drain }),
        limits: o.limits ?? {},
        log: { level: 'debug' },
        trust: o.trust ?? {
          keys: { ci: keyPaths.ci?.pub, alice: keyPaths.alice?.pub, bob: keyPaths.bob?.pub },
          roles: { release: { keys: ['ci', 'alice', 'bob'], threshold: 1 }, pin: { keys: ['alice', 'bob'], threshold: 1 } },
        },
      };
      await writeFile(configPath, stringify(config));
      return configPath;
    },
    async once(extraArgs = [], o = {}) {
      return run([HOIST_BIN, 'agent', '--config', configPath, '--once', ...extraArgs], { ...(o.env === undefined ? {} : { env: o.env }), ...(o.wrap === undefined ? {} : { wrap: o.wrap }) });
    },
    start(o = {}) {
      const argv = [...(o.wrap ?? []), process.execPath, ...(o.nodeArgs ?? []), HOIST_BIN, 'agent', '--config', configPath];
      const child = spawn(argv[0] ?? process.execPath, argv.slice(1), {
        env: { ...process.env, ...TEST_AWS_ENV, ...o.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      const waiters = new Set<() => void>();
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        for (const w of waiters) w();
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      const exited = new Promise<RunResult>((resolve) => {
        child.on('exit', (code, signal) => {
          for (const w of waiters) w();
          resolve({ code, signal, stdout: out, stderr: err });
        });
      });
      const lines = (): Array<Record<string, unknown>> =>
        out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => {
            try {
              return JSON.parse(l) as Record<string, unknown>;
            } catch {
              return {};
            }
          });
      const agent: AgentProcess = {
        child,
        output: () => out + err,
        exited,
        kill: (signal) => child.kill(signal),
        waitFor(predicate, timeoutMs = 20_000) {
          return new Promise((resolve, reject) => {
            const check = (): void => {
              const hit = lines().find(predicate);
              if (hit !== undefined) {
                cleanup();
                resolve(hit);
              } else if (child.exitCode !== null || child.signalCode !== null) {
                cleanup();
                reject(new Error(`agent exited before the expected log line:\n${out}\n${err}`));
              }
            };
            const timer = setTimeout(() => {
              cleanup();
              reject(new Error(`timed out waiting for a log line:\n${out.slice(-4000)}\n${err}`));
            }, timeoutMs);
            const cleanup = (): void => {
              clearTimeout(timer);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          });
        },
      };
      agents.push(agent);
      return agent;
    },
    async current() {
      try {
        const target = await readlink(path.join(root, 'current'));
        return (await readFile(path.join(root, target, 'VERSION'), 'utf8')).trim();
      } catch {
        return undefined;
      }
    },
    async settledOn(version) {
      if ((await harness.current()) !== version) return false;
      const s = await harness.appState().catch(() => undefined);
      return s !== undefined && s.txn === undefined && s.current?.version === version;
    },
    async served() {
      try {
        const r = await getApp(port, '/version');
        return r.status === 200 ? r.body.trim() : undefined;
      } catch {
        return undefined;
      }
    },
    async state() {
      return JSON.parse(await readFile(path.join(stateDir, 'state.json'), 'utf8')) as Record<string, unknown>;
    },
    async appState() {
      const s = (await harness.state()) as { apps: Record<string, AppStateView> };
      const app = s.apps['web/prod'];
      if (app === undefined) throw new Error('no state for web/prod');
      return app;
    },
    async [Symbol.asyncDispose]() {
      for (const a of agents) {
        if (a.child.exitCode === null && a.child.signalCode === null) {
          a.child.kill('SIGKILL');
          await a.exited;
        }
      }
      await stopApp(pidFile).catch(() => undefined);
      await aws.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

export function run(args: string[], options: { env?: Record<string, string>; input?: string; wrap?: readonly string[] } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const argv = [...(options.wrap ?? []), process.execPath, ...args];
    const child = spawn(argv[0] ?? process.execPath, argv.slice(1), { env: { ...process.env, ...TEST_AWS_ENV, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(options.input ?? '');
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Polls `check` until it returns true (bounded). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(100);
  }
  throw new Error(`timed out waiting until ${what}`);
}
