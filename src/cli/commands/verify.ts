/** `hoist verify ENVELOPE --trust FILE [--app A] [--env E] [--kind K]`: offline verification. */
import { Option, type Command } from 'commander';
import type { Manifest } from '../../manifest/schema.ts';
import { signerNames, type TrustPolicy } from '../../trust/policy.ts';
import { loadTrustFile } from '../../trust/load.ts';
import { verifyEnvelope } from '../../trust/verify.ts';
import { ROLES, type Role } from '../../trust/schema.ts';
import { DEFAULT_MAX_ENVELOPE_BYTES } from '../../dsse/envelope.ts';
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
    .description('Verify an envelope offline against a trust policy, exactly as the agent does (signatures, threshold, schema, app/env, validity). Prints the payload on success, the reason on failure.')
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
  $ aws s3 cp s3://my-releases/channels/web/prod.json - | hoist verify - --trust /etc/hoist/agent.yaml --app web --env prod`,
    )
    .action(async (envelopePath: string, options: VerifyOptions) => {
      const policy = await loadTrustFile(options.trust);
      const bytes = await readInput(envelopePath, 'envelope', DEFAULT_MAX_ENVELOPE_BYTES);
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
