/** `hoist trust publish | show`, `hoist sign` of a trust payload and `hoist verify` of a trust envelope, against fauxqs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { BUCKET, createHarness, HOIST_BIN, run, type Harness } from '../helpers/harness.ts';
import { assertCode, CREDS, getText, listAll, ops, readManifest } from './ops.ts';

function field(json: string, name: string): unknown {
  return (JSON.parse(json) as Record<string, unknown>)[name];
}

interface Roots {
  pub: (name: string) => string;
  key: (name: string) => string;
  ids: Map<string, string>;
}

/** Three root keys made as a new user would: `hoist keygen`. */
async function keygenRoots(h: Harness, names = ['root1', 'root2', 'root3']): Promise<Roots> {
  const ids = new Map<string, string>();
  for (const name of names) {
    const r = await run([HOIST_BIN, 'keygen', '--out', path.join(h.dir, 'keys', name)]);
    assert.equal(r.code, 0, r.stderr);
    ids.set(name, /keyid ([0-9a-f]{64})/.exec(r.stdout)?.[1] ?? '');
  }
  return { pub: (n) => path.join(h.dir, 'keys', `${n}.pub`), key: (n) => path.join(h.dir, 'keys', `${n}.key`), ids };
}

/** A policy file shaped like the config's trust block, with a root and an apps override. */
async function writePolicy(h: Harness, roots: Roots, name: string, release: string[], rootKeys = ['root1', 'root2', 'root3']): Promise<string> {
  const file = path.join(h.dir, `${name}.yaml`);
  const keys: Record<string, string> = { alice: h.keyPaths.alice?.pub ?? '', bob: (await readFile(h.keyPaths.bob?.pub ?? '', 'utf8')) };
  for (const k of release) keys[k] ??= h.keyPaths[k]?.pub ?? '';
  for (const r of rootKeys) keys[r] = roots.pub(r);
  await writeFile(
    file,
    stringify({
      keys,
      roles: { release: { keys: release, threshold: 1 }, pin: { keys: ['alice', 'bob'], threshold: 1 } },
      root: { keys: rootKeys, threshold: 2 },
      maxValidity: '30d',
      apps: { 'web/prod': { roles: { release: { keys: [...release, 'alice'], threshold: 2 } } } },
    }),
  );
  return file;
}

/** The hosts' trust: ci, alice, bob and the three roots (2 of 3) at version 0. */
async function writeHostTrust(h: Harness, roots: Roots): Promise<string> {
  const file = path.join(h.dir, 'host-trust.yaml');
  await writeFile(
    file,
    stringify({
      keys: { ci: h.keyPaths.ci?.pub, alice: h.keyPaths.alice?.pub, bob: h.keyPaths.bob?.pub, root1: roots.pub('root1'), root2: roots.pub('root2'), root3: roots.pub('root3') },
      roles: { release: { keys: ['ci', 'alice'], threshold: 1 }, pin: { keys: ['alice', 'bob'], threshold: 1 } },
      root: { keys: ['root1', 'root2', 'root3'], threshold: 2 },
    }),
  );
  return file;
}

