import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import { hoist } from './run.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-cli-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const SHA = 'de'.repeat(32);

function manifest(overrides: Record<string, unknown> = {}): string {
  const issued = new Date(Date.now() - 60_000).toISOString();
  const expires = new Date(Date.now() + 86_400_000).toISOString();
  return `${JSON.stringify(
    {
      schema: 1,
      kind: 'release',
      app: 'web',
      env: 'prod',
      sequence: 1_764_201_234_567,
      version: '1.4.2',
      artifact: { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 1234, format: 'tar+gzip' },
      issuedAt: issued,
      expiresAt: expires,
      ...overrides,
    },
    null,
    2,
  )}\n`;
}

/** Two keys (ci, alice) and a trust file requiring `threshold` of them for releases. */
async function setup(dir: string, threshold = 1): Promise<{ ciKeyId: string }> {
  const ci = await hoist(['keygen', '--out', 'ci'], { cwd: dir });
  assert.equal(ci.code, 0, ci.stderr);
  const alice = await hoist(['keygen', '--out', 'alice'], { cwd: dir });
  assert.equal(alice.code, 0, alice.stderr);
  await writeFile(join(dir, 'trust.yaml'), `keys:\n  ci: ci.pub\n  alice: alice.pub\nroles:\n  release: { keys: [ci, alice], threshold: ${threshold} }\n`);
  await writeFile(join(dir, 'release.json'), manifest());
  const keyId = /^keyid ([0-9a-f]{64})$/m.exec(ci.stdout)?.[1];
  assert.ok(keyId, ci.stdout);
  return { ciKeyId: keyId };
}

test('keygen writes NAME.key (0600, PKCS#8) and NAME.pub (SPKI) and prints the key id', async () => {
  await withDir(async (dir) => {
    const r = await hoist(['keygen', '--out', 'ci'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^keyid [0-9a-f]{64}\nprivate ci\.key\npublic ci\.pub\n$/);
    assert.equal((await stat(join(dir, 'ci.key'))).mode & 0o777, 0o600);
    assert.match(await readFile(join(dir, 'ci.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(await readFile(join(dir, 'ci.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);

    const again = await hoist(['keygen', '--out', 'ci'], { cwd: dir });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^hoist: HOIST_USAGE: ci\.key and ci\.pub already exist; .*--force/);

    const forced = await hoist(['keygen', '--out', 'ci', '--force'], { cwd: dir });
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(forced.stdout.split('\n')[0], r.stdout.split('\n')[0], 'a new key was made');
    assert.equal((await stat(join(dir, 'ci.key'))).mode & 0o777, 0o600);
  });
});

test('sign → verify exits 0, prints the payload and a summary naming the signer', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    const signed = await hoist(['sign', 'release.json', '--key', 'ci.key', '--out', 'env.json'], { cwd: dir });
    assert.equal(signed.code, 0, signed.stderr);
    const verified = await hoist(['verify', 'env.json', '--trust', 'trust.yaml', '--app', 'web', '--env', 'prod', '--kind', 'release'], { cwd: dir });
    assert.equal(verified.code, 0, verified.stderr);
    assert.deepEqual(JSON.parse(verified.stdout), JSON.parse(await readFile(join(dir, 'release.json'), 'utf8')));
    assert.match(verified.stderr, /^verified: release version 1\.4\.2 for web\/prod, sequence 1764201234567, signed by ci\n$/);
  });
});

test('sign writes to stdout without --out; verify reads stdin with "-"', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    const signed = await hoist(['sign', 'release.json', '--key', 'ci.key'], { cwd: dir });
    assert.equal(signed.code, 0, signed.stderr);
    const env = JSON.parse(signed.stdout) as { payload: string };
    assert.equal(Buffer.from(env.payload, 'base64').toString(), await readFile(join(dir, 'release.json'), 'utf8'), 'bytes signed as-is');
    const verified = await hoist(['verify', '-', '--trust', 'trust.yaml'], { cwd: dir, input: signed.stdout });
    assert.equal(verified.code, 0, verified.stderr);
  });
});

test('flipping one byte of the payload fails with HOIST_SIGNATURE_INVALID, exit 1', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    const signed = await hoist(['sign', 'release.json', '--key', 'ci.key'], { cwd: dir });
    const env = JSON.parse(signed.stdout) as { payload: string };
    const bytes = Buffer.from(env.payload, 'base64');
    const at = bytes.indexOf('1.4.2');
    bytes[at] = '9'.charCodeAt(0);
    await writeFile(join(dir, 'tampered.json'), JSON.stringify({ ...env, payload: bytes.toString('base64') }));
    const r = await hoist(['verify', 'tampered.json', '--trust', 'trust.yaml'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^hoist: HOIST_SIGNATURE_INVALID: /);
  });
});

