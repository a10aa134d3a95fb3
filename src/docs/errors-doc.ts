/** Renders docs/errors.md from ERROR_CATALOGUE, so the page cannot drift from the code. */
import { ERROR_CATALOGUE, type ErrorInfo } from '../errors.ts';

export function renderErrorsDoc(): string {
  const entries = Object.entries(ERROR_CATALOGUE) as Array<[string, ErrorInfo]>;
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from src/errors.ts by `npx node scripts/docs.ts`; do not edit by hand. -->',
    '',
    'Every failure hoist reports carries a stable code: the CLI prints `hoist: <CODE>: <message>`,',
    'the agent logs it as `code`, and status reports carry it in `lastAttempt.code`. Match on the code,',
    'never on the message.',
    '',
    'Exit status of a CLI command that ends with the error: `2` for usage and configuration errors,',
    '`130` when it was interrupted (Ctrl-C), `1` for everything else (`0` is success).',
    '',
    '| Code | Meaning | What to do | Exit |',
    '|---|---|---|---|',
    ...entries.map(([code, info]) => `| \`${code}\` | ${cell(info.meaning)} | ${cell(info.action)} | ${info.exit} |`),
    '',
  ];
  return lines.join('\n');
}

/** Markdown table cells cannot hold a raw `|` or a newline. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
