/**
 * DSSE v1 Pre-Authentication Encoding: the exact bytes every signature covers.
 * https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
 */
import { verify, type KeyObject } from 'node:crypto';

/** `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths as ASCII decimal byte counts. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const header = Buffer.from(`DSSEv1 ${type.length} `, 'utf8');
  const middle = Buffer.from(` ${payload.length} `, 'utf8');
  return Buffer.concat([header, type, middle, payload]);
}

/**
 * Whether `sig` (base64, as an envelope carries it) is `key`'s Ed25519 signature of `message` (a
 * PAE); false, not an exception, for a signature or key that cannot be checked at all.
 */
export function signatureVerifies(message: Buffer, key: KeyObject, sig: string): boolean {
  try {
    return verify(null, message, key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}