test('co-signing with --add-to meets a threshold of 2; the same key twice is refused', async () => {
  await withDir(async (dir) => {
    await setup(dir, 2);
    assert.equal((await hoist(['sign', 'release.json', '--key', 'ci.key', '--out', 'env.json'], { cwd: dir })).code, 0);
    const short = await hoist(['verify', 'env.json', '--trust', 'trust.yaml'], { cwd: dir });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /HOIST_SIGNATURE_THRESHOLD: 1 of 2 required signatures \(ci\); need another approval from: alice/);

    const twice = await hoist(['sign', 'release.json', '--key', 'ci.key', '--add-to', 'env.json'], { cwd: dir });
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /HOIST_ALREADY_SIGNED/);

    const approved = await hoist(['sign', '--key', 'alice.key', '--add-to', 'env.json', '--out', 'env.json'], { cwd: dir });
    assert.equal(approved.code, 0, approved.stderr);
    const ok = await hoist(['verify', 'env.json', '--trust', 'trust.yaml'], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /signed by ci, alice/);
  });
});

test('--add-to with a different payload file is refused', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    await hoist(['sign', 'release.json', '--key', 'ci.key', '--out', 'env.json'], { cwd: dir });
    await writeFile(join(dir, 'other.json'), manifest({ version: '2.0.0' }));
    const r = await hoist(['sign', 'other.json', '--key', 'alice.key', '--add-to', 'env.json'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HOIST_MANIFEST_MISMATCH: env\.json carries a different payload than other\.json/);
  });
});

test('sign refuses an invalid payload (exit 1) and lists every problem', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    await writeFile(join(dir, 'bad.json'), manifest({ version: '../x', sequence: 2 ** 53 }));
    const r = await hoist(['sign', 'bad.json', '--key', 'ci.key'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^hoist: HOIST_MANIFEST_INVALID: refusing to sign bad\.json/);
    assert.match(r.stderr, /sequence: /);
    assert.match(r.stderr, /version: /);

    await writeFile(join(dir, 'notjson.json'), 'nope');
    const nj = await hoist(['sign', 'notjson.json', '--key', 'ci.key'], { cwd: dir });
    assert.equal(nj.code, 1);
    assert.match(nj.stderr, /HOIST_MANIFEST_INVALID: notjson\.json is not UTF-8 JSON/);
  });
});

test('sign with a public key, or no payload, is a usage/key error (exit 2)', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    const pub = await hoist(['sign', 'release.json', '--key', 'ci.pub'], { cwd: dir });
    assert.equal(pub.code, 2);
    assert.match(pub.stderr, /HOIST_KEY_INVALID/);
    const none = await hoist(['sign', '--key', 'ci.key'], { cwd: dir });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /HOIST_USAGE: give the payload file/);
    const missing = await hoist(['sign', 'nope.json', '--key', 'ci.key'], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /HOIST_USAGE: payload file nope\.json does not exist/);
  });
});

test('usage errors exit 2 with a HOIST_USAGE line', async () => {
  await withDir(async (dir) => {
    const unknown = await hoist(['verify', 'x.json', '--trust', 't.yaml', '--frobnicate'], { cwd: dir });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^hoist: HOIST_USAGE: unknown option '--frobnicate'/);
    const missingArg = await hoist(['verify', '--trust', 't.yaml'], { cwd: dir });
    assert.equal(missingArg.code, 2);
    assert.match(missingArg.stderr, /HOIST_USAGE: missing required argument 'envelope'/);
    const badKind = await hoist(['verify', 'x.json', '--trust', 't.yaml', '--kind', 'deploy'], { cwd: dir });
    assert.equal(badKind.code, 2);
    const unknownCommand = await hoist(['frob'], { cwd: dir });
    assert.equal(unknownCommand.code, 2);
    const noCommand = await hoist([], { cwd: dir });
    assert.equal(noCommand.code, 2);
    assert.match(noCommand.stderr, /Usage: hoist/);
  });
});

