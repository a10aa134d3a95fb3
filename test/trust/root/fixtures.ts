/** Trust documents for the root tests, built and signed in code. */
import { addSignature, serializeEnvelope, signEnvelope } from '../../../src/dsse/envelope.ts';
import { TRUST_PAYLOAD_TYPE } from '../../../src/trust/root/document.ts';
import { bootstrapTrust, type HeldTrust } from '../../../src/trust/root/accept.ts';
import { policyFor, type TestKey } from '../fixtures.ts';

export const DAY = 86_400_000;

export interface DocOptions {
  readonly version: number;
  /** Every key the document carries (PEM embedded). */
  readonly keys: readonly TestKey[];
  readonly root: readonly string[];
  readonly rootThreshold?: number;
  readonly release?: readonly string[];
  readonly releaseThreshold?: number;
  readonly apps?: Record<string, unknown>;
  readonly issuedAt?: string;
  readonly expiresAt?: string;
  readonly extra?: Record<string, unknown>;
}

export function trustPayload(o: DocOptions): Buffer {
  return Buffer.from(
    JSON.stringify({
      schema: 1,
      kind: 'trust',
      version: o.version,
      issuedAt: o.issuedAt ?? '2026-06-01T00:00:00Z',
      expiresAt: o.expiresAt ?? '2026-09-01T00:00:00Z',
      keys: Object.fromEntries(o.keys.map((k) => [k.name, k.publicPem])),
      roles: {
        root: { keys: o.root, threshold: o.rootThreshold ?? 1 },
        release: { keys: o.release ?? [o.keys[0]?.name ?? ''], threshold: o.releaseThreshold ?? 1 },
      },
      ...(o.apps === undefined ? {} : { apps: o.apps }),
      ...o.extra,
    }),
  );
}

/** A trust envelope of `bytes` signed by each key in turn. */
export function signTrust(bytes: Buffer, ...keys: TestKey[]): string {
  const [first, ...rest] = keys;
  if (first === undefined) return serializeEnvelope({ payloadType: TRUST_PAYLOAD_TYPE, payload: bytes.toString('base64'), signatures: [] });
  let env = signEnvelope(bytes, first.privateKey, TRUST_PAYLOAD_TYPE);
  for (const key of rest) env = addSignature(env, key.privateKey);
  return serializeEnvelope(env);
}

/** What a host with this config trust block holds before any document (version `version`). */
export async function bootstrap(keys: TestKey[], root: string[], threshold: number, release: string[], version = 0): Promise<HeldTrust> {
  return bootstrapTrust(await policyFor(keys, { release: { keys: release, threshold: 1 } }, { root: { keys: root, threshold, version } }));
}
