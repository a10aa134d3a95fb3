// Keys made by openssl work in hoist, and signatures interoperate both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateKeyPair, keyIdOf, loadPrivateKey, loadPublicKey } from '../../src/crypto/keys.ts';
import { PAYLOAD_TYPE, serializeEnvelope, signEnvelope, type Envelope } from '../../src/dsse/envelope.ts';
import { pae } from '../../src/dsse/pae.ts';
import { resolveTrustPolicy } from '../../src/trust/policy.ts';
import { verifyEnvelope } from '../../src/trust/verify.ts';

const run = promisify(execFile);

const payload = Buffer.from(
  JSON.stringify({
    schema: 1,
    kind: 'release',
    app: 'web',
    env: 'prod',
    sequence: 42,
    version: '1.0.0',
    artifact: { key: `artifacts/web/${'c'.repeat(64)}.tar.gz`, sha256: 'c'.repeat(64), size: 10, format: 'tar+gzip' },
    issuedAt: '2026-01-01T00:00:00Z',
  }),
);
const now = new Date('2026-01-02T00:00:00Z');

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-openssl-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('an OpenSSL key and an `openssl pkeyutl -sign -rawin` signature over the PAE verify in hoist', async () => {
  await withDir(async (dir) => {
    const keyPath = join(dir, 'k.pem');
    const pubPath = join(dir, 'pub.pem');
    const paePath = join(dir, 'pae.bin');
    const sigPath = join(dir, 'sig.bin');
    await run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', keyPath]);
    await run('openssl', ['pkey', '-in', keyPath, '-pubout', '-out', pubPath]);
    await writeFile(paePath, pae(PAYLOAD_TYPE, payload));
    await run('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', keyPath, '-in', paePath, '-out', sigPath]);

    // The key id is sha256 of the raw 32-byte public key; openssl prints that key as DER whose
    // last 32 bytes are the raw key.
    const derPath = join(dir, 'pub.der');
    await run('openssl', ['pkey', '-pubin', '-in', pubPath, '-outform', 'DER', '-out', derPath]);
    const raw = (await readFile(derPath)).subarray(-32);
    const expectedId = createHash('sha256').update(raw).digest('hex');
    const pub = await loadPublicKey(pubPath);
    assert.equal(keyIdOf(pub), expectedId);
    assert.equal(keyIdOf(await loadPrivateKey(keyPath)), expectedId);

    const envelope: Envelope = {
      payloadType: PAYLOAD_TYPE,
      payload: payload.toString('base64'),
      signatures: [{ keyid: expectedId, sig: (await readFile(sigPath)).toString('base64') }],
    };
    const policy = await resolveTrustPolicy(
      { keys: new Map([['ops', 'pub.pem']]), roles: { release: { keys: ['ops'], threshold: 1 } }, clockSkew: 300_000 },
      { baseDir: dir },
    );
    const verified = verifyEnvelope(serializeEnvelope(envelope), policy, now);
    assert.deepEqual(verified.signers, [expectedId]);
    assert.equal(verified.manifest.sequence, 42);
  });
});

test('a hoist signature verifies with `openssl pkeyutl -verify -rawin`', async () => {
  await withDir(async (dir) => {
    const pair = generateKeyPair();
    const pubPath = join(dir, 'pub.pem');
    const paePath = join(dir, 'pae.bin');
    const sigPath = join(dir, 'sig.bin');
    await writeFile(pubPath, pair.publicPem);
    const env = signEnvelope(payload, await loadPrivateKey(pair.privatePem));
    await writeFile(paePath, pae(env.payloadType, payload));
    await writeFile(sigPath, Buffer.from(env.signatures[0]?.sig ?? '', 'base64'));
    const { stdout } = await run('openssl', ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pubPath, '-in', paePath, '-sigfile', sigPath]);
    assert.match(stdout, /Signature Verified Successfully/);

    // And openssl notices a changed payload.
    await writeFile(paePath, pae(env.payloadType, Buffer.from(payload.toString().replace('1.0.0', '6.6.6'))));
    await assert.rejects(run('openssl', ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pubPath, '-in', paePath, '-sigfile', sigPath]));
  });
});
