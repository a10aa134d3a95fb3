/**
 * bash and zsh completion, generated from the commander definitions like the man page: the
 * commands, each command's options, file names after options that take a file. Written to
 * packaging/completion/ by `scripts/docs.ts`; a test fails when they drift from the CLI.
 */
import type { Command, Option } from 'commander';

/** Option values that are paths: complete file names after them. */
const FILE_VALUES = new Set(['file', 'dir', 'envelope', 'payload']);

function visible(program: Command): Command[] {
  return program.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

/** The commands that take options: each command, or each subcommand of one that has them (`trust publish`). */
function leaves(commands: readonly Command[]): Command[] {
  return commands.flatMap((c) => (visible(c).length > 0 ? visible(c) : [c]));
}

function names(option: Option): string[] {
  return [option.short, option.long].filter((n): n is string => n !== undefined);
}

function valueName(option: Option): string | undefined {
  return /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
}

function takesFile(option: Option): boolean {
  const v = valueName(option);
  return v !== undefined && FILE_VALUES.has(v);
}

export function renderBashCompletion(program: Command): string {
  const commands = visible(program);
  const fileOptions = [...new Set(leaves(commands).flatMap((c) => c.options.filter(takesFile).flatMap(names)))].sort();
  const valueOptions = [...new Set(leaves(commands).flatMap((c) => c.options.filter((o) => o.required && !takesFile(o)).flatMap(names)))].sort();
  const leaf = (c: Command): string => {
    const opts = [...c.options.filter((o) => !o.hidden).flatMap(names), '--help'];
    const files = c.registeredArguments.length > 0 ? ' files=1;' : '';
    return `opts="${opts.join(' ')}";${files}`;
  };
  const cases = commands.flatMap((c) => {
    const subs = visible(c);
    if (subs.length === 0) return [`    ${c.name()}) ${leaf(c)} ;;`];
    return [
      `    ${c.name()})`,
      `      if [[ \${COMP_CWORD} -eq 2 ]]; then COMPREPLY=( $(compgen -W "${subs.map((sub) => sub.name()).join(' ')} --help" -- "\${cur}") ); return 0; fi`,
      '      case "${COMP_WORDS[2]}" in',
      ...subs.map((sub) => `        ${sub.name()}) ${leaf(sub)} ;;`),
      '      esac ;;',
    ];
  });
  return [
    '# bash completion for hoist. Generated from the commander definitions by `node scripts/docs.ts`; do not edit.',
    '_hoist() {',
    '  local cur prev opts="" files=0',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev="${COMP_WORDS[COMP_CWORD-1]}"',
    `  local commands="${commands.map((c) => c.name()).join(' ')}"`,
    '  if [[ ${COMP_CWORD} -eq 1 ]]; then',
    '    COMPREPLY=( $(compgen -W "${commands} --help --version" -- "${cur}") )',
    '    return 0',
    '  fi',
    '  case "${prev}" in',
    `    ${fileOptions.join('|')})`,
    '      COMPREPLY=( $(compgen -f -- "${cur}") )',
    '      return 0 ;;',
    `    ${valueOptions.join('|')})`,
    '      COMPREPLY=()',
    '      return 0 ;;',
    '  esac',
    '  case "${COMP_WORDS[1]}" in',
    ...cases,
    '  esac',
    '  if [[ "${cur}" == -* || ${files} -eq 0 ]]; then',
    '    COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )',
    '  else',
    '    COMPREPLY=( $(compgen -f -- "${cur}") )',
    '  fi',
    '  return 0',
    '}',
    'complete -F _hoist hoist',
    '',
  ].join('\n');
}

/** A description fit for a zsh spec: no quotes, brackets or colons to break it. */
function zshText(text: string): string {
  return text.replace(/['`]/g, '').replace(/[[\]]/g, '').replace(/:/g, ' -').replace(/\s+/g, ' ').trim();
}

function zshSpec(option: Option): string {
  const ns = names(option);
  const desc = zshText(option.description);
  const v = valueName(option);
  const action = v === undefined ? '' : `:${v}:${takesFile(option) ? '_files' : ' '}`;
  const repeat = option.variadic || Array.isArray(option.defaultValue) ? '*' : '';
  if (ns.length === 1) return `'${repeat}${ns[0] ?? ''}[${desc}]${action}'`;
  return `'${repeat === '' ? `(${ns.join(' ')})` : repeat}'{${ns.join(',')}}'[${desc}]${action}'`;
}

function zshArguments(c: Command, indent: string): string[] {
  const specs = [...c.options.filter((o) => !o.hidden).map(zshSpec), "'--help[show help]'", ...(c.registeredArguments.length > 0 ? ["'*:file:_files'"] : [])];
  return [`${indent}_arguments -s \\`, ...specs.map((s, i) => `${indent}  ${s}${i === specs.length - 1 ? '' : ' \\'}`)];
}

export function renderZshCompletion(program: Command): string {
  const commands = visible(program);
  const cases = commands.flatMap((c) => {
    const subs = visible(c);
    if (subs.length === 0) return [`    ${c.name()})`, ...zshArguments(c, '      '), '      ;;'];
    return [
      `    ${c.name()})`,
      '      if (( CURRENT == 2 )); then',
      `        _values '${c.name()} command' ${subs.map((sub) => `'${sub.name()}[${zshText(sub.description())}]'`).join(' ')}`,
      '        return',
      '      fi',
      '      local sub=${words[2]}',
      '      shift words',
      '      (( CURRENT-- ))',
      '      case ${sub} in',
      ...subs.flatMap((sub) => [`        ${sub.name()})`, ...zshArguments(sub, '          '), '          ;;']),
      '      esac',
      '      ;;',
    ];
  });
  return [
    '#compdef hoist',
    '# zsh completion for hoist. Generated from the commander definitions by `node scripts/docs.ts`; do not edit.',
    '_hoist() {',
    '  local -a commands',
    '  commands=(',
    ...commands.map((c) => `    '${c.name()}:${zshText(c.description())}'`),
    '  )',
    '  if (( CURRENT == 2 )); then',
    "    _describe -t commands 'hoist command' commands",
    '    return',
    '  fi',
    '  local cmd=${words[2]}',
    '  shift words',
    '  (( CURRENT-- ))',
    '  case ${cmd} in',
    ...cases,
    '  esac',
    '}',
    '_hoist "$@"',
    '',
  ].join('\n');
}
