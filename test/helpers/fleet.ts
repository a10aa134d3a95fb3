/**
 * A small fleet for rollout tests: many real `Agent`s in this process (each with its own host id,
 * app root, state dir and AWS clients, built the way `hoist agent` builds one), one fauxqs on
 * loopback, signed manifests, and real artifacts packed by `hoist pack`'s code. Health is a command
 * run in the release (`test ! -e BROKEN`): a release packed with a BROKEN file fails its health
 * check on every host and is rolled back. Use with `await using fleet = await createFleet(...)`.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import pkg from '../../package.json' with { type: 'json' };
import { Agent } from '../../src/agent/agent.ts';
import type { Log } from '../../src/agent/types.ts';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.ts';
import { loadAgentConfig } from '../../src/cli/run-agent.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { packDirectory } from '../../src/pack/pack.ts';
import { cohortValue } from '../../src/rollout/schedule.ts';
import type { AppState } from '../../src/state/schema.ts';
import { loadState } from '../../src/state/store.ts';
import { createNotifier } from '../../src/systemd/notify.ts';
import { startAws, type AwsEnv } from './fauxqs.ts';
import { HOIST_BIN, nextSequence, run, TEST_AWS_ENV, type RunResult } from './harness.ts';

export const FLEET_BUCKET = 'hoist-fleet-test';

export interface FleetArtifact {
  readonly version: string;
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
  readonly format: 'tar+gzip';
}

export interface FleetHost {
  readonly hostId: string;
  readonly agent: Agent;
  readonly clients: AwsClients;
  /** When each deploy of this host began (the `fetching` step), ms, by version. */
  readonly started: Map<string, number>;
  app(): AppState | undefined;
}

export interface Fleet extends AsyncDisposable {
  readonly aws: AwsEnv;
  readonly dir: string;
  readonly hosts: readonly FleetHost[];
  readonly trustFile: string;
  readonly keyFiles: Record<'ci' | 'alice', { pub: string; key: string }>;
  artifact(version: string, options?: { broken?: boolean }): Promise<FleetArtifact>;
  /** Signs and writes the channel (and its history copy) of web/prod; returns the manifest. */
  publish(artifact: FleetArtifact, rollout: Record<string, unknown>, options?: { issuedAt?: number }): Promise<Record<string, unknown>>;
  /** Starts every agent's sources (the S3 poller catches up at once). */
  start(): void;
  /** Waits (bounded) until `check` holds. */
  until(check: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** Host ids per outcome under events/web/prod/<sequence>/. */
  events(sequence: number): Promise<Map<string, string[]>>;
  getText(key: string): Promise<string>;
  cli(args: readonly string[]): Promise<RunResult>;
  /** Warnings and errors the agents logged. */
  readonly problems: string[];
}

export interface FleetOptions {
  readonly hostIds: readonly string[];
  /** node-cron schedule of the S3 poll (default every second). */
  readonly poll?: string;
}

/** `count` host ids whose cohort value for web/prod lies in [lo, hi), deterministic. */
export function hostsInBand(lo: number, hi: number, count: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 1_000_000; i++) {
    const id = `${tag}-${i}`;
    const v = cohortValue(id, 'web', 'prod');
    if (v >= lo && v < hi) out.push(id);
  }
  if (out.length < count) throw new Error(`only ${out.length} host ids in [${lo}, ${hi})`);
  return out;
}

