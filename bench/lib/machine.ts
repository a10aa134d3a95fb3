/** The facts printed next to every result: a figure means nothing without the machine. */
import { readFile } from 'node:fs/promises';
import os from 'node:os';

export interface MachineFacts {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly kernel: string;
  readonly loadavg: readonly number[];
}

export async function machineFacts(): Promise<MachineFacts> {
  const cpus = os.cpus();
  let cpu = cpus[0]?.model ?? 'unknown';
  if (cpu === 'unknown') {
    const info = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
    cpu = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? 'unknown';
  }
  return {
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function describeMachine(m: MachineFacts): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.kernel}, load ${m.loadavg.join(' ')}`;
}
