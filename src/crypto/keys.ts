/**
 * Ed25519 keys as PEM files (PKCS#8 private, SPKI public): the files `hoist keygen` and
 * `openssl genpkey -algorithm ed25519` both write. node:crypto only.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HoistError } from '../errors.ts';

export interface GeneratedKeyPair {
  privatePem: string;
  publicPem: string;
  keyId: string;
}

const PEM_PREFIX = '-----BEGIN';

export function generateKeyPair(): GeneratedKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** Lowercase hex SHA-256 of the raw 32-byte public key; a private key gives its public key's id. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  assertEd25519(pub, 'key');
  // The SPKI DER of an Ed25519 key is a fixed 12-byte header followed by the raw 32 bytes.
  const der = pub.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der.subarray(der.length - 32)).digest('hex');
}

/** Loads a PKCS#8 Ed25519 private key from a file, or from inline PEM text. */
export async function loadPrivateKey(pathOrPem: string): Promise<KeyObject> {
  const { text, source } = await readPem(pathOrPem, undefined, 'private');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (cause) {
    throw new HoistError('HOIST_KEY_INVALID', `${source} is not a PEM private key; use a PKCS#8 file from \`hoist keygen\` or \`openssl genpkey -algorithm ed25519\``, { cause });
  }
  assertEd25519(key, source);
  return key;
}

/** Loads an SPKI Ed25519 public key from a file (relative to baseDir), or from inline PEM text. */
export async function loadPublicKey(pathOrPem: string, baseDir?: string): Promise<KeyObject> {
  const { text, source } = await readPem(pathOrPem, baseDir, 'public');
  return parsePublicKeyPem(text, source);
}

/** An SPKI Ed25519 public key from PEM text; `source` names it in errors. No I/O. */
export function parsePublicKeyPem(text: string, source = 'the inline public key'): KeyObject {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new HoistError('HOIST_KEY_INVALID', `${source} is a private key where a public key was expected; give the .pub file (\`openssl pkey -in KEY -pubout\` makes one)`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch (cause) {
    throw new HoistError('HOIST_KEY_INVALID', `${source} is not a PEM public key; use the .pub file from \`hoist keygen\` or \`openssl pkey -pubout\``, { cause });
  }
  assertEd25519(key, source);
  return key;
}

async function readPem(pathOrPem: string, baseDir: string | undefined, kind: 'private' | 'public'): Promise<{ text: string; source: string }> {
  const trimmed = pathOrPem.trimStart();
  if (trimmed.startsWith(PEM_PREFIX)) return { text: trimmed, source: `the inline ${kind} key` };
  const path = baseDir === undefined ? resolve(pathOrPem) : resolve(baseDir, pathOrPem);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new HoistError('HOIST_KEY_INVALID', `${kind} key file ${path} ${reason}; check the path`, { cause, details: { path } });
  }
  if (!text.includes(PEM_PREFIX)) {
    throw new HoistError('HOIST_KEY_INVALID', `${kind} key file ${path} is not PEM; expected "-----BEGIN ..." (Ed25519, ${kind === 'private' ? 'PKCS#8' : 'SPKI'})`, { details: { path } });
  }
  return { text, source: `key file ${path}` };
}

function assertEd25519(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new HoistError('HOIST_KEY_INVALID', `${source} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; hoist only uses Ed25519 keys (\`hoist keygen\`)`);
  }
}
