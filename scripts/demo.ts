/**
 * `npm run demo`: hoist end to end on this machine, no AWS account needed.
 *
 * fauxqs plays S3, SQS and SNS on a loopback port; three hosts (host-a, host-b, host-c) each run
 * a real `hoist agent` with its own app root, state, app port and SQS queue subscribed to one SNS
 * topic. The demo publishes v1, then v2 (every host flips), then a broken v3 in rollout steps with
 * a failure limit of one (the 1 % canary, host-b, rolls back to v2 by itself; when their step comes
 * host-a and host-c halt instead of trying it), then pins host-b to v1, printing the fleet status
 * after each step (and `hoist rollout status` after the halt). It
 * waits for each step by polling the status reports (bounded), exits 1 if a step does not
 * converge, and removes everything it started, even on failure or Ctrl-C.
 *
 * At the start it prints the `hoist dashboard` command for its bucket: run it in another terminal
 * to watch the hosts deploy, roll back and get pinned, live. `npm run demo -- --keep` leaves the
 * fleet running after the last step, until Ctrl-C, to look around at leisure.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { s3Keys } from '../src/aws/keys.ts';
import { fetchReports } from '../src/fleet/fetch.ts';
import { renderFleetText, summarizeFleet } from '../src/fleet/summary.ts';
import { renderTable } from '../src/cli/table.ts';
import type { StatusReport } from '../src/report/status.ts';
import { createFleet, HOIST_BIN, type AgentHandle, type Fleet } from './demo/fleet.ts';

const STEP_TIMEOUT_MS = 30_000;
const HOSTS = ['host-a', 'host-b', 'host-c'] as const;
const KEEP = process.argv.includes('--keep');

type Expectation = Record<string, (r: StatusReport) => boolean>;

function header(text: string): void {
  process.stdout.write(`\n=== ${text} ${'='.repeat(Math.max(3, 70 - text.length))}\n`);
}

/** Relative to where the demo runs when that is shorter (the Node that runs it, the entry point). */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function main(): Promise<number> {
  const started = performance.now();
  let fleet: Fleet | undefined;
  let agents: AgentHandle[] = [];
  // One handler for the whole run: a second Ctrl-C while cleaning up (impatience, or a wrapper
  // that passes the signal on to the process group as well) must not leave agents and apps behind.
  let cleaning = false;
  let stopKept: (() => void) | undefined;
  const onSignal = (): void => {
    if (cleaning) {
      say('still cleaning up: stopping the agents and apps');
      return;
    }
    cleaning = true;
    if (stopKept !== undefined) {
      stopKept();
      return;
    }
    say('\ninterrupted; cleaning up');
    void (fleet?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    header('setup: fauxqs, keys, one SNS topic, one SQS queue per host, three agents');
    fleet = await createFleet({ hostIds: HOSTS });
    const f = fleet;
    say(`fauxqs on ${f.endpoint}; bucket ${f.bucket}; topic ${f.topicArn}`);
    for (const h of f.hosts) say(`${h.hostId}: app on 127.0.0.1:${h.port}, queue ${h.queueUrl}`);
    // The fleet's trust policy, so the dashboard shows who signed what instead of "unverified".
    const trustFile = path.join(f.dir, 'trust.json');
    await writeFile(trustFile, JSON.stringify({ keys: { ci: f.keys.ci.pub, ops: f.keys.ops.pub }, roles: { release: { keys: ['ci', 'ops'], threshold: 1 }, pin: { keys: ['ops'], threshold: 1 } } }));
    say('\nwatch it in a browser: run this in another terminal, then open the address it prints');
    say(`  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test ${shortPath(process.execPath)} ${shortPath(HOIST_BIN)} dashboard --bucket ${f.bucket} --endpoint ${f.endpoint} --region ${f.region} --trust ${trustFile} --refresh 1s`);
    say(KEEP ? '(the fleet keeps running after the last step, until Ctrl-C)' : '(add -- --keep to npm run demo to keep the fleet running after the last step)');
    const s3 = new S3Client({ endpoint: f.endpoint, region: f.region, forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    try {
      agents = f.hosts.map((h) => f.startAgent(h));
      const statusPrefix = s3Keys('').statusPrefix(f.app, f.env);
      const common = ['--app', f.app, '--env', f.env, '--bucket', f.bucket];

      const waitFor = async (what: string, expect: Expectation): Promise<void> => {
        say(`waiting until ${what} ...`);
        const deadline = performance.now() + STEP_TIMEOUT_MS;
        let last = '';
        while (performance.now() < deadline) {
          for (const a of agents) {
            if (a.child.exitCode !== null) throw new Error(`the agent of ${a.host.hostId} exited (${a.child.exitCode}):\n${a.output().slice(-3000)}`);
          }
          const reports = await fetchReports(s3, { bucket: f.bucket, prefix: statusPrefix });
          const byHost = new Map(reports.flatMap((r) => (r.report === undefined ? [] : [[r.report.hostId, r.report] as const])));
          const pending = Object.entries(expect).filter(([host, ok]) => {
            const r = byHost.get(host);
            return r === undefined || !ok(r);
          });
          if (pending.length === 0) return;
          last = pending.map(([h]) => `${h}: ${byHost.get(h)?.state ?? 'no report'} ${byHost.get(h)?.current?.version ?? ''}`).join('; ');
          await delay(250);
        }
        throw new Error(`step did not converge within ${STEP_TIMEOUT_MS / 1000}s: ${last}`);
      };
      // What `hoist status --app web --env prod --bucket hoist-demo` prints, rendered in-process by
      // the same code (a CLI start costs seconds on a busy machine; the demo stays under a minute).
      const status = async (): Promise<void> => {
        say(`$ hoist status ${common.join(' ')}`);
        const reports = await fetchReports(s3, { bucket: f.bucket, prefix: statusPrefix });
        process.stdout.write(renderFleetText(summarizeFleet(reports, Date.now()), renderTable));
      };
      const run = async (args: string[], expectCode = 0): Promise<void> => {
        say(`$ hoist ${args.join(' ')}`);
        const r = await f.hoist(args);
        process.stdout.write(r.stdout.replace(/^(?=.)/gm, '  '));
        if (r.code !== expectCode) throw new Error(`hoist ${args[0] ?? ''} exited ${r.code}:\n${r.stderr}`);
        if (r.code !== 0) process.stdout.write(`${r.stderr.trimEnd().replace(/^(?=.)/gm, '  ')}\n  (exit ${r.code})\n`);
      };
      const publish = async (version: string, file: string, extra: string[] = []): Promise<void> => {
        await run(['publish', ...common, '--version', version, '--artifact', file, '--key', f.keys.ci.key, '--by', 'demo-ci', '--commit', `demo${version.replaceAll('.', '')}`, ...extra, '--notify-sns', f.topicArn]);
      };
      const everyHost = (ok: (r: StatusReport) => boolean): Expectation => Object.fromEntries(HOSTS.map((h) => [h, ok]));

      const v1 = await f.artifact('1.0.0');
      const v2 = await f.artifact('2.0.0');
      const v3 = await f.artifact('3.0.0', 'unhealthy');

      header('step 1: publish 1.0.0 (CI signs, SNS fans out to every host queue)');
      await publish('1.0.0', v1);
      await waitFor('every host runs 1.0.0', everyHost((r) => r.state === 'healthy' && r.current?.version === '1.0.0'));
      await status();

      header('step 2: publish 2.0.0 (healthy: every host flips)');
      await publish('2.0.0', v2);
      await waitFor('every host runs 2.0.0', everyHost((r) => r.state === 'healthy' && r.current?.version === '2.0.0'));
      await status();

      header('step 3: publish 3.0.0 in steps, halting at 1 failure (its health check fails: the canary rolls back, the rest halt)');
      // host-b is the 1 % canary of web/prod (cohort value 86 of 10,000); host-a and host-c come 15 s later.
      await publish('3.0.0', v3, ['--steps', '1:0s,100:15s', '--max-failures', '1']);
      await waitFor('host-b has rolled back to 2.0.0 by itself', { 'host-b': (r) => r.state === 'rolled-back' && r.current?.version === '2.0.0' && r.lastAttempt?.version === '3.0.0' });
      await waitFor('host-a and host-c, whose step came after that failure, have halted on 2.0.0', {
        'host-a': (r) => r.state === 'halted' && r.current?.version === '2.0.0',
        'host-c': (r) => r.state === 'halted' && r.current?.version === '2.0.0',
      });
      await status();
      await run(['rollout', 'status', ...common], 1);

      header('step 4: an operator pins host-b to 1.0.0');
      await run(['pin', ...common, '--version', '1.0.0', '--hosts', 'host-b', '--reason', 'demo: hold host-b on 1.0.0', '--key', f.keys.ops.key, '--by', 'demo-operator', '--notify-sns', f.topicArn]);
      await waitFor('host-b runs 1.0.0, pinned', {
        'host-b': (r) => r.state === 'pinned' && r.current?.version === '1.0.0',
        'host-a': (r) => r.current?.version === '2.0.0',
        'host-c': (r) => r.current?.version === '2.0.0',
      });
      await status();
      if (KEEP) {
        header('all steps done; the fleet keeps running: Ctrl-C stops it and cleans up');
        await new Promise<void>((resolve) => {
          stopKept = resolve;
        });
      }
    } finally {
      s3.destroy();
    }
    header(`done in ${((performance.now() - started) / 1000).toFixed(1)}s: cleaning up`);
    return 0;
  } catch (error) {
    process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    for (const a of agents) process.stderr.write(`\n--- last agent output of ${a.host.hostId} ---\n${a.output().slice(-2000)}\n`);
    return 1;
  } finally {
    cleaning = true;
    await fleet?.close();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

process.exitCode = await main();
