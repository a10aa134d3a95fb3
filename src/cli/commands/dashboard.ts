/**
 * `hoist dashboard`: a read-only web page of the fleet, served from the operator's machine out of
 * the bucket with the operator's own credentials. Runs until Ctrl-C (exit 0).
 */
import type { Command } from 'commander';
import { HoistError } from '../../errors.ts';
import { BucketReader } from '../../dashboard/reader.ts';
import { DEFAULT_LISTEN, isLoopback, parseListen } from '../../dashboard/guard.ts';
import { LiveFleet } from '../../dashboard/live.ts';
import { serveDashboard } from '../../dashboard/server.ts';
import { normalizePrefix } from '../../aws/keys.ts';
import { DEFAULT_STALE_AFTER_MS } from '../../fleet/summary.ts';
import { addBucketOptions, parseExpires, withAws, type BucketOptions } from '../../publish/options.ts';
import { loadTrustFile } from '../../trust/load.ts';
import { withInterrupt } from '../interrupt.ts';
import { writeOut } from '../output.ts';

interface DashboardOptions extends BucketOptions {
  listen: string;
  trust?: string;
  refresh: string;
  staleAfter: string;
  token?: boolean;
}

/** Below this a refresh would mostly re-list an unchanged bucket. */
const MIN_REFRESH_MS = 200;

export function register(program: Command): void {
  const cmd = program
    .command('dashboard')
    .description('serve a read-only web page of the fleet: every app and env, rollouts, hosts, failures, history')
    .option('--listen <address>', 'address to serve on; anything but loopback requires the token printed at start', DEFAULT_LISTEN)
    .option('--token', 'require the access token on loopback too (on a machine other people log in to)')
    .option('--trust <file>', 'verify channels, pins and history signatures with this trust policy (else they show as unverified)')
    .option('--refresh <duration>', 'how often the bucket is read again while a page is open', '5s')
    .option('--stale-after <duration>', 'flag reports older than this as stale (agents report at least every 5m)', '15m');
  addBucketOptions(cmd)
    .addHelpText('after', `
Examples:
  hoist dashboard --bucket my-releases --trust /etc/hoist/agent.yaml    # then open http://127.0.0.1:8080/
  ssh -L 8080:127.0.0.1:8080 ops-box hoist dashboard --bucket my-releases   # from a bastion
  hoist dashboard --bucket my-releases --listen 10.0.0.5:8080           # prints a URL with its token`)
    .action(async (opts: DashboardOptions) => {
      await dashboard(opts);
    });
}

async function dashboard(opts: DashboardOptions): Promise<void> {
  const listen = parseListen(opts.listen);
  const refreshMs = parseExpires(opts.refresh, '--refresh') ?? 5000;
  if (refreshMs < MIN_REFRESH_MS) throw new HoistError('HOIST_USAGE', `--refresh ${opts.refresh} is too short; give at least ${MIN_REFRESH_MS}ms`);
  const staleAfterMs = parseExpires(opts.staleAfter, '--stale-after') ?? DEFAULT_STALE_AFTER_MS;
  const policy = opts.trust === undefined ? undefined : await loadTrustFile(opts.trust);
  const prefix = normalizePrefix(opts.prefix);
  await withAws(opts, async (clients) => {
    const live = new LiveFleet({ source: new BucketReader(clients.s3, { bucket: opts.bucket, prefix }), refreshMs, staleAfterMs, policy });
    try {
      await live.start();
      const server = await serveDashboard({ listen, live, requireToken: opts.token === true });
      try {
        writeOut(`hoist dashboard: s3://${opts.bucket}/${prefix}, ${policy === undefined ? 'signatures unverified (no --trust)' : `signatures verified with ${opts.trust ?? ''}`}, read every ${opts.refresh} while a page is open\n`);
        writeOut(`open ${server.url}\n`);
        if (server.token !== undefined && !isLoopback(listen.host) && opts.token !== true) {
          writeOut('the token in the address is required: this address can be reached from other machines, over plain HTTP (an SSH tunnel to a loopback address is safer)\n');
        }
        writeOut('Ctrl-C stops it\n');
        await withInterrupt((signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })));
      } finally {
        await server.close();
      }
    } finally {
      live.close();
    }
  });
}
