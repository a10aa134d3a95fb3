/**
 * The man page and the shell completions are generated from the commander definitions: the
 * checked-in copies (shipped by the packages) must equal a fresh generation, the page must
 * render without a groff warning, and the completion must offer every command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildProgram } from '../../src/cli/main.ts';
import { renderManPage, roff } from '../../src/cli/manpage.ts';
import { renderBashCompletion, renderZshCompletion } from '../../src/cli/completion.ts';
import pkg from '../../package.json' with { type: 'json' };
import { REPO } from '../helpers/harness.ts';

const execFileP = promisify(execFile);
const program = await buildProgram([]);
// hidden commands (the agent's internal tree worker) are not for users: no page, no completion
const COMMANDS = program.commands.filter((c) => (c as typeof c & { _hidden?: boolean })._hidden !== true).map((c) => c.name());

test('the checked-in man page and completions are what the CLI generates (run `node scripts/docs.ts` after changing an option)', async () => {
  assert.equal(await readFile(join(REPO, 'packaging/man/hoist.1'), 'utf8'), renderManPage(program, pkg.version));
  assert.equal(await readFile(join(REPO, 'packaging/completion/hoist.bash'), 'utf8'), renderBashCompletion(program));
  assert.equal(await readFile(join(REPO, 'packaging/completion/_hoist'), 'utf8'), renderZshCompletion(program));
});

test('every command and every option is in the man page', () => {
  const page = renderManPage(program, pkg.version);
  assert.deepEqual(COMMANDS.filter((c) => !page.includes(`.SS "hoist ${c}`)), []);
  for (const c of program.commands) {
    if (!COMMANDS.includes(c.name())) continue;
    for (const o of c.options) assert.ok(page.includes(roff(o.long ?? '')), `${c.name()} ${o.long ?? ''}`);
  }
  assert.ok(COMMANDS.includes('publish') && COMMANDS.includes('status') && COMMANDS.length >= 11);
});

test('groff renders the page without a warning', async () => {
  const { stdout, stderr } = await execFileP('groff', ['-man', '-Tutf8', '-ww', join(REPO, 'packaging/man/hoist.1')], { encoding: 'utf8', maxBuffer: 8 * 1024 * 1024 });
  assert.equal(stderr, '');
  // Bold and underline are overstrikes (c BS c); drop them to read the text.
  const text = stdout.replace(new RegExp(`.${String.fromCharCode(8)}`, "gu"), "");
  assert.match(text, /HOIST\(1\)/);
  assert.match(text, /endpoint\S{1,3}s3/u);
  assert.match(text, /EXIT STATUS/);
});

/** What bash offers for `hoist <words…>` with the cursor after the last word. */
async function complete(words: string[]): Promise<string[]> {
  const script = [
    `source ${JSON.stringify(join(REPO, 'packaging/completion/hoist.bash'))}`,
    `COMP_WORDS=(hoist ${words.map((w) => JSON.stringify(w)).join(' ')})`,
    `COMP_CWORD=${words.length}`,
    '_hoist',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const { stdout } = await execFileP('bash', ['--norc', '-c', script], { cwd: REPO, encoding: 'utf8' });
  return stdout.split('\n').filter((l) => l !== '');
}

test('bash completion: every command, each command\'s options, files after a file option', async () => {
  const top = await complete(['']);
  assert.deepEqual(COMMANDS.filter((c) => !top.includes(c)), []);
  assert.deepEqual(await complete(['pu']), ['publish']);
  assert.deepEqual(await complete(['publish', '--endpoint']), ['--endpoint', '--endpoint-s3', '--endpoint-sqs', '--endpoint-sns']);
  assert.ok((await complete(['status', '--'])).includes('--wait'));
  assert.ok((await complete(['publish', '--artifact', 'packa'])).includes('package.json'));
  assert.deepEqual(await complete(['publish', '--app', '']), [], 'no guesses for a free-text value');
});

test('zsh completion: a #compdef file naming every command with its options', async () => {
  const zsh = await readFile(join(REPO, 'packaging/completion/_hoist'), 'utf8');
  assert.match(zsh, /^#compdef hoist\n/);
  for (const c of program.commands.filter((command) => COMMANDS.includes(command.name()))) {
    assert.match(zsh, new RegExp(`^    '${c.name()}:`, 'm'), c.name());
    assert.match(zsh, new RegExp(`^    ${c.name()}\\)$`, 'm'), c.name());
  }
  assert.match(zsh, /'\(-k --key\)'\{-k,--key\}'\[[^\]]+\]:file:_files'/);
});

test('a command with subcommands (hoist trust publish | show): a man page section and completions for each', async () => {
  const page = renderManPage(program, pkg.version);
  assert.match(page, /^\.SS "hoist trust \\fIcommand\\fR"$/m);
  assert.match(page, /^\.SS "hoist trust publish \[\\fIpolicy\\fR\] \[options\]"$/m);
  assert.match(page, /^\.SS "hoist trust show \[options\]"$/m);
  const trust = program.commands.find((c) => c.name() === 'trust');
  for (const sub of trust?.commands ?? []) for (const o of sub.options) assert.ok(page.includes(roff(o.long ?? '')), `trust ${sub.name()} ${o.long ?? ''}`);
  assert.deepEqual(await complete(['trust', '']), ['publish', 'show', '--help']);
  assert.deepEqual(await complete(['trust', 'publish', '--dr']), ['--dry-run']);
  assert.ok((await complete(['trust', 'publish', '--envelope', 'packa'])).includes('package.json'));
  assert.ok((await complete(['trust', 'show', '--'])).includes('--trust'));
  const zsh = await readFile(join(REPO, 'packaging/completion/_hoist'), 'utf8');
  assert.match(zsh, /_values 'trust command' 'publish\[[^\]]+\]' 'show\[[^\]]+\]'/);
  assert.match(zsh, /^ {8}publish\)$/m);
});
