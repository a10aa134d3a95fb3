/**
 * A tiny HTTP app to deploy as a "release" in tests: `writeAppRelease(dir, { version })` writes
 *
 * - `server.mjs`  plain JavaScript, node:http, no dependencies (runs on Node 20 too). Listens on
 *                 127.0.0.1:$APP_PORT. GET /healthz → 200 "ok <version>" or 500 per behaviour;
 *                 GET /version → the version. Once listening it writes its pid to $APP_PID_FILE
 *                 (atomically): that file is the "it is up" signal and the handle to stop it.
 * - `VERSION`, `behaviour.json`
 * - `restart.sh`  the app's restart command (a copy outside the root starts $HOIST_RELEASE_DIR,
 *                 see writeRestartScript). Needs APP_PORT; APP_PID_FILE defaults to
 *                 `<release dir>/../../app.pid`, i.e. `<app root>/app.pid` for a release in
 *                 `<root>/releases/<name>`. It stops the instance named in the pid file (TERM, then
 *                 KILL after 5 s; only if that pid really runs a server.mjs), starts this release's
 *                 server detached in its own session (setsid, output to $APP_LOG_FILE, default
 *                 `$APP_PID_FILE.log`) with node from $HOIST_TEST_NODE or else `node` on PATH, and
 *                 waits at most 5 s for it to listen. Exit 0 once it listens, 1 if it died or
 *                 never listened.
 *
 * Behaviours: 'healthy'; 'unhealthy' (/healthz is 500); 'crash' (exits with status 3 before
 * listening, so restart.sh fails); { failAfterMs } (healthy, then 500 once that long has passed since the first
 * /healthz request);
 * { crashAfterMs } (listens, so restart.sh succeeds, then exits: probes get ECONNREFUSED);
 * { hangFirstMs, then } (/healthz does not answer for that long after start, then healthy or 500).
 *
 * Typical agent config: `restart: { run: "APP_PORT=1234 APP_PID_FILE=/tmp/x/app.pid ./restart.sh" }`
 * plus `HOIST_TEST_NODE=…` when the `node` on PATH is not the one to use.
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export type AppBehaviour = 'healthy' | 'unhealthy' | 'crash' | { failAfterMs: number } | { crashAfterMs: number } | { hangFirstMs: number; then: 'healthy' | 'unhealthy' };

export interface AppReleaseOptions {
  readonly version: string;
  readonly behaviour?: AppBehaviour;
}

export async function writeAppRelease(dir: string, options: AppReleaseOptions): Promise<void> {
  const behaviour = options.behaviour ?? 'healthy';
  await writeFile(join(dir, 'VERSION'), `${options.version}\n`);
  await writeFile(join(dir, 'behaviour.json'), `${JSON.stringify(behaviourJson(behaviour))}\n`);
  await writeFile(join(dir, 'server.mjs'), SERVER_MJS);
  await writeFile(join(dir, 'restart.sh'), RESTART_SH);
  await chmod(join(dir, 'restart.sh'), 0o755);
}

function behaviourJson(behaviour: AppBehaviour): Record<string, unknown> {
  if (typeof behaviour === 'string') return { kind: behaviour };
  if ('failAfterMs' in behaviour) return { kind: 'failAfter', ms: behaviour.failAfterMs };
  if ('hangFirstMs' in behaviour) return { kind: 'hangFirst', ms: behaviour.hangFirstMs, then: behaviour.then };
  return { kind: 'crashAfter', ms: behaviour.crashAfterMs };
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from listen(0)');
  return address.port;
}

/** True while the process exists and is not a zombie (PID 1 here may not reap orphans). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits (bounded) until `pid` no longer runs; true when it is gone. */
export async function waitGone(pid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!(await isRunning(pid))) return true;
    await delay(25);
  }
  return !(await isRunning(pid));
}

/** The pid in the app's pid file, or undefined when there is none. */
export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops the app named by the pid file (TERM, KILL after 3 s) and removes the file. Idempotent. */
export async function stopApp(pidFile: string): Promise<void> {
  const pid = await readPid(pidFile);
  if (pid !== undefined && (await isRunning(pid))) {
    signal(pid, 'SIGTERM');
    if (!(await waitGone(pid, 3_000))) {
      signal(pid, 'SIGKILL');
      await waitGone(pid, 3_000);
    }
  }
  await rm(pidFile, { force: true });
}

/** The shell command line a test puts in the agent config as `restart.run`. */
/**
 * The restart command of the test app. With `script` (a copy written by writeRestartScript outside
 * the app root, as an agent's restart must be: it runs as root and may not run a release's file)
 * it starts the release in $HOIST_RELEASE_DIR; without, the release's own `./restart.sh`.
 */