test('a bad trust file exits 2 and lists every problem with its path', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    await hoist(['sign', 'release.json', '--key', 'ci.key', '--out', 'env.json'], { cwd: dir });
    await writeFile(join(dir, 'bad-trust.yaml'), 'keys: { ci: ci.pub }\nroles: { release: { keys: [ci, ghost], threshold: 3 } }\nclockSkew: later\n');
    const r = await hoist(['verify', 'env.json', '--trust', 'bad-trust.yaml'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^hoist: HOIST_CONFIG_INVALID: /);
    assert.match(r.stderr, /\n {2}clockSkew: expected a duration like "2s"\n/);

    await writeFile(join(dir, 'bad-trust.yaml'), 'keys: { ci: ci.pub }\nroles: { release: { keys: [ci, ghost] } }\n');
    const resolved = await hoist(['verify', 'env.json', '--trust', 'bad-trust.yaml'], { cwd: dir });
    assert.equal(resolved.code, 2);
    assert.match(resolved.stderr, /\n {2}roles\.release\.keys\[1\]: unknown key "ghost"/);

    const missing = await hoist(['verify', 'env.json', '--trust', 'nope.yaml'], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /HOIST_CONFIG_READ/);
  });
});

test('verify with a mismatching --app exits 1 naming HOIST_MANIFEST_MISMATCH', async () => {
  await withDir(async (dir) => {
    await setup(dir);
    await hoist(['sign', 'release.json', '--key', 'ci.key', '--out', 'env.json'], { cwd: dir });
    const r = await hoist(['verify', 'env.json', '--trust', 'trust.yaml', '--app', 'api'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HOIST_MANIFEST_MISMATCH/);
  });
});

test('--help for the program and each command exits 0 with a description and examples', async () => {
  await withDir(async (dir) => {
    const top = await hoist(['--help'], { cwd: dir });
    assert.equal(top.code, 0);
    for (const name of ['keygen', 'pack', 'sign', 'verify']) assert.match(top.stdout, new RegExp(`\\b${name}\\b`));
    for (const name of ['keygen', 'pack', 'sign', 'verify']) {
      const r = await hoist([name, '--help'], { cwd: dir });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: hoist ${name}`));
      assert.match(r.stdout, /Examples:\n {2}\$ hoist /);
    }
    const viaHelp = await hoist(['help', 'verify'], { cwd: dir });
    assert.equal(viaHelp.code, 0);
  });
});

test('--version prints the package version', async () => {
  await withDir(async (dir) => {
    const r = await hoist(['--version'], { cwd: dir });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });
});

test('pack twice gives identical sha256 and parseable lines', async () => {
  await withDir(async (dir) => {
    const src = join(dir, 'site');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'index.html'), '<h1>hi</h1>\n');
    await writeFile(join(src, 'sub', 'app.js'), 'console.log(1)\n');
    const a = await hoist(['pack', 'site', '--out', 'a.tar.gz'], { cwd: dir });
    assert.equal(a.code, 0, a.stderr);
    const b = await hoist(['pack', 'site', '--out', 'b.tar.gz'], { cwd: dir });
    assert.equal(b.code, 0, b.stderr);
    const parse = (out: string): Record<string, string> => Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ', 2) as [string, string]));
    const pa = parse(a.stdout);
    const pb = parse(b.stdout);
    assert.match(pa.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(pa.sha256, pb.sha256);
    assert.equal(pa.format, 'tar+gzip');
    assert.equal(pa.file, 'a.tar.gz');
    assert.equal(Number(pa.size), (await stat(join(dir, 'a.tar.gz'))).size);

    const z = await hoist(['pack', 'site', '--out', 'c.tar.zst', '--zstd'], { cwd: dir });
    assert.equal(z.code, 0, z.stderr);
    assert.match(z.stdout, /^format tar\+zstd$/m);
  });
});

test('--json: keygen and pack print one JSON object', async () => {
  await withDir(async (dir) => {
    const key = await hoist(['keygen', '--out', 'j', '--json'], { cwd: dir });
    assert.equal(key.code, 0, key.stderr);
    const k = JSON.parse(key.stdout) as { keyid: string; private: string; public: string };
    assert.match(k.keyid, /^[0-9a-f]{64}$/);
    assert.deepEqual([k.private, k.public], ['j.key', 'j.pub']);
    await mkdir(join(dir, 'tree'));
    await writeFile(join(dir, 'tree', 'a.txt'), 'a');
    const packed = await hoist(['pack', 'tree', '--out', 't.tar.gz', '--json'], { cwd: dir });
    assert.equal(packed.code, 0, packed.stderr);
    const p = JSON.parse(packed.stdout) as { sha256: string; size: number; format: string; file: string };
    assert.equal(p.format, 'tar+gzip');
    assert.equal(p.file, 't.tar.gz');
    assert.match(p.sha256, /^[0-9a-f]{64}$/);
  });
});
