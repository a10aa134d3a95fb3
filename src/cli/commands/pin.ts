/**
 * `hoist pin` / `hoist unpin`: a signed pin manifest (pin role) that holds an env, or some of its
 * hosts, on a published version; an unpin (artifact null) hands them back to the channel.
 */
import type { Command } from 'commander';
import type { S3Client } from '@aws-sdk/client-s3';
import { AWS_FAILURE_CODES } from '../../aws/errors.ts';
import type { S3Keys } from '../../aws/keys.ts';
import { serializeEnvelope, signEnvelope } from '../../dsse/envelope.ts';
import { HoistError, toHoistError } from '../../errors.ts';
import type { Manifest, PinManifest } from '../../manifest/schema.ts';
import { readSequence, readStoredManifest, writeEnvelope, writeHistoryOnce, type StoredManifest } from '../../publish/envelope-io.ts';
import { findInHistory, listHistory } from '../../publish/history.ts';
import type { announce } from '../../publish/notify.ts';
import {
  defaultBy,
  keysOf,
  parseExpires,
  retryFailedOption,
  withAws,
  type BucketOptions,
  type NotifyOptions,
  looseKeyOption,
  addWriteOptions,
} from '../../publish/options.ts';
import { parseHosts, planPin, planUnpin } from '../../publish/plan.ts';
import { describeStatus, loadSigner, signatureStatus, type Signer } from '../../publish/signer.ts';
import { checkApproval, roleSignatures } from '../../evidence/approvals.ts';
import { readApprovalStatements } from '../../evidence/read.ts';
import { writeErr, } from '../output.ts';
import { reportWritten } from '../written.ts';

interface PinOptions extends BucketOptions, NotifyOptions {
  app: string;
  env: string;
  version?: string;
  key: string;
  allowLooseKey?: boolean;
  trust?: string;
  hosts?: string;
  reason?: string;
  expires?: string;
  by?: string;
  retryFailed?: boolean;
}

function common(cmd: Command): Command {
  cmd
    .requiredOption('--app <name>', 'application name')
    .requiredOption('--env <name>', 'environment name')
    .requiredOption('-k, --key <file>', 'signing key (PKCS#8 Ed25519 PEM) of the pin role')
    .addOption(looseKeyOption())
    .option('--trust <file>', 'check the key (and what is re-signed) against this trust policy')
    .option('--hosts <ids>', 'comma-separated host ids (default: the whole env)')
    .option('--expires <duration>', 'validity of the pin manifest', '30d')
    .option('--by <name>', 'who pins, recorded in the notes (default: the login name)');
  return addWriteOptions(cmd);
}

export function register(program: Command): void {
  common(
    program
      .command('pin')
      .description('hold an env (or some hosts) on a published version, whatever the channel says')
      .requiredOption('--version <version>', 'a version published to this app and env (found in its history)')
      .requiredOption('--reason <text>', 'why; recorded in the pin and shown to other operators')
      .addOption(retryFailedOption()),
  )
    .addHelpText('after', `
Examples:
  hoist pin --app web --env prod --version 1.4.1 --reason "1.4.2 leaks memory" --bucket my-releases --key alice.key
  hoist pin --app web --env prod --version 1.4.1 --hosts i-0abc,i-0def --reason "canary hold" --bucket my-releases --key alice.key
Only one pin exists per app and env: a new pin replaces the previous one.`)
    .action(async (opts: PinOptions) => {
      await pin(opts);
    });
  common(
    program
      .command('unpin')
      .description('release a pin: the env (or the listed hosts of a host-scoped pin) follows the channel again')
      .option('--reason <text>', 'why; recorded in the unpin'),
  )
    .addHelpText('after', `
Examples:
  hoist unpin --app web --env prod --bucket my-releases --key alice.key --reason "fixed in 1.4.3"
  hoist unpin --app web --env prod --hosts i-0abc --bucket my-releases --key alice.key`)
    .action(async (opts: PinOptions) => {
      await unpin(opts);
    });
}

