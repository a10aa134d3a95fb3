/** `hoist status --local`: what this host runs, from its own state. */
import type { Command } from 'commander';
import { HoistError } from '../../errors.ts';
import { loadConfigFile } from '../../config/load.ts';
import { loadState, appKey, getAppState } from '../../state/store.ts';
import { formatDuration } from '../../util/units.ts';
import { writeOut } from '../output.ts';
import { DEFAULT_CONFIG } from '../defaults.ts';
import { renderTable } from '../table.ts';
import { fetchReports } from '../../fleet/fetch.ts';
import { DEFAULT_STALE_AFTER_MS, fleetJson, renderFleetText, summarizeFleet } from '../../fleet/summary.ts';
import { addAwsOptions, parseExpires, withAws } from '../../publish/options.ts';
import { s3Keys } from '../../aws/keys.ts';

interface FleetOptions {
  app?: string;
  env?: string;
  bucket?: string;
  prefix: string;
  staleAfter: string;
  region?: string;
  endpoint?: string;
  concurrency: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description('show what runs: this host (--local) or the whole fleet of an app and env')
    .option('--local', 'this host, from the agent state')
    .option('-c, --config <file>', 'agent configuration, with --local', DEFAULT_CONFIG)
    .option('--json', 'machine-readable output')
    .option('--app <name>', 'application name (fleet mode)')
    .option('--env <name>', 'environment name (fleet mode)')
    .option('--bucket <name>', 'the release bucket the agents report to (fleet mode)')
    .option('--prefix <prefix>', 'key prefix inside the bucket', '')
    .option('--stale-after <duration>', 'flag reports older than this as STALE (agents report at least every 5m)', '15m')
    .option('--concurrency <n>', 'reports fetched in parallel', '16');
  addAwsOptions(cmd)
    .addHelpText('after', `
Examples:
  hoist status --app web --env prod --bucket my-releases        # every host's report, from S3
  hoist status --app web --env prod --bucket my-releases --json
  hoist status --local                      # on a host: what each app runs
  hoist status --local --json`)
    .action(async (opts: FleetOptions & { local?: boolean; config: string; json?: boolean }) => {
      if (opts.local === true) {
        await localStatus(opts.config, opts.json === true);
        return;
      }
      await fleetStatus(opts, opts.json === true);
    });
}

async function fleetStatus(opts: FleetOptions, json: boolean): Promise<void> {
  const missing = (['app', 'env', 'bucket'] as const).filter((k) => opts[k] === undefined).map((k) => `--${k}`);
  if (missing.length > 0 || opts.app === undefined || opts.env === undefined || opts.bucket === undefined) {
    throw new HoistError('HOIST_USAGE', `fleet status needs ${missing.join(', ')} (or pass --local on a host)`);
  }
  const staleAfterMs = parseExpires(opts.staleAfter, '--stale-after') ?? DEFAULT_STALE_AFTER_MS;
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new HoistError('HOIST_USAGE', `--concurrency ${JSON.stringify(opts.concurrency)} must be a whole number from 1 to 256`);
  }
  const { app, env, bucket } = opts;
  const prefix = s3Keys(opts.prefix).statusPrefix(app, env);
  const reports = await withAws(opts, (clients) => fetchReports(clients.s3, { bucket, prefix, concurrency }));
  const status = summarizeFleet(reports, Date.now(), staleAfterMs);
  if (json) {
    writeOut(`${JSON.stringify(fleetJson(status), null, 2)}\n`);
    return;
  }
  if (status.hosts.length === 0) {
    writeOut(`no status reports for ${app}/${env} in s3://${bucket}/${prefix}; agents write them when report.s3 is true\n`);
    return;
  }
  writeOut(renderFleetText(status, renderTable, staleAfterMs));
}

async function localStatus(file: string, json: boolean): Promise<void> {
  const config = await loadConfigFile(file);
  // Read-only: the agent may be running and owns the file; a corrupt one is reported, never moved.
  const { state } = await loadState(config.stateDir, { readOnly: true });
  const now = Date.now();
  const rows = config.apps.map((app) => {
    const s = getAppState(state, appKey(app.name, app.env));
    return {
      app: app.name,
      env: app.env,
      state: s.state,
      current: s.current ?? null,
      previous: s.previous ?? null,
      lastAttempt: s.lastAttempt ?? null,
      deploying: s.txn === undefined ? null : { version: s.txn.target.version, step: s.txn.step },
      failed: s.failed,
    };
  });
  if (json) {
    writeOut(`${JSON.stringify({ apps: rows }, null, 2)}\n`);
    return;
  }
  writeOut(
    renderTable(
      ['APP', 'ENV', 'STATE', 'VERSION', 'SINCE', 'PREVIOUS', 'LAST ATTEMPT'],
      rows.map((r) => [
        r.app,
        r.env,
        r.deploying === null ? r.state : `${r.state} (${r.deploying.version}: ${r.deploying.step})`,
        r.current?.version ?? '-',
        r.current === null ? '-' : `${formatDuration(now - Date.parse(r.current.since))} ago`,
        r.previous?.version ?? '-',
        r.lastAttempt === null ? '-' : `${r.lastAttempt.version ?? ''} ${r.lastAttempt.outcome}${r.lastAttempt.code === undefined ? '' : ` ${r.lastAttempt.code}`}`.trim(),
      ]),
    ),
  );
}
