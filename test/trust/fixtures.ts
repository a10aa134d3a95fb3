/** Keys, payloads and policies for the trust tests, built in code. */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { resolveTrustPolicy, type TrustPolicy } from '../../src/trust/policy.ts';
import { trustBlockSchema, appTrustSchema } from '../../src/trust/schema.ts';

export interface TestKey {
  name: string;
  keyId: string;
  publicPem: string;
  privateKey: KeyObject;
}

export function makeKey(name: string): TestKey {
  const pair = generateKeyPair();
  return { name, keyId: pair.keyId, publicPem: pair.publicPem, privateKey: createPrivateKey(pair.privatePem) };
}

export const SHA = 'ab'.repeat(32);
export const NOW = new Date('2026-06-01T12:00:00Z');

export function payload(overrides: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schema: 1,
      kind: 'release',
      app: 'web',
      env: 'prod',
      sequence: 1_764_201_234_567,
      version: '1.4.2',
      artifact: { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 12_345_678, format: 'tar+gzip' },
      issuedAt: '2026-06-01T11:00:00Z',
      expiresAt: '2026-07-01T11:00:00Z',
      ...overrides,
    }),
  );
}

/** A policy from a raw trust block whose keys are given inline as PEM. */
export async function policyFor(
  keys: TestKey[],
  roles: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  apps: Record<string, unknown> = {},
): Promise<TrustPolicy> {
  const block = trustBlockSchema.parse({ keys: Object.fromEntries(keys.map((k) => [k.name, k.publicPem])), roles, ...extra });
  // `apps` is keyed by "app/env", as TrustPolicy.apps is
  const appBlocks = new Map(Object.entries(apps).map(([scope, value]) => [scope, appTrustSchema.parse(value)]));
  return resolveTrustPolicy(block, { baseDir: '.', apps: appBlocks });
}
