/**
 * `hoist renew`: the current release of an app and env published again with a new sequence and a
 * new expiry, for channels that stay quiet longer than their manifests are valid. The schedule
 * keeps its start, the halt its limit. It signs what the channel holds, so it first checks that
 * what the channel holds is genuine: fully signed under `--trust`, or, without one, signed by the
 * renewing key itself (a manifest planted in the bucket carries neither).
 */
import { createPublicKey } from 'node:crypto';
import type { Command } from 'commander';
import { decodePayload, serializeEnvelope } from '../../dsse/envelope.ts';
import { pae, signatureVerifies } from '../../dsse/pae.ts';
import { HoistError } from '../../errors.ts';
import { channelRelease, readChannel, type StoredManifest } from '../../publish/envelope-io.ts';
import { addAppEnvOptions, addSigningKeyOptions, addTrustOption, addWriteOptions, defaultBy, keysOf, parseExpires, withAws, type AppEnvOptions, type BucketOptions, type NotifyOptions } from '../../publish/options.ts';
import { planRenewal } from '../../publish/plan.ts';
import { writeRelease } from '../../publish/release.ts';
import { describeStatus, loadSigner, signatureStatus, type Signer } from '../../publish/signer.ts';
import { formatDuration } from '../../util/units.ts';
import { writeOut } from '../output.ts';
import { reportWritten } from '../written.ts';

interface RenewOptions extends BucketOptions, NotifyOptions, AppEnvOptions {
  key: string;
  allowLooseKey?: boolean;
  trust?: string;
  expires?: string;
  within?: string;
  by?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('renew').description('publish the current release again with a new sequence and expiry (channels quiet for longer than a manifest is valid)');
  addTrustOption(addSigningKeyOptions(addAppEnvOptions(cmd), 'release'), 'renew only a release fully signed under this policy (without it: only one the key itself signed)')
    .option('--expires <duration>', 'validity of the renewed manifest', '30d')
    .option('--within <duration>', 'renew only when the current manifest expires within this (for a daily job), e.g. 7d')
    .option('--by <name>', 'who renews, recorded in the notes (default: the login name)');
  addWriteOptions(cmd)
    .addHelpText('after', `
Examples:
  hoist renew --app web --env prod --bucket my-releases --key ci.key --trust trust.yaml
  hoist renew --app web --env prod --bucket my-releases --key ci.key --within 7d   # daily, from cron or CI`)
    .action(async (opts: RenewOptions) => {
      await renew(opts);
    });
}

async function renew(opts: RenewOptions): Promise<void> {
  const expiresInMs = parseExpires(opts.expires);
  const withinMs = parseExpires(opts.within, '--within');
  const signer = await loadSigner(opts.key, { allowLooseKey: opts.allowLooseKey, trust: opts.trust, role: 'release', app: opts.app, env: opts.env });
  const keys = keysOf(opts);
  const channelKey = keys.channel(opts.app, opts.env);
  await withAws(opts, async (clients) => {
    const at = { bucket: opts.bucket, key: channelKey, app: opts.app, env: opts.env };
    const stored = await readChannel(clients.s3, at, 'there is nothing to renew — check --app, --env, --bucket and --prefix');
    const current = channelRelease(stored, at, 'investigate who wrote it');
    const now = new Date();
    const left = current.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(current.expiresAt) - now.getTime();
    if (withinMs !== undefined && left > withinMs) {
      const text = `nothing to renew: ${current.app}/${current.env} ${current.version} (sequence ${current.sequence}) expires ${current.expiresAt ?? 'never'}, in ${formatDuration(left)}, later than --within ${opts.within ?? ''}\n`;
      writeOut(opts.json === true ? `${JSON.stringify({ renewed: false, sequence: current.sequence, expiresAt: current.expiresAt ?? null })}\n` : text);
      return;
    }
    checkGenuine(stored, signer);
    const written = await writeRelease(clients.s3, {
      bucket: opts.bucket,
      keys,
      app: opts.app,
      env: opts.env,
      signer,
      build: (previous) => planRenewal(current, { now, ...(expiresInMs === undefined ? {} : { expiresInMs }), previousSequences: previous, renewedBy: defaultBy(opts.by) }),
    });
    const m = written.manifest;
    const signed = signer.policy === undefined ? undefined : signatureStatus(written.envelope, m, signer.policy, 'release');
    const text = [
      `renewed   ${m.app}/${m.env} ${m.version} (sha256 ${m.artifact.sha256.slice(0, 12)}) from sequence ${current.sequence} (which ${left <= 0 ? 'expired' : 'expires'} ${current.expiresAt ?? 'never'})`,
      `sequence  ${m.sequence} expires ${m.expiresAt ?? '-'}`,
      `wrote     ${written.keys.join(', ')}`,
      ...(signed === undefined ? [] : [`signed    ${describeStatus(signed)}`]),
      '',
    ].join('\n');
    const value = { renewed: true, from: current.sequence, sequence: m.sequence, version: m.version, sha256: m.artifact.sha256, expiresAt: m.expiresAt ?? null, wrote: written.keys, ...(signed === undefined ? {} : { signed }) };
    await reportWritten(clients, opts, serializeEnvelope(written.envelope), text, value);
  });
}

/** What is about to be signed again must be genuine: fully signed under --trust, else signed by this very key. */
function checkGenuine(stored: StoredManifest, signer: Signer): void {
  const m = stored.manifest;
  if (signer.policy !== undefined) {
    const status = signatureStatus(stored.envelope, m, signer.policy, 'release');
    if (!status.complete) throw new HoistError('HOIST_SIGNATURE_THRESHOLD', `the current release ${m.version} was never fully signed (${describeStatus(status)}); renewing it would sign what was never approved. Approve it first, or publish again`);
    return;
  }
  const message = pae(stored.envelope.payloadType, decodePayload(stored.envelope));
  const publicKey = createPublicKey(signer.key);
  const own = stored.envelope.signatures.some((s) => s.keyid === signer.keyId && signatureVerifies(message, publicKey, s.sig));
  if (!own) {
    throw new HoistError('HOIST_SIGNATURE_UNTRUSTED', `the current release ${m.version} (sequence ${m.sequence}) carries no valid signature of this key (${signer.keyId.slice(0, 12)}…), so nothing shows it is genuine; pass --trust to renew a release signed by other trusted keys`);
  }
}