export function restartCommand(options: { port: number; pidFile: string; node?: string; script?: string }): string {
  const node = options.node ?? process.execPath;
  const run = options.script === undefined ? './restart.sh' : `sh ${shellQuote(options.script)}`;
  return `APP_PORT=${options.port} APP_PID_FILE=${shellQuote(options.pidFile)} HOIST_TEST_NODE=${shellQuote(node)} ${run}`;
}

/** Writes the test app's restart script to `file` (outside any app root), for restartCommand. */
export async function writeRestartScript(file: string): Promise<void> {
  await writeFile(file, RESTART_SH, { mode: 0o755 });
}

/** GET http://127.0.0.1:port/path → status and body (bounded by a timeout). */
export async function getApp(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const SERVER_MJS = `// hoist test app: a release that answers /healthz and /version. Plain JS, no dependencies.
import { createServer } from 'node:http';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const version = readFileSync(new URL('./VERSION', import.meta.url), 'utf8').trim();
const behaviour = JSON.parse(readFileSync(new URL('./behaviour.json', import.meta.url), 'utf8'));
const port = Number(process.env.APP_PORT);
const pidFile = process.env.APP_PID_FILE;
if (!Number.isInteger(port) || port <= 0) {
  console.error('APP_PORT must be set to a port');
  process.exit(2);
}
if (behaviour.kind === 'crash') {
  console.error('version ' + version + ' crashes on start, on purpose');
  process.exit(3);
}
// failAfter counts from the first health request, not from start, so it does not depend on how
// long the restart and the first probe took on a busy machine.
let firstProbe;

function healthy() {
  if (behaviour.kind === 'unhealthy') return false;
  firstProbe ??= Date.now();
  if (behaviour.kind === 'failAfter') return Date.now() - firstProbe < behaviour.ms;
  return true;
}

const started = Date.now();
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz' && behaviour.kind === 'hangFirst' && Date.now() - started < behaviour.ms) {
    // no answer at all for a while (a probe times out), like an app still warming up
    return;
  }
  if (req.method === 'GET' && req.url === '/healthz') {
    const ok = behaviour.kind === 'hangFirst' ? behaviour.then === 'healthy' : healthy();
    res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
    res.end((ok ? 'ok ' : 'unhealthy ') + version + '\\n');
  } else if (req.method === 'GET' && req.url === '/version') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(version + '\\n');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\\n');
  }
});

server.listen(port, '127.0.0.1', () => {
  if (pidFile) {
    writeFileSync(pidFile + '.tmp', process.pid + '\\n');
    renameSync(pidFile + '.tmp', pidFile);
  }
  console.log('version ' + version + ' listening on 127.0.0.1:' + port + ' pid ' + process.pid);
  if (behaviour.kind === 'crashAfter') {
    setTimeout(() => {
      console.error('version ' + version + ' crashing on purpose');
      process.exit(4);
    }, behaviour.ms);
  }
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
`;

const RESTART_SH = `#!/bin/sh
# hoist test app: stop the running instance, start this release detached, wait until it listens.
set -eu
: "\${APP_PORT:?APP_PORT must be set}"
release_dir=$(cd "\${HOIST_RELEASE_DIR:-$(dirname "$0")}" && pwd -P)
APP_PID_FILE=\${APP_PID_FILE:-"$release_dir/../../app.pid"}
APP_LOG_FILE=\${APP_LOG_FILE:-"$APP_PID_FILE.log"}
export APP_PORT APP_PID_FILE
node_bin=\${HOIST_TEST_NODE:-node}

# Running and not a zombie (PID 1 may not reap orphans).
alive() {
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_old() {
  [ -f "$APP_PID_FILE" ] || return 0
  old=$(cat "$APP_PID_FILE" 2>/dev/null || true)
  rm -f "$APP_PID_FILE"
  case "$old" in '' | *[!0-9]*) return 0 ;; esac
  # Only ever kill our own server, never whoever reused the pid.
  tr '\\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q 'server\\.mjs' || return 0
  alive "$old" || return 0
  echo "stopping pid $old"
  kill -TERM "$old" 2>/dev/null || true
  i=0
  while alive "$old" && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if alive "$old"; then kill -KILL "$old" 2>/dev/null || true; fi
}

stop_old
echo "starting $(cat "$release_dir/VERSION") on 127.0.0.1:$APP_PORT"
setsid "$node_bin" "$release_dir/server.mjs" </dev/null >>"$APP_LOG_FILE" 2>&1 &
pid=$!
i=0
while [ "$i" -lt 50 ]; do
  if [ "$(cat "$APP_PID_FILE" 2>/dev/null || true)" = "$pid" ]; then
    echo "started pid $pid"
    exit 0
  fi
  if ! alive "$pid"; then
    echo "server died during start; its log:" >&2
    tail -n 20 "$APP_LOG_FILE" >&2 || true
    exit 1
  fi
  sleep 0.1
  i=$((i + 1))
done
echo "server did not listen within 5s; killing it" >&2
kill -KILL "$pid" 2>/dev/null || true
exit 1
`;
