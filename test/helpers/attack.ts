/**
 * Tools of the privilege tests: a canary directory the attacks aim at (it must stay exactly as it
 * was), an attacker that is a real process of an unprivileged user, and the pause points that
 * stop the agent (or its tree worker) exactly where an attack has to land (src/util/test-pause.ts).
 *
 * Attackers are /bin/sh scripts with coreutils, so they run whatever user they are and wherever
 * the repository lives (an app user may not be able to read the checkout).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { LocalUser } from './users.ts';

export interface Canary extends AsyncDisposable {
  readonly dir: string;
  /** A root-only file inside it (mode 0600). */
  readonly secret: string;
  /** Asserts that nothing in it was created, removed, chowned, chmodded or rewritten. */
  assertUntouched(): Promise<void>;
}

interface Entry {
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
}

async function snapshot(dir: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    out.push({ path: path.relative(dir, p) || '.', uid: st.uid, gid: st.gid, mode: st.mode, size: st.size, mtimeMs: st.mtimeMs });
    if (st.isDirectory()) for (const name of (await readdir(p)).sort()) await walk(path.join(p, name));
  };
  await walk(dir);
  return out;
}

/** A root-owned directory (0755) of `files` root-owned files, outside every app root. */
export async function makeCanary(files = 200): Promise<Canary> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'hoist-canary-'));
  await chmod(base, 0o755);
  const dir = path.join(base, 'canary');
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  for (let i = 0; i < files; i++) await writeFile(path.join(dir, `file-${String(i).padStart(3, '0')}`), `canary ${i}\n`, { mode: 0o644 });
  const secret = path.join(dir, 'secret');
  await writeFile(secret, 'root only\n', { mode: 0o600 });
  await chmod(secret, 0o600);
  const before = await snapshot(dir);
  return {
    dir,
    secret,
    async assertUntouched() {
      assert.deepEqual(await snapshot(dir), before, 'the canary directory outside the app root is untouched');
    },
    async [Symbol.asyncDispose]() {
      await rm(base, { recursive: true, force: true });
    },
  };
}

export interface AttackResult {
  readonly attempts: number;
  /** Attempts in which the attacker's change took effect (its own rights may allow some). */
  readonly won: number;
  readonly output: string;
}

/**
 * Runs `script` (sh) as `user`, with the user's supplementary groups, passing `env`. The script
 * loops a bounded number of times and ends by printing `attempts=N won=M`.
 */
export function attackAs(user: LocalUser, script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<AttackResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', '/bin/sh', '-c', script], {
      cwd: '/',
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const m = /attempts=(\d+) won=(\d+)/.exec(output);
      if (code !== 0 || m === null) {
        reject(new Error(`attacker exited ${String(code)} without a tally:\n${output}`));
        return;
      }
      const result = { attempts: Number(m[1]), won: Number(m[2]), output };
      // in the test output: what the attacker tried, and what its own rights let it do
      console.log(`# attacker ${user.name}: ${result.attempts} attempts, ${result.won} took effect`);
      resolve(result);
    });
  });
}

/**
 * The attack loop: for each of `ROUNDS` rounds, every path the glob `TARGETS` matches that is a
 * directory (as the attacker sees it) is moved aside and replaced by a symlink to `LINK_TO`.
 */
export const SWAP_DIRECTORIES = `
i=0; won=0
while [ "$i" -lt "$ROUNDS" ]; do
  i=$((i + 1))
  for d in $TARGETS; do
    [ -d "$d" ] && [ ! -L "$d" ] || continue
    if mv "$d" "$d.moved-$i" 2>/dev/null && ln -s "$LINK_TO" "$d" 2>/dev/null; then won=$((won + 1)); fi
  done
done
echo "attempts=$i won=$won"
`;

export interface Pauses extends AsyncDisposable {
  readonly dir: string;
  /** The environment that arms the pause points. */
  env(steps: readonly string[]): Record<string, string>;
  /** Waits until a process has paused at `step`. */
  reached(step: string, timeoutMs?: number): Promise<void>;
  /** Lets it go on. */
  resume(step: string): Promise<void>;
}

export async function makePauses(): Promise<Pauses> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-pause-'));
  // the tree worker, running as the app user, writes its `.paused` file here too
  await chmod(dir, 0o1777);
  return {
    dir,
    env: (steps) => ({ HOIST_TEST_PAUSE_AT: steps.join(','), HOIST_TEST_PAUSE_DIR: dir }),
    async reached(step, timeoutMs = 60_000) {
      const file = path.join(dir, `${step}.paused`);
      for (let waited = 0; waited < timeoutMs; waited += 20) {
        if (await lstat(file).then(() => true, () => false)) return;
        await delay(20);
      }
      throw new Error(`nothing paused at ${step} within ${timeoutMs} ms`);
    },
    async resume(step) {
      await writeFile(path.join(dir, `${step}.resume`), '');
    },
    async [Symbol.asyncDispose]() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
