/**
 * How to run this same hoist as a child process: the packaged executable runs itself, a bundle
 * runs under the same Node with the same flags, and the development tree runs `bin/hoist.js`.
 */
import path from 'node:path';
import { RUNTIME_FLAGS } from './defaults.ts';

export interface SelfCommand {
  readonly command: string;
  readonly args: readonly string[];
}

export function selfCommand(): SelfCommand {
  const here = import.meta.filename;
  // the single executable: `__filename` is the executable itself
  if (here === process.execPath) return { command: process.execPath, args: [] };
  if (here.endsWith('.ts')) return { command: process.execPath, args: [path.resolve(path.dirname(here), '../../bin/hoist.js')] };
  return { command: process.execPath, args: [...RUNTIME_FLAGS, here] };
}
