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
import { acceptTrustDocument, bootstrapTrust } from '../../src/trust/root/accept.ts';
import { TRUST_PAYLOAD_TYPE } from '../../src/trust/root/document.ts';

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

test('a trust envelope signed with `openssl pkeyutl -sign -rawin` over the PAE is taken (and `hoist verify` accepts it)', async () => {
  await withDir(async (dir) => {
    const ids: string[] = [];
    const pems: string[] = [];
    for (const name of ['root1', 'root2']) {
      await run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, `${name}.key`)]);
      await run('openssl', ['pkey', '-in', join(dir, `${name}.key`), '-pubout', '-out', join(dir, `${name}.pub`)]);
      ids.push(keyIdOf(await loadPublicKey(join(dir, `${name}.pub`))));
      pems.push(await readFile(join(dir, `${name}.pub`), 'utf8'));
    }
    const doc = Buffer.from(
      JSON.stringify({
        schema: 1,
        kind: 'trust',
        version: 1,
        issuedAt: '2026-01-01T00:00:00Z',
        expiresAt: '2099-01-01T00:00:00Z',
        keys: { root1: pems[0], root2: pems[1] },
        roles: { root: { keys: ['root1', 'root2'], threshold: 2 }, release: { keys: ['root1'], threshold: 1 } },
      }),
    );
    await writeFile(join(dir, 'pae.bin'), pae(TRUST_PAYLOAD_TYPE, doc));
    const signatures = [];
    for (const [i, name] of ['root1', 'root2'].entries()) {
      await run('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', join(dir, `${name}.key`), '-in', join(dir, 'pae.bin'), '-out', join(dir, `${name}.sig`)]);
      signatures.push({ keyid: ids[i] ?? '', sig: (await readFile(join(dir, `${name}.sig`))).toString('base64') });
    }
    const envelope = serializeEnvelope({ payloadType: TRUST_PAYLOAD_TYPE, payload: doc.toString('base64'), signatures });
    const config = { keys: new Map([['root1', 'root1.pub'], ['root2', 'root2.pub']]), roles: { release: { keys: ['root1'], threshold: 1 } }, root: { keys: ['root1', 'root2'], threshold: 2, version: 0 }, clockSkew: 300_000 };
    const held = bootstrapTrust(await resolveTrustPolicy(config, { baseDir: dir }));
    const verdict = acceptTrustDocument(held, envelope, now);
    assert.equal(verdict.status, 'accepted', verdict.status === 'refused' ? verdict.error.message : '');

    await writeFile(join(dir, 'trust.dsse.json'), envelope);
    await writeFile(join(dir, 'trust.yaml'), `keys: { root1: root1.pub, root2: root2.pub }\nroles: { release: { keys: [root1] } }\nroot: { keys: [root1, root2], threshold: 2 }\n`);
    const bin = new URL('../../bin/hoist.js', import.meta.url).pathname;
    const { stderr } = await run(process.execPath, [bin, 'verify', join(dir, 'trust.dsse.json'), '--trust', join(dir, 'trust.yaml')]);
    assert.match(stderr, /verified: trust document version 1/);
  });
});
