/**
 * `hoist trust publish` / `hoist trust show`: the signed trust document (`trust/root.json` and
 * `trust/history/<version>.json`) through which the fleet's keys are rotated and revoked without
 * touching a host.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { keyIdOf, loadPrivateKey } from '../../crypto/keys.ts';
import { addSignature, DEFAULT_MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope, signEnvelope, type Envelope } from '../../dsse/envelope.ts';
import { HoistError, toHoistError } from '../../errors.ts';
import { addBucketOptions, addWriteOptions, keysOf, looseKeyOption, parseExpires, withAws, type BucketOptions, type NotifyOptions } from '../../publish/options.ts';
import { addJsonOption, type OutputOptions } from '../json-option.ts';
import { reportWritten } from '../written.ts';
import { loadTrustFile } from '../../trust/load.ts';
import type { TrustPolicy } from '../../trust/policy.ts';
import { acceptTrustDocument, bootstrapTrust, readTrustEnvelope, trustExpired, type HeldTrust, type TrustEnvelope } from '../../trust/root/accept.ts';
import { TRUST_PAYLOAD_TYPE } from '../../trust/root/document.ts';
import { followTrust } from '../../trust/root/follow.ts';
import { countRootSignatures, DEFAULT_TRUST_EXPIRY_MS, describeCount, planTrustPayload, publishBase } from '../../trust/root/plan.ts';
import { readPublishedTrust, writeTrustDocument } from '../../trust/root/published.ts';
import { describeTrust, trustJson } from '../trust-describe.ts';
import { formatDuration } from '../../util/units.ts';
import { readInput, writeErr, writeOut } from '../output.ts';

interface PublishOptions extends BucketOptions, NotifyOptions, OutputOptions {
  key: string[];
  allowLooseKey?: boolean;
  expires: string;
  dryRun?: boolean;
  envelope?: string;
  out?: string;
  trust?: string;
}

interface ShowOptions extends BucketOptions, OutputOptions {
  trust: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function register(program: Command): void {
  const trust = program
    .command('trust')
    .description('publish and inspect the signed trust document that rotates and revokes the fleet\'s keys (agents with trust.root follow it)');

  addWriteOptions(
    trust
      .command('publish')
        .description('sign the next trust document (version = the bucket\'s + 1) and write trust/history/<version>.json and trust/root.json, after checking the root thresholds of the current and of the new document')
      .argument('[policy]', 'YAML/JSON shaped like the agent config\'s trust: block, with root: (and apps: "app/env" overrides); keys as files or inline PEM')
      .option('-k, --key <file>', 'a root private key to sign with (repeatable)', collect, [])
      .addOption(looseKeyOption())
      .option('--expires <duration>', 'validity of the document; agents warn from 7 days before and activate nothing new after', '90d')
      .option('--envelope <file>', 'publish this envelope (signed offline with `hoist sign` and `--add-to`) instead of building one from a policy')
      .option('--dry-run', 'check and print, write nothing: without --key, the payload to sign offline; with keys, the envelope')
      .option('-o, --out <file>', 'write the payload (or envelope) here instead of stdout')
      .option('--trust <file>', 'the hosts\' config (its trust.root): check the bucket\'s chain from it, and the first document against it'),
  )
    .addHelpText(
      'after',
      `
Examples:
  # revoke a stolen CI key: edit the policy, sign with two of the three root keys
  hoist trust publish policy.yaml --bucket my-releases --key root1.key --key root2.key
  # offline, in steps: print the payload, sign it on the offline machine, then publish
  hoist trust publish policy.yaml --bucket my-releases --dry-run --out trust-5.json
  hoist sign trust-5.json --key root1.key --out trust-5.dsse.json
  hoist sign --key root2.key --add-to trust-5.dsse.json --out trust-5.dsse.json
  hoist trust publish --envelope trust-5.dsse.json --bucket my-releases`,
    )
    .action(async (policyPath: string | undefined, opts: PublishOptions) => {
      await publish(policyPath, opts);
    });

  addJsonOption(
    addBucketOptions(
      trust
        .command('show')
        .description('verify the published trust document from a root you hold (walking trust/history/) and print its version, expiry, keys with their ids and roles')
        .requiredOption('-t, --trust <file>', 'YAML/JSON with trust.root (the agent config works): the root to verify from'),
    ),
  )
    .addHelpText('after', `
Exit status: 0 verified and current, 1 refused, broken chain or expired (printed), 2 usage.

Example:
  hoist trust show --bucket my-releases --trust /etc/hoist/agent.yaml`)
    .action(async (opts: ShowOptions) => {
      await show(opts);
    });
}

async function publish(policyPath: string | undefined, opts: PublishOptions): Promise<void> {
  if ((policyPath === undefined) === (opts.envelope === undefined)) {
    throw new HoistError('HOIST_USAGE', 'give either a policy file to build the next trust document from, or --envelope FILE with one signed offline');
  }
  if (!opts.dryRun && opts.key.length === 0 && opts.envelope === undefined) {
    throw new HoistError('HOIST_USAGE', 'give the root keys that sign (--key, repeatable), or --dry-run to print the payload for offline signing (`hoist sign`)');
  }
  const expiresInMs = parseExpires(opts.expires) ?? DEFAULT_TRUST_EXPIRY_MS;
  const policy = policyPath === undefined ? undefined : await loadTrustFile(policyPath);
  if (policy !== undefined && policy.root === undefined) {
    throw new HoistError('HOIST_USAGE', `${policyPath ?? ''} has no root role: add \`root: { keys: [root1, root2, root3], threshold: 2 }\` (offline keys that sign trust documents)`);
  }
  const bootstrap = opts.trust === undefined ? undefined : await rootedTrustFile(opts.trust);
  const signing = await Promise.all(opts.key.map(async (path) => ({ path, key: await loadPrivateKey(path, { allowLoose: opts.allowLooseKey }) })));
  const offline = opts.envelope === undefined ? undefined : parseEnvelope(await readInput(opts.envelope, 'envelope', DEFAULT_MAX_ENVELOPE_BYTES));
  const clockSkewMs = (policy ?? bootstrap)?.clockSkewMs ?? 300_000;
  const now = new Date();

  await withAws(opts, async (clients) => {
    const keys = keysOf(opts);
    const published = await readPublishedTrust(clients.s3, { bucket: opts.bucket, keys, clockSkewMs });
    for (const u of published.unreadable) writeErr(`warning: ignoring ${u.key}: ${u.error.message}\n`);
    if (bootstrap !== undefined && published.newest !== undefined) await checkChain(clients.s3, opts, bootstrap, published.newest);
    const { held, assumed } = publishBase(published.newest, bootstrap, policy);
    if (assumed) {
      writeErr(`note: no trust document is published yet; checked against the policy's own root (hosts refuse it unless their trust.root is that root: pass --trust with the agent config to check)\n`);
    }

    let envelope: Envelope;
    if (offline !== undefined) {
      envelope = offline;
    } else {
      const payload = planTrustPayload({ policy: policy as TrustPolicy, version: held.version + 1, now, expiresInMs });
      const bytes = Buffer.from(signing.length === 0 ? `${JSON.stringify(payload, null, 2)}\n` : JSON.stringify(payload));
      if (signing.length === 0) {
        // The payload for offline signing: its bytes are what `hoist sign` signs.
        await output(opts.out, bytes.toString('utf8'));
        writeErr(`trust version ${held.version + 1} payload${opts.out === undefined ? '' : ` written to ${opts.out}`}; sign it offline with \`hoist sign\` (root keys of version ${held.version} and of its own root), then \`hoist trust publish --envelope FILE\`\n`);
        return;
      }
      envelope = { payloadType: TRUST_PAYLOAD_TYPE, payload: bytes.toString('base64'), signatures: [] };
    }
    envelope = sign(envelope, signing, held);

    const text = serializeEnvelope(envelope);
    const candidate = readTrustEnvelope(text, clockSkewMs);
    const counts = countRootSignatures(held, candidate);
    const summary = [
      `trust     version ${candidate.document.version} (after version ${held.version}), expires ${candidate.document.expiresAt}${expiresIn(candidate, now)}`,
      `old root  ${held.document === undefined ? `version ${held.version} (${assumed ? 'the policy\'s own root' : 'the hosts\' config root'})` : `version ${held.version}`}: ${describeCount(counts.old)}`,
      `new root  version ${candidate.document.version}: ${describeCount(counts.own)}`,
    ];
    const verdict = acceptTrustDocument(held, text, now);
    const value = {
      version: candidate.document.version,
      after: held.version,
      expiresAt: candidate.document.expiresAt,
      oldRoot: counts.old,
      newRoot: counts.own,
    };
    if (verdict.status === 'duplicate') {
      if (opts.json === true) writeOut(`${JSON.stringify({ ...value, alreadyPublished: true, wrote: [] }, null, 2)}\n`);
      else writeOut(`${summary.join('\n')}\nalready published: version ${verdict.version} with this payload is in the bucket; nothing written\n`);
      return;
    }
    if (verdict.status === 'refused') {
      writeErr(`${summary.join('\n')}\n`);
      throw verdict.error;
    }
    if (verdict.expired !== undefined) throw verdict.expired;
    if (opts.dryRun === true) {
      await output(opts.out, text);
      writeErr(`${summary.join('\n')}\ndry run: hosts would take it; nothing written\n`);
      return;
    }
    const written = await writeTrustDocument(clients.s3, { bucket: opts.bucket, keys, candidate, text });
    if (opts.out !== undefined) await output(opts.out, text);
    await reportWritten(clients, opts, text, `${[...summary, ...written.map((k) => `wrote     ${k}`)].join('\n')}\n`, { ...value, wrote: written });
  });
}

/** Adds each key's signature; a key of neither root counts for nothing and is said so. */
function sign(envelope: Envelope, signing: ReadonlyArray<{ path: string; key: KeyObject }>, held: HeldTrust): Envelope {
  let out = envelope;
  for (const { path, key } of signing) {
    const id = keyIdOf(key);
    if (out.signatures.some((s) => s.keyid === id)) {
      writeErr(`note: ${path} has already signed this envelope\n`);
      continue;
    }
    out = out.signatures.length === 0 ? signEnvelope(Buffer.from(out.payload, 'base64'), key, out.payloadType) : addSignature(out, key);
    if (!held.policy.root.keyIds.has(id)) writeErr(`note: ${path} (keyid ${id.slice(0, 12)}…) is not a root key of version ${held.version}; it counts only if the new document names it as a root key\n`);
  }
  return out;
}

