/**
 * `hoist approve`: co-sign the current channel envelope (a role may need several distinct keys)
 * and write the signed approval statement, then notify the agents. Only the channel is rewritten
 * (the history copy is written once, at publish), with `If-Match` on the ETag read: when another
 * publish or approval changed the channel in between, S3 refuses the write (HOIST_PRECONDITION)
 * and nothing is lost. A store without conditional writes ignores `If-Match`: there the last
 * writer wins, and a concurrent publish or approval may be overwritten (its approval statement
 * stays; approve again).
 */
import type { Command } from 'commander';
import { headObject, putObjectOnce } from '../../aws/object-store.ts';
import { keyIdOf } from '../../crypto/keys.ts';
import { addSignature, serializeEnvelope } from '../../dsse/envelope.ts';
import { HoistError } from '../../errors.ts';
import { approvalStatement, signApproval } from '../../evidence/approvals.ts';
import { channelRelease, readChannel, writeEnvelope } from '../../publish/envelope-io.ts';
import { addWriteOptions, keysOf, looseKeyOption, withAws, type BucketOptions, type NotifyOptions } from '../../publish/options.ts';
import { describeStatus, loadSigner, signatureStatus } from '../../publish/signer.ts';
import { reportWritten } from '../written.ts';

interface ApproveOptions extends BucketOptions, NotifyOptions {
  app: string;
  env: string;
  key: string;
  allowLooseKey?: boolean;
  trust?: string;
  expectVersion?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('approve')
    .description('add your signature to the current release of an app and env (co-signing for a threshold) and record a signed approval statement')
    .requiredOption('--app <name>', 'application name')
    .requiredOption('--env <name>', 'environment name')
    .requiredOption('-k, --key <file>', 'your signing key (PKCS#8 Ed25519 PEM)')
    .addOption(looseKeyOption())
    .option('--trust <file>', 'check your key and the signatures already there against this trust policy')
    .option('--expect-version <version>', 'refuse unless the channel carries this version (what you reviewed)');
  addWriteOptions(cmd)
    .addHelpText('after', `
Examples:
  hoist approve --app web --env prod --bucket my-releases --key alice.key --trust trust.yaml
  hoist approve --app web --env prod --bucket my-releases --key bob.key --expect-version 1.4.2

The approval cannot change the signed manifest: a release that waits for approvals should be
published with --steps and a --start-at after the approvals are expected.`)
    .action(async (opts: ApproveOptions) => {
      await approve(opts);
    });
}

async function approve(opts: ApproveOptions): Promise<void> {
  const signer = await loadSigner(opts.key, { allowLooseKey: opts.allowLooseKey, trust: opts.trust, role: 'release', app: opts.app, env: opts.env });
  const keys = keysOf(opts);
  const channelKey = keys.channel(opts.app, opts.env);
  await withAws(opts, async (clients) => {
    const at = { bucket: opts.bucket, key: channelKey, app: opts.app, env: opts.env };
    const stored = await readChannel(clients.s3, at, 'publish one first (`hoist publish`) or check --app, --env, --bucket and --prefix');
    const m = channelRelease(stored, at, 'investigate who wrote it, and publish again');
    if (opts.expectVersion !== undefined && m.version !== opts.expectVersion) {
      throw new HoistError('HOIST_MANIFEST_MISMATCH', `the channel now carries ${m.version}, not ${opts.expectVersion}; review ${m.version} before approving it`);
    }
    if (m.expiresAt !== undefined && Date.parse(m.expiresAt) <= Date.now()) {
      throw new HoistError('HOIST_MANIFEST_EXPIRED', `the release ${m.version} expired at ${m.expiresAt}; publish it again instead of approving it`);
    }
    // The signatures already there must be genuine: a shortfall is why we are here, a forgery is not.
    if (signer.policy !== undefined) signatureStatus(stored.envelope, m, signer.policy, 'release');
    const keyId = keyIdOf(signer.key);
    const approvalKey = keys.approval(m.app, m.env, m.sequence, keyId);
    const wrote: string[] = [];
    let envelope = stored.envelope;
    if (envelope.signatures.some((s) => s.keyid === keyId)) {
      // Signed already: only an approve cut short before its statement has something left to do.
      if ((await headObject(clients.s3, { bucket: opts.bucket, key: approvalKey })) !== undefined) {
        throw new HoistError('HOIST_ALREADY_SIGNED', `key ${keyId.slice(0, 12)}… has already approved ${m.version} (sequence ${m.sequence}); approvals count distinct keys, ask another approver`, { details: { keyid: keyId } });
      }
    } else {
      envelope = addSignature(stored.envelope, signer.key);
      await writeEnvelope(clients.s3, { bucket: opts.bucket, key: channelKey, envelope, ...(stored.etag === undefined ? {} : { ifMatch: stored.etag }) }).catch((error: unknown) => {
        if (error instanceof HoistError && error.code === 'HOIST_PRECONDITION') {
          throw new HoistError('HOIST_PRECONDITION', `the channel of ${m.app}/${m.env} changed while you approved ${m.version} (another publish or approval); nothing was written: review what it carries now and approve again`, { cause: error });
        }
        throw error;
      });
      wrote.push(channelKey);
    }
    const statement = approvalStatement(m, signer.key, new Date());
    await putObjectOnce(clients.s3, { bucket: opts.bucket, key: approvalKey, body: serializeEnvelope(signApproval(statement, signer.key)), contentType: 'application/json' });
    wrote.push(approvalKey);
    const signed = signer.policy === undefined ? undefined : signatureStatus(envelope, m, signer.policy, 'release');
    const text = [
      `approved  ${m.app}/${m.env} ${m.version} sequence ${m.sequence} (${envelope.signatures.length} signature${envelope.signatures.length === 1 ? '' : 's'}) at ${statement.at}`,
      `wrote     ${wrote.join(', ')}`,
      ...(signed === undefined ? [] : [`signed    ${describeStatus(signed)}`]),
      '',
    ].join('\n');
    const value = { approved: { app: m.app, env: m.env, version: m.version, sequence: m.sequence, signatures: envelope.signatures.length, at: statement.at, keyid: keyId }, wrote, ...(signed === undefined ? {} : { signed }) };
    await reportWritten(clients, opts, serializeEnvelope(envelope), text, value);
  });
}
