/**
 * `hoist promote`: publish to `--to` the exact release `--from` runs (artifact key, digest, size,
 * format, version), taken only from `--from`'s channel manifest after it verifies under `--trust`
 * (required), and only when the gate holds: enough of `--from`'s reporting hosts run that artifact
 * healthy for long enough. `--to-bucket` copies the artifact (checked by digest) and writes the
 * channel there, with the same credentials.
 */
import type { Command } from 'commander';
import { fetchReports } from '../../fleet/fetch.ts';
import { DEFAULT_STALE_AFTER_MS } from '../../fleet/summary.ts';
import { headObject } from '../../aws/object-store.ts';
import { serializeEnvelope } from '../../dsse/envelope.ts';
import { HoistError } from '../../errors.ts';
import { artifactExtension } from '../../manifest/schema.ts';
import { copyArtifact } from '../../publish/copy-artifact.ts';
import { readChannel } from '../../publish/envelope-io.ts';
import {
  addRolloutOptions,
  addSigningKeyOptions,
  addTrustOption,
  addWriteOptions,
  defaultBy,
  keysOf,
  parseDurationOption,
  parseExpires,
  retryFailedOption,
  withAws,
  type BucketOptions,
  type NotifyOptions,
  type RolloutOptions,
} from '../../publish/options.ts';
import { gateError, parseShare, planPromotion, promoteGate } from '../../publish/promote.ts';
import { writeRelease } from '../../publish/release.ts';
import { describeStatus, loadSigner, signatureStatus } from '../../publish/signer.ts';
import { describeRollout, rolloutFromOptions } from '../../rollout/spec.ts';
import { verifyEnvelope } from '../../trust/verify.ts';
import { formatDuration } from '../../util/units.ts';
import { reportWritten } from '../written.ts';

interface PromoteOptions extends BucketOptions, NotifyOptions, RolloutOptions {
  app: string;
  from: string;
  to: string;
  key: string;
  allowLooseKey?: boolean;
  trust: string;
  minHealthy: string;
  minAge: string;
  toBucket?: string;
  expires?: string;
  by?: string;
  retryFailed?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('promote')
    .description("publish to another env the exact release an env runs, verified with --trust, once enough of that env's hosts run it healthy")
    .requiredOption('--app <name>', 'application name')
    .requiredOption('--from <env>', 'the env whose verified release is promoted (staging)')
    .requiredOption('--to <env>', 'the env it is published to (prod)');
  addTrustOption(addSigningKeyOptions(cmd, 'release'), 'verify the --from release with this trust policy (required: the artifact is taken from it) and check --key for the --to env', true)
    .option('--min-healthy <share>', "share of --from's reporting hosts that must run the release healthy", '90%')
    .option('--min-age <duration>', 'how long each of them must have run it (from its current.since)', '30m')
    .option('--to-bucket <name>', 'copy the artifact (checked by digest) and write the channel to this bucket instead, with the same credentials')
    .option('--expires <duration>', 'validity of the new manifest', '30d')
    .option('--by <name>', 'who promotes, recorded in the notes (default: the login name)')
    .addOption(retryFailedOption());
  addWriteOptions(addRolloutOptions(cmd))
    .addHelpText('after', `
The gate: of the --from env's reporting hosts, at least --min-healthy must report the release's
exact artifact (current.sha256), state healthy, for at least --min-age; otherwise nothing is
published (HOIST_PROMOTE_GATE, with the numbers). Status reports only count hosts: the artifact
itself comes from the --from manifest, verified with --trust.

Examples:
  hoist promote --app web --from staging --to prod --bucket my-releases --key ci.key --trust trust.yaml
  hoist promote --app web --from staging --to prod --bucket staging-releases --to-bucket prod-releases \\
    --key ci.key --trust trust.yaml --min-healthy 100% --min-age 2h --steps 5:0s,25:30m,100:2h --max-failures 3`)
    .action(async (opts: PromoteOptions) => {
      await promote(opts);
    });
}

