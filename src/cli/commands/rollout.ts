/**
 * `hoist rollout status`: the current release's rollout of an app and env: each step with when it
 * is due and how many of the reporting hosts it reaches, and per step how many are healthy on the
 * release, rolled back, failed, halted or waiting; the failure limit against the failures counted
 * as the agents count them. Exit 1 when the rollout is halted.
 */
import type { Command } from 'commander';
import { HoistError } from '../../errors.ts';
import { fetchReports } from '../../fleet/fetch.ts';
import { readEvents } from '../../evidence/read.ts';
import { readChannel } from '../../publish/envelope-io.ts';
import { addReadOptions, addTrustOption, keysOf, withAws, type AppEnvOptions, type BucketOptions } from '../../publish/options.ts';
import { describeStatus, signatureStatus } from '../../publish/signer.ts';
import { PROGRESS_OUTCOMES, rolloutProgress, type RolloutProgress } from '../../rollout/progress.ts';
import { describeRollout } from '../../rollout/spec.ts';
import { loadTrustFile } from '../../trust/load.ts';
import { formatDuration } from '../../util/units.ts';
import { addJsonOption, type OutputOptions } from '../json-option.ts';
import { writeOut } from '../output.ts';
import { renderTable } from '../table.ts';

interface RolloutStatusOptions extends BucketOptions, AppEnvOptions, OutputOptions {
  trust?: string;
}

export function register(program: Command): void {
  const rollout = program.command('rollout').description('progressive rollouts: where the current release of an app and env stands');
  const status = rollout.command('status').description("the current release's steps, when each is due, hosts per step and their outcomes; exit 1 when halted");
  addJsonOption(addTrustOption(addReadOptions(status), 'check the channel manifest\'s signatures with this trust policy'))
    .addHelpText('after', `
Exit status: 0 while the rollout proceeds or is complete, 1 when it is halted (a fix or
\`hoist rollback\` resumes), 2 for usage errors.

Examples:
  hoist rollout status --app web --env prod --bucket my-releases
  watch -n 10 hoist rollout status --app web --env prod --bucket my-releases`)
    .action(async (opts: RolloutStatusOptions) => {
      await rolloutStatus(opts);
    });
}

