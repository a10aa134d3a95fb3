/** Root keys, trust documents and host configs with trust.root, for the agent's trust tests. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { addSignature, serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { TRUST_PAYLOAD_TYPE } from '../../src/trust/root/document.ts';
import { BUCKET, type Harness } from '../helpers/harness.ts';

export const DAY = 86_400_000;

/** Adds key pairs (files under keys/, usable by h.publish({ keys })) to the harness. */
export async function addKeys(h: Harness, ...names: string[]): Promise<void> {
  for (const name of names) {
    const pair = generateKeyPair();
    const pub = path.join(h.dir, 'keys', `${name}.pub`);
    const key = path.join(h.dir, 'keys', `${name}.key`);
    await writeFile(pub, pair.publicPem);
    await writeFile(key, pair.privatePem, { mode: 0o600 });
    h.keyPaths[name] = { pub, key, pem: pair.privatePem };
  }
}

/** The config trust block: ci, alice, bob trusted as today, and the root (2 of 3 by default). */
export function hostTrust(h: Harness, o: { root?: string[]; threshold?: number; version?: number; clockSkew?: string } = {}): Record<string, unknown> {
  const root = o.root ?? ['root1', 'root2', 'root3'];
  const keys: Record<string, string | undefined> = { ci: h.keyPaths.ci?.pub, alice: h.keyPaths.alice?.pub, bob: h.keyPaths.bob?.pub };
  for (const r of root) keys[r] = h.keyPaths[r]?.pub;
  return {
    keys,
    roles: { release: { keys: ['ci', 'alice', 'bob'], threshold: 1 }, pin: { keys: ['alice', 'bob'], threshold: 1 } },
    root: { keys: root, threshold: o.threshold ?? 2, ...(o.version === undefined ? {} : { version: o.version }) },
    ...(o.clockSkew === undefined ? {} : { clockSkew: o.clockSkew }),
  };
}

export interface DocOptions {
  readonly version: number;
  readonly release: string[];
  readonly pin?: string[];
  readonly root?: string[];
  readonly rootThreshold?: number;
  readonly issuedAt?: string;
  readonly expiresAt?: string;
}

/** A trust document payload; every key named in a role is embedded. */
export function trustDoc(h: Harness, o: DocOptions): Buffer {
  const root = o.root ?? ['root1', 'root2', 'root3'];
  const pin = o.pin ?? ['alice', 'bob'];
  const names = [...new Set([...o.release, ...pin, ...root])];
  const keys = Object.fromEntries(names.map((n) => [n, createPublicPem(h, n)]));
  const now = Date.now();
  return Buffer.from(
    JSON.stringify({
      schema: 1,
      kind: 'trust',
      version: o.version,
      issuedAt: o.issuedAt ?? new Date(now - 60_000).toISOString(),
      expiresAt: o.expiresAt ?? new Date(now + 90 * DAY).toISOString(),
      keys,
      roles: { root: { keys: root, threshold: o.rootThreshold ?? 2 }, release: { keys: o.release, threshold: 1 }, pin: { keys: pin, threshold: 1 } },
    }),
  );
}

/** The SPKI PEM of a harness key. */
function createPublicPem(h: Harness, name: string): string {
  const pem = h.keyPaths[name]?.pem;
  if (pem === undefined) throw new Error(`no key ${name}`);
  return createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'pem' }).toString();
}

/** A trust envelope of `bytes` signed by the named keys in turn. */
export function signDoc(h: Harness, bytes: Buffer, ...signers: string[]): string {
  const [first, ...rest] = signers.map((n) => createPrivateKey(h.keyPaths[n]?.pem ?? ''));
  if (first === undefined) throw new Error('signDoc needs a key');
  let env = signEnvelope(bytes, first, TRUST_PAYLOAD_TYPE);
  for (const k of rest) env = addSignature(env, k);
  return serializeEnvelope(env);
}

/** Writes a document as `hoist trust publish` does: trust/history/<version>.json, then trust/root.json. */
export async function putTrust(h: Harness, text: string, version: number, where: { history?: boolean; root?: boolean } = {}): Promise<void> {
  if (where.history !== false) await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `trust/history/${version}.json`, Body: text }));
  if (where.root !== false) await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'trust/root.json', Body: text }));
}

export async function deleteObject(h: Harness, key: string): Promise<void> {
  await h.aws.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
}

export async function statusReport(h: Harness): Promise<Record<string, unknown>> {
  const out = await h.aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${h.hostId}.json` }));
  return JSON.parse((await out.Body?.transformToString()) ?? '{}') as Record<string, unknown>;
}