test('trust publish checks both root thresholds before writing, numbers versions from the bucket, and show verifies the chain', async () => {
  await using h = await createHarness();
  const roots = await keygenRoots(h);
  const hostTrust = await writeHostTrust(h, roots);
  // The stolen ci key is replaced by bob... a new policy without ci.
  const policy = await writePolicy(h, roots, 'policy-1', ['bob']);

  assertCode(await ops(h, ['trust', 'show', '--trust', hostTrust]), 1, 'HOIST_TRUST_NOT_FOUND');
  const one = await ops(h, ['trust', 'publish', policy, '--key', roots.key('root1'), '--trust', hostTrust]);
  assertCode(one, 1, 'HOIST_TRUST_ROOT_THRESHOLD');
  assert.match(one.stderr, /old root {2}version 0 \(the hosts' config root\): 1 of 2 \(root1\); needs 1 more from: root2, root3/);
  assert.deepEqual(await listAll(h, 'trust/'), [], 'nothing written');

  const published = await ops(h, ['trust', 'publish', policy, '--key', roots.key('root1'), '--key', roots.key('root3'), '--trust', hostTrust, '--expires', '30d']);
  assert.equal(published.code, 0, published.stderr);
  assert.match(published.stdout, /trust {5}version 1 \(after version 0\), expires .* \(in (29|30)d\)/);
  assert.match(published.stdout, /old root {2}version 0 \(the hosts' config root\): 2 of 2 \(root1, root3\)/);
  assert.match(published.stdout, /wrote {5}trust\/history\/1\.json\nwrote {5}trust\/root\.json/);
  assert.deepEqual(await listAll(h, 'trust/'), ['trust/history/1.json', 'trust/root.json']);
  assert.equal(await getText(h, 'trust/root.json'), await getText(h, 'trust/history/1.json'));
  const doc = await readManifest(h, 'trust/root.json');
  assert.equal(doc.payload.kind, 'trust');
  assert.equal(doc.payload.version, 1);
  assert.equal(doc.payload.maxValidity, '30d');
  assert.deepEqual(Object.keys(doc.payload.keys as object).sort(), ['alice', 'bob', 'root1', 'root2', 'root3']);
  assert.match(String((doc.payload.keys as Record<string, string>).root1), /^-----BEGIN PUBLIC KEY-----/);
  assert.deepEqual(doc.payload.apps, { 'web/prod': { roles: { release: { keys: ['bob', 'alice'], threshold: 2 } } } });
  assert.equal((Date.parse(String(doc.payload.expiresAt)) - Date.parse(String(doc.payload.issuedAt))) / 86_400_000, 30);
  assert.equal(field(await getText(h, 'trust/root.json'), 'payloadType'), 'application/vnd.hoist.trust+json');

  // Rotate root1 out (root4 in): signed by two of the old root and two of the new.
  const more = await keygenRoots(h, ['root4']);
  const rotate = await writePolicy(h, { ...roots, pub: (n) => (n === 'root4' ? more.pub(n) : roots.pub(n)) }, 'policy-2', ['bob'], ['root2', 'root3', 'root4']);
  const half = await ops(h, ['trust', 'publish', rotate, '--key', roots.key('root1'), '--key', roots.key('root2')]);
  assertCode(half, 1, 'HOIST_TRUST_NEW_ROOT_THRESHOLD');
  const both = await ops(h, ['trust', 'publish', rotate, '--key', roots.key('root1'), '--key', roots.key('root2'), '--key', more.key('root4')]);
  assert.equal(both.code, 0, both.stderr);
  assert.match(both.stdout, /version 2 \(after version 1\)/);
  assert.match(both.stdout, /old root {2}version 1: 2 of 2 \(root1, root2\)\nnew root {2}version 2: 2 of 2 \(root2, root4\)/);

  const show = await ops(h, ['trust', 'show', '--trust', hostTrust]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^trust version 2, issued .*, expires .* \(in (89|90)d\)\nreached through versions 1, 2\nmaxValidity 30d\n/);
  assert.match(show.stdout, new RegExp(`root4 +${more.ids.get('root4') ?? ''} +root\\n`));
  assert.match(show.stdout, /bob +[0-9a-f]{64} +release, pin, web\/prod release\n/);
  assert.match(show.stdout, /root +2 of 3 +root2, root3, root4\n/);
  assert.match(show.stdout, /web\/prod release +2 of 2 +bob, alice\n/);
  const json = JSON.parse((await ops(h, ['trust', 'show', '--trust', hostTrust, '--json'])).stdout) as Record<string, unknown>;
  assert.equal(json.version, 2);
  assert.deepEqual(json.walked, [1, 2]);
  assert.deepEqual((json.roles as Record<string, unknown>).root, { keys: ['root2', 'root3', 'root4'], threshold: 2 });

  // An old document put back as root.json: show reports it; publish still numbers from the history.
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'trust/root.json', Body: await getText(h, 'trust/history/1.json') }));
  const next = await ops(h, ['trust', 'publish', rotate, '--key', roots.key('root2'), '--key', more.key('root4'), '--dry-run']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /version 3 \(after version 2\)[\s\S]*dry run: hosts would take it; nothing written/);
  assert.equal(field(next.stdout, 'payloadType'), 'application/vnd.hoist.trust+json');
  assert.equal((await readManifest(h, 'trust/root.json')).payload.version, 1, 'a dry run writes nothing');

  // Another document already in the history under the next version: a conflict, nothing overwritten.
  await h.aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'trust/history/3.json', Body: 'garbage' }));
  const clash = await ops(h, ['trust', 'publish', rotate, '--key', roots.key('root2'), '--key', more.key('root4')]);
  assertCode(clash, 1, 'HOIST_TRUST_CONFLICT');
  assert.match(clash.stderr, /warning: ignoring trust\/history\/3\.json/);
  assert.equal(await getText(h, 'trust/history/3.json'), 'garbage');

  assertCode(await ops(h, ['trust', 'publish', '--key', roots.key('root2')]), 2, 'HOIST_USAGE');
  assertCode(await ops(h, ['trust', 'publish', rotate]), 2, 'HOIST_USAGE');
  assertCode(await ops(h, ['trust', 'show', '--trust', h.keyPaths.ci?.pub ?? '']), 2, 'HOIST_CONFIG_INVALID');
});

