/**
 * The Debian maintainer scripts, run by /bin/sh with PATH holding only recording stubs of the
 * system tools they may call (so nothing on this machine is changed, and any tool they call
 * that is not stubbed fails the script).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const TOOLS = ['getent', 'groupadd', 'useradd', 'chown', 'chmod', 'dpkg-statoverride', 'systemctl'];
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-maint-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs packaging/deb/<script> <arg>; `exists` = the hoist user/group are already there. */
async function runScript(script: string, arg: string, exists: boolean): Promise<{ code: number; calls: string[] }> {
  const bin = await mkdtemp(join(dir, 'bin-'));
  const log = join(bin, 'calls.log');
  for (const tool of TOOLS) {
    // getent answers "found" only when the user/group exist; dpkg-statoverride: no override.
    const status = tool === 'getent' ? (exists ? 0 : 2) : tool === 'dpkg-statoverride' ? 1 : 0;
    await writeFile(join(bin, tool), `#!/bin/sh\necho "\${0##*/} $*" >> "${log}"\nexit ${status}\n`);
    await chmod(join(bin, tool), 0o755);
  }
  let code = 0;
  try {
    await execFileP('/bin/sh', [join(ROOT, 'packaging/deb', script), arg], { env: { PATH: bin } });
  } catch (error) {
    code = (error as { code?: number }).code ?? -1;
  }
  const calls = existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n') : [];
  return { code, calls: calls.filter((c) => !c.startsWith('getent ')) };
}

test('postinst configure on a fresh host creates the system group and user and owns the state dir', async () => {
  const { code, calls } = await runScript('postinst', 'configure', false);
  assert.equal(code, 0);
  assert.equal(calls[0], 'groupadd --system hoist');
  assert.match(calls[1] ?? '', /^useradd --system --no-create-home .*--gid hoist --shell \/usr\/sbin\/nologin .*hoist$/);
  assert.ok(calls.includes('chown root:hoist /var/lib/hoist'));
  assert.ok(calls.includes('chmod 0750 /var/lib/hoist'));
  // It may reload systemd (when systemd runs here) but never enables or starts the agent.
  assert.deepEqual(calls.filter((c) => c.startsWith('systemctl') && c !== 'systemctl daemon-reload'), []);
});

test('postinst configure leaves an existing hoist user and group alone', async () => {
  const { code, calls } = await runScript('postinst', 'configure', true);
  assert.equal(code, 0);
  assert.ok(!calls.some((c) => c.startsWith('useradd') || c.startsWith('groupadd')), calls.join('\n'));
});

test('postinst rejects an unknown action', async () => {
  assert.equal((await runScript('postinst', 'bogus', true)).code, 1);
});

test('prerm stops the agent on remove only when systemd runs, and never on upgrade', async () => {
  const remove = await runScript('prerm', 'remove', true);
  assert.equal(remove.code, 0);
  if (existsSync('/run/systemd/system')) {
    assert.deepEqual(remove.calls, ['systemctl stop hoist-agent.service', 'systemctl disable hoist-agent.service']);
  } else {
    assert.deepEqual(remove.calls, []);
  }
  const upgrade = await runScript('prerm', 'upgrade', true);
  assert.equal(upgrade.code, 0);
  assert.deepEqual(upgrade.calls, []);
});

test('postrm remove keeps /etc/hoist and /var/lib/hoist', async () => {
  const { code, calls } = await runScript('postrm', 'remove', true);
  assert.equal(code, 0);
  // Only a daemon-reload may happen; `rm` is not even on PATH, so deleting would fail the script.
  assert.ok(calls.every((c) => c === 'systemctl daemon-reload'), calls.join('\n'));
});
