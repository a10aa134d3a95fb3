/**
 * The `hoist` entry point: builds the commander program from the command modules and turns
 * every outcome into an exit status (0 success, 1 failure, 2 usage or config error).
 * Only this function maps errors to exit codes; commands just throw.
 */
import { Command, CommanderError } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { toHoistError } from '../errors.ts';
import { formatError, writeErr, writeOut } from './output.ts';

interface CommandModule {
  register(program: Command): void;
}

/**
 * Every subcommand and the module that registers it; add a line here to add a command. Modules
 * load on demand: a run imports only the command it runs (the AWS SDK and zod are most of a cold
 * start), and all of them only for the top-level help.
 */
const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  keygen: () => import('./commands/keygen.ts'),
  pack: () => import('./commands/pack.ts'),
  sign: () => import('./commands/sign.ts'),
  verify: () => import('./commands/verify.ts'),
  agent: () => import('./commands/agent.ts'),
  status: () => import('./commands/status.ts'),
  publish: () => import('./commands/publish.ts'),
  approve: () => import('./commands/approve.ts'),
  pin: () => import('./commands/pin.ts'),
  unpin: () => import('./commands/pin.ts'),
  rollback: () => import('./commands/rollback.ts'),
  trust: () => import('./commands/trust.ts'),
  'tree-worker': () => import('./commands/tree-worker.ts'),
  dashboard: () => import('./commands/dashboard.ts'),
  history: () => import('./commands/history.ts'),
  audit: () => import('./commands/audit.ts'),
  rollout: () => import('./commands/rollout.ts'),
  renew: () => import('./commands/renew.ts'),
  promote: () => import('./commands/promote.ts'),
};

/** The modules a command line needs: the named command's, or every one (help, typos). */
async function commandModules(argv: readonly string[]): Promise<CommandModule[]> {
  const name = argv.find((arg) => !arg.startsWith('-'));
  if (name === undefined && (argv.includes('-V') || argv.includes('--version'))) return [];
  const one = name === undefined ? undefined : COMMANDS[name];
  const loaders = one === undefined ? Object.values(COMMANDS) : [one];
  return [...new Set(await Promise.all(loaders.map((load) => load())))];
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
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
  for (const command of await commandModules(argv)) command.register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  ignoreBrokenPipe();
  const program = await buildProgram(argv);
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
