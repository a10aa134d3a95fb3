/**
 * `hoist publish`: upload the artifact (content addressed, skipped when already there), sign the
 * release manifest and write the channel and its history copy, then notify the agents.
 */
import type { Command } from 'commander';
import { artifactExtension } from '../../manifest/schema.ts';
import { serializeEnvelope } from '../../dsse/envelope.ts';
import { formatBytes } from '../../util/units.ts';
import { ciRunFromEnv, planRelease } from '../../publish/plan.ts';
import { inspectArtifact, uploadArtifact } from '../../publish/upload.ts';
import { archiveFacts } from '../../publish/archive-facts.ts';
import { writeRelease } from '../../publish/release.ts';
import { createProgress } from '../../publish/progress.ts';
import { describeStatus, loadSigner, signatureStatus } from '../../publish/signer.ts';
import {
  addRolloutOptions,
  defaultBy,
  keysOf,
  parseExpires,
  retryFailedOption,
  withAws,
  type BucketOptions,
  type NotifyOptions,
  type RolloutOptions,
  looseKeyOption,
  addWriteOptions,
} from '../../publish/options.ts';
import { describeRollout, rolloutFromOptions } from '../../rollout/spec.ts';
import { reportWritten } from '../written.ts';
import { withInterrupt } from '../interrupt.ts';

interface PublishOptions extends BucketOptions, NotifyOptions, RolloutOptions {
  app: string;
  env: string;
  version: string;
  artifact: string;
  key: string;
  allowLooseKey?: boolean;
  trust?: string;
  retryFailed?: boolean;
  expires?: string;
  commit?: string;
  ciRun?: string;
  by?: string;
}

export function register(program: Command): void {
  // `--version V` is publish's own: main.ts enables positional options for exactly this.
  const cmd = program
    .command('publish')
    .description('upload an artifact, sign a release manifest for an app and env, write the channel and notify the agents')
    .requiredOption('--app <name>', 'application name')
    .requiredOption('--env <name>', 'environment name')
    .requiredOption('--version <version>', 'release version ([A-Za-z0-9._+-], up to 64 characters)')
    .requiredOption('--artifact <file>', 'the tarball (.tar.gz or .tar.zst, as `hoist pack` makes)')
    .requiredOption('-k, --key <file>', 'signing key (PKCS#8 Ed25519 PEM) of the release role')
    .addOption(looseKeyOption())
    .option('--trust <file>', 'check the key against this trust policy and report missing approvals')
    .option('--expires <duration>', 'validity of the manifest', '30d')
    .option('--commit <sha>', 'source commit, recorded in the manifest notes')
    .option('--ci-run <url>', 'the CI run that built it, recorded in the notes (default: from GITHUB_*, CI_JOB_URL, BUILDKITE_BUILD_URL or BUILD_URL)')
    .option('--by <name>', 'who publishes, recorded in the notes (default: the login name)')
    .addOption(retryFailedOption());
  addWriteOptions(addRolloutOptions(cmd))
    .addHelpText('after', `
Examples:
  hoist publish --app web --env prod --version 1.4.2 --artifact web-1.4.2.tar.gz \\
    --bucket my-releases --key ci.key --commit "$GITHUB_SHA" --by ci \\
    --notify-sns arn:aws:sns:us-east-1:123456789012:hoist-web-prod
  hoist publish ... --rollout 10          # canaries first, then publish again with 100
  hoist publish ... --steps 5:0s,25:30m,100:2h --max-failures 3   # advances by itself, halts on failures`)
    .action(async (opts: PublishOptions) => {
      await publish(opts);
    });
}

/** What Ctrl-C before the manifest is written leaves: an aborted upload and an untouched channel. */
export const INTERRUPTED_MESSAGE = 'interrupted: nothing was published (the artifact upload was aborted on S3; run the command again)';

