import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { isHoistError } from '../../src/errors.ts';
import { baseEnv, DEFAULT_PATH, hookEnv } from '../../src/proc/env.ts';
import { groupRunning, killGroup, parseProcStat, pidRunning } from '../../src/proc/group.ts';
import { LineSplitter, OutputTail } from '../../src/proc/output.ts';
import { findInPasswd, parsePasswdLine, resolveGroup, resolveUser } from '../../src/proc/user.ts';

test('LineSplitter emits whole lines across chunks, strips \\r, cuts overlong runs, flushes at end', () => {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l), 4);
  splitter.write('ab');
  splitter.write('c\r\nde\n\nabcdefghij');
  splitter.write('k');
  splitter.end();
  splitter.end();
  assert.deepEqual(lines, ['abc', 'de', '', 'abcd', 'efgh', 'ijk']);
});

test('OutputTail keeps the last N characters of the joined lines', () => {
  const tail = new OutputTail(10);
  assert.equal(tail.toString(), '');
  tail.push('hello');
  assert.equal(tail.toString(), 'hello');
  tail.push('world');
  assert.equal(tail.toString(), 'ello\nworld');
});

test('baseEnv takes only the listed variables, defaults PATH and swaps user variables', () => {
  const source = { PATH: '/bin', HOME: '/root', USER: 'root', LANG: 'C.UTF-8', AWS_SECRET_ACCESS_KEY: 'x' };
  assert.deepEqual(baseEnv(source), { PATH: '/bin', HOME: '/root', USER: 'root', LANG: 'C.UTF-8' });
  assert.deepEqual(baseEnv({}), { PATH: DEFAULT_PATH });
  assert.deepEqual(baseEnv(source, { home: '/srv/web', name: 'web' }), {
    PATH: '/bin',
    LANG: 'C.UTF-8',
    HOME: '/srv/web',
    USER: 'web',
    LOGNAME: 'web',
  });
  assert.deepEqual(baseEnv(source, {}), { PATH: '/bin', LANG: 'C.UTF-8' });
});

test('hookEnv builds the HOIST_* variables, HOIST_PREVIOUS_DIR empty on a first deploy', () => {
  const info = { app: 'web', env: 'prod', version: '1.4.2', releaseDir: '/srv/web/releases/1.4.2-abc' };
  assert.deepEqual(hookEnv(info), {
    HOIST_APP: 'web',
    HOIST_ENV: 'prod',
    HOIST_VERSION: '1.4.2',
    HOIST_RELEASE_DIR: '/srv/web/releases/1.4.2-abc',
    HOIST_PREVIOUS_DIR: '',
  });
  assert.equal(hookEnv({ ...info, previousDir: '/srv/web/releases/1.4.1-def' }).HOIST_PREVIOUS_DIR, '/srv/web/releases/1.4.1-def');
});

test('parseProcStat copes with spaces and parentheses in the command name', () => {
  assert.deepEqual(parseProcStat('42 (my (odd) name) S 1 42 42 0 -1'), { state: 'S', ppid: 1, pgrp: 42 });
  assert.equal(parseProcStat('garbage'), undefined);
  assert.equal(parseProcStat('1 (x) S'), undefined);
});

test('pidRunning and groupRunning see a live group, killGroup ends it', async () => {
  const child = spawn('/bin/sh', ['-c', 'sleep 1000 & sleep 1000'], { detached: true, stdio: 'ignore' });
  const pid = child.pid;
  assert.ok(pid !== undefined);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  assert.equal(await pidRunning(pid), true);
  assert.equal(await groupRunning(pid), true);
  await killGroup(pid, 2_000);
  await exited;
  assert.equal(await groupRunning(pid), false);
  assert.equal(await pidRunning(pid), false);
  await killGroup(pid, 100); // idempotent: an empty group is fine
});

test('parsePasswdLine and findInPasswd read passwd lines, by name or uid', () => {
  const text = 'root:x:0:0:root:/root:/bin/bash\nbad line\nweb:x:998:997:Web app:/srv/web:/usr/sbin/nologin\n';
  assert.deepEqual(findInPasswd(text, 'web'), { name: 'web', uid: 998, gid: 997, home: '/srv/web' });
  assert.deepEqual(findInPasswd(text, '0'), { name: 'root', uid: 0, gid: 0, home: '/root' });
  assert.equal(findInPasswd(text, 'nobody'), undefined);
  assert.equal(parsePasswdLine('x:x:a:0:::'), undefined);
});

test('resolveUser finds a real user and names an unknown one in a config error', async () => {
  assert.deepEqual(await resolveUser('nobody'), { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' });
  assert.equal((await resolveUser('root')).uid, 0);
  for (const name of ['hoist-no-such-user-x', '', 'a:b']) {
    await assert.rejects(resolveUser(name), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_CONFIG_INVALID'));
      assert.ok(error.message.includes(JSON.stringify(name)));
      return true;
    });
  }
});

test('resolveUser falls back to the passwd file when getent cannot run', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-user-'));
  const saved = process.env.PATH;
  try {
    const file = join(dir, 'passwd');
    await writeFile(file, 'web:x:998:997::/srv/web:/bin/false\n');
    process.env.PATH = dir; // no getent here
    assert.deepEqual(await resolveUser('web', file), { name: 'web', uid: 998, gid: 997, home: '/srv/web' });
    await assert.rejects(resolveUser('api', file), (e: unknown) => isHoistError(e, 'HOIST_CONFIG_INVALID'));
    await assert.rejects(resolveUser('api', join(dir, 'missing')), (e: unknown) => isHoistError(e, 'HOIST_IO'));
  } finally {
    process.env.PATH = saved;
    await rm(dir, { recursive: true, force: true });
  }
});

test('resolveGroup: by name from the group file, numeric as is, unknown refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-group-'));
  try {
    const file = join(dir, 'group');
    await writeFile(file, 'root:x:0:\nwww-data:x:33:\nbroken\n');
    assert.equal(await resolveGroup('www-data', file), 33);
    assert.equal(await resolveGroup('1234', file), 1234);
    await assert.rejects(resolveGroup('nope', file), (e: unknown) => isHoistError(e, 'HOIST_CONFIG_INVALID'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
