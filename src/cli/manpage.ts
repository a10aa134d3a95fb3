/**
 * The man page, hoist(1), generated from the commander definitions: every command, argument and
 * option as `--help` shows them, so the page cannot drift from the CLI. `scripts/docs.ts` writes
 * packaging/man/hoist.1 and a test fails when the checked-in page differs from a fresh one.
 */
import type { Command, Option } from 'commander';

/** Text for roff: backslashes and hyphens escaped, no line may start with a control character. */
export function roff(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

function argumentText(cmd: Command): string {
  return cmd.registeredArguments.map((a) => (a.required ? `\\fI${roff(a.name())}\\fR` : `[\\fI${roff(a.name())}\\fR]`)).join(' ');
}

/** `\fB\-k\fR, \fB\-\-key\fR \fIfile\fR` */
function optionTerm(option: Option): string {
  const [names = '', value] = option.flags.split(/ (?=[<[])/);
  const bold = names
    .split(/,\s*/)
    .map((n) => `\\fB${roff(n)}\\fR`)
    .join(', ');
  if (value === undefined) return bold;
  const inner = value.slice(1, -1);
  return value.startsWith('[') ? `${bold} [\\fI${roff(inner)}\\fR]` : `${bold} \\fI${roff(inner)}\\fR`;
}

function optionText(option: Option): string {
  const notes: string[] = [];
  if (option.mandatory) notes.push('required');
  if (option.defaultValue !== undefined && option.defaultValue !== false && !(Array.isArray(option.defaultValue) && option.defaultValue.length === 0)) {
    notes.push(`default: ${String(option.defaultValue)}`);
  }
  return roff(`${option.description}${notes.length === 0 ? '' : ` (${notes.join('; ')})`}`);
}

function visibleCommands(cmd: Command): Command[] {
  return cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

/** One section per command; a command with subcommands (`hoist trust publish`) gets one for each. */
function commandSection(cmd: Command, parents: readonly string[] = []): string[] {
  const name = [...parents, cmd.name()].join(' ');
  const subs = visibleCommands(cmd);
  if (subs.length > 0) {
    return [`.SS "hoist ${roff(name)} \\fIcommand\\fR"`, roff(cmd.description()), ...subs.flatMap((sub) => commandSection(sub, [...parents, cmd.name()]))];
  }
  const lines = [`.SS "hoist ${roff(name)}${cmd.registeredArguments.length === 0 ? '' : ` ${argumentText(cmd)}`} [options]"`, roff(cmd.description())];
  for (const a of cmd.registeredArguments) {
    lines.push('.TP', `\\fI${roff(a.name())}\\fR`, roff(a.description === '' ? 'argument' : a.description));
  }
  for (const o of cmd.options) {
    if (o.hidden) continue;
    lines.push('.TP', optionTerm(o), optionText(o));
  }
  return lines;
}

export function renderManPage(program: Command, version: string): string {
  const commands = visibleCommands(program);
  const lines = [
    '.\\" Generated from the commander definitions by `node scripts/docs.ts`; do not edit by hand.',
    `.TH HOIST 1 "" "hoist ${roff(version)}" "User Commands"`,
    '.SH NAME',
    `hoist \\- ${roff(program.description().replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    '.B hoist',
    '.I command',
    '[\\fIoptions\\fR]',
    '.br',
    '.B hoist',
    '.I command',
    '.B \\-\\-help',
    '.SH DESCRIPTION',
    roff(
      'CI packs a build into a reproducible tarball, uploads it to S3 and publishes a signed release manifest for an app and env. ' +
        'hoist agent, a small daemon on every server, learns of it by SQS long poll or S3 polling, verifies its signatures against the trust policy, ' +
        'unpacks the release into its own directory, flips the current symlink, restarts the app, health-checks it and rolls back by itself when the new release is unhealthy. ' +
        'Operators pin, approve and roll back with signed manifests of their own.',
    ),
    '.SH COMMANDS',
    ...commands.flatMap((c) => commandSection(c)),
    '.SH EXIT STATUS',
    '.TP',
    '.B 0',
    'success',
    '.TP',
    '.B 1',
    roff('failure: an envelope does not verify, a deploy failed, an AWS call failed, the fleet has not converged (hoist status)'),
    '.TP',
    '.B 2',
    roff('usage or configuration error: a bad option, an invalid trust file or config, an unusable key'),
    '.TP',
    '.B 130',
    roff('interrupted (Ctrl-C); hoist publish then has published nothing'),
    '.PP',
    roff('Errors are printed as "hoist: CODE: message"; every code is listed in /usr/share/doc/hoist/errors.md.'),
    '.SH ENVIRONMENT',
    '.TP',
    '.B HTTPS_PROXY, HTTP_PROXY, NO_PROXY',
    roff('Proxy for the AWS requests of every command and of the agent (upper or lower case). NO_PROXY entries match the name and every name under it; "*" turns the proxy off. The instance metadata service and health probes never use the proxy.'),
    '.TP',
    '.B AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY',
    roff('The AWS SDK\'s default region and credential chain; --region overrides the region.'),
    '.SH FILES',
    '.TP',
    '.I /etc/hoist/agent.yaml',
    roff('the agent configuration'),
    '.TP',
    '.I /var/lib/hoist',
    roff('the agent state, lock and download cache'),
    '.SH SEE ALSO',
    roff('systemctl(1), journalctl(1); the documentation in /usr/share/doc/hoist (quickstart.md, operations.md, rollouts.md, compliance.md, networking.md, security.md, errors.md).'),
    '',
  ];
  return lines.join('\n');
}