export async function createFleet(options: FleetOptions): Promise<Fleet> {
  // the agents' clients take the SDK's credential chain, as on a host: fauxqs accepts these
  Object.assign(process.env, TEST_AWS_ENV);
  const aws = await startAws();
  await aws.createBucket(FLEET_BUCKET);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-fleet-'));
  const keys = { ci: generateKeyPair(), alice: generateKeyPair() };
  await mkdir(path.join(dir, 'keys'));
  const keyFiles = {} as Record<'ci' | 'alice', { pub: string; key: string }>;
  for (const name of ['ci', 'alice'] as const) {
    const pub = path.join(dir, 'keys', `${name}.pub`);
    const key = path.join(dir, 'keys', `${name}.key`);
    await writeFile(pub, keys[name].publicPem);
    await writeFile(key, keys[name].privatePem, { mode: 0o600 });
    keyFiles[name] = { pub, key };
  }
  const trust = { keys: { ci: keyFiles.ci.pub, alice: keyFiles.alice.pub }, roles: { release: { keys: ['ci', 'alice'], threshold: 1 }, pin: { keys: ['alice'], threshold: 1 } } };
  const trustFile = path.join(dir, 'trust.yaml');
  await writeFile(trustFile, stringify(trust));
  const problems: string[] = [];
  const put = (key: string, body: string | Buffer): Promise<unknown> => aws.s3.send(new PutObjectCommand({ Bucket: FLEET_BUCKET, Key: key, Body: body }));

  const hosts: FleetHost[] = [];
  for (const hostId of options.hostIds) {
    const hostDir = path.join(dir, 'hosts', hostId);
    await mkdir(hostDir, { recursive: true });
    const config = {
      hostId,
      region: aws.region,
      endpoint: aws.endpoint,
      stateDir: path.join(hostDir, 'state'),
      source: { s3: { bucket: FLEET_BUCKET, poll: options.poll ?? '*/1 * * * * *', jitter: '0s' } },
      apps: [
        {
          name: 'web',
          env: 'prod',
          root: path.join(hostDir, 'srv'),
          keep: 2,
          health: { command: 'test ! -e BROKEN', timeout: '10s', interval: '100ms', startPeriod: '20s', successThreshold: 1, failureThreshold: 1, bake: '0s' },
        },
      ],
      log: { level: 'warn' },
      trust,
    };
    const file = path.join(hostDir, 'agent.yaml');
    await writeFile(file, stringify(config));
    const loaded = await loadAgentConfig(file);
    const clients = createAwsClients({ region: aws.region, endpoint: aws.endpoint });
    const started = new Map<string, number>();
    const log = quietLog(hostId, problems);
    const agent: Agent = new Agent({
      config: loaded.config,
      policy: loaded.policy,
      hostId,
      s3: clients.s3,
      sqs: clients.sqs,
      state: (await loadState(loaded.config.stateDir)).state,
      log,
      notifier: createNotifier({ env: {} }),
      agentVersion: pkg.version,
      onStep: (key, step) => {
        if (step !== 'fetching') return;
        const version = agent.state.apps[key]?.txn?.target.version;
        if (version !== undefined && !started.has(version)) started.set(version, Date.now());
      },
    });
    await agent.init();
    hosts.push({ hostId, agent, clients, started, app: () => agent.state.apps['web/prod'] });
  }

  const fleet: Fleet = {
    aws,
    dir,
    hosts,
    trustFile,
    keyFiles,
    problems,
    async artifact(version, o = {}) {
      const src = path.join(dir, 'build', version);
      await mkdir(src, { recursive: true });
      await writeFile(path.join(src, 'VERSION'), `${version}\n`);
      if (o.broken === true) await writeFile(path.join(src, 'BROKEN'), 'this release fails its health check\n');
      const file = path.join(dir, 'build', `${version}.tar.gz`);
      const packed = await packDirectory(src, file, {});
      const key = `artifacts/web/${packed.sha256}.tar.gz`;
      await put(key, await readFile(file));
      return { version, key, sha256: packed.sha256, size: packed.size, format: 'tar+gzip' };
    },
    async publish(artifact, rollout, o = {}) {
      const issued = o.issuedAt ?? Date.now() - 1000;
      const payload = {
        schema: 1,
        kind: 'release',
        app: 'web',
        env: 'prod',
        sequence: nextSequence(),
        version: artifact.version,
        artifact: { key: artifact.key, sha256: artifact.sha256, size: artifact.size, format: artifact.format },
        issuedAt: new Date(issued).toISOString(),
        expiresAt: new Date(issued + 86_400_000).toISOString(),
        rollout,
        notes: { by: 'fleet-test' },
      };
      const text = serializeEnvelope(signEnvelope(Buffer.from(JSON.stringify(payload)), createPrivateKey(keys.ci.privatePem)));
      await put(`history/web/prod/${payload.sequence}.json`, text);
      await put('channels/web/prod.json', text);
      return payload;
    },
    start() {
      for (const h of hosts) h.agent.start();
    },
    async until(check, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await check()) return;
        await delay(100);
      }
      if (await check()) return;
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}; agents said:\n${problems.slice(-20).join('\n')}`);
    },
    async events(sequence) {
      const prefix = `events/web/prod/${sequence}/`;
      const out = new Map<string, string[]>();
      let token: string | undefined;
      for (let page = 0; page < 100; page++) {
        const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: FLEET_BUCKET, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
        for (const o of listed.Contents ?? []) {
          const [outcome, file] = (o.Key ?? '').slice(prefix.length).split('/');
          if (outcome === undefined || file === undefined) continue;
          out.set(outcome, [...(out.get(outcome) ?? []), file.replace(/\.json$/, '')].sort());
        }
        token = listed.IsTruncated === true ? listed.NextContinuationToken : undefined;
        if (token === undefined) break;
      }
      return out;
    },
    async getText(key) {
      const out = await aws.s3.send(new GetObjectCommand({ Bucket: FLEET_BUCKET, Key: key }));
      return (await out.Body?.transformToString()) ?? '';
    },
    cli(args) {
      return run([HOIST_BIN, ...args, '--bucket', FLEET_BUCKET, '--endpoint', aws.endpoint, '--region', aws.region]);
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(hosts.map((h) => h.agent.drain()));
      for (const h of hosts) h.clients.destroy();
      await aws.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fleet;
}

function quietLog(hostId: string, problems: string[]): Log {
  const keep = (level: string) => (obj: Record<string, unknown>, msg?: string): void => {
    if (problems.length < 500) problems.push(`${hostId} ${level}: ${msg ?? ''} ${JSON.stringify(obj).slice(0, 300)}`);
  };
  const log: Log = { child: () => log, debug: () => undefined, info: () => undefined, warn: keep('warn'), error: keep('error') };
  return log;
}
