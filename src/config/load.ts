/**
 * Reads and validates the agent config. Every problem is collected and thrown at once in one
 * HOIST_CONFIG_INVALID, so an operator fixes the file in one pass; the caller exits 2 before
 * touching anything.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { HoistError } from '../errors.ts';
import { formatIssues } from '../util/zod-units.ts';
import { agentConfigSchema } from './schema.ts';
import type { AgentConfig } from './schema.ts';

/** Reads a YAML (or JSON) config file and validates it. */
export async function loadConfigFile(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new HoistError('HOIST_CONFIG_READ', `cannot read config file ${path} (${reason}); check the --config path and its permissions`, {
      cause,
      details: { path },
    });
  }
  return parseConfig(parseYaml(text, path), path);
}

/** Parses YAML text, turning syntax errors into HOIST_CONFIG_READ with line and column. */
export function parseYaml(text: string, source = 'config'): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  const first = doc.errors[0];
  if (first !== undefined) {
    const where = lineCounter.linePos(first.pos[0]);
    const at = ` at line ${where.line}, column ${where.col}`;
    const firstLine = first.message.split('\n')[0] ?? first.message;
    throw new HoistError('HOIST_CONFIG_READ', `${source}: YAML syntax error${at}: ${firstLine}`, {
      cause: first,
      details: { source, line: where.line, column: where.col, errors: doc.errors.map((e) => e.message) },
    });
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

/** Validates an already parsed config; `source` names it in the error message. */
export function parseConfig(raw: unknown, source = 'config'): AgentConfig {
  const result = agentConfigSchema.safeParse(raw ?? {}, { error: friendlyMessage });
  if (result.success) return result.data;
  const issues = formatIssues(result.error);
  throw new HoistError(
    'HOIST_CONFIG_INVALID',
    `${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}; fix each path and start again:\n` +
      issues.map((line) => `  ${line}`).join('\n'),
    { cause: result.error, details: { source, issues } },
  );
}

/** Clearer messages than zod's defaults for the mistakes people make in YAML. */
function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    const path = issue.path ?? [];
    if (path.length === 1 && path[0] === 'trust') {
      return 'required: without a trust policy the agent refuses to start';
    }
    return 'required';
  }
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => `"${key}"`).join(', ');
    return `unknown key${issue.keys.length === 1 ? '' : 's'} ${keys} (check the spelling)`;
  }
  return undefined;
}
