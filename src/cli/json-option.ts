/**
 * `--json`, taken by every command that prints a table or a summary. Its own module so the
 * offline commands (pack, keygen) get it without loading the AWS wiring.
 */
import type { Command } from 'commander';

export interface OutputOptions {
  json?: boolean;
}

export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print the outcome as one JSON object instead of lines (for scripts)');
}
