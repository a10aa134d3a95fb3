/** `hoist keygen --out NAME`: a new Ed25519 key pair as NAME.key (PKCS#8, 0600) and NAME.pub (SPKI). */
import type { Command } from 'commander';
import { chmod, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { generateKeyPair } from '../../crypto/keys.ts';
import { HoistError, toHoistError } from '../../errors.ts';
import { writeErr, writeOut } from '../output.ts';
import { addJsonOption, type OutputOptions } from '../json-option.ts';

interface KeygenOptions extends OutputOptions {
  out: string;
  force?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('keygen')
    .description('Generate an Ed25519 signing key pair: NAME.key (private, PKCS#8 PEM, mode 0600) and NAME.pub (public, SPKI PEM). Prints the key id.')
    .requiredOption('-o, --out <name>', 'path prefix of the two files (NAME.key, NAME.pub)')
    .option('-f, --force', 'overwrite existing files');
  addJsonOption(cmd)
    .addHelpText(
      'after',
      `
Output (stdout):
  keyid <64 hex>     the id signatures carry; sha256 of the raw public key
  private NAME.key
  public NAME.pub

Examples:
  $ hoist keygen --out ci            # ci.key for the CI secret store, ci.pub for the trust policy
  $ hoist keygen --out keys/alice --force`,
    )
    .action(async (options: KeygenOptions) => {
      await keygen(options);
    });
}

async function keygen(options: KeygenOptions): Promise<void> {
  const privatePath = `${options.out}.key`;
  const publicPath = `${options.out}.pub`;
  // Check both first so a refusal never leaves a new private key beside an old public one.
  if (options.force !== true) {
    const existing = [privatePath, publicPath].filter((path) => existsSync(path));
    if (existing.length > 0) {
      throw new HoistError('HOIST_USAGE', `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; choose another --out or pass --force to overwrite`);
    }
  }
  const pair = generateKeyPair();
  const flag = options.force === true ? 'w' : 'wx';
  try {
    await writeFile(privatePath, pair.privatePem, { mode: 0o600, flag });
    // writeFile keeps the mode of a file it overwrites, and a umask could widen nothing but narrow.
    await chmod(privatePath, 0o600);
    await writeFile(publicPath, pair.publicPem, { mode: 0o644, flag });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new HoistError('HOIST_USAGE', `${(cause as NodeJS.ErrnoException).path ?? options.out} already exists; choose another --out or pass --force`, { cause });
    }
    throw toHoistError(cause, 'HOIST_IO');
  }
  if (options.json === true) writeOut(`${JSON.stringify({ keyid: pair.keyId, private: privatePath, public: publicPath }, null, 2)}\n`);
  else writeOut(`keyid ${pair.keyId}\nprivate ${privatePath}\npublic ${publicPath}\n`);
  writeErr(`keep ${privatePath} secret; put ${publicPath} in the trust policy of the agents\n`);
}
