/**
 * Generates docs/configuration.md by walking the zod schema: every field's path, type, default
 * and description. A test compares the committed page with this output so the two cannot drift.
 */
import { z } from 'zod';
import { formatDuration } from '../util/units.ts';
import { NAMED_MAP_VALUES, zDuration, zSize } from '../util/zod-units.ts';
import { EXAMPLE_CONFIG_YAML } from './example.ts';
import { zAbsolutePath, zCron,
  zPoll, zHostPort, zHttpUrl, zName, zRelativePath } from './fields.ts';
import { agentConfigSchema } from './schema.ts';

interface Row {
  readonly path: string;
  readonly type: string;
  /** Markdown for the default column: a value, "required" or "—". */
  readonly default: string;
  readonly description: string;
}

/** The zod internals the walker reads; kept loose on purpose, zod's own types are deep generics. */
interface Def {
  readonly type: string;
  readonly [key: string]: unknown;
}

// Shared field types are recognised by their def, which `.describe()` clones keep.
const NAMED_TYPES = new Map<unknown, string>([
  [zDuration._zod.def, 'duration'],
  [zSize._zod.def, 'size'],
  [zCron._zod.def, 'cron expression'],
  [zPoll._zod.def, 'cron expression or "off"'],
  [zAbsolutePath._zod.def, 'absolute path'],
  [zRelativePath._zod.def, 'relative path'],
  [zHostPort._zod.def, '"host:port"'],
  [zHttpUrl._zod.def, 'URL'],
  [zName._zod.def, 'name'],
]);

/**
 * The trust block's schema lives with the trust module and carries no descriptions; these fill in
 * for it, keyed by the path below `trust` (or an app's `trust`).
 */
const TRUST_DESCRIPTIONS: Record<string, string> = {
  keys: 'Trusted public keys by name (the name is for humans; key ids are computed from the keys).',
  'keys.<name>': 'Path of a PEM (SPKI) Ed25519 public key file, or the PEM text itself.',
  roles: 'Which keys may sign each kind of manifest, and how many must.',
  'roles.release': 'Signers of release manifests (CI, approvers).',
  'roles.release.keys': 'Names of keys (under trust.keys) trusted for the role.',
  'roles.release.threshold': 'Distinct trusted keys that must have signed.',
  'roles.pin': 'Signers of pin and unpin manifests (operators).',
  'roles.pin.keys': 'Names of keys (under trust.keys) trusted for the role.',
  'roles.pin.threshold': 'Distinct trusted keys that must have signed.',
  maxValidity: 'Reject manifests whose expiresAt − issuedAt is longer than this.',
  clockSkew: 'How far in the future issuedAt may be (clock differences between hosts).',
};

