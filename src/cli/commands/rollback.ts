/**
 * `hoist rollback`: publish the previous (or a named) release again, as a new channel manifest
 * with a higher sequence (anti-replay is on sequence, never on version).
 */
import type { Command } from 'commander';
import { serializeEnvelope } from '../../dsse/envelope.ts';
import { HoistError, toHoistError } from '../../errors.ts';
import type { ReleaseManifest } from '../../manifest/schema.ts';
import { readChannel } from '../../publish/envelope-io.ts';
import { findInHistory, listHistory } from '../../publish/history.ts';
import {
  defaultBy,
  keysOf,
  parseExpires,
  withAws,
  type BucketOptions,
  type NotifyOptions,
  looseKeyOption,
  addWriteOptions,
  retryFailedOption,
} from '../../publish/options.ts';
import { planRelease, rollbackMatcher } from '../../publish/plan.ts';
import { writeRelease } from '../../publish/release.ts';
import { describeStatus, loadSigner, signatureStatus } from '../../publish/signer.ts';
import { writeErr, } from '../output.ts';
import { reportWritten } from '../written.ts';
import { acceptSigned } from './pin.ts';

interface RollbackOptions extends BucketOptions, NotifyOptions {
  app: string;
  env: string;
  key: string;
  allowLooseKey?: boolean;
  trust?: string;
  to?: string;
  expires?: string;
  by?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('rollback')
    .description('publish the previous release (or --to a named one) again, with a new sequence')
    .requiredOption('--app <name>', 'application name')
    .requiredOption('--env <name>', 'environment name')
    .requiredOption('-k, --key <file>', 'signing key (PKCS#8 Ed25519 PEM) of the release role')
    .addOption(looseKeyOption())
    .option('--to <version>', 'the version to go back to (default: the newest release with another artifact than the current one)')
    .option('--trust <file>', 'check the key, and only roll back to releases fully signed under this policy')
    .option('--expires <duration>', 'validity of the new manifest', '30d')
    .option('--by <name>', 'who rolls back, recorded in the notes (default: the login name)')
    .addOption(retryFailedOption().default(true, 'always: a rollback names a release that may be on hosts\' failed lists'));
  addWriteOptions(cmd)
    .addHelpText('after', `
Examples:
  hoist rollback --app web --env prod --bucket my-releases --key alice.key
  hoist rollback --app web --env prod --bucket my-releases --key alice.key --to 1.4.0`)
    .action(async (opts: RollbackOptions) => {
      await rollback(opts);
    });
}

async function rollback(opts: RollbackOptions): Promise<void> {
  const expiresInMs = parseExpires(opts.expires);
  const signer = await loadSigner(opts.key, { allowLooseKey: opts.allowLooseKey, trust: opts.trust, role: 'release', app: opts.app, env: opts.env });
  const keys = keysOf(opts);
  const channelKey = keys.channel(opts.app, opts.env);
  await withAws(opts, async (clients) => {
    const current = await readChannel(clients.s3, { bucket: opts.bucket, key: channelKey, app: opts.app, env: opts.env }, 'there is nothing to roll back — check --app, --env, --bucket and --prefix');
    const currentRelease = current.manifest.kind === 'release' ? current.manifest : undefined;
    const history = await listHistory(clients.s3, { bucket: opts.bucket, prefix: keys.historyPrefix(opts.app, opts.env) });
    const target = await findInHistory(clients.s3, rollbackMatcher(currentRelease, opts.to), {
      bucket: opts.bucket,
      keys: history,
      onSkip: (key, error) => writeErr(`warning: skipping ${key}: ${toHoistError(error).message}\n`),
      ...(signer.policy === undefined ? {} : { accept: acceptSigned(signer, clients.s3, opts, keys) }),
    });
    if (target === undefined || target.manifest.kind !== 'release') {
      throw new HoistError(
        'HOIST_VERSION_NOT_FOUND',
        opts.to === undefined
          ? `the history of ${opts.app}/${opts.env} holds no earlier release with another artifact than the current ${currentRelease?.version ?? '(unknown)'}; name one with --to`
          : `no release ${opts.to} of ${opts.app}/${opts.env} in the history (${history.length} entr${history.length === 1 ? 'y' : 'ies'}); pick a version that was published`,
      );
    }
    const old: ReleaseManifest = target.manifest;
    const written = await writeRelease(clients.s3, {
      bucket: opts.bucket,
      keys,
      app: opts.app,
      env: opts.env,
      signer,
      build: (previous) =>
        planRelease({
          app: opts.app,
          env: opts.env,
          version: old.version,
          artifact: old.artifact,
          now: new Date(),
          ...(expiresInMs === undefined ? {} : { expiresInMs }),
          previousSequences: previous,
          notes: { rollbackOf: currentRelease?.version ?? 'unknown', unpackedBytes: old.notes?.unpackedBytes, by: defaultBy(opts.by) },
          // hosts that failed the release rolled back to (a bad rollout of it long ago) try it once more
          retryFailed: true,
        }),
    });
    const m = written.manifest;
    const signed = signer.policy === undefined ? undefined : signatureStatus(written.envelope, m, signer.policy, 'release');
    const text = [
      `rolled back ${m.app}/${m.env} from ${currentRelease?.version ?? '(unknown)'} to ${m.version} (sha256 ${m.artifact.sha256.slice(0, 12)}, first published as sequence ${old.sequence})`,
      `sequence  ${m.sequence}`,
      `wrote     ${written.keys.join(', ')}`,
      ...(signed === undefined ? [] : [`signed    ${describeStatus(signed)}`]),
      '',
    ].join('\n');
    const value = {
      rolledBack: { app: m.app, env: m.env, from: currentRelease?.version ?? null, to: m.version, sha256: m.artifact.sha256, firstSequence: old.sequence },
      sequence: m.sequence,
      wrote: written.keys,
      ...(signed === undefined ? {} : { signed }),
    };
    await reportWritten(clients, opts, serializeEnvelope(written.envelope), text, value);
  });
}
