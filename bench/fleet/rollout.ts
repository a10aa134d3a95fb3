/**
 * The rollout phases of the fleet simulation (bench/fleet/sim.ts), on the fleet it started:
 *
 *  1. steps: a healthy release with `steps` 5 % -> 25 % -> 100 % (one gap apart, default spreads):
 *     at each step, the hosts that have started it are exactly the cohorts of the steps so far
 *     (src/rollout/schedule.ts predicts them), and how long after its due time each step is done;
 *  2. halt: a broken release (it fails its health check on every host) with the same steps and
 *     `maxFailures: 3`: the hosts that touched it against the hosts eligible before the third
 *     failure was written (those in flight), the time from the first failure to the limit, to the
 *     last start and to the first halted host, and that every other host halts;
 *  3. fix: a healthy release at 100 % brings every host back, the halted ones included.
 *
 * S3 requests per host are counted by the proxy for phases 1 and 2, by method and key kind.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { setTimeout as delay } from 'node:timers/promises';
import { listKeys } from '../../src/aws/object-store.ts';
import { cohortValue, placement, scheduleOf, type PlannedStep } from '../../src/rollout/schedule.ts';
import type { CountedRequest } from './counting-proxy.ts';
import { figure, until, type Figure } from './figures.ts';
import type { HostView } from './sim.ts';

export interface RolloutContext {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly ids: readonly string[];
  readonly view: ReadonlyMap<string, HostView>;
  /** host id -> artifact sha256 -> when its deploy began */
  readonly started: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly proxyLog: readonly CountedRequest[];
  publish(version: string, artifact: Record<string, unknown>, rollout: number | Record<string, unknown>): Promise<Record<string, unknown>>;
  artifact(version: string, broken?: boolean): Promise<Record<string, unknown>>;
  on(sha: unknown): (id: string) => boolean;
  /** A poll period plus its jitter: by then every host has read a new manifest. */
  readonly periodMs: number;
  readonly stepGapMs: number;
  say(line: string): void;
}

export interface StepResult {
  readonly step: number;
  readonly percent: number;
  readonly predicted: readonly string[];
  readonly reached: readonly string[];
  readonly mismatched: number;
  /** From the step's due time until its last host ran the release healthy. */
  readonly doneAfterDueMs: number;
  /** How long before the next step was due its hosts were all done (negative: after). */
  readonly marginMs: number | null;
}

export interface HaltResult {
  readonly step1: number;
  readonly touched: readonly string[];
  /** Hosts eligible before the limit-reaching failure was written: at most these can touch it. */
  readonly predicted: number;
  readonly halted: readonly string[];
  /** Hosts neither halted nor done with it when the phase ended. */
  readonly stuck: readonly string[];
  readonly firstFailureAt: number | null;
  readonly limitAt: number | null;
  readonly lastStartAt: number | null;
  readonly firstHaltedAt: number | null;
}

export interface RolloutResult {
  readonly steps: readonly StepResult[];
  readonly halt: HaltResult;
  readonly fixConverged: boolean;
  readonly requests: { readonly steps: Record<string, number>; readonly halt: Record<string, number> };
  readonly figures: Figure[];
  /** Every step reached exactly its cohort, the halt held within its bound, the fix converged. */
  readonly ok: boolean;
}

const MAX_FAILURES = 3;

