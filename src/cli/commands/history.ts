/**
 * `hoist history`: every channel and pin envelope of `history/` for an app and env, newest first:
 * sequence, kind, version, digest, issue time, signers (by key name with --trust, each signature
 * checked), approvals with their signed times, notes, and the outcome counts from `events/`.
 */
import type { Command } from 'commander';
import { readEvidence } from '../../evidence/read.ts';
import { approvalsText, evidenceRows, notesText, outcomesText, rowJson, signersText } from '../../evidence/history.ts';
import { addJsonOption, type OutputOptions } from '../json-option.ts';
import { addReadOptions, addTrustOption, keysOf, withAws, type AppEnvOptions, type BucketOptions } from '../../publish/options.ts';
import { loadTrustFile } from '../../trust/load.ts';
import { writeOut } from '../output.ts';
import { renderTable } from '../table.ts';

interface HistoryOptions extends BucketOptions, AppEnvOptions, OutputOptions {
  trust?: string;
}

export function register(program: Command): void {
  const cmd = program.command('history').description('list every release and pin published for an app and env: signers, approvals, notes and where each ran');
  addJsonOption(addTrustOption(addReadOptions(cmd), 'name the signers and check every signature and approval with this trust policy'))
    .addHelpText('after', `
Examples:
  hoist history --app web --env prod --bucket my-releases --trust /etc/hoist/agent.yaml
  hoist history --app web --env prod --bucket my-releases --json | jq '.[0]'`)
    .action(async (opts: HistoryOptions) => {
      await history(opts);
    });
}

async function history(opts: HistoryOptions): Promise<void> {
  const policy = opts.trust === undefined ? undefined : await loadTrustFile(opts.trust);
  const evidence = await withAws(opts, (clients) => readEvidence(clients.s3, { bucket: opts.bucket, keys: keysOf(opts), app: opts.app, env: opts.env }));
  const rows = evidenceRows(evidence, { app: opts.app, env: opts.env, policy });
  if (opts.json === true) {
    writeOut(`${JSON.stringify(rows.map((r) => rowJson(r, false)), null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    writeOut(`nothing published for ${opts.app}/${opts.env} in s3://${opts.bucket}/${keysOf(opts).historyPrefix(opts.app, opts.env)}\n`);
    return;
  }
  writeOut(
    renderTable(
      ['SEQUENCE', 'KIND', 'VERSION', 'SHA256', 'ISSUED', 'SIGNED BY', 'APPROVALS', 'OUTCOMES', 'NOTES'],
      rows.map((r) => [
        String(r.sequence),
        r.kind,
        r.version ?? '-',
        r.sha256?.slice(0, 12) ?? '-',
        r.issuedAt === null ? '-' : new Date(r.issuedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        `${signersText(r)}${r.verdict === 'incomplete' ? ' (BELOW THRESHOLD)' : ''}`,
        approvalsText(r),
        outcomesText(r),
        `${notesText(r)}${r.rollout === null || r.rollout === '100%' ? '' : ` rollout=${r.rollout}`}${r.reason === null ? '' : ` reason=${r.reason}`}${r.error === null ? '' : ` ERROR: ${r.error}`}`,
      ]),
    ),
  );
  if (policy === undefined) writeOut('signatures not checked: pass --trust to name the signers and check them\n');
}
