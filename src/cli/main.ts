/**
 * The `hoist` entry point: builds the commander program from the command modules and turns
 * every outcome into an exit status (0 success, 1 failure, 2 usage or config error).
 * Only this function maps errors to exit codes; commands just throw.
 */
import { Command, CommanderError } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { toHoistError } from '../errors.ts';
import * as agent from './commands/agent.ts';
import * as approve from './commands/approve.ts';
import * as keygen from './commands/keygen.ts';
import * as pack from './commands/pack.ts';
import * as pin from './commands/pin.ts';
import * as publish from './commands/publish.ts';
import * as rollback from './commands/rollback.ts';
import * as sign from './commands/sign.ts';
import * as status from './commands/status.ts';
import * as verify from './commands/verify.ts';
import { formatError, writeErr, writeOut } from './output.ts';

interface CommandModule {
  register(program: Command): void;
}

/** Every subcommand; add a module here to add a command. */
const COMMANDS: readonly CommandModule[] = [keygen, pack, sign, verify, agent, status, publish, approve, pin, rollback];

export function buildProgram(): Command {
  const program = new Command('hoist')
    .description('Pull-based deployments for fleets of Linux servers: signed manifests, atomic flips, automatic rollback.')
    .version(pkg.version, '-V, --version', 'print the hoist version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr,
      // commander prefixes its messages with "error: "; print them the way every other error looks.
      outputError: (text, write) => write(`hoist: HOIST_USAGE: ${text.replace(/^error: /, '')}`),
    });
  // Program options only before the subcommand: `hoist publish --version 1.2.3` is publish's --version.
  program.enablePositionalOptions();
  // Settings above are inherited by subcommands created after this point.
  for (const command of COMMANDS) command.register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  ignoreBrokenPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const hoistError = toHoistError(error);
    writeErr(formatError(hoistError));
    if (hoistError.code === 'HOIST_INTERNAL' && error instanceof Error && error.stack !== undefined) writeErr(`${error.stack}\n`);
    return hoistError.exitCode;
  }
}

let pipeGuarded = false;

/** `hoist verify x | head` closes stdout early; that is the reader's choice, not a crash. */
function ignoreBrokenPipe(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