async function pin(opts: PinOptions): Promise<void> {
  const hosts = parseHosts(opts.hosts);
  const expiresInMs = parseExpires(opts.expires);
  const version = opts.version ?? '';
  if (opts.reason === undefined || opts.reason.trim() === '') throw new HoistError('HOIST_USAGE', '--reason must say why the pin is needed');
  const signer = await loadSigner(opts.key, { allowLooseKey: opts.allowLooseKey, trust: opts.trust, role: 'pin', app: opts.app, env: opts.env });
  const keys = keysOf(opts);
  await withAws(opts, async (clients) => {
    const release = await findRelease(clients.s3, opts, keys, signer, version);
    if (release.manifest.kind !== 'release') throw new Error('unreachable: history match is a release');
    const current = await readCurrentPin(clients.s3, opts, keys);
    const manifest = planPin({
      app: opts.app,
      env: opts.env,
      version,
      artifact: release.manifest.artifact,
      ...(hosts === undefined ? {} : { hosts }),
      reason: opts.reason ?? '',
      now: new Date(),
      ...(expiresInMs === undefined ? {} : { expiresInMs }),
      previousSequences: [current.sequence, await latestPinHistory(clients.s3, opts, keys)],
      notes: { by: defaultBy(opts.by) },
      ...(opts.retryFailed === true ? { retryFailed: true } : {}),
    });
    if (current.stored !== undefined && current.stored.manifest.kind === 'pin' && current.stored.manifest.artifact !== null) {
      writeErr(`note: replaces the current pin (${describePin(current.stored.manifest)})\n`);
    }
    await writePin(clients, opts, keys, signer, manifest);
  });
}

async function unpin(opts: PinOptions): Promise<void> {
  const hosts = parseHosts(opts.hosts);
  const expiresInMs = parseExpires(opts.expires);
  const signer = await loadSigner(opts.key, { allowLooseKey: opts.allowLooseKey, trust: opts.trust, role: 'pin', app: opts.app, env: opts.env });
  const keys = keysOf(opts);
  await withAws(opts, async (clients) => {
    const current = await readCurrentPin(clients.s3, opts, keys);
    const plan = planUnpin(current.stored?.manifest, hosts);
    if (plan.action === 'narrow' && signer.policy !== undefined && current.stored !== undefined) {
      // The remaining hosts' pin is signed again: it must be a genuine pin, not something planted.
      signatureStatus(current.stored.envelope, current.stored.manifest, signer.policy, 'pin');
    }
    const base = {
      app: opts.app,
      env: opts.env,
      now: new Date(),
      ...(expiresInMs === undefined ? {} : { expiresInMs }),
      previousSequences: [current.sequence, await latestPinHistory(clients.s3, opts, keys)],
      notes: { by: defaultBy(opts.by) },
    };
    const manifest =
      plan.action === 'unpin'
        ? planPin({ ...base, artifact: null, ...(opts.reason === undefined ? {} : { reason: opts.reason }) })
        : planPin({ ...base, version: plan.version, artifact: plan.artifact, hosts: plan.hosts, reason: pinReason(current.stored, opts.reason) });
    if (current.stored === undefined || current.stored.manifest.kind !== 'pin' || current.stored.manifest.artifact === null) {
      writeErr('note: nothing was pinned; writing an unpin anyway\n');
    }
    await writePin(clients, opts, keys, signer, manifest);
  });
}

async function writePin(
  clients: Parameters<typeof announce>[0] & { s3: S3Client },
  opts: PinOptions,
  keys: S3Keys,
  signer: Signer,
  manifest: PinManifest,
): Promise<void> {
  const envelope = signEnvelope(Buffer.from(JSON.stringify(manifest)), signer.key);
  const key = keys.pin(opts.app, opts.env);
  // the history copy first, written once: the pin object never names a pin history lacks
  const historyKey = keys.pinHistory(opts.app, opts.env, manifest.sequence);
  await writeHistoryOnce(clients.s3, { bucket: opts.bucket, key: historyKey, envelope });
  await writeEnvelope(clients.s3, { bucket: opts.bucket, key, envelope });
  const signed = signer.policy === undefined ? undefined : signatureStatus(envelope, manifest, signer.policy, 'pin');
  const text = [
    `${manifest.artifact === null ? 'unpinned' : 'pinned  '}  ${manifest.app}/${manifest.env}${manifest.artifact === null ? '' : ` ${describePin(manifest)}`}`,
    `sequence  ${manifest.sequence}`,
    `wrote     ${key}, ${historyKey}`,
    ...(signed === undefined ? [] : [`signed    ${describeStatus(signed)}`]),
    '',
  ].join('\n');
  const value = {
    [manifest.artifact === null ? 'unpinned' : 'pinned']: {
      app: manifest.app,
      env: manifest.env,
      ...(manifest.artifact === null ? {} : { version: manifest.version, sha256: manifest.artifact.sha256 }),
      hosts: manifest.hosts ?? null,
      reason: manifest.reason ?? null,
    },
    sequence: manifest.sequence,
    ...(manifest.retryFailed === true ? { retryFailed: true } : {}),
    wrote: [key, historyKey],
    ...(signed === undefined ? {} : { signed }),
  };
  await reportWritten(clients, opts, serializeEnvelope(envelope), text, value);
}

