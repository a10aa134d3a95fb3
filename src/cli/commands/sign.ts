/**
 * `hoist sign PAYLOAD.json --key K [--add-to ENVELOPE] [--out FILE]`: the payloadType follows the
 * payload's kind (a manifest, or a `kind: trust` document signed offline by root keys).
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { loadPrivateKey } from '../../crypto/keys.ts';
import { looseKeyOption } from '../../publish/options.ts';
import { addSignature, decodePayload, parseEnvelope, PAYLOAD_TYPE, serializeEnvelope, signEnvelope } from '../../dsse/envelope.ts';
import { HoistError, toHoistError } from '../../errors.ts';
import { parseManifest } from '../../manifest/schema.ts';
import { parseTrustDocument, TRUST_PAYLOAD_TYPE } from '../../trust/root/document.ts';
import { readInput, writeErr, writeOut } from '../output.ts';

interface SignOptions {
  key: string;
  allowLooseKey?: boolean;
  addTo?: string;
  out?: string;
}

const MAX_PAYLOAD_BYTES = 65_536;

export function register(program: Command): void {
  program
    .command('sign')
    .description('Sign a manifest payload (or a kind: trust document) into a DSSE envelope, or add a signature to an existing envelope. The payload bytes are signed exactly as they are in the file, after checking them against their schema; the payloadType follows the kind.')
    .argument('[payload]', 'manifest JSON file ("-" for stdin); optional with --add-to, where it must equal the envelope\'s payload')
    .requiredOption('-k, --key <file>', 'Ed25519 private key (PKCS#8 PEM, from `hoist keygen` or openssl)')
    .addOption(looseKeyOption())
    .option('--add-to <envelope>', 'add this key\'s signature to an existing envelope instead of making a new one')
    .option('-o, --out <file>', 'write the envelope here instead of stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ hoist sign release.json --key ci.key --out release.dsse.json
  $ hoist sign release.json --key alice.key --add-to release.dsse.json --out release.dsse.json
  $ hoist sign --key bob.key --add-to release.dsse.json     # co-sign what the envelope carries
  $ hoist sign trust-5.json --key root1.key --out trust-5.dsse.json   # a trust document, offline`,
    )
    .action(async (payloadPath: string | undefined, options: SignOptions) => {
      await sign(payloadPath, options);
    });
}

async function sign(payloadPath: string | undefined, options: SignOptions): Promise<void> {
  if (payloadPath === undefined && options.addTo === undefined) {
    throw new HoistError('HOIST_USAGE', 'give the payload file to sign, or --add-to ENVELOPE to co-sign an existing envelope');
  }
  const key = await loadPrivateKey(options.key, { allowLoose: options.allowLooseKey });
  const payload = payloadPath === undefined ? undefined : await readInput(payloadPath, 'payload file', MAX_PAYLOAD_BYTES);

  let envelope;
  if (options.addTo === undefined) {
    // payload is defined here: checked above.
    const bytes = payload ?? Buffer.alloc(0);
    envelope = signEnvelope(bytes, key, checkPayload(bytes, payloadPath ?? ''));
  } else {
    const existing = parseEnvelope(await readInput(options.addTo, 'envelope', MAX_PAYLOAD_BYTES * 2));
    if (existing.payloadType !== PAYLOAD_TYPE && existing.payloadType !== TRUST_PAYLOAD_TYPE) {
      throw new HoistError('HOIST_PAYLOAD_TYPE', `${options.addTo} has payloadType "${existing.payloadType}", expected "${PAYLOAD_TYPE}" or "${TRUST_PAYLOAD_TYPE}"`);
    }
    const carried = decodePayload(existing);
    if (payload !== undefined && !carried.equals(payload)) {
      // An approver signs what they reviewed; never a different payload than the file they name.
      throw new HoistError('HOIST_MANIFEST_MISMATCH', `${options.addTo} carries a different payload than ${payloadPath}; review the envelope's payload (\`hoist verify\`) and sign that`);
    }
    if (checkPayload(carried, options.addTo) !== existing.payloadType) {
      throw new HoistError('HOIST_PAYLOAD_TYPE', `${options.addTo} has payloadType "${existing.payloadType}" but carries a payload of another kind; it was not made by \`hoist sign\``);
    }
    envelope = addSignature(existing, key);
  }

  const text = serializeEnvelope(envelope);
  if (options.out === undefined) {
    writeOut(text);
    return;
  }
  try {
    await writeFile(options.out, text);
  } catch (cause) {
    throw toHoistError(cause, 'HOIST_IO');
  }
  writeErr(`wrote ${options.out} (${envelope.signatures.length} signature${envelope.signatures.length === 1 ? '' : 's'})\n`);
}

/** Refuses to sign anything that is not a valid manifest or trust document; returns its payloadType. */
function checkPayload(bytes: Buffer, source: string): string {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new HoistError('HOIST_MANIFEST_INVALID', `${source} is not UTF-8 JSON; a payload is a manifest JSON object (schema 1, kind, app, env, sequence, version, artifact, issuedAt), or a trust document (kind: trust)`, { cause });
  }
  const trust = typeof value === 'object' && value !== null && (value as Record<string, unknown>).kind === 'trust';
  try {
    // A trust document is checked whole (keys, roles); clockSkew is the host's, not the document's.
    if (trust) parseTrustDocument(value, 0);
    else parseManifest(value);
  } catch (error) {
    if (error instanceof HoistError) {
      throw new HoistError(error.code, `refusing to sign ${source}: ${error.message}`, { cause: error, ...(error.details === undefined ? {} : { details: error.details }) });
    }
    throw error;
  }
  return trust ? TRUST_PAYLOAD_TYPE : PAYLOAD_TYPE;
}