/** Requests since `mark` by method and key kind; the idle polls (conditional GETs answered 304) apart. */
function requestsSince(log: readonly CountedRequest[], mark: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of log.slice(mark)) {
    const k = `${r.method} ${r.kind}${r.status === 304 ? ' 304' : ''}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const isPoll = (k: string): boolean => k.endsWith(' 304');

const total = (r: Record<string, number>): number => Object.values(r).reduce((s, x) => s + x, 0);

export async function runRolloutPhases(ctx: RolloutContext): Promise<RolloutResult> {
  const n = ctx.ids.length;
  const gap = `${Math.round(ctx.stepGapMs / 1000)}s`;
  const gap2 = `${Math.round((2 * ctx.stepGapMs) / 1000)}s`;
  const stepsOf = (startAt: number): Record<string, unknown> => ({
    startAt: new Date(startAt).toISOString(),
    steps: [
      { percent: 5, after: '0s' },
      { percent: 25, after: gap },
      { percent: 100, after: gap2 },
    ],
  });
  const placeOf = (schedule: ReturnType<typeof scheduleOf>, id: string): { step: PlannedStep; eligibleAt: number } => {
    const p = placement(schedule, cohortValue(id, 'web', 'prod'), 0);
    if (p.kind === 'outside') throw new Error(`${id} is outside a 100 % schedule`);
    return p;
  };
  const startedAt = (id: string, sha: unknown): number | undefined => ctx.started.get(id)?.get(String(sha));

  // --- 1. steps ---
  const v4 = await ctx.artifact('4.0.0');
  const rolloutA = stepsOf(Date.now() + ctx.periodMs + 3_000);
  const markA = ctx.proxyLog.length;
  const m4 = await ctx.publish('4.0.0', v4, rolloutA);
  const scheduleA = scheduleOf(rolloutA, Date.parse(String(m4.issuedAt)));
  const steps: StepResult[] = [];
  for (const step of scheduleA.steps) {
    const predicted = ctx.ids.filter((id) => placeOf(scheduleA, id).step.index <= step.index);
    const band = predicted.filter((id) => placeOf(scheduleA, id).step.index === step.index);
    const deadline = Math.max(0, step.dueAt + step.spreadMs - Date.now()) + 120_000 + n * 200;
    await until(() => predicted.every(ctx.on(v4.sha256)), deadline);
    const now = Date.now();
    const reached = ctx.ids.filter((id) => startedAt(id, v4.sha256) !== undefined);
    const mismatched = reached.filter((id) => !predicted.includes(id)).length + predicted.filter((id) => !reached.includes(id)).length;
    const lastDone = Math.max(step.dueAt, ...band.map((id) => ctx.view.get(id)?.at ?? now));
    const next = scheduleA.steps[step.index + 1];
    steps.push({ step: step.index + 1, percent: step.percent, predicted, reached, mismatched, doneAfterDueMs: lastDone - step.dueAt, marginMs: next === undefined ? null : next.dueAt - now });
    ctx.say(`steps: step ${step.index + 1} (${step.percent} %): predicted ${predicted.length} hosts, reached ${reached.length}, mismatched ${mismatched}; done ${((lastDone - step.dueAt) / 1000).toFixed(1)} s after it was due`);
  }
  const stepsOk = ctx.ids.every(ctx.on(v4.sha256));
  await delay(ctx.periodMs); // the last events and reports
  const requestsA = requestsSince(ctx.proxyLog, markA);

  // --- 2. a broken release halts ---
  const v5 = await ctx.artifact('5.0.0', true);
  const rolloutB = { ...stepsOf(Date.now() + ctx.periodMs + 3_000), halt: { maxFailures: MAX_FAILURES } };
  const markB = ctx.proxyLog.length;
  const m5 = await ctx.publish('5.0.0', v5, rolloutB);
  const sequence = Number(m5.sequence);
  const scheduleB = scheduleOf(rolloutB, Date.parse(String(m5.issuedAt)));
  const step1 = ctx.ids.filter((id) => placeOf(scheduleB, id).step.index === 0);
  const last = scheduleB.steps.at(-1);
  const finished = (id: string): boolean => {
    const v = ctx.view.get(id);
    if (v === undefined) return false;
    if (v.halted === sequence && v.state === 'halted') return true;
    return startedAt(id, v5.sha256) !== undefined && v.settled && v.state !== 'deploying';
  };
  await until(() => ctx.ids.every(finished), Math.max(0, (last?.dueAt ?? Date.now()) - Date.now()) + 180_000 + n * 200);
  await delay(ctx.periodMs);
  const requestsB = requestsSince(ctx.proxyLog, markB);
  const events = await readEvents(ctx.s3, ctx.bucket, sequence);
  const failures = [...(events.get('rolled-back') ?? []), ...(events.get('failed') ?? [])];
  const failureTimes = (await Promise.all(failures.map((f) => eventTime(ctx.s3, ctx.bucket, f.key)))).sort((a, b) => a - b);
  const firstFailureAt = failureTimes[0] ?? null;
  const limitAt = failureTimes[MAX_FAILURES - 1] ?? null;
  const touched = ctx.ids.filter((id) => startedAt(id, v5.sha256) !== undefined);
  const starts = touched.map((id) => startedAt(id, v5.sha256) ?? 0);
  const predicted = limitAt === null ? n : ctx.ids.filter((id) => placeOf(scheduleB, id).eligibleAt <= limitAt).length;
  const haltedEvents = events.get('halted') ?? [];
  const halted = haltedEvents.map((e) => e.host).sort();
  const firstHaltedAt = haltedEvents.length === 0 ? null : Math.min(...haltedEvents.map((e) => e.at ?? Number.POSITIVE_INFINITY));
  const stuck = ctx.ids.filter((id) => !finished(id));
  const halt: HaltResult = { step1: step1.length, touched, predicted, halted, stuck, firstFailureAt, limitAt, lastStartAt: starts.length === 0 ? null : Math.max(...starts), firstHaltedAt };
  const sinceFirst = (t: number | null): number => (t === null || firstFailureAt === null ? Number.NaN : (t - firstFailureAt) / 1000);
  ctx.say(`requests during the steps: ${JSON.stringify(requestsA)}; during the halt: ${JSON.stringify(requestsB)}`);
  ctx.say(`halt: ${touched.length} hosts touched 5.0.0 (step 1 has ${step1.length}; ${predicted} were eligible before the limit was reached), ${halted.length} halted, ${stuck.length} neither; limit ${sinceFirst(limitAt).toFixed(1)} s after the first failure, last start ${sinceFirst(halt.lastStartAt).toFixed(1)} s, first halted host ${sinceFirst(firstHaltedAt).toFixed(1)} s`);

  // --- 3. the fix ---
  const v6 = await ctx.artifact('6.0.0');
  const fixAt = Date.now();
  await ctx.publish('6.0.0', v6, 100);
  const fixConverged = await until(() => ctx.ids.every(ctx.on(v6.sha256)), 180_000 + n * 500);
  const fixS = (Math.max(...ctx.ids.map((id) => ctx.view.get(id)?.at ?? Date.now())) - fixAt) / 1000;
  ctx.say(`fix: ${ctx.ids.filter(ctx.on(v6.sha256)).length}/${n} on 6.0.0 after ${fixS.toFixed(1)} s`);

  const per = (r: Record<string, number>, pred: (k: string) => boolean = () => true): number => Object.entries(r).filter(([k]) => pred(k)).reduce((s, [, x]) => s + x, 0) / n;
  const figures: Figure[] = [
    ...steps.flatMap((s) => [
      figure(`fleet.steps_step${s.step}_reached`, s.reached.length, 'hosts', s.predicted.length),
      figure(`fleet.steps_step${s.step}_done_after_due`, s.doneAfterDueMs / 1000, 's', null),
    ]),
    figure('fleet.steps_mismatched', steps.reduce((x, s) => x + s.mismatched, 0), 'hosts', 0),
    figure('fleet.steps_requests_per_host', total(requestsA) / n, 'requests', null),
    figure('fleet.steps_requests_per_host_besides_polls', per(requestsA, (k) => !isPoll(k)), 'requests', null),
    figure('fleet.steps_event_puts_per_host', per(requestsA, (k) => k === 'PUT events'), 'requests', 1),
    figure('fleet.steps_lists_per_host', per(requestsA, (k) => k.startsWith('LIST ')), 'requests', 0),
    figure('fleet.halt_step1_hosts', step1.length, 'hosts', null),
    figure('fleet.halt_hosts_touched', touched.length, 'hosts', predicted),
    figure('fleet.halt_limit_after_first_failure', sinceFirst(limitAt), 's', null),
    figure('fleet.halt_last_start_after_first_failure', sinceFirst(halt.lastStartAt), 's', null),
    figure('fleet.halt_first_halted_after_first_failure', sinceFirst(firstHaltedAt), 's', null),
    figure('fleet.halt_hosts_halted', halted.length, 'hosts', n - touched.length),
    figure('fleet.halt_requests_per_host', total(requestsB) / n, 'requests', null),
    figure('fleet.halt_requests_per_host_besides_polls', per(requestsB, (k) => !isPoll(k)), 'requests', null),
    figure('fleet.halt_lists_per_host', per(requestsB, (k) => k.startsWith('LIST ')), 'requests', 2),
    figure('fleet.fix_converge_100', fixS, 's', null),
  ];
  const ok = stepsOk && steps.every((s) => s.mismatched === 0) && touched.length <= predicted && touched.length >= MAX_FAILURES && stuck.length === 0 && halted.length === n - touched.length && fixConverged;
  return { steps, halt, fixConverged, requests: { steps: requestsA, halt: requestsB }, figures, ok };
}

/** outcome -> the events of one sequence (host, key, S3's LastModified). */
async function readEvents(s3: S3Client, bucket: string, sequence: number): Promise<Map<string, Array<{ host: string; key: string; at: number | null }>>> {
  const prefix = `events/web/prod/${sequence}/`;
  const out = new Map<string, Array<{ host: string; key: string; at: number | null }>>();
  for await (const item of listKeys(s3, { bucket, prefix })) {
    const [outcome, file] = item.key.slice(prefix.length).split('/');
    if (outcome === undefined || file === undefined) continue;
    out.set(outcome, [...(out.get(outcome) ?? []), { host: file.replace(/\.json$/, ''), key: item.key, at: item.lastModified?.getTime() ?? null }]);
  }
  return out;
}

/** The `at` an event carries (the host's clock, in ms: finer than LastModified). */
async function eventTime(s3: S3Client, bucket: string, key: string): Promise<number> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = JSON.parse((await out.Body?.transformToString()) ?? '{}') as { at?: string };
  return Date.parse(body.at ?? '');
}