async function promote(opts: PromoteOptions): Promise<void> {
  if (opts.from === opts.to && opts.toBucket === undefined) throw new HoistError('HOIST_USAGE', `--from and --to are both ${opts.from}; promote from one env to another (or to another bucket with --to-bucket)`);
  const minHealthy = parseShare(opts.minHealthy, '--min-healthy');
  const minAgeMs = parseDurationOption(opts.minAge, '--min-age');
  const expiresInMs = parseExpires(opts.expires);
  const now = new Date();
  const rollout = rolloutFromOptions(opts, now);
  const signer = await loadSigner(opts.key, { allowLooseKey: opts.allowLooseKey, trust: opts.trust, role: 'release', app: opts.app, env: opts.to });
  const policy = signer.policy;
  if (policy === undefined) throw new Error('unreachable: --trust is required');
  const keys = keysOf(opts);
  const sourceKey = keys.channel(opts.app, opts.from);
  const targetBucket = opts.toBucket ?? opts.bucket;
  await withAws(opts, async (clients) => {
    const stored = await readChannel(clients.s3, { bucket: opts.bucket, key: sourceKey, app: opts.app, env: opts.from }, 'nothing to promote');
    // verified exactly as an agent of --from verifies it: signatures, threshold, validity
    const verified = verifyEnvelope(stored.bytes, policy, now, { app: opts.app, env: opts.from, kind: 'release' });
    const source = verified.manifest;
    if (source.kind !== 'release') throw new Error('unreachable: verified as a release');
    const reports = await fetchReports(clients.s3, { bucket: opts.bucket, prefix: keys.statusPrefix(opts.app, opts.from) });
    const gate = promoteGate({
      sha256: source.artifact.sha256,
      reports: reports.map((r) => (r.report === undefined ? { hostId: r.hostId, unreadable: r.error ?? 'unreadable' } : { hostId: r.report.hostId, state: r.report.state, current: r.report.current, updatedAt: r.report.updatedAt })),
      now: now.getTime(),
      minHealthy,
      minAgeMs,
      staleAfterMs: DEFAULT_STALE_AFTER_MS,
    });
    if (!gate.pass) throw gateError(gate, { app: opts.app, from: opts.from, version: source.version, sha256: source.artifact.sha256, minHealthy, minAgeMs });

    const artifactKey = keys.artifact(opts.app, source.artifact.sha256, artifactExtension(source.artifact.format));
    let artifactOutcome: string;
    if (targetBucket !== opts.bucket) {
      artifactOutcome = await copyArtifact(clients.s3, { from: { bucket: opts.bucket, key: source.artifact.key }, to: { bucket: targetBucket, key: artifactKey }, sha256: source.artifact.sha256, size: source.artifact.size });
    } else {
      const there = await headObject(clients.s3, { bucket: opts.bucket, key: source.artifact.key });
      if (there?.size !== source.artifact.size) throw new HoistError('HOIST_ARTIFACT_NOT_FOUND', `s3://${opts.bucket}/${source.artifact.key} is ${there === undefined ? 'missing' : `${there.size} bytes, not ${source.artifact.size}`}; nothing was promoted`);
      artifactOutcome = 'present';
    }
    const written = await writeRelease(clients.s3, {
      bucket: targetBucket,
      keys,
      app: opts.app,
      env: opts.to,
      signer,
      build: (previous) =>
        planPromotion({
          source,
          to: opts.to,
          artifactKey: targetBucket === opts.bucket ? source.artifact.key : artifactKey,
          now,
          expiresInMs,
          previousSequences: previous,
          rollout,
          by: defaultBy(opts.by),
          retryFailed: opts.retryFailed,
        }),
    });
    const m = written.manifest;
    const signed = signatureStatus(written.envelope, m, policy, 'release');
    const text = [
      `gate      ${gate.qualifying} of ${gate.reporting} hosts of ${opts.app}/${opts.from} run ${source.version} healthy for ${formatDuration(minAgeMs)} or more (needed ${gate.needed})`,
      `promoted  ${opts.app} ${source.version} (sha256 ${source.artifact.sha256.slice(0, 12)}) from ${opts.from}@${source.sequence} to ${opts.to}${targetBucket === opts.bucket ? '' : ` in s3://${targetBucket}`}`,
      `artifact  ${artifactOutcome} s3://${targetBucket}/${m.artifact.key}`,
      `rollout   ${describeRollout(m.rollout)}`,
      `sequence  ${m.sequence}`,
      `wrote     ${written.keys.join(', ')}`,
      `signed    ${describeStatus(signed)}`,
      '',
    ].join('\n');
    const value = {
      promoted: { app: m.app, from: opts.from, fromSequence: source.sequence, to: m.env, version: m.version, sha256: m.artifact.sha256, bucket: targetBucket, sequence: m.sequence, promotedFrom: m.notes?.promotedFrom ?? null },
      gate: { reporting: gate.reporting, qualifying: gate.qualifying, needed: gate.needed },
      artifact: { key: m.artifact.key, outcome: artifactOutcome },
      wrote: written.keys,
      signed,
    };
    await reportWritten(clients, opts, serializeEnvelope(written.envelope), text, value);
  });
}