async function publish(opts: PublishOptions): Promise<void> {
  await withInterrupt((signal) => publishUntil(opts, signal), INTERRUPTED_MESSAGE);
}

/**
 * `signal` (Ctrl-C) stops the hashing and the upload. Once the upload is done the release is
 * written whole, history copy and channel, whatever arrives: half a release is worse than either.
 */
async function publishUntil(opts: PublishOptions, signal: AbortSignal): Promise<void> {
  const expiresInMs = parseExpires(opts.expires);
  const rollout = rolloutFromOptions(opts, new Date());
  const signer = await loadSigner(opts.key, { allowLooseKey: opts.allowLooseKey, trust: opts.trust, role: 'release', app: opts.app, env: opts.env });
  const artifact = await inspectArtifact(opts.artifact, signal);
  // read once through: refuses a truncated archive, and tells agents how much room it needs
  const facts = await archiveFacts(opts.artifact, artifact.format, signal);
  const keys = keysOf(opts);
  const artifactKey = keys.artifact(opts.app, artifact.sha256, artifactExtension(artifact.format));
  const by = defaultBy(opts.by);
  // Plan once before any I/O so a bad --version fails before the upload.
  const plan = (previous: ReadonlyArray<number | undefined>) =>
    planRelease({
      app: opts.app,
      env: opts.env,
      version: opts.version,
      artifact: { key: artifactKey, sha256: artifact.sha256, size: artifact.size, format: artifact.format },
      now: new Date(),
      ...(expiresInMs === undefined ? {} : { expiresInMs }),
      rollout,
      ...(opts.retryFailed === true ? { retryFailed: true } : {}),
      previousSequences: previous,
      notes: { commit: opts.commit, ciRun: opts.ciRun ?? ciRunFromEnv(process.env), by, unpackedBytes: String(facts.unpackedBytes) },
    });
  plan([]);

  await withAws(opts, async (clients) => {
    const progress = createProgress(process.stderr, `uploading ${artifactKey}`);
    let outcome;
    try {
      outcome = await uploadArtifact(clients.s3, {
        bucket: opts.bucket,
        key: artifactKey,
        file: opts.artifact,
        size: artifact.size,
        signal,
        onProgress: (loaded, total) => progress.update(loaded, total),
      });
    } finally {
      // End the progress line, also when interrupted, so the message starts on a line of its own.
      progress.done();
    }
    if (signal.aborted) throw signal.reason;
    const written = await writeRelease(clients.s3, { bucket: opts.bucket, keys, app: opts.app, env: opts.env, signer, build: plan });
    const m = written.manifest;
    const signed = signer.policy === undefined ? undefined : signatureStatus(written.envelope, m, signer.policy, 'release');
    const text = [
      `artifact  ${outcome === 'uploaded' ? 'uploaded' : 'skipped (already in the bucket)'} s3://${opts.bucket}/${artifactKey}`,
      `sha256    ${artifact.sha256}`,
      `size      ${artifact.size} (${formatBytes(artifact.size)})`,
      `release   ${m.app}/${m.env} ${m.version} rollout ${describeRollout(m.rollout)} expires ${m.expiresAt ?? '-'}`,
      `sequence  ${m.sequence}`,
      `wrote     ${written.keys.join(', ')}`,
      ...(signed === undefined ? [] : [`signed    ${describeStatus(signed)}`]),
      '',
    ].join('\n');
    const value = {
      artifact: { key: artifactKey, outcome, sha256: artifact.sha256, size: artifact.size, format: artifact.format },
      release: { app: m.app, env: m.env, version: m.version, sequence: m.sequence, rollout: m.rollout, expiresAt: m.expiresAt ?? null, ...(m.retryFailed === true ? { retryFailed: true } : {}) },
      wrote: written.keys,
      ...(signed === undefined ? {} : { signed }),
    };
    await reportWritten(clients, opts, serializeEnvelope(written.envelope), text, value);
  });
}
