import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, keyIdOf, loadPrivateKey, loadPublicKey } from '../../src/crypto/keys.ts';
import { HoistError } from '../../src/errors.ts';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-keys-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HoistError, String(error));
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

test('generateKeyPair gives PKCS#8 and SPKI PEM with a 64-hex key id', async () => {
  const pair = generateKeyPair();
  assert.match(pair.privatePem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(pair.publicPem, /^-----BEGIN PUBLIC KEY-----\n/);
  assert.match(pair.keyId, /^[0-9a-f]{64}$/);
  const priv = await loadPrivateKey(pair.privatePem);
  const pub = await loadPublicKey(pair.publicPem);
  assert.equal(keyIdOf(priv), pair.keyId, 'a private key gives its public key id');
  assert.equal(keyIdOf(pub), pair.keyId);
  assert.notEqual(generateKeyPair().keyId, pair.keyId);
});

test('keys load from files; public paths resolve against baseDir', async () => {
  await withDir(async (dir) => {
    const pair = generateKeyPair();
    await writeFile(join(dir, 'k.key'), pair.privatePem, { mode: 0o600 });
    await writeFile(join(dir, 'k.pub'), pair.publicPem);
    assert.equal(keyIdOf(await loadPrivateKey(join(dir, 'k.key'))), pair.keyId);
    assert.equal(keyIdOf(await loadPublicKey('k.pub', dir)), pair.keyId);
    assert.equal(keyIdOf(await loadPublicKey(join(dir, 'k.pub'))), pair.keyId);
  });
});

test('key errors are HOIST_KEY_INVALID with a message that says what is wrong', async () => {
  await withDir(async (dir) => {
    const pair = generateKeyPair();
    await writeFile(join(dir, 'k.key'), pair.privatePem);
    await writeFile(join(dir, 'junk.pem'), 'not a key at all');
    await writeFile(join(dir, 'bad.pem'), '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', { mode: 0o600 });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(dir, 'rsa.pub'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'rsa.key'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

    await rejectsWith(loadPublicKey('missing.pub', dir), 'HOIST_KEY_INVALID', /does not exist/);
    await rejectsWith(loadPrivateKey(join(dir, 'missing.key')), 'HOIST_KEY_INVALID', /does not exist/);
    await rejectsWith(loadPublicKey(dir), 'HOIST_KEY_INVALID', /cannot be read/);
    await rejectsWith(loadPublicKey('junk.pem', dir), 'HOIST_KEY_INVALID', /not PEM/);
    await rejectsWith(loadPublicKey('bad.pem', dir), 'HOIST_KEY_INVALID', /not a PEM public key/);
    await rejectsWith(loadPrivateKey(join(dir, 'bad.pem')), 'HOIST_KEY_INVALID', /not a PEM private key/);
    await rejectsWith(loadPublicKey('rsa.pub', dir), 'HOIST_KEY_INVALID', /rsa key; hoist only uses Ed25519/);
    await rejectsWith(loadPrivateKey(join(dir, 'rsa.key')), 'HOIST_KEY_INVALID', /Ed25519/);
    await rejectsWith(loadPublicKey('k.key', dir), 'HOIST_KEY_INVALID', /private key where a public key was expected/);
    await rejectsWith(loadPublicKey(pair.privatePem), 'HOIST_KEY_INVALID', /private key where a public key/);
  });
});

test('keyIdOf rejects a non-Ed25519 key', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.throws(() => keyIdOf(publicKey), (error: unknown) => error instanceof HoistError && error.code === 'HOIST_KEY_INVALID');
});

test('a private key file its group or others can read or write is refused unless allowLoose', async () => {
  await withDir(async (dir) => {
    const pair = generateKeyPair();
    const file = join(dir, 'loose.key');
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
      await writeFile(file, pair.privatePem);
      await chmod(file, mode);
      await rejectsWith(loadPrivateKey(file), 'HOIST_KEY_PERMISSIONS', new RegExp(`mode 0${mode.toString(8)}.*chmod 600 .*--allow-loose-key`));
      assert.equal(keyIdOf(await loadPrivateKey(file, { allowLoose: true })), pair.keyId);
    }
    await chmod(file, 0o400);
    assert.equal(keyIdOf(await loadPrivateKey(file)), pair.keyId);
    // Public keys are public: any mode.
    await writeFile(join(dir, 'k.pub'), pair.publicPem, { mode: 0o644 });
    assert.equal(keyIdOf(await loadPublicKey(join(dir, 'k.pub'))), pair.keyId);
  });
});
