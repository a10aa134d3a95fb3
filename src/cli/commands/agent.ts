/** `hoist agent --config F [--once]`: the daemon. The runtime loads on demand. */
import type { Command } from 'commander';
import { DEFAULT_CONFIG } from '../defaults.ts';

export function register(program: Command): void {
  program
    .command('agent')
    .description('run the deployment agent: learn of manifests, verify, deploy, health-check, roll back')
    .option('-c, --config <file>', 'agent configuration (YAML)', DEFAULT_CONFIG)
    .option('--once', 'reconcile every app once and exit: 0 ok or nothing to do, 1 a deploy failed or rolled back, a manifest was rejected or the release is skipped (failed list, halt), 2 config error')
    .addHelpText(
      'after',
      `
Examples:
  hoist agent --config /etc/hoist/agent.yaml          # the daemon, as systemd runs it
  hoist agent --config ./agent.yaml --once            # one reconcile, then exit

Signals: SIGTERM drains within drain.timeout and exits 0 (a health check not decided by then is
checked again at the next start); SIGHUP reloads the config (an invalid new config is logged and
the old one kept).`,
    )
    .action(async (opts: { config: string; once?: boolean }) => {
      // Loaded here so `hoist --help` and the offline commands do not pay for the AWS SDK.
      const { runAgent } = await import('../run-agent.ts');
      await runAgent(opts.config, opts.once === true);
    });
}

