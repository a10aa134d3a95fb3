/**
 * CPU cost of one systemd watchdog ping as the agent sends it (src/systemd/notify.ts: a
 * `systemd-notify --pid=… WATCHDOG=1` child process per ping; WatchdogSec=30s means one every
 * 15 s, 240 an hour). An investigation aid for bench/idle.ts, not part of `npm run bench`; needs
 * systemd-notify and python3 (which plays systemd's notify socket: Node cannot bind a unix
 * datagram socket).
 *
 *   node [V8 flags] bench/watchdog-cost.ts [--n 100] [--heap-mib 0]
 *
 * --heap-mib keeps that much live JS heap first, since forking a larger process costs more.
 * Prints the parent's CPU per ping (process.cpuUsage) and the children's (cutime + cstime).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { createNotifier } from '../src/systemd/notify.ts';

const RECEIVER = `
import socket, os, sys, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array('i'); fds.frombytes(data[:len(data) - len(data) % 4])
            for fd in fds: os.close(fd)  # releases systemd-notify's BARRIER=1 wait
`;

const { values } = parseArgs({ options: { n: { type: 'string', default: '100' }, 'heap-mib': { type: 'string', default: '0' } } });
const n = Number(values.n);

async function childrenCpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

const keep: unknown[] = [];
for (let i = 0; i < Number(values['heap-mib']) * 1024 * 16; i++) keep.push({ i, s: `x${i}` });
const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-watchdog-'));
const socket = path.join(dir, 'notify.sock');
const receiver = spawn('python3', ['-c', RECEIVER, socket], { stdio: 'inherit' });
try {
  for (let i = 0; i < 50 && !(await readFile(socket).then(() => true, (e: NodeJS.ErrnoException) => e.code !== 'ENOENT')); i++) await delay(100);
  const errors: unknown[] = [];
  const notifier = createNotifier({ env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '30000000' }, onError: (e) => errors.push(e) });
  await notifier.watchdog(); // warm-up
  const children = await childrenCpuSeconds();
  const before = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < n; i++) await notifier.watchdog();
  const used = process.cpuUsage(before);
  const childCpu = (await childrenCpuSeconds()) - children;
  const heap = process.memoryUsage();
  process.stdout.write(
    `${n} pings, RSS ${(heap.rss / 2 ** 20).toFixed(0)} MiB, ${errors.length} errors: parent ${((used.user + used.system) / 1000 / n).toFixed(2)} ms CPU per ping, ` +
      `systemd-notify ${((childCpu * 1000) / n).toFixed(2)} ms CPU per ping, ${((performance.now() - started) / n).toFixed(1)} ms wall; ` +
      `at 240 pings an hour: ${(((used.user + used.system) / 1e6 / n + childCpu / n) * 240).toFixed(2)} s/h\n`,
  );
  if (errors.length > 0) process.stdout.write(`first error: ${String(errors[0])}\n`);
} finally {
  receiver.kill();
  await rm(dir, { recursive: true, force: true });
  keep.length = 0;
}
