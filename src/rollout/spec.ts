/**
 * The rollout options of the commands that write a release (`publish`, `promote`), parsed into
 * the manifest's `rollout` object, pure: `--rollout 25`, or `--steps 5:0s,25:30m,100:2h` (each
 * step `PERCENT:AFTER[:SPREAD]`) with `--start-at TIME` (an ISO time, or `+2h` from now), and
 * `--max-failures 3` or `5%`. Only what is given is written, so a manifest that uses none of the
 * newer fields is accepted by older agents too.
 */
import { HoistError } from '../errors.ts';
import { rolloutSchema } from '../manifest/schema.ts';
import { parseMaxFailures } from './halt.ts';
import { parseDuration } from '../util/units.ts';

export interface RolloutStepSpec {
  readonly percent: number;
  readonly after: string;
  readonly spread?: string | undefined;
}

export interface RolloutSpecInput {
  readonly percent?: number | undefined;
  readonly steps?: readonly RolloutStepSpec[] | undefined;
  readonly startAt?: string | undefined;
  readonly halt?: { readonly maxFailures: number | string } | undefined;
}

function usage(message: string): never {
  throw new HoistError('HOIST_USAGE', message);
}

/** `5:0s,25:30m,100:2h` (a step may add `:SPREAD`, e.g. `25:30m:10m`). */
export function parseStepsOption(text: string): RolloutStepSpec[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) usage(`--steps ${JSON.stringify(text)} lists an empty step; write steps like "5:0s,25:30m,100:2h"`);
  return parts.map((part) => {
    const fields = part.split(':');
    const [percentText = '', after = '', spread] = fields;
    const percent = Number(percentText.replace(/%$/, ''));
    if (fields.length < 2 || fields.length > 3 || percentText.trim() === '' || !Number.isFinite(percent)) {
      usage(`--steps: "${part}" is not PERCENT:AFTER[:SPREAD]; write steps like "5:0s,25:30m,100:2h"`);
    }
    if (parseDuration(after) === undefined) usage(`--steps: "${part}": ${JSON.stringify(after)} is not a duration like "0s", "30m" or "2h"`);
    if (spread !== undefined && parseDuration(spread) === undefined) usage(`--steps: "${part}": the spread ${JSON.stringify(spread)} is not a duration like "10m"`);
    return { percent, after, ...(spread === undefined ? {} : { spread }) };
  });
}

/** An ISO time with an offset (`2026-12-01T08:00:00Z`), or `+DURATION` from now. */
export function parseStartAt(text: string, now: Date): string {
  if (text.startsWith('+')) {
    const ms = parseDuration(text.slice(1));
    if (ms === undefined) usage(`--start-at ${JSON.stringify(text)}: "+" must be followed by a duration like "2h"`);
    return new Date(now.getTime() + ms).toISOString();
  }
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text) || !Number.isFinite(Date.parse(text))) {
    usage(`--start-at ${JSON.stringify(text)} is not a time; give an ISO time with its offset ("2026-12-01T08:00:00Z") or "+2h" from now`);
  }
  return new Date(Date.parse(text)).toISOString();
}

/** `3` (hosts) or `5%` (of the hosts due so far). */
export function parseMaxFailuresOption(text: string): number | string {
  const value = /^\d+$/.test(text) ? Number(text) : text;
  if (parseMaxFailures(value) === undefined) usage(`--max-failures ${JSON.stringify(text)} is neither a count (like 3) nor a share of the hosts due so far (like 5%)`);
  return value;
}

export interface RolloutOptionValues {
  readonly rollout?: string | undefined;
  readonly steps?: string | undefined;
  readonly startAt?: string | undefined;
  readonly maxFailures?: string | undefined;
}

/** The manifest's `rollout` from the options; undefined when none is given (100 %). */
export function rolloutFromOptions(opts: RolloutOptionValues, now: Date): RolloutSpecInput | undefined {
  if (opts.rollout !== undefined && opts.steps !== undefined) usage('give either --rollout or --steps: a schedule of steps replaces the single percentage');
  if (opts.startAt !== undefined && opts.steps === undefined) usage('--start-at schedules --steps; give --steps too');
  const halt = opts.maxFailures === undefined ? undefined : { maxFailures: parseMaxFailuresOption(opts.maxFailures) };
  let percent: number | undefined;
  if (opts.rollout !== undefined) {
    percent = Number(opts.rollout.replace(/%$/, ''));
    if (opts.rollout.trim() === '' || !Number.isFinite(percent) || percent < 0 || percent > 100) usage(`--rollout ${JSON.stringify(opts.rollout)} is not a percentage; give a number from 0 to 100`);
  }
  const steps = opts.steps === undefined ? undefined : parseStepsOption(opts.steps);
  if (percent === undefined && steps === undefined && halt === undefined) return undefined;
  const rollout: RolloutSpecInput = {
    ...(steps === undefined ? { percent: percent ?? 100 } : { steps }),
    ...(opts.startAt === undefined ? {} : { startAt: parseStartAt(opts.startAt, now) }),
    ...(halt === undefined ? {} : { halt }),
  };
  // Checked as the agents will check it, now, before a large artifact is read through.
  const checked = rolloutSchema.safeParse(rollout);
  if (!checked.success) {
    const issues = checked.error.issues.map((i) => `${optionOf(i.path)}${stepOf(i.path)}: ${i.message}`);
    usage(`the rollout is invalid: ${issues.join('; ')}`);
  }
  return rollout;
}

/** `, step 2 after` for an issue inside the second step. */
function stepOf(path: readonly PropertyKey[]): string {
  const [first, index, field] = path;
  return first === 'steps' && typeof index === 'number' ? `, step ${index + 1}${field === undefined ? '' : ` ${String(field)}`}` : '';
}

/** The option an issue of the rollout object comes from. */
function optionOf(path: readonly PropertyKey[]): string {
  const [first] = path;
  return first === 'steps' ? '--steps' : first === 'startAt' ? '--start-at' : first === 'halt' ? '--max-failures' : '--rollout';
}

/** `5% now, 25% at +30m, 100% at +2h` for the command output. */
export function describeRollout(rollout: RolloutSpecInput | undefined): string {
  const max = rollout?.halt?.maxFailures;
  const halt = max === undefined ? '' : typeof max === 'number' ? `, halts at ${max} failed host${max === 1 ? '' : 's'}` : `, halts once ${max} of the hosts due have failed`;
  if (rollout?.steps === undefined) return `${rollout?.percent ?? 100}%${halt}`;
  const from = rollout.startAt === undefined ? 'issue' : rollout.startAt;
  return `${rollout.steps.map((s) => `${s.percent}% at +${s.after}${s.spread === undefined ? '' : ` (spread ${s.spread})`}`).join(', ')} from ${from}${halt}`;
}
