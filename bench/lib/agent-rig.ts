/**
 * A real `hoist agent` daemon against fauxqs, built on the end-to-end test harness: signing keys,
 * the tiny HTTP test app as releases, an SQS queue for the agent, and helpers to publish, notify
 * and wait on the agent's persisted state.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { createHarness, HOIST_BIN, TEST_AWS_ENV } from '../../test/helpers/harness.ts';
import { RUNTIME_FLAGS } from '../../src/cli/defaults.ts';
import type { AgentProcess, AppStateView, ConfigOverrides, Harness } from '../../test/helpers/harness.ts';

export interface Rig extends AsyncDisposable {
  readonly harness: Harness;
  readonly queueUrl: string;
  /** Sends the envelope to the agent's queue, as `hoist publish --notify-sqs` does. */
  notify(envelope: string): Promise<void>;
  /** Polls state.json every `everyMs` until `predicate` holds; returns the time it first held. */
  waitState(predicate: (s: AppStateView) => boolean, timeoutMs: number, everyMs?: number): Promise<number>;
  start(env?: Record<string, string>): AgentProcess;
  /** The daemon from another entry point (see AgentEntry); killed when the rig is disposed. */
  startEntry(entry: AgentEntry, options?: { flags?: readonly string[]; env?: Record<string, string> }): StartedAgent;
}

/**
 * How the daemon is run: `dev` is bin/hoist.js (the TypeScript sources through Node's type
 * stripping), `bundle` the esbuild bundle of scripts/package.ts run by this Node with V8 flags
 * (what the packaged executable runs, without its code cache), `executable` a packaged `hoist`
 * (its V8 flags are baked into it).
 */
export type AgentEntry =
  | { readonly kind: 'dev' }
  | { readonly kind: 'bundle'; readonly file: string }
  | { readonly kind: 'executable'; readonly file: string };

export interface StartedAgent {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

export async function createRig(config: (queueUrl: string, h: Harness) => ConfigOverrides): Promise<Rig> {
  const harness = await createHarness();
  try {
    const queueUrl = await harness.aws.createQueue('hoist-bench-host-1');
    await harness.writeConfig(config(queueUrl, harness));
    const children: ChildProcess[] = [];
    return {
      harness,
      queueUrl,
      async notify(envelope) {
        await harness.aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelope }));
      },
      async waitState(predicate, timeoutMs, everyMs = 10) {
        const deadline = performance.now() + timeoutMs;
        while (performance.now() < deadline) {
          const s = await harness.appState().catch(() => undefined);
          if (s !== undefined && predicate(s)) return performance.now();
          await delay(everyMs);
        }
        throw new Error(`timed out after ${timeoutMs} ms waiting on the agent's state`);
      },
      start(env = {}) {
        // The agent runs with the V8 flags the shipped executable carries (its SEA execArgv), on
        // the command line: NODE_OPTIONS refuses most V8 flags.
        return harness.start({ env: { HOIST_TEST_NODE: process.execPath, ...env }, nodeArgs: RUNTIME_FLAGS });
      },
      startEntry(entry, options = {}) {
        const flags = options.flags ?? RUNTIME_FLAGS;
        const agentArgs = ['agent', '--config', harness.configPath];
        const [command, args] =
          entry.kind === 'executable'
            ? [entry.file, agentArgs]
            : [process.execPath, [...flags, entry.kind === 'dev' ? HOIST_BIN : entry.file, ...agentArgs]];
        const child = spawn(command, args, {
          env: { ...process.env, ...TEST_AWS_ENV, HOIST_TEST_NODE: process.execPath, ...options.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-100_000)));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-100_000)));
        children.push(child);
        return { child, output: () => out, kill: (signal) => child.kill(signal) };
      },
      async [Symbol.asyncDispose]() {
        for (const child of children) {
          if (child.exitCode !== null || child.signalCode !== null) continue;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await Promise.race([exited, delay(10_000)]);
          child.kill('SIGKILL');
        }
        await harness[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await harness[Symbol.asyncDispose]();
    throw error;
  }
}

/** Settled on `version` with `sequence` committed and nothing in flight. */
export function settled(version: string, sequence?: number): (s: AppStateView) => boolean {
  return (s) => s.txn === undefined && s.current?.version === version && (sequence === undefined || s.highWater.release?.sequence === sequence);
}

export function sequenceOf(envelope: string): number {
  const { payload } = JSON.parse(envelope) as { payload: string };
  return (JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { sequence: number }).sequence;
}

/** Adds metrics.listen on a free loopback port to the agent's config; returns the URL. */
export async function enableMetrics(configPath: string): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  const config = parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(configPath, stringify({ ...config, metrics: { listen: `127.0.0.1:${port}` } }));
  return `http://127.0.0.1:${port}/metrics`;
}
