/**
 * systemd/hoist-agent.service passes `systemd-analyze verify` (with the app-roots drop-in
 * example applied) and carries the settings the docs promise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const UNIT = join(ROOT, 'systemd/hoist-agent.service');
const DROP_IN = join(ROOT, 'systemd/hoist-agent.service.d/app-roots.conf.example');

/** `[Section]` → key → values, in file order; repeated keys keep every value. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current !== undefined && eq > 0, `unexpected line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** Runs `systemd-analyze verify` on the unit (+ drop-in) in a temp dir; returns what it said about them. */
async function verify(unitText: string, dropInText: string): Promise<{ complaints: string[]; debug: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-unit-'));
  try {
    // ExecStart must name an executable that exists here; /bin/true stands in for /usr/bin/hoist.
    await writeFile(join(dir, 'hoist-agent.service'), unitText.replaceAll('/usr/bin/hoist', '/bin/true'));
    await mkdir(join(dir, 'hoist-agent.service.d'));
    await writeFile(join(dir, 'hoist-agent.service.d/app-roots.conf'), dropInText);
    const unit = join(dir, 'hoist-agent.service');
    // Exit status 0 is required (execFile rejects otherwise); warnings only show on stderr.
    const { stderr } = await execFileP('systemd-analyze', ['verify', unit]);
    // Lines about our files ("<path>:<line>: Unknown key ...", "... ignoring"); the host's own
    // units may produce unrelated noise, which is not ours to judge.
    const complaints = stderr.split('\n').filter((line) => line.includes(dir));
    const debugRun = await execFileP('systemd-analyze', ['verify', unit], {
      env: { ...process.env, SYSTEMD_LOG_LEVEL: 'debug' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { complaints, debug: `${debugRun.stdout}\n${debugRun.stderr}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('systemd-analyze verify accepts the unit and the drop-in, with no warnings', async () => {
  const { complaints, debug } = await verify(await readFile(UNIT, 'utf8'), await readFile(DROP_IN, 'utf8'));
  assert.deepEqual(complaints, []);
  // The drop-in was really read, so its directives were checked too.
  assert.match(debug, /DropIn Path: .*app-roots\.conf/);
  assert.match(debug, /ReadWritePaths: \/var\/lib\/hoist \/srv/);
});

test('the verify check notices an unknown directive (it is not vacuous)', async () => {
  const unit = (await readFile(UNIT, 'utf8')).replace('[Service]\n', '[Service]\nWatchDogSecs=30s\n');
  const { complaints } = await verify(unit, '[Service]\nReadWritePath=/srv\n');
  assert.equal(complaints.length, 2, complaints.join('\n'));
  assert.ok(complaints.every((line) => /Unknown key/.test(line)));
});

test('the unit declares notify, watchdog, reload, restart and the documented hardening', async () => {
  const unit = parseUnit(await readFile(UNIT, 'utf8'));
  const service = unit.get('Service');
  const section = unit.get('Unit');
  assert.ok(service !== undefined && section !== undefined);
  const one = (key: string): string | undefined => service.get(key)?.at(-1);
  assert.equal(one('Type'), 'notify');
  assert.equal(one('NotifyAccess'), 'all');
  assert.equal(one('WatchdogSec'), '2min');
  assert.equal(one('ExecStart'), '/usr/bin/hoist agent --config /etc/hoist/agent.yaml');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('Restart'), 'on-failure');
  assert.ok(one('RestartSec') !== undefined);
  // Above the agent's own 30 s drain bound.
  assert.equal(one('TimeoutStopSec'), '45s');
  assert.ok(section.get('StartLimitIntervalSec') !== undefined && section.get('StartLimitBurst') !== undefined);
  for (const [key, value] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ReadWritePaths', '/var/lib/hoist'],
    ['PrivateTmp', 'yes'],
    ['ProtectHome', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'],
    ['RestrictSUIDSGID', 'yes'],
    ['LockPersonality', 'yes'],
  ] as const) {
    assert.equal(one(key), value, key);
  }
  // V8's JIT needs W+X memory: this setting would crash the agent.
  assert.notEqual(one('MemoryDenyWriteExecute'), 'yes');
  assert.deepEqual(unit.get('Install')?.get('WantedBy'), ['multi-user.target']);
});

test('the app-roots drop-in example only adds ReadWritePaths', async () => {
  const dropIn = parseUnit(await readFile(DROP_IN, 'utf8'));
  assert.deepEqual([...dropIn.keys()], ['Service']);
  assert.deepEqual(dropIn.get('Service')?.get('ReadWritePaths'), ['/srv']);
});
