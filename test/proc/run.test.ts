import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isHoistError } from '../../src/errors.ts';
import { runCommand } from '../../src/proc/run.ts';
import { isRunning, waitGone } from '../helpers/app.ts';

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'hoist-run-')));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('runCommand passes stdout and stderr lines to onOutput and returns the tail', async () => {
  await withDir(async (dir) => {
    const lines: Array<[string, string]> = [];
    const result = await runCommand({
      name: 'preActivate',
      command: 'echo one; echo two >&2; printf "three\\r\\nno-newline"',
      cwd: dir,
      timeoutMs: 10_000,
      onOutput: (stream, line) => lines.push([stream, line]),
    });
    assert.deepEqual(
      lines.filter(([s]) => s === 'stdout'),
      [['stdout', 'one'], ['stdout', 'three'], ['stdout', 'no-newline']],
    );
    assert.deepEqual(lines.filter(([s]) => s === 'stderr'), [['stderr', 'two']]);
    for (const word of ['one', 'two', 'three', 'no-newline']) assert.match(result.outputTail, new RegExp(word));
    assert.ok(result.durationMs >= 0);
  });
});

test('runCommand keeps only the last few KiB of output as the tail', async () => {
  await withDir(async (dir) => {
    let count = 0;
    const result = await runCommand({
      name: 'postActivate',
      command: 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done',
      cwd: dir,
      timeoutMs: 20_000,
      onOutput: () => count++,
    });
    assert.equal(count, 2000);
    assert.ok(result.outputTail.length <= 4096);
    assert.match(result.outputTail, /line 1999$/);
    assert.doesNotMatch(result.outputTail, /line 5\n/);
  });
});

test('a non-zero exit is HOIST_HOOK_FAILED with the exit code and the output tail', async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      runCommand({ name: 'preActivate', command: 'echo building; echo "npm ERR! boom" >&2; exit 3', cwd: dir, timeoutMs: 10_000 }),
      (error: unknown) => {
        assert.ok(isHoistError(error, 'HOIST_HOOK_FAILED'));
        assert.equal(error.details?.exitCode, 3);
        assert.match(String(error.details?.outputTail), /building\nnpm ERR! boom/);
        assert.match(error.message, /preActivate/);
        assert.match(error.message, /exit code 3/);
        assert.match(error.message, /npm ERR! boom/);
        return true;
      },
    );
  });
});

test('death by signal is HOIST_HOOK_FAILED naming the signal', async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      runCommand({ name: 'restart', command: 'kill -KILL $$', cwd: dir, timeoutMs: 10_000 }),
      (error: unknown) => {
        assert.ok(isHoistError(error, 'HOIST_HOOK_FAILED'));
        assert.equal(error.details?.signal, 'SIGKILL');
        assert.match(error.message, /signal SIGKILL/);
        return true;
      },
    );
  });
});

test('a missing cwd is HOIST_HOOK_FAILED that names the directory', async () => {
  await withDir(async (dir) => {
    const missing = join(dir, 'nope');
    await assert.rejects(runCommand({ name: 'preActivate', command: 'true', cwd: missing, timeoutMs: 5_000 }), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_HOOK_FAILED'));
      assert.ok(error.message.includes(missing));
      return true;
    });
  });
});

test('a timeout kills the whole process group, grandchildren included → HOIST_HOOK_TIMEOUT', async () => {
  await withDir(async (dir) => {
    const pidFile = join(dir, 'grandchild.pid');
    const started = performance.now();
    await assert.rejects(
      runCommand({
        name: 'postActivate',
        // The grandchild ignores SIGTERM, so only the SIGKILL after the grace period stops it.
        command: `sh -c 'trap "" TERM; sleep 1000 & echo $! > ${pidFile}; wait' & sleep 1000`,
        cwd: dir,
        timeoutMs: 500,
        killGraceMs: 300,
      }),
      (error: unknown) => {
        assert.ok(isHoistError(error, 'HOIST_HOOK_TIMEOUT'));
        assert.equal(error.details?.timeoutMs, 500);
        return true;
      },
    );
    assert.ok(performance.now() - started < 9_000, 'did not wait for sleep 1000');
    const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(grandchild > 0);
    // runCommand resolves only once the group is gone, so no waiting is needed here.
    assert.equal(await isRunning(grandchild), false, `grandchild ${grandchild} still runs`);
  });
});

