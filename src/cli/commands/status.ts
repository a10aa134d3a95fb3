/** `hoist status --local`: what this host runs, from its own state. */
import type { Command } from 'commander';
import { HoistError } from '../../errors.ts';
import { loadConfigFile } from '../../config/load.ts';
import { loadState, appKey, getAppState } from '../../state/store.ts';
import { formatDuration } from '../../util/units.ts';
import { writeErr, writeOut } from '../output.ts';
import { DEFAULT_CONFIG } from '../defaults.ts';
import { renderTable } from '../table.ts';
import { fetchReports } from '../../fleet/fetch.ts';
import { DEFAULT_STALE_AFTER_MS, fleetJson, renderFleetText, summarizeFleet, type FleetStatus } from '../../fleet/summary.ts';
import { waitForConvergence } from '../../fleet/wait.ts';
import { addAwsOptions, parseExpires, withAws, type AwsOptions } from '../../publish/options.ts';
import { withInterrupt } from '../interrupt.ts';
import { s3Keys } from '../../aws/keys.ts';
import { readHeldTrustSummary, type HeldTrustSummary } from '../../trust/root/store.ts';

interface FleetOptions extends AwsOptions {
  app?: string;
  env?: string;
  bucket?: string;
  prefix: string;
  staleAfter: string;
  forgetAfter?: string;
  wait?: string | boolean;
  pollInterval: string;
  concurrency: string;
}

/** `--wait` without a value. */
const DEFAULT_WAIT = '10m';

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
    .option('--forget-after <duration>', 'hide reports older than this (terminated hosts), e.g. 7d')
    .option('--wait [duration]', `poll until every host runs its desired release healthy, at most this long (default ${DEFAULT_WAIT})`)
    .option('--poll-interval <duration>', 'time between polls with --wait', '5s')
    .option('--concurrency <n>', 'reports fetched in parallel', '16');
  addAwsOptions(cmd)
    .addHelpText('after', `
Exit status (fleet mode): 0 when every reporting host runs its desired release healthy and no
report is stale, 1 otherwise (with --wait: still so when the time ran out), 2 for usage errors.

Examples:
  hoist status --app web --env prod --bucket my-releases        # every host's report, from S3
  hoist status --app web --env prod --bucket my-releases --json
  hoist status --app web --env prod --bucket my-releases --wait 15m --forget-after 7d   # in CI, after publish
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
  const forgetAfterMs = parseExpires(opts.forgetAfter, '--forget-after');
  const waitMs = opts.wait === undefined || opts.wait === false ? undefined : parseExpires(opts.wait === true ? DEFAULT_WAIT : opts.wait, '--wait');
  const pollMs = parseExpires(opts.pollInterval, '--poll-interval') ?? 5000;
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new HoistError('HOIST_USAGE', `--concurrency ${JSON.stringify(opts.concurrency)} must be a whole number from 1 to 256`);
  }
  const { app, env, bucket } = opts;
  const prefix = s3Keys(opts.prefix).statusPrefix(app, env);
  const status = await withAws(opts, async (clients) => {
    const read = async (): Promise<FleetStatus> => summarizeFleet(await fetchReports(clients.s3, { bucket, prefix, concurrency }), Date.now(), { staleAfterMs, forgetAfterMs });
    if (waitMs === undefined) return read();
    let last = '';
    const onProgress = (s: FleetStatus): void => {
      const line = progressLine(s);
      if (line !== last) writeErr(line);
      last = line;
    };
    return withInterrupt((signal) => waitForConvergence(read, { waitMs, pollMs, signal, onProgress }));
  });
  if (json) {
    writeOut(`${JSON.stringify(fleetJson(status), null, 2)}\n`);
  } else if (status.hosts.length === 0) {
    writeOut(`no status reports for ${app}/${env} in s3://${bucket}/${prefix}; agents write them when report.s3 is true\n`);
  } else {
    writeOut(renderFleetText(status, renderTable, staleAfterMs));
  }
  if (!status.summary.converged) {
    const waited = waitMs === undefined ? '' : ` after waiting ${formatDuration(waitMs)}`;
    const list = status.summary.notConverged.map((n) => `${n.hostId} (${n.reason})`).join(', ');
    const n = status.summary.notConverged.length;
    throw new HoistError('HOIST_NOT_CONVERGED', `${n} of ${status.summary.hosts} host${status.summary.hosts === 1 ? '' : 's'} of ${app}/${env} not converged${waited}: ${list}`, {
      details: { notConverged: status.summary.notConverged },
    });
  }
}

