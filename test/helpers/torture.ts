/**
 * Tools for the crash-torture and fault tests, on top of `harness.ts`: a seeded PRNG, artifacts
 * built quickly (a reusable filler tree, an incompressible blob for slow downloads), the on-disk
 * crash-safety invariants (`current` complete, no staging, no `.part`, state.json valid) and a
 * sweep for processes a SIGKILLed agent left behind.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { packDirectory } from '../../src/pack/pack.ts';
import { agentStateSchema, type AgentState, type AppState } from '../../src/state/schema.ts';
import { writeAppRelease, type AppBehaviour } from './app.ts';
import { mulberry32 } from './prng.ts';
import { BUCKET, HOIST_BIN, run, type Artifact, type Harness, type RunResult } from './harness.ts';

export interface Rng {
  readonly seed: number;
  /** [0, 1) */
  next(): number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
}

export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  return {
    seed,
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick<T>(items: readonly T[]): T {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error('pick from an empty list');
      return item;
    },
  };
}

/** A seed from the environment (decimal or 0x hex), else `fallback`. */
export function seedFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value >>> 0;
}

export type Payload = 'healthy' | 'unhealthy' | 'filler' | 'blob';

/**
 * Builds and uploads artifacts of the test app for one harness. `filler` reuses one tree of
 * 3000 small files (only VERSION and behaviour.json change per version), so a many-file artifact
 * costs a pack, not 3000 writes. `blob` adds 64 KiB of random bytes: slow to trickle, no gzip win.
 */
export class ArtifactFactory {
  readonly #h: Harness;
  readonly #base: string;
  #fillerTree: string | undefined;
  #n = 0;

  constructor(h: Harness) {
    this.#h = h;
    this.#base = path.join(h.dir, 'torture-build');
  }

  async make(version: string, payload: Payload): Promise<Artifact> {
    const behaviour: AppBehaviour = payload === 'unhealthy' ? 'unhealthy' : 'healthy';
    let src: string;
    if (payload === 'filler') {
      src = await this.#filler();
    } else {
      src = path.join(this.#base, `src-${this.#n++}`);
      await mkdir(src, { recursive: true });
    }
    await writeAppRelease(src, { version, behaviour });
    if (payload === 'blob') await writeFile(path.join(src, 'blob.bin'), randomBytes(64 * 1024));
    const file = path.join(this.#base, `${version}.tar.gz`);
    const packed = await packDirectory(src, file, { zstd: false });
    const key = `artifacts/web/${packed.sha256}.tar.gz`;
    await this.#h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await readFile(file) }));
    return { key, sha256: packed.sha256, size: packed.size, format: 'tar+gzip', file };
  }

  async #filler(): Promise<string> {
    if (this.#fillerTree !== undefined) return this.#fillerTree;
    const src = path.join(this.#base, 'filler');
    for (let d = 0; d < 30; d++) {
      const sub = path.join(src, 'node_modules', `pkg-${d}`);
      await mkdir(sub, { recursive: true });
      for (let f = 0; f < 100; f++) await writeFile(path.join(sub, `f${f}.js`), `module.exports = ${d * 100 + f};\n`);
    }
    this.#fillerTree = src;
    return src;
  }
}

/** `hoist agent --once` with extra environment (the harness's `once()` takes none). */
export function onceWithEnv(h: Harness, env: Record<string, string>): Promise<RunResult> {
  return run([HOIST_BIN, 'agent', '--config', h.configPath, '--once'], { env });
}

export async function stagingLeft(root: string): Promise<string[]> {
  const names = await readdir(path.join(root, 'releases')).catch(() => []);
  return names.filter((n) => n.startsWith('.staging-'));
}

export async function tempLinksLeft(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => []);
  return names.filter((n) => n.startsWith('current.tmp-'));
}

export async function partsLeft(stateDir: string): Promise<string[]> {
  const names = await readdir(path.join(stateDir, 'downloads')).catch(() => []);
  return names.filter((n) => n.endsWith('.part'));
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** A release directory holds a whole release: its VERSION and server.mjs are there. */
export async function releaseComplete(dir: string): Promise<boolean> {
  return (await exists(path.join(dir, 'VERSION'))) && (await exists(path.join(dir, 'server.mjs')));
}

export interface CurrentLink {
  /** The link text, `releases/<name>`. */
  readonly dir: string;
  readonly version: string;
  readonly complete: boolean;
}

/** Where `current` points, the version there and whether that release is complete. */
export async function readCurrent(root: string): Promise<CurrentLink | undefined> {
  let dir: string;
  try {
    dir = await readlink(path.join(root, 'current'));
  } catch {
    return undefined;
  }
  const abs = path.join(root, dir);
  const version = (await readFile(path.join(abs, 'VERSION'), 'utf8').catch(() => '')).trim();
  return { dir, version, complete: await releaseComplete(abs) };
}

/** state.json, parsed and checked against the agent's own schema; throws with the issues. */
export async function readValidState(stateDir: string): Promise<AgentState> {
  const text = await readFile(path.join(stateDir, 'state.json'), 'utf8');
  const parsed = agentStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`state.json does not match agentStateSchema: ${JSON.stringify(parsed.error.issues)}`);
  return parsed.data;
}

export function webApp(state: AgentState): AppState {
  const app = state.apps['web/prod'];
  if (app === undefined) throw new Error('state.json has no web/prod');
  return app;
}

/**
 * SIGKILLs every process whose command line mentions `marker` (a test's unique temp dir): app
 * servers, restart scripts and hooks orphaned by a SIGKILLed agent. Returns how many it killed.
 */
export async function killStrays(marker: string): Promise<number> {
  let killed = 0;
  for (const name of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(marker)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone already
    }
  }
  return killed;
}
