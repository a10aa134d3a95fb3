/**
 * DSSE v1 Pre-Authentication Encoding: the exact bytes every signature covers.
 * https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
 */

/** `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths as ASCII decimal byte counts. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const header = Buffer.from(`DSSEv1 ${type.length} `, 'utf8');
  const middle = Buffer.from(` ${payload.length} `, 'utf8');
  return Buffer.concat([header, type, middle, payload]);
}