/** The stderr line while waiting, printed when it changes: a CI log shows progress, not a table per poll. */
function progressLine(status: FleetStatus): string {
  const s = status.summary;
  return `waiting: ${s.hosts - s.notConverged.length} of ${s.hosts} hosts converged${s.notConverged.length === 0 ? '' : `; not yet: ${s.notConverged.map((n) => `${n.hostId} (${n.reason})`).join(', ')}`}\n`;
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
      // what the verified channel or pin says this host should run (what it runs, outside the cohort)
      desired: s.desired ?? (s.current === undefined ? null : { version: s.current.version, sha256: s.current.sha256, sequence: s.current.sequence, kind: s.current.kind }),
      rejected: s.rejected ?? null,
      skipped: s.skipped ?? null,
      failed: s.failed,
    };
  });
  // trust.root: the signed trust document this host follows (null when it uses the config's keys alone)
  const root = config.trust.root;
  const trust: HeldTrustSummary | null = root === undefined ? null : await readHeldTrustSummary(config.stateDir, root.version);
  if (json) {
    writeOut(`${JSON.stringify({ apps: rows, trust }, null, 2)}\n`);
    return;
  }
  writeOut(
    renderTable(
      ['APP', 'ENV', 'STATE', 'VERSION', 'DESIRED', 'SINCE', 'PREVIOUS', 'LAST ATTEMPT'],
      rows.map((r) => [
        r.app,
        r.env,
        r.deploying === null ? r.state : `${r.state} (${r.deploying.version}: ${r.deploying.step})`,
        r.current?.version ?? '-',
        r.desired === null ? '-' : `${r.desired.version}${r.desired.kind === 'pin' ? ' (pin)' : ''}`,
        r.current === null ? '-' : `${formatDuration(now - Date.parse(r.current.since))} ago`,
        r.previous?.version ?? '-',
        r.lastAttempt === null ? '-' : `${r.lastAttempt.version ?? ''} ${r.lastAttempt.outcome}${r.lastAttempt.code === undefined ? '' : ` ${r.lastAttempt.code}`}`.trim(),
      ]),
    ),
  );
  // what was refused or left aside, and why: never silent
  for (const r of rows) {
    if (r.rejected !== null) writeOut(`${r.app}/${r.env} rejected${r.rejected.sequence === undefined ? '' : ` sequence ${r.rejected.sequence}`} (${r.rejected.code}, ${formatDuration(now - Date.parse(r.rejected.at))} ago): ${r.rejected.message}\n`);
    if (r.skipped !== null) writeOut(`${r.app}/${r.env} skipped: ${r.skipped.reason}${r.skipped.eligibleAt === undefined ? '' : ` until ${r.skipped.eligibleAt}`}${r.skipped.message === undefined ? '' : ` (${r.skipped.message})`}\n`);
  }
  if (trust !== null) writeOut(`${trustLine(trust, now)}\n`);
}

/** One line on the trust document in force: its version, and when it expires (or has). */
export function trustLine(trust: HeldTrustSummary, now: number): string {
  if (trust.unreadable !== undefined) return `trust: ${trust.unreadable}`;
  if (trust.expiresAt === null) return `trust: version ${trust.version}, the root keys of the config (no trust document taken yet)`;
  const left = Date.parse(trust.expiresAt) - now;
  const when = left > 0 ? `in ${formatDuration(left)}` : `${formatDuration(-left)} ago: nothing new is activated until a newer one is published`;
  return `trust: version ${trust.version}, expires ${trust.expiresAt} (${when})`;
}