export function renderConfigReference(): string {
  const rows = walk(agentConfigSchema, '', 'required');
  const topLevel = rows.filter((row) => !row.path.includes('.') && !row.path.includes('[') && isScalar(row));
  const sections = new Map<string, Row[]>();
  for (const row of rows) {
    if (topLevel.includes(row)) continue;
    const head = /^[^.[]+/.exec(row.path)?.[0] ?? row.path;
    sections.set(head, [...(sections.get(head) ?? []), row]);
  }
  const out: string[] = [
    '<!-- Generated from src/config/schema.ts by renderConfigReference(); do not edit by hand. -->',
    '',
    '# Agent configuration',
    '',
    '`hoist agent --config /etc/hoist/agent.yaml` reads one YAML (or JSON) file. Every problem in it is',
    'reported at once, each with its path (`apps[0].health.timeout: expected a duration like "2s"`), and',
    'the agent exits 2 before touching anything. Unknown keys are errors, so typos are caught.',
    '`SIGHUP` reloads the file; an invalid new file is logged and the old configuration kept.',
    '',
    'Durations are written `200ms`, `2s`, `5m`, `1h`, `30d`; sizes `64KiB`, `4GiB`, `10MB` or a plain',
    'number of bytes. Cron expressions are [node-cron](https://github.com/node-cron/node-cron) syntax:',
    'five fields, or six with seconds first.',
    '',
    '## Example',
    '',
    '```yaml',
    EXAMPLE_CONFIG_YAML.trimEnd(),
    '```',
    '',
    '## Top level',
    '',
    ...table(topLevel),
  ];
  for (const [head, sectionRows] of sections) {
    out.push('', `## ${head}`, '', ...table(sectionRows));
  }
  return `${out.join('\n')}\n`;
}

function table(rows: readonly Row[]): string[] {
  return [
    '| Path | Type | Default | Description |',
    '|---|---|---|---|',
    ...rows.map((row) => `| \`${row.path}\` | ${cell(row.type)} | ${row.default} | ${cell(row.description)} |`),
  ];
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function isScalar(row: Row): boolean {
  return row.type !== 'object' && !row.type.startsWith('list of objects');
}

/** Rows for `schema` at `path` and everything below it. */
function walk(schema: z.ZodType, path: string, presence: string): Row[] {
  let node: z.ZodType = schema;
  let description = descriptionOf(node);
  let defaultText = presence;
  let nullable = false;
  // Peel wrappers, keeping the outermost description and the default.
  for (let depth = 0; depth < 10; depth++) {
    const def = defOf(node);
    if (def.type === 'optional') {
      if (defaultText === presence) defaultText = '—';
    } else if (def.type === 'default' || def.type === 'prefault') {
      defaultText = formatDefault(def.defaultValue, def.innerType as z.ZodType);
    } else if (def.type === 'nullable') {
      nullable = true;
    } else if (objectBehindTransform(node) !== undefined) {
      // an object whose transform fills in defaults that depend on other fields: its input is documented
      node = objectBehindTransform(node) ?? node;
      description ||= descriptionOf(node);
      continue;
    } else {
      break;
    }
    node = def.innerType as z.ZodType;
    description ||= descriptionOf(node);
  }
  // a default that depends on other fields, said in words (.meta({ defaultText }))
  const defaultWords = z.globalRegistry.get(schema)?.['defaultText'];
  if (typeof defaultWords === 'string') defaultText = defaultWords;
  if (path.startsWith('trust') || path.includes('.trust')) {
    const below = path.replace(/^(.*\.)?trust\.?/, '');
    description ||= TRUST_DESCRIPTIONS[below] ?? '';
  }
  const def = defOf(node);
  const type = typeName(node) + (nullable ? ' or null' : '');
  const rows: Row[] = path === '' ? [] : [{ path, type, default: defaultText, description }];
  if (def.type === 'object') {
    for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) {
      rows.push(...walk(child, path === '' ? key : `${path}.${key}`, 'required'));
    }
  } else if (def.type === 'array' && isObjectSchema(def.element as z.ZodType)) {
    for (const row of walk(def.element as z.ZodType, `${path}[]`, 'required')) {
      if (row.path !== `${path}[]`) rows.push(row);
    }
  } else if (def.type === 'record') {
    rows.push(...walk(def.valueType as z.ZodType, `${path}.<name>`, 'required'));
  } else if (NAMED_MAP_VALUES.has(node)) {
    rows.push(...walk(NAMED_MAP_VALUES.get(node) as z.ZodType, `${path}.<name>`, 'required'));
  }
  return rows;
}

function typeName(node: z.ZodType): string {
  const mapValue = NAMED_MAP_VALUES.get(node);
  if (mapValue !== undefined) return 'map of name → ' + typeName(mapValue);
  const def = defOf(node);
  const named = NAMED_TYPES.get(def);
  if (named !== undefined) return named;
  switch (def.type) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number': {
      const base = def.format === 'safeint' ? 'integer' : 'number';
      const range = ((def.checks ?? []) as z.ZodType[]).map((check) => boundText(defOf(check))).filter((t) => t !== '');
      return range.length === 0 ? base : `${base} ${range.join(', ')}`;
    }
    case 'enum':
      return `one of ${Object.values(def.entries as Record<string, string>).map((v) => `\`${v}\``).join(', ')}`;
    case 'object':
      return 'object';
    case 'record':
      return 'map of name → ' + typeName(def.valueType as z.ZodType);
    case 'array': {
      const element = def.element as z.ZodType;
      return isObjectSchema(element) ? 'list of objects' : `list of ${typeName(element)}`;
    }
    case 'pipe':
      return typeName(def.in as z.ZodType);
    default:
      return def.type;
  }
}

function boundText(check: Def): string {
  if (check.check === 'greater_than') return `${check.inclusive === true ? '≥' : '>'} ${String(check.value)}`;
  if (check.check === 'less_than') return `${check.inclusive === true ? '≤' : '<'} ${String(check.value)}`;
  return '';
}

function formatDefault(value: unknown, inner: z.ZodType): string {
  // Durations defaulted in milliseconds (trust.clockSkew) read better the way they are written.
  if (typeof value === 'number' && NAMED_TYPES.get(defOf(inner)) === 'duration') return `\`"${formatDuration(value)}"\``;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return '(see fields)';
  return `\`${JSON.stringify(value)}\``;
}

/** The object schema of `object.transform(...)`, else undefined. */
function objectBehindTransform(node: z.ZodType): z.ZodType | undefined {
  const def = defOf(node);
  if (def.type !== 'pipe') return undefined;
  const input = def.in as z.ZodType;
  return defOf(input).type === 'object' && defOf(def.out as z.ZodType).type === 'transform' ? input : undefined;
}

function isObjectSchema(node: z.ZodType): boolean {
  return defOf(objectBehindTransform(node) ?? node).type === 'object';
}

function descriptionOf(node: z.ZodType): string {
  return z.globalRegistry.get(node)?.description ?? '';
}

function defOf(node: z.ZodType): Def {
  return node._zod.def as unknown as Def;
}
