/**
 * `hoist verify ENVELOPE --trust FILE [--app A] [--env E] [--kind K]`: offline verification of a
 * manifest, or of a trust document against the file's trust.root.
 */
import { Option, type Command } from 'commander';
import type { Manifest } from '../../manifest/schema.ts';
import { signerNames, type TrustPolicy } from '../../trust/policy.ts';
import { loadTrustFile } from '../../trust/load.ts';
import { verifyEnvelope } from '../../trust/verify.ts';
import { ROLES, type Role } from '../../trust/schema.ts';
import { DEFAULT_MAX_ENVELOPE_BYTES } from '../../dsse/envelope.ts';
import { HoistError } from '../../errors.ts';
import { bootstrapTrust, checkRootThresholds, readTrustEnvelope, trustExpired } from '../../trust/root/accept.ts';
import { claimedVersion, TRUST_PAYLOAD_TYPE } from '../../trust/root/document.ts';
import { readInput, writeErr, writeOut } from '../output.ts';

interface VerifyOptions {
  trust: string;
  app?: string;
  env?: string;
  kind?: Role;
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('Verify an envelope offline against a trust policy, exactly as the agent does (signatures, threshold, schema, app/env, validity). Prints the payload on success, the reason on failure. A trust document is verified against the file\'s trust.root (both root thresholds, expiry).')
    .argument('<envelope>', 'envelope file ("-" for stdin)')
    .requiredOption('-t, --trust <file>', 'trust policy: YAML/JSON shaped like the agent config\'s trust: block, or the agent config itself')
    .option('--app <app>', 'require this app')
    .option('--env <env>', 'require this env')
    .addOption(new Option('--kind <kind>', 'require this kind (selects the role whose keys count)').choices(ROLES))
    .addHelpText(
      'after',
      `
Exit status: 0 verified, 1 the envelope fails verification, 2 usage or trust file error.

Examples:
  $ hoist verify release.dsse.json --trust trust.yaml
  $ aws s3 cp s3://my-releases/channels/web/prod.json - | hoist verify - --trust /etc/hoist/agent.yaml --app web --env prod
  $ aws s3 cp s3://my-releases/trust/history/1.json - | hoist verify - --trust /etc/hoist/agent.yaml`,
    )
    .action(async (envelopePath: string, options: VerifyOptions) => {
      const policy = await loadTrustFile(options.trust);
      const bytes = await readInput(envelopePath, 'envelope', DEFAULT_MAX_ENVELOPE_BYTES);
      if (isTrustEnvelope(bytes)) {
        verifyTrust(bytes, policy, options);
        return;
      }
      const expect = {
        ...(options.app === undefined ? {} : { app: options.app }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.kind === undefined ? {} : { kind: options.kind }),
      };
      const verified = verifyEnvelope(bytes, policy, new Date(), expect);
      writeOut(`${JSON.stringify(JSON.parse(verified.payloadBytes.toString('utf8')), null, 2)}\n`);
      writeErr(`${summary(verified.manifest, policy, verified.signers)}\n`);
    });
}

function summary(m: Manifest, policy: TrustPolicy, signers: string[]): string {
  const what = m.kind === 'pin' && m.artifact === null ? 'unpin' : `${m.kind} version ${m.version ?? '?'}`;
  return `verified: ${what} for ${m.app}/${m.env}, sequence ${m.sequence}, signed by ${signerNames(policy, signers).join(', ')}`;
}

function isTrustEnvelope(bytes: Buffer): boolean {
  try {
    return (JSON.parse(bytes.toString('utf8')) as { payloadType?: unknown }).payloadType === TRUST_PAYLOAD_TYPE;
  } catch {
    return false;
  }
}

/**
 * A trust document against the root of the trust file (its trust.root, as a host with that config
 * holds it): both root thresholds and expiry. Its version is not checked (a host walks the history
 * to reach it); a note says when it is not the next one.
 */
function verifyTrust(bytes: Buffer, policy: TrustPolicy, options: VerifyOptions): void {
  if (options.app !== undefined || options.env !== undefined || options.kind !== undefined) {
    throw new HoistError('HOIST_USAGE', '--app, --env and --kind apply to manifests; this envelope is a trust document');
  }
  if (policy.root === undefined) {
    throw new HoistError('HOIST_USAGE', `${options.trust} has no trust.root; trust documents are verified against the root keys hosts hold (trust.root: { keys: [...], threshold: N })`);
  }
  const held = bootstrapTrust(policy);
  const candidate = readTrustEnvelope(bytes, policy.clockSkewMs);
  const signers = checkRootThresholds(held, candidate);
  const expired = trustExpired(candidate.document, new Date(), policy.clockSkewMs);
  if (expired !== undefined) throw expired;
  writeOut(`${JSON.stringify(JSON.parse(candidate.payloadBytes.toString('utf8')), null, 2)}\n`);
  const version = claimedVersion(bytes) ?? candidate.document.version;
  const names = signerNames(policy, signers).concat(signerNames(candidate.document.policy, signers)).filter((n) => !n.endsWith('…'));
  writeErr(`verified: trust document version ${version}, expires ${candidate.document.expiresAt}, signed by ${[...new Set(names)].join(', ')} (the root of version ${held.version} and its own)\n`);
  if (version !== held.version + 1 && version !== held.version) {
    writeErr(`note: a host holding version ${held.version} takes version ${version} only after ${held.version + 1}–${version - 1} from trust/history/ (\`hoist trust show\` walks them)\n`);
  }
}