test('a trust publish that loses the race for its version (S3 answers 412 to the history copy) is HOIST_TRUST_CONFLICT, and root.json is not written', async () => {
  await using h = await createHarness();
  const roots = await keygenRoots(h);
  const hostTrust = await writeHostTrust(h, roots);
  const policy = await writePolicy(h, roots, 'policy-1', ['bob']);
  // fauxqs has no conditional writes: the proxy answers the If-None-Match PUT as S3 does when
  // another publisher wrote trust/history/1.json between this one's check and its write
  await using proxy = await startFaultProxy(h.aws.endpoint);
  proxy.failNext(1, 412, (req) => req.method === 'PUT' && req.url.includes('trust/history/1.json'));
  const raced = await run(
    [HOIST_BIN, 'trust', 'publish', policy, '--key', roots.key('root1'), '--key', roots.key('root3'), '--trust', hostTrust, '--bucket', BUCKET, '--endpoint', proxy.url, '--region', 'us-east-1'],
    { env: CREDS },
  );
  assertCode(raced, 1, 'HOIST_TRUST_CONFLICT');
  assert.match(raced.stderr, /another trust document version 1 was written to s3:\/\/[^ ]+\/trust\/history\/1\.json meanwhile; check it \(`hoist trust show`\)/);
  assert.equal(proxy.requests.filter((r) => r.fault === 'fail').length, 1, 'the 412 was the proxy\'s');
  assert.deepEqual(await listAll(h, 'trust/'), [], 'root.json is not written after a lost race');
});

test('offline signing in steps: dry-run payload, hoist sign (kind trust) and --add-to, publish --envelope; verify accepts it', async () => {
  await using h = await createHarness();
  const roots = await keygenRoots(h);
  const hostTrust = await writeHostTrust(h, roots);
  const policy = await writePolicy(h, roots, 'policy', ['bob']);
  const payloadFile = path.join(h.dir, 'trust-1.json');
  const envFile = path.join(h.dir, 'trust-1.dsse.json');

  const dry = await ops(h, ['trust', 'publish', policy, '--dry-run', '--out', payloadFile, '--expires', '10d']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /trust version 1 payload written to .*trust-1\.json; sign it offline/);
  assert.equal(field(await readFile(payloadFile, 'utf8'), 'kind'), 'trust');

  const cli = (args: string[]) => run([HOIST_BIN, ...args], { env: CREDS });
  assert.equal((await cli(['sign', payloadFile, '--key', roots.key('root1'), '--out', envFile])).code, 0);
  const early = await ops(h, ['trust', 'publish', '--envelope', envFile, '--dry-run', '--trust', hostTrust]);
  assertCode(early, 1, 'HOIST_TRUST_ROOT_THRESHOLD');
  const cosign = await cli(['sign', '--key', roots.key('root2'), '--add-to', envFile, '--out', envFile]);
  assert.equal(cosign.code, 0, cosign.stderr);
  const envelope = JSON.parse(await readFile(envFile, 'utf8')) as { payloadType: string; payload: string; signatures: unknown[] };
  assert.equal(envelope.payloadType, 'application/vnd.hoist.trust+json');
  assert.equal(envelope.signatures.length, 2);
  assert.equal(Buffer.from(envelope.payload, 'base64').toString('utf8'), await readFile(payloadFile, 'utf8'), 'the file bytes, signed as they are');

  const verified = await cli(['verify', envFile, '--trust', hostTrust]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stderr, /verified: trust document version 1, expires .*, signed by root1, root2/);
  assert.equal(field(verified.stdout, 'version'), 1);
  assertCode(await cli(['verify', envFile, '--trust', hostTrust, '--kind', 'release']), 2, 'HOIST_USAGE');
  const stranger = path.join(h.dir, 'no-root.yaml');
  await writeFile(stranger, stringify({ keys: { ci: h.keyPaths.ci?.pub }, roles: { release: { keys: ['ci'] } } }));
  assertCode(await cli(['verify', envFile, '--trust', stranger]), 2, 'HOIST_USAGE');

  const published = await ops(h, ['trust', 'publish', '--envelope', envFile, '--trust', hostTrust]);
  assert.equal(published.code, 0, published.stderr);
  assert.deepEqual(await listAll(h, 'trust/'), ['trust/history/1.json', 'trust/root.json']);
  // The same payload again, now with a third signature: a duplicate, nothing written.
  assert.equal((await cli(['sign', '--key', roots.key('root3'), '--add-to', envFile, '--out', envFile])).code, 0);
  const again = await ops(h, ['trust', 'publish', '--envelope', envFile]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already published: version 1 with this payload is in the bucket; nothing written/);

  // sign refuses a trust payload that does not parse, and a manifest signature on a trust envelope.
  const bad = path.join(h.dir, 'bad-trust.json');
  await writeFile(bad, JSON.stringify({ schema: 1, kind: 'trust', version: 1, keys: { ci: '/etc/hoist/ci.pub' } }));
  const refused = await cli(['sign', bad, '--key', roots.key('root1')]);
  assertCode(refused, 1, 'HOIST_TRUST_INVALID');
  assert.match(refused.stderr, /refusing to sign .*bad-trust\.json/);
});