/** The bucket's newest document must be reachable from the hosts' root (else building on it is building on sand). */
async function checkChain(s3: Parameters<typeof followTrust>[0], opts: PublishOptions, bootstrap: TrustPolicy, newest: TrustEnvelope): Promise<void> {
  const result = await followTrust(s3, { bucket: opts.bucket, prefix: opts.prefix, held: bootstrapTrust(bootstrap), now: new Date(), maxBytes: DEFAULT_MAX_ENVELOPE_BYTES });
  if (result.error !== undefined) throw result.error;
  if (result.held.version !== newest.document.version) {
    throw new HoistError('HOIST_TRUST_CHAIN_BROKEN', `the bucket's newest trust document is version ${newest.document.version} but the chain from ${opts.trust ?? ''} reaches version ${result.held.version}; fix trust/ first (\`hoist trust show\`)`);
  }
}

async function show(opts: ShowOptions): Promise<void> {
  const bootstrap = await rootedTrustFile(opts.trust);
  await withAws(opts, async (clients) => {
    const now = new Date();
    const result = await followTrust(clients.s3, { bucket: opts.bucket, prefix: opts.prefix, held: bootstrapTrust(bootstrap), now, maxBytes: DEFAULT_MAX_ENVELOPE_BYTES });
    if (result.status === 'missing') {
      throw new HoistError('HOIST_TRUST_NOT_FOUND', `no trust document is published in s3://${opts.bucket}/${keysOf(opts).trustRoot()}; hosts use the trust block of their config (publish one with \`hoist trust publish\`)`);
    }
    const expired = result.held.document === undefined ? undefined : trustExpired({ version: result.held.version, expiresAt: result.held.document.expiresAt }, now, bootstrap.clockSkewMs);
    if (opts.json === true) writeOut(`${JSON.stringify({ ...trustJson(result.held, now), walked: result.accepted, ...(result.error === undefined ? {} : { error: { code: result.error.code, message: result.error.message } }) }, null, 2)}\n`);
    else writeOut(describeTrust(result.held, now, result.accepted));
    if (result.error !== undefined) {
      if (opts.json !== true) writeErr(`the walk stopped at version ${result.held.version}:\n`);
      throw result.error;
    }
    if (expired !== undefined) throw expired;
  });
}

async function rootedTrustFile(path: string): Promise<TrustPolicy> {
  const policy = await loadTrustFile(path);
  if (policy.root === undefined) {
    throw new HoistError('HOIST_USAGE', `${path} has no trust.root: it must name the root keys hosts verify trust documents with (trust.root: { keys: [...], threshold: N })`);
  }
  return policy;
}

function expiresIn(candidate: TrustEnvelope, now: Date): string {
  const left = Date.parse(candidate.document.expiresAt) - now.getTime();
  return left > 0 ? ` (in ${formatDuration(left)})` : ' (expired)';
}

async function output(path: string | undefined, text: string): Promise<void> {
  if (path === undefined) {
    writeOut(text);
    return;
  }
  try {
    await writeFile(path, text);
  } catch (cause) {
    throw toHoistError(cause, 'HOIST_IO');
  }
}
