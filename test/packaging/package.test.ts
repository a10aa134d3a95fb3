/**
 * `scripts/package.ts --arch x64` end to end: the single executable, the .deb (and the .rpm when
 * rpmbuild is available or installable), their contents and metadata, and the packaged `hoist`
 * running with an empty environment (no Node on PATH) on a real signed envelope.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PAYLOAD_TYPE = 'application/vnd.hoist.manifest+json';

let out = '';
let scratch = '';
let buildLog = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, never throws for a non-zero exit; `env` replaces the environment entirely. */
async function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  try {
    const r = await execFileP(cmd, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 60_000, ...(env ? { env } : {}) });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

async function hasCommand(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${cmd}`])).code === 0;
}

before(async () => {
  out = await mkdtemp(join(tmpdir(), 'hoist-pkg-out-'));
  scratch = await mkdtemp(join(tmpdir(), 'hoist-pkg-x-'));
  const r = await execFileP(process.execPath, [join(ROOT, 'scripts/package.ts'), '--arch', 'x64', '--out', out], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  buildLog = r.stdout + r.stderr;
});

after(async () => {
  await rm(out, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

function deb(): string {
  return join(out, `hoist_${VERSION.replace('-', '~')}_amd64.deb`);
}

test('the build produces the x64 executable and the amd64 .deb, and no arm64 output', async () => {
  const files = await readdir(out);
  assert.ok(files.includes('hoist-linux-x64'), buildLog);
  assert.ok(existsSync(deb()), buildLog);
  assert.ok(!files.some((f) => f.includes('arm64') || f.includes('aarch64')), files.join(' '));
  // ELF, x86-64 (e_machine 0x3e) with the SEA fuse flipped by postject.
  const exe = await readFile(join(out, 'hoist-linux-x64'));
  assert.equal(exe.readUInt32BE(0), 0x7f454c46);
  assert.equal(exe.readUInt16LE(18), 0x3e);
  assert.ok(exe.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'));
});

test('dpkg-deb -I: control fields, conffiles and maintainer scripts', async () => {
  const info = await run('dpkg-deb', ['-I', deb()]);
  assert.equal(info.code, 0, info.stderr);
  const field = async (name: string): Promise<string> => (await run('dpkg-deb', ['-f', deb(), name])).stdout.trim();
  assert.equal(await field('Package'), 'hoist');
  assert.equal(await field('Version'), VERSION.replace('-', '~'));
  assert.equal(await field('Architecture'), 'amd64');
  assert.match(await field('Depends'), /libc6 \(>= 2\.28\)/);
  assert.match(await field('Maintainer'), /\S+ <\S+@\S+>/);
  const conffiles = await run('dpkg-deb', ['-I', deb(), 'conffiles']);
  assert.deepEqual(conffiles.stdout.trim().split('\n'), ['/etc/hoist/agent.yaml']);
  const postinst = (await run('dpkg-deb', ['-I', deb(), 'postinst'])).stdout;
  assert.match(postinst, /useradd --system --no-create-home/);
  assert.match(postinst, /--shell \/usr\/sbin\/nologin/);
  assert.match(postinst, /systemctl daemon-reload/);
  // Installing never enables or starts the (unconfigured) agent.
  assert.doesNotMatch(postinst, /systemctl (enable|start|restart)/);
  const prerm = (await run('dpkg-deb', ['-I', deb(), 'prerm'])).stdout;
  assert.match(prerm, /systemctl stop hoist-agent/);
  const postrm = (await run('dpkg-deb', ['-I', deb(), 'postrm'])).stdout;
  assert.match(postrm, /purge\)\s+rm -rf \/var\/lib\/hoist \/etc\/hoist/);
});

test('dpkg-deb -c: files, owners and modes', async () => {
  const listing = await run('dpkg-deb', ['-c', deb()]);
  assert.equal(listing.code, 0, listing.stderr);
  const entries = new Map<string, string>();
  for (const line of listing.stdout.trim().split('\n')) {
    const cols = line.split(/\s+/);
    const path = cols.at(-1);
    if (path !== undefined) entries.set(path.replace(/\/$/, ''), `${cols[0] ?? ''} ${cols[1] ?? ''}`);
  }
  const expect: Record<string, string> = {
    './usr/bin/hoist': '-rwxr-xr-x root/root',
    './lib/systemd/system/hoist-agent.service': '-rw-r--r-- root/root',
    './etc/hoist/agent.yaml': '-rw-r--r-- root/root',
    './var/lib/hoist': 'drwxr-x--- root/root',
    './usr/share/doc/hoist/copyright': '-rw-r--r-- root/root',
    './usr/share/doc/hoist/install.md': '-rw-r--r-- root/root',
    './usr/share/doc/hoist/security.md': '-rw-r--r-- root/root',
    './usr/share/doc/hoist/runbook-rollback.md': '-rw-r--r-- root/root',
    './usr/share/doc/hoist/iam/agent.json': '-rw-r--r-- root/root',
    './usr/share/doc/hoist/app-roots.conf.example': '-rw-r--r-- root/root',
    './usr/share/doc/hoist/networking.md': '-rw-r--r-- root/root',
    './usr/share/man/man1/hoist.1.gz': '-rw-r--r-- root/root',
    './usr/share/bash-completion/completions/hoist': '-rw-r--r-- root/root',
    './usr/share/zsh/vendor-completions/_hoist': '-rw-r--r-- root/root',
  };
  for (const [path, mode] of Object.entries(expect)) assert.equal(entries.get(path), mode, path);
  // Nothing outside the expected top-level trees.
  for (const path of entries.keys()) assert.match(path, /^\.(\/(usr|lib|etc|var)(\/.*)?)?$/, path);
});

test('the packaged hoist runs with an empty environment: --version', async () => {
  const x = await run('dpkg-deb', ['-x', deb(), scratch]);
  assert.equal(x.code, 0, x.stderr);
  const hoist = join(scratch, 'usr/bin/hoist');
  const r = await run(hoist, ['--version'], {});
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), VERSION);
  // The config example and the unit in the package are the ones in packaging/ and systemd/.
  assert.equal(
    await readFile(join(scratch, 'etc/hoist/agent.yaml'), 'utf8'),
    await readFile(join(ROOT, 'packaging/agent.yaml'), 'utf8'),
  );
  assert.equal(
    await readFile(join(scratch, 'lib/systemd/system/hoist-agent.service'), 'utf8'),
    await readFile(join(ROOT, 'systemd/hoist-agent.service'), 'utf8'),
  );
});

/** DSSE v1 pre-authentication encoding, lengths in bytes. */
function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

test('the packaged hoist verifies a real envelope (exit 0) and rejects a flipped payload byte (exit 1)', async () => {
  const hoist = join(scratch, 'usr/bin/hoist');
  assert.ok(existsSync(hoist), 'extracted by the previous test');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyid = createHash('sha256').update(spki.subarray(spki.length - 32)).digest('hex');
  const now = Date.now();
  const manifest = {
    schema: 1,
    kind: 'release',
    app: 'web',
    env: 'prod',
    sequence: now,
    version: '1.4.2',
    artifact: { key: `artifacts/web/${'ab'.repeat(32)}.tar.gz`, sha256: 'ab'.repeat(32), size: 12345, format: 'tar+gzip' },
    issuedAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 7 * 86_400_000).toISOString(),
    rollout: { percent: 100 },
    notes: { commit: 'abc123', by: 'ci' },
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const envelope = (payload: Buffer): string =>
    JSON.stringify({
      payloadType: PAYLOAD_TYPE,
      payload: payload.toString('base64'),
      signatures: [{ keyid, sig: sign(null, pae(PAYLOAD_TYPE, body), privateKey).toString('base64') }],
    });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(join(scratch, 'ci.pub'), pem);
  await writeFile(
    join(scratch, 'trust.yaml'),
    [
      'keys:',
      `  ci: ${join(scratch, 'ci.pub')}`,
      `  inline: ${JSON.stringify(pem)}`,
      'roles:',
      '  release: { keys: [ci], threshold: 1 }',
      '  pin: { keys: [inline], threshold: 1 }',
      'clockSkew: 5m',
      '',
    ].join('\n'),
  );
  await writeFile(join(scratch, 'good.json'), envelope(body));
  const good = await run(hoist, ['verify', join(scratch, 'good.json'), '--trust', join(scratch, 'trust.yaml')], {});
  assert.equal(good.code, 0, good.stderr);
  assert.equal((JSON.parse(good.stdout) as { version: string }).version, '1.4.2');

  // Same signature, one payload byte changed ("1.4.2" -> "1.4.3").
  const tampered = Buffer.from(body.toString('utf8').replace('"1.4.2"', '"1.4.3"'));
  assert.equal(tampered.length, body.length);
  await writeFile(join(scratch, 'bad.json'), envelope(tampered));
  const bad = await run(hoist, ['verify', join(scratch, 'bad.json'), '--trust', join(scratch, 'trust.yaml')], {});
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /HOIST_SIGNATURE/);
});

test('the .rpm (x86_64): metadata, files, config and scriptlets', async (t) => {
  const rpm = join(out, `hoist-${VERSION.replace('-', '~')}-1.x86_64.rpm`);
  if (!existsSync(rpm)) {
    // The build skips the rpm only when rpmbuild is missing and could not be installed.
    assert.equal(await hasCommand('rpmbuild'), false, `rpmbuild exists but no .rpm was built:\n${buildLog}`);
    assert.match(buildLog, /skipping \.rpm/);
    t.diagnostic('rpmbuild unavailable and not installable here: .rpm not built (add `rpm` to .ci/run)');
    return;
  }
  const q = await run('rpm', ['-qp', '--qf', '%{NAME} %{VERSION} %{RELEASE} %{ARCH}', rpm]);
  assert.equal(q.stdout, `hoist ${VERSION.replace('-', '~')} 1 x86_64`, q.stderr);
  const files = (await run('rpm', ['-qpl', rpm])).stdout.trim().split('\n');
  for (const f of [
    '/usr/bin/hoist',
    '/usr/lib/systemd/system/hoist-agent.service',
    '/etc/hoist/agent.yaml',
    '/var/lib/hoist',
    '/usr/share/doc/hoist/install.md',
    '/usr/share/man/man1/hoist.1.gz',
    '/usr/share/bash-completion/completions/hoist',
    '/usr/share/zsh/site-functions/_hoist',
  ]) {
    assert.ok(files.includes(f), `${f} in ${files.join(' ')}`);
  }
  assert.deepEqual((await run('rpm', ['-qpc', rpm])).stdout.trim().split('\n'), ['/etc/hoist/agent.yaml']);
  const modes = (await run('rpm', ['-qp', '--qf', '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]', rpm])).stdout;
  assert.match(modes, /^drwxr-x--- root:hoist \/var\/lib\/hoist$/m);
  assert.match(modes, /^-rwxr-xr-x root:root \/usr\/bin\/hoist$/m);
  const scripts = (await run('rpm', ['-qp', '--scripts', rpm])).stdout;
  assert.match(scripts, /useradd --system --no-create-home/);
  assert.doesNotMatch(scripts, /systemctl (enable|start|restart)/);
  assert.match(scripts, /systemctl stop hoist-agent/);
});

test('man hoist works from the extracted .deb, and the completions it carries are the generated ones', async () => {
  const dir = join(scratch, 'man-check');
  const x = await run('dpkg-deb', ['-x', deb(), dir]);
  assert.equal(x.code, 0, x.stderr);
  const page = join(dir, 'usr/share/man/man1/hoist.1.gz');
  // man-db reads the installed tree's gzip page; MANPAGER=cat so nothing waits for a terminal.
  const man = await run('man', ['-l', page], { PATH: process.env.PATH ?? '/usr/bin:/bin', MANPAGER: 'cat', MANWIDTH: '100', LANG: 'C.UTF-8' });
  assert.equal(man.code, 0, man.stderr);
  assert.match(man.stdout, /HOIST\(1\)/);
  assert.match(man.stdout, /hoist publish \[options\]/);
  const { readFile } = await import('node:fs/promises');
  const { gunzipSync } = await import('node:zlib');
  assert.equal(gunzipSync(await readFile(page)).toString('utf8'), await readFile(join(ROOT, 'packaging/man/hoist.1'), 'utf8'));
  assert.equal(await readFile(join(dir, 'usr/share/bash-completion/completions/hoist'), 'utf8'), await readFile(join(ROOT, 'packaging/completion/hoist.bash'), 'utf8'));
  assert.equal(await readFile(join(dir, 'usr/share/zsh/vendor-completions/_hoist'), 'utf8'), await readFile(join(ROOT, 'packaging/completion/_hoist'), 'utf8'));
});
