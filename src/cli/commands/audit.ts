/**
 * `hoist audit`: the change evidence of an app and env for an auditor, one record per manifest:
 * who built it (notes), who signed and approved it and when, when it first ran healthy, on which
 * hosts from when and with what outcome. `--format csv` opens in a spreadsheet (RFC 4180);
 * `--since 30d` keeps the manifests issued in the last 30 days.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { HoistError } from '../../errors.ts';
import { auditCsv, auditRecord, AUDIT_COLUMNS } from '../../evidence/audit.ts';
import { evidenceRows, rowJson } from '../../evidence/history.ts';
import { readEvidence } from '../../evidence/read.ts';
import { addReadOptions, addTrustOption, keysOf, parseExpires, withAws, type AppEnvOptions, type BucketOptions } from '../../publish/options.ts';
import { loadTrustFile } from '../../trust/load.ts';
import { writeErr, writeOut } from '../output.ts';
import { renderTable } from '../table.ts';
import { addJsonOption } from '../json-option.ts';

interface AuditOptions extends BucketOptions, AppEnvOptions {
  trust?: string;
  since?: string;
  format: 'text' | 'json' | 'csv';
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('audit').description('change evidence for an auditor: per manifest who built, signed and approved it, when, which hosts ran it from when, with what outcome');
  addTrustOption(addReadOptions(cmd), 'name the signers and check every signature and approval with this trust policy (recommended)')
    .option('--since <when>', 'only manifests issued since: a duration back from now (30d) or an ISO time')
    .addOption(new Option('--format <format>', 'output format (--json is --format json)').choices(['text', 'json', 'csv']).default('text'));
  addJsonOption(cmd)
    .addHelpText('after', `
Examples:
  hoist audit --app web --env prod --bucket my-releases --trust trust.yaml --since 90d --format csv > web-prod-changes.csv
  hoist audit --app web --env prod --bucket my-releases --trust trust.yaml --json`)
    .action(async (opts: AuditOptions) => {
      await audit(opts);
    });
}

/** `30d` back from now, or an ISO time; ms since the epoch. */
export function parseSince(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  }
  const ms = parseExpires(text, '--since');
  return ms === undefined ? undefined : now - ms;
}

async function audit(opts: AuditOptions): Promise<void> {
  const format = opts.json === true ? 'json' : opts.format;
  if (opts.json === true && opts.format !== 'text' && opts.format !== 'json') throw new HoistError('HOIST_USAGE', `--json and --format ${opts.format} disagree; give one`);
  const since = parseSince(opts.since, Date.now());
  const policy = opts.trust === undefined ? undefined : await loadTrustFile(opts.trust);
  const evidence = await withAws(opts, (clients) => readEvidence(clients.s3, { bucket: opts.bucket, keys: keysOf(opts), app: opts.app, env: opts.env, minSequence: since }));
  const rows = evidenceRows(evidence, { app: opts.app, env: opts.env, policy, since });
  if (policy === undefined) writeErr('warning: signatures and approvals are not checked without --trust (key ids are shown as claimed)\n');
  if (format === 'csv') {
    writeOut(auditCsv(opts.app, opts.env, rows));
    return;
  }
  if (format === 'json') {
    writeOut(`${JSON.stringify({ app: opts.app, env: opts.env, since: since === undefined ? null : new Date(since).toISOString(), generatedAt: new Date().toISOString(), manifests: rows.map((r) => rowJson(r, true)) }, null, 2)}\n`);
    return;
  }
  const pick = ['sequence', 'kind', 'version', 'issued_at', 'built_by', 'signers', 'approvals', 'first_healthy_at', 'hosts_healthy', 'hosts_rolled_back', 'hosts_failed', 'hosts_halted'] as const;
  const index = pick.map((c) => AUDIT_COLUMNS.indexOf(c));
  const records = rows.map((r) => auditRecord(opts.app, opts.env, r));
  writeOut(renderTable(pick.map((c) => c.toUpperCase().replaceAll('_', ' ')), records.map((rec) => index.map((i) => String(rec[i] ?? '') || '-'))));
  writeOut(`${rows.length} manifest${rows.length === 1 ? '' : 's'}${since === undefined ? '' : ` issued since ${new Date(since).toISOString()}`}; --format csv for a spreadsheet, --format json for every host\n`);
}
