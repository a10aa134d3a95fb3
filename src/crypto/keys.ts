/**
 * Ed25519 keys as PEM files (PKCS#8 private, SPKI public): the files `hoist keygen` and
 * `openssl genpkey -algorithm ed25519` both write. node:crypto only.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
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

export interface PrivateKeyOptions {
  /** Accept a key file that its group or others can read or write (--allow-loose-key). */
  readonly allowLoose?: boolean | undefined;
}

/**
 * Loads a PKCS#8 Ed25519 private key from a file, or from inline PEM text. A file that its
 * group or others can read or write is refused (HOIST_KEY_PERMISSIONS), as ssh refuses such an
 * identity file: someone else on the machine may hold a copy.
 */
export async function loadPrivateKey(pathOrPem: string, options: PrivateKeyOptions = {}): Promise<KeyObject> {
  const { text, source } = await readPem(pathOrPem, undefined, 'private', options.allowLoose === true);
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

async function readPem(pathOrPem: string, baseDir: string | undefined, kind: 'private' | 'public', allowLoose = true): Promise<{ text: string; source: string }> {
  const trimmed = pathOrPem.trimStart();
  if (trimmed.startsWith(PEM_PREFIX)) return { text: trimmed, source: `the inline ${kind} key` };
  const path = baseDir === undefined ? resolve(pathOrPem) : resolve(baseDir, pathOrPem);
  let text: string;
  try {
    // The mode is read from the handle that is read, not from the path a moment earlier.
    const handle = await open(path, 'r');
    try {
      const { mode } = await handle.stat();
      text = await handle.readFile('utf8');
      // Only a file that holds a private key is judged (a .pub given as --key is HOIST_KEY_INVALID below).
      if (!allowLoose && (mode & 0o077) !== 0 && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
        const octal = (mode & 0o777).toString(8).padStart(4, '0');
        throw new HoistError('HOIST_KEY_PERMISSIONS', `private key file ${path} has mode ${octal}: its group or others can read or write it; run \`chmod 600 ${path}\` (and rotate the key if someone else could have read it), or pass --allow-loose-key`, {
          details: { path, mode: octal },
        });
      }
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if (cause instanceof HoistError) throw cause;
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