async function rolloutStatus(opts: RolloutStatusOptions): Promise<void> {
  const policy = opts.trust === undefined ? undefined : await loadTrustFile(opts.trust);
  const keys = keysOf(opts);
  const channelKey = keys.channel(opts.app, opts.env);
  const now = Date.now();
  const read = await withAws(opts, async (clients) => {
    const stored = await readChannel(clients.s3, { bucket: opts.bucket, key: channelKey, app: opts.app, env: opts.env }, 'check --app, --env, --bucket and --prefix');
    const m = stored.manifest;
    if (m.kind !== 'release') throw new HoistError('HOIST_MANIFEST_MISMATCH', `s3://${opts.bucket}/${channelKey} holds a ${m.kind} manifest, not a release; investigate who wrote it`);
    const [reports, events] = await Promise.all([
      fetchReports(clients.s3, { bucket: opts.bucket, prefix: keys.statusPrefix(opts.app, opts.env) }),
      readEvents(clients.s3, { bucket: opts.bucket, keys, app: opts.app, env: opts.env, sequence: m.sequence }),
    ]);
    return { stored, m, reports, events: events.get(m.sequence) ?? new Map<string, Array<{ host: string; at: number | null }>>() };
  });
  const { m } = read;
  const signed = policy === undefined ? undefined : signatureStatus(read.stored.envelope, m, policy, 'release');
  const progress = rolloutProgress(
    { app: m.app, env: m.env, sequence: m.sequence, version: m.version, sha256: m.artifact.sha256, issuedAt: m.issuedAt, rollout: m.rollout },
    read.reports.flatMap((r) => (r.report === undefined ? [] : [{ hostId: r.hostId, state: r.report.state, currentSha256: r.report.current?.sha256 ?? null, skipped: r.report.skipped }])),
    new Map([...read.events].map(([outcome, runs]) => [outcome, runs.map((x) => x.host)])),
    now,
  );
  if (opts.json === true) {
    writeOut(`${JSON.stringify(progressJson(m, progress, signed), null, 2)}\n`);
  } else {
    writeOut(renderProgress(m, progress, now, signed === undefined ? 'signatures not checked (no --trust)' : describeStatus(signed)));
  }
  if (progress.halted) {
    const h = progress.halt;
    throw new HoistError('HOIST_ROLLOUT_HALTED', `the rollout of ${m.app}/${m.env} ${m.version} (sequence ${m.sequence}) is halted${h === null ? '' : `: ${h.failures} host${h.failures === 1 ? '' : 's'} failed it, the limit is ${h.limit} (maxFailures ${h.text})`}; publish a fix or run hoist rollback`, {
      details: { sequence: m.sequence, ...(h === null ? {} : { failures: h.failures, limit: h.limit }) },
    });
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function when(ms: number, now: number): string {
  return ms <= now ? `${iso(ms)} (${formatDuration(now - ms)} ago)` : `${iso(ms)} (in ${formatDuration(ms - now)})`;
}

function renderProgress(m: { app: string; env: string; version: string; sequence: number; artifact: { sha256: string }; rollout: Parameters<typeof describeRollout>[0] }, p: RolloutProgress, now: number, signed: string): string {
  const head = [
    `release   ${m.app}/${m.env} ${m.version} sequence ${m.sequence} sha256 ${m.artifact.sha256.slice(0, 12)}`,
    `rollout   ${describeRollout(m.rollout)}`,
    `signed    ${signed}`,
    '',
  ];
  const table = renderTable(
    ['STEP', 'HOSTS', 'PERCENT', 'DUE', 'HEALTHY', 'ROLLED-BACK', 'FAILED', 'HALTED', 'WAITING', 'OTHER'],
    p.steps.map((s) => [
      String(s.index + 1),
      String(s.hosts),
      `${s.fromPercent}-${s.percent}%`,
      p.schedule === 'percent' ? 'at once' : `${when(s.dueAt, now)}${s.spreadMs > 0 ? ` +${formatDuration(s.spreadMs)} spread` : ''}`,
      ...PROGRESS_OUTCOMES.map((o) => String(s.counts[o])),
    ]),
  );
  const lines: string[] = [];
  if (p.outside > 0) lines.push(`${p.outside} reporting host${p.outside === 1 ? '' : 's'} outside the rollout (no step reaches them)`);
  if (p.unreported > 0) lines.push(`${p.unreported} host${p.unreported === 1 ? '' : 's'} with events for this release but no status report`);
  const h = p.halt;
  if (h !== null) lines.push(`halt      ${h.failures} failed of a limit of ${h.limit} (maxFailures ${h.text}${h.text.endsWith('%') ? ` of ${h.dueHosts} hosts due` : ''})${p.halted ? '' : '; proceeding'}`);
  if (p.halted) lines.push(`HALTED    ${h !== null && h.haltedHosts > 0 ? `${h.haltedHosts} host${h.haltedHosts === 1 ? '' : 's'} stopped before activating it; ` : ''}hosts already healthy on it stay. Publish a fix, or hoist rollback, to resume`);
  else if (p.complete) lines.push('complete  every step is due and every host of them runs the release healthy');
  return `${head.join('\n')}${table}${lines.length === 0 ? '' : `\n${lines.join('\n')}\n`}`;
}

function progressJson(m: { app: string; env: string; version: string; sequence: number; artifact: { sha256: string }; rollout: unknown; issuedAt: string }, p: RolloutProgress, signed: unknown): Record<string, unknown> {
  return {
    release: { app: m.app, env: m.env, version: m.version, sequence: m.sequence, sha256: m.artifact.sha256, issuedAt: m.issuedAt, rollout: m.rollout },
    schedule: p.schedule,
    start: new Date(p.start).toISOString(),
    steps: p.steps.map((s) => ({ step: s.index + 1, fromPercent: s.fromPercent, percent: s.percent, dueAt: new Date(s.dueAt).toISOString(), spreadMs: s.spreadMs, lastEligibleAt: new Date(s.lastEligibleAt).toISOString(), due: s.due, hosts: s.hosts, ...s.counts })),
    outside: p.outside,
    unreported: p.unreported,
    halt: p.halt,
    halted: p.halted,
    complete: p.complete,
    ...(signed === undefined ? {} : { signed }),
  };
}
