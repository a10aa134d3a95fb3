/** `hoist tree-worker REQUEST`: hidden; the agent runs it to work in an app's tree as the app user. */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('tree-worker', { hidden: true })
    .description('internal: acts in an app tree with the app user\'s rights (started by the agent)')
    .argument('<request>', 'the request, as JSON')
    .action(async (request: string) => {
      const { runWorker } = await import('../../tree/worker.ts');
      await runWorker(request);
    });
}
