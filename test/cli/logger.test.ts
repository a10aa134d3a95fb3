import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fstatSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveLogFormat, syslogPriority } from '../../src/cli/logger.ts';
import { createHarness, HOIST_BIN, TEST_AWS_ENV } from '../helpers/harness.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/log-levels.ts', import.meta.url));
/** What journald expects in front of each level (SyslogLevelPrefix). */
const PRIORITY: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/**
 * Runs `argv` with stdout on a regular file, as systemd runs a unit with stdout on the journal;
 * with `journal`, JOURNAL_STREAM names that file's device and inode the way systemd names its
 * socket. Returns what was written to it.
 */
async function runWithStdoutFile(argv: readonly string[], o: { journal: boolean; env?: Record<string, string> }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoist-log-'));
  try {
    const file = path.join(dir, 'stdout');
    const handle = await open(file, 'w');
    const env: Record<string, string | undefined> = { ...process.env, ...TEST_AWS_ENV, ...o.env };
    delete env.JOURNAL_STREAM;
    if (o.journal) {
      const st = fstatSync(handle.fd, { bigint: true });
      env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
    }
    const child = spawn(process.execPath, argv, { env, stdio: ['ignore', handle.fd, 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number | null];
    await handle.close();
    return { code, stdout: await readFile(file, 'utf8'), stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** Splits `<N>{json}` and checks N is the priority of the line's level. */
function journalLine(line: string): { priority: number; entry: Record<string, unknown> } {
  const m = /^<([0-7])>(\{.*\})$/.exec(line);
  assert.ok(m?.[1] !== undefined && m[2] !== undefined, `not a <N>-prefixed JSON line: ${line}`);
  const entry = JSON.parse(m[2]) as Record<string, unknown>;
  assert.equal(typeof entry.level, 'string', line);
  assert.equal(Number(m[1]), PRIORITY[entry.level as string], `priority of a ${String(entry.level)} line: ${line}`);
  return { priority: Number(m[1]), entry };
}

test('under JOURNAL_STREAM naming stdout, auto writes every line behind the syslog priority of its level', async () => {
  const out = await runWithStdoutFile([FIXTURE], { journal: true });
  assert.equal(out.code, 0, out.stderr);
  const got = lines(out.stdout).map(journalLine);
  assert.deepEqual(
    got.map(({ priority, entry }) => [entry.level, priority]),
    [['trace', 7], ['debug', 7], ['info', 6], ['warn', 4], ['error', 3], ['fatal', 2]],
  );
  // a child logger's bindings are kept behind the prefix
  assert.deepEqual(got[3]?.entry, { ...got[3]?.entry, app: 'web', env: 'prod', code: 'HOIST_SIGNATURE_UNTRUSTED', msg: 'a warn line' });
});

test('a JOURNAL_STREAM that names another file (inherited by a child whose stdout is elsewhere) is not the journal', async () => {
  const out = await runWithStdoutFile([FIXTURE], { journal: false, env: { JOURNAL_STREAM: '1:2' } });
  assert.equal(out.code, 0, out.stderr);
  for (const line of lines(out.stdout)) assert.ok(line.startsWith('{'), line);
  assert.equal(lines(out.stdout).length, 6);
});

test('auto without JOURNAL_STREAM and without a TTY is JSON lines with level names', async () => {
  const out = await runWithStdoutFile([FIXTURE], { journal: false });
  assert.equal(out.code, 0, out.stderr);
  const entries = lines(out.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(entries.map((e) => e.level), ['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
  assert.deepEqual(entries.map((e) => e.n), [1, 2, 3, 4, 5, 6]);
});

test('json stays json under the journal, journal is prefixed anywhere', async () => {
  const json = await runWithStdoutFile([FIXTURE, 'json'], { journal: true });
  assert.deepEqual(lines(json.stdout).map((l) => (JSON.parse(l) as { level: unknown }).level), ['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
  const journal = await runWithStdoutFile([FIXTURE, 'journal'], { journal: false });
  assert.deepEqual(lines(journal.stdout).map((l) => journalLine(l).priority), [7, 7, 6, 4, 3, 2]);
});

test('pretty without a TTY writes pino-pretty lines (a dev dependency here)', async () => {
  const out = await runWithStdoutFile([FIXTURE, 'pretty'], { journal: false });
  assert.equal(out.code, 0, out.stderr);
  // eslint-disable-next-line no-control-regex -- strips the colours
  const text = out.stdout.replace(/\u001b\[[0-9;]*m/g, '');
  assert.match(text, /WARN: a warn line/);
  assert.match(text, /FATAL: a fatal line/);
  assert.doesNotMatch(text, /^\{/m);
});

test('the real agent under JOURNAL_STREAM: each line starts with the priority of its level', async () => {
  await using h = await createHarness();
  await h.writeConfig();
  await h.publish('1', await h.artifact('1'));
  const out = await runWithStdoutFile([HOIST_BIN, 'agent', '--config', h.configPath, '--once'], { journal: true });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const got = lines(out.stdout).map(journalLine);
  const seen = new Set(got.map((g) => g.priority));
  // the harness logs at debug: a deploy writes info and debug lines
  assert.ok(seen.has(6) && seen.has(7), `priorities seen: ${[...seen].join(', ')}`);
  assert.ok(got.some((g) => g.entry.msg === 'reconcile done'));
});

test('resolveLogFormat: the journal only when JOURNAL_STREAM is stdout, then a TTY, then json', () => {
  const cases: Array<[Parameters<typeof resolveLogFormat>[0], string | undefined, string | undefined, boolean, string]> = [
    ['auto', '64769:1234', '64769:1234', false, 'journal'],
    ['auto', '64769:1234\n', '64769:1234', true, 'journal'],
    ['auto', '64769:1234', '64769:999', true, 'pretty'],
    ['auto', '64769:1234', '64769:999', false, 'json'],
    ['auto', undefined, '64769:1234', false, 'json'],
    ['auto', '64769:1234', undefined, false, 'json'],
    ['auto', undefined, undefined, true, 'pretty'],
    ['json', '1:2', '1:2', true, 'json'],
    ['journal', undefined, undefined, true, 'journal'],
    ['pretty', '1:2', '1:2', false, 'pretty'],
  ];
  for (const [format, journalStream, stdout, isTTY, want] of cases) {
    assert.equal(resolveLogFormat(format, { journalStream, stdout, isTTY }), want, JSON.stringify({ format, journalStream, stdout, isTTY }));
  }
});

test('syslogPriority maps pino levels to syslog priorities, info for custom levels', () => {
  assert.deepEqual([60, 50, 40, 30, 20, 10, 35].map(syslogPriority), [2, 3, 4, 6, 7, 7, 6]);
});