test('a timeout spares a process the command started in its own session, and a normal exit kills nothing', async () => {
  await withDir(async (dir) => {
    const daemonPid = join(dir, 'daemon.pid');
    const bgPid = join(dir, 'bg.pid');
    await runCommand({
      name: 'restart',
      command: `setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > ${daemonPid}; sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > ${bgPid}`,
      cwd: dir,
      timeoutMs: 10_000,
    });
    const daemon = Number((await readFile(daemonPid, 'utf8')).trim());
    const background = Number((await readFile(bgPid, 'utf8')).trim());
    try {
      assert.equal(await isRunning(background), true, 'a normal exit must not kill the group');
      await assert.rejects(
        runCommand({
          name: 'restart',
          command: `setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > ${daemonPid}.2; sleep 1000`,
          cwd: dir,
          timeoutMs: 300,
          killGraceMs: 300,
        }),
        (error: unknown) => isHoistError(error, 'HOIST_HOOK_TIMEOUT'),
      );
      const daemon2 = Number((await readFile(`${daemonPid}.2`, 'utf8')).trim());
      try {
        assert.equal(await isRunning(daemon2), true, 'the daemon in its own session must survive the timeout');
      } finally {
        process.kill(daemon2, 'SIGKILL');
      }
      assert.equal(await isRunning(daemon), true);
    } finally {
      for (const pid of [daemon, background]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
        await waitGone(pid);
      }
    }
  });
});

test('an abort kills the group and rejects with the abort reason', async () => {
  await withDir(async (dir) => {
    const pidFile = join(dir, 'child.pid');
    const controller = new AbortController();
    const reason = new Error('agent is stopping');
    const running = runCommand({
      name: 'preActivate',
      command: `sleep 1000 & echo $! > ${pidFile}; wait`,
      cwd: dir,
      timeoutMs: 60_000,
      signal: controller.signal,
      onOutput: () => {},
    });
    // Abort once the child is there, bounded.
    for (let i = 0; i < 200; i++) {
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      if (text.trim() !== '') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    controller.abort(reason);
    await assert.rejects(running, (error: unknown) => error === reason);
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    assert.equal(await isRunning(child), false);
  });
});

test('an already aborted signal rejects before anything is spawned', async () => {
  await withDir(async (dir) => {
    const marker = join(dir, 'ran');
    const reason = new Error('stop');
    await assert.rejects(
      runCommand({ name: 'restart', command: `touch ${marker}`, cwd: dir, timeoutMs: 5_000, signal: AbortSignal.abort(reason) }),
      (error: unknown) => error === reason,
    );
    await assert.rejects(readFile(marker));
  });
});

test('the command sees the base env, the given env, and nothing else from the agent', async () => {
  await withDir(async (dir) => {
    process.env.HOIST_TEST_SECRET = 'must-not-leak';
    try {
      const lines: string[] = [];
      await runCommand({
        name: 'postActivate',
        command: 'echo "app=$HOIST_APP path=${PATH:+set} secret=${HOIST_TEST_SECRET:-unset} stdin=$(cat | wc -c)"',
        cwd: dir,
        env: { HOIST_APP: 'web' },
        timeoutMs: 10_000,
        onOutput: (_s, line) => lines.push(line),
      });
      assert.deepEqual(lines, ['app=web path=set secret=unset stdin=0']);
    } finally {
      delete process.env.HOIST_TEST_SECRET;
    }
  });
});

test('the command runs in cwd', async () => {
  await withDir(async (dir) => {
    const lines: string[] = [];
    await runCommand({ name: 'preActivate', command: 'pwd -P', cwd: dir, timeoutMs: 10_000, onOutput: (_s, l) => lines.push(l) });
    assert.deepEqual(lines, [dir]);
  });
});

test('a throwing onOutput does not break the command', async () => {
  await withDir(async (dir) => {
    const result = await runCommand({
      name: 'health',
      command: 'echo a; echo b',
      cwd: dir,
      timeoutMs: 10_000,
      onOutput: () => {
        throw new Error('logger broke');
      },
    });
    assert.equal(result.outputTail, 'a\nb');
  });
});

test('user runs the command as that uid/gid with its HOME (as root), and is refused otherwise', async () => {
  await withDir(async (dir) => {
    await chmod(dir, 0o755); // nobody must be able to enter it
    const lines: string[] = [];
    const running = runCommand({
      name: 'restart',
      command: 'echo "$(id -u) $(id -g) $HOME ${USER:-none}"',
      cwd: dir,
      timeoutMs: 10_000,
      user: { uid: 65534, gid: 65534, home: '/nonexistent' },
      onOutput: (_s, l) => lines.push(l),
    });
    if (process.getuid?.() === 0) {
      await running;
      assert.deepEqual(lines, ['65534 65534 /nonexistent none']);
    } else {
      // Without root the kernel refuses setuid: the hook fails before running anything.
      await assert.rejects(running, (error: unknown) => isHoistError(error, 'HOIST_HOOK_FAILED'));
      assert.deepEqual(lines, []);
    }
  });
});
