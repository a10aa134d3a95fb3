/** Timing and process-accounting helpers shared by the benchmarks. */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The p-th percentile (0–100), nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Runs a command (no shell), rejecting on a non-zero exit; returns its stdout. */
export function exec(cmd: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${err.slice(-2000)}`));
    });
  });
}

export interface ProcSample {
  /** Resident set size, bytes (VmRSS). */
  readonly rss: number;
  /** High-water RSS, bytes (VmHWM). */
  readonly hwm: number;
  /** Anonymous resident memory, bytes (RssAnon): heaps, stacks, what the process allocated. */
  readonly rssAnon: number;
  /** File-backed resident memory, bytes (RssFile): the executable and libraries paged in. */
  readonly rssFile: number;
  /** utime + stime, seconds. */
  readonly cpuSeconds: number;
}

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) is 100 on every Linux we ship for

/** Reads /proc/<pid>/status and /proc/<pid>/stat. */
export async function sampleProcess(pid: number): Promise<ProcSample> {
  const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  // fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), rssAnon: kib('RssAnon'), rssFile: kib('RssFile'), cpuSeconds: (utime + stime) / CLOCK_TICKS };
}

export const MiB = 1024 * 1024;

/**
 * CPU time of a process's live threads in seconds, at nanosecond resolution: the sum of
 * /proc/<pid>/task/<tid>/schedstat (time on CPU). utime + stime count 10 ms ticks, too coarse for
 * an idle process; this misses only threads that have already exited.
 */
export async function threadCpuSeconds(pid: number): Promise<number> {
  return (await threadCpu(pid)).reduce((a, t) => a + t.seconds, 0);
}

/** CPU seconds of each live thread (see threadCpuSeconds), by thread name (`comm`). */
export async function threadCpu(pid: number): Promise<Array<{ tid: string; name: string; seconds: number }>> {
  const tids = await readdir(`/proc/${pid}/task`);
  const each = await Promise.all(
    tids.map(async (tid) => {
      const [sched, comm] = await Promise.all([readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'), readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8')]).catch(() => ['0', '?']);
      return { tid, name: comm.trim(), seconds: Number(sched.split(' ')[0]) / 1e9 };
    }),
  );
  return each;
}

/**
 * Resident bytes of a process by what is mapped (/proc/<pid>/smaps), keyed by the file's base name
 * and permissions (`node r-xp` is the executable's code, `node r--p` its read-only data, ICU's
 * included), `[heap] rw-p` (malloc's brk heap), `anon rw-p` for other anonymous mappings (V8's heap
 * pages, malloc arenas, thread stacks). Largest first.
 */
export async function residentByMapping(pid: number): Promise<Array<{ name: string; bytes: number }>> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const totals = new Map<string, number>();
  let name = 'anon';
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      const mapped = (header[2] ?? '').trim();
      const base = mapped === '' ? 'anon' : mapped.startsWith('[') ? mapped : (mapped.split('/').pop() ?? mapped);
      name = `${base} ${header[1] ?? ''}`;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) totals.set(name, (totals.get(name) ?? 0) + Number(rss[1]) * 1024);
  }
  return [...totals].map(([n, bytes]) => ({ name: n, bytes })).sort((a, b) => b.bytes - a.bytes);
}

export interface Rusage {
  /** Wall time, milliseconds (10 ms resolution). */
  readonly wallMs: number;
  /** user + sys of the process and every descendant it waited for, seconds. */
  readonly cpuSeconds: number;
  /** Peak RSS of the largest single process of the tree, bytes (wait4's ru_maxrss). */
  readonly maxRss: number;
}

/** Where GNU time is; `rusage` needs it (Debian: `apt-get install time`). */
export const GNU_TIME = '/usr/bin/time';

/**
 * Runs a command under GNU time and returns what the kernel accounted for it (wait4). CPU covers
 * the children a process waits for, so `tar -z` counts its gzip; ru_maxrss is the peak of the
 * largest process, not a sum.
 */
export async function rusage(cmd: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; report: string }): Promise<Rusage & { stdout: string }> {
  const stdout = await exec(GNU_TIME, ['-o', options.report, '-f', '%e %U %S %M', cmd, ...args], options);
  const [wall, user, sys, kib] = (await readFile(options.report, 'utf8')).trim().split('\n').pop()?.split(' ').map(Number) ?? [];
  return { wallMs: (wall ?? Number.NaN) * 1000, cpuSeconds: (user ?? Number.NaN) + (sys ?? Number.NaN), maxRss: (kib ?? Number.NaN) * 1024, stdout };
}