function describePin(m: Manifest): string {
  const hosts = m.kind === 'pin' && m.hosts !== undefined ? `hosts ${m.hosts.join(',')}` : 'the whole env';
  return `${m.version ?? '-'} for ${hosts}`;
}

function pinReason(stored: StoredManifest | undefined, reason: string | undefined): string {
  if (reason !== undefined) return reason;
  const m = stored?.manifest;
  return m !== undefined && m.kind === 'pin' && m.reason !== undefined ? m.reason : 'pin narrowed by unpin';
}

/** The newest sequence of the pin history (a deleted pin object must not lower the floor). */
async function latestPinHistory(s3: S3Client, opts: PinOptions, keys: S3Keys): Promise<number | undefined> {
  const history = await listHistory(s3, { bucket: opts.bucket, prefix: keys.pinHistoryPrefix(opts.app, opts.env) });
  return history[0]?.sequence;
}

/** The current pin object, parsed if possible; its sequence (if readable) raises the floor. */
async function readCurrentPin(s3: S3Client, opts: PinOptions, keys: S3Keys): Promise<{ stored: StoredManifest | undefined; sequence: number | undefined }> {
  const key = keys.pin(opts.app, opts.env);
  try {
    const stored = await readStoredManifest(s3, { bucket: opts.bucket, key });
    return { stored, sequence: stored?.manifest.sequence };
  } catch (error) {
    const e = toHoistError(error);
    if (AWS_FAILURE_CODES.has(e.code)) throw e;
    writeErr(`warning: ignoring the unreadable current pin: ${e.message}\n`);
    return { stored: undefined, sequence: await readSequence(s3, { bucket: opts.bucket, key }) };
  }
}

/** The newest release of `version` in the history (HOIST_VERSION_NOT_FOUND otherwise). */
export async function findRelease(s3: S3Client, opts: BucketOptions & { app: string; env: string }, keys: S3Keys, signer: Signer, version: string): Promise<StoredManifest> {
  const history = await listHistory(s3, { bucket: opts.bucket, prefix: keys.historyPrefix(opts.app, opts.env) });
  const found = await findInHistory(s3, (m) => m.kind === 'release' && m.version === version, {
    bucket: opts.bucket,
    keys: history,
    onSkip: (key, error) => writeErr(`warning: skipping ${key}: ${toHoistError(error).message}\n`),
    ...(signer.policy === undefined ? {} : { accept: acceptSigned(signer, s3, opts, keys) }),
  });
  if (found === undefined) {
    throw new HoistError('HOIST_VERSION_NOT_FOUND', `no release ${version} of ${opts.app}/${opts.env} in s3://${opts.bucket}/${keys.historyPrefix(opts.app, opts.env)} (${history.length} entr${history.length === 1 ? 'y' : 'ies'}); pick a version that was published`);
  }
  return found;
}

/**
 * With --trust, only history entries fully signed by the release role qualify: by the signatures
 * on the copy itself, or with the verified approval statements of approvals/ (the copy is written
 * once, at publish; approvals sign the channel and leave a statement).
 */
export function acceptSigned(signer: Signer, s3: S3Client, opts: BucketOptions, keys: S3Keys): (entry: StoredManifest) => Promise<void> {
  return async (entry) => {
    const policy = signer.policy;
    if (policy === undefined) return;
    const status = signatureStatus(entry.envelope, entry.manifest, policy, 'release');
    if (status.complete) return;
    const m = entry.manifest;
    const statements = await readApprovalStatements(s3, opts.bucket, keys.approvalsPrefix(m.app, m.env, m.sequence));
    const approvals = statements.map((bytes) => checkApproval(bytes, { app: m.app, env: m.env, sequence: m.sequence, sha256: m.artifact?.sha256 }, policy));
    const combined = roleSignatures(entry.envelope, m, approvals, policy, 'release');
    if (!combined.complete) throw new HoistError('HOIST_SIGNATURE_THRESHOLD', `it was never fully approved (${combined.signers.length} of ${combined.threshold}: ${combined.signers.join(', ') || 'none'}, counting approval statements; ${describeStatus(status)})`);
  };
}
