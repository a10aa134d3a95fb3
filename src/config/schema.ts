/**
 * The agent configuration (`/etc/hoist/agent.yaml`) as a zod schema.
 *
 * Objects are strict so a misspelt key is an error rather than a silently ignored setting.
 * Defaults are written as they would be in YAML (`prefault('10s')`) so the generated reference
 * shows them the way an operator types them. Every field has a description: docs/configuration.md
 * is generated from them (`reference.ts`).
 */
import { z } from 'zod';
import { appTrustSchema, trustBlockSchema } from '../trust/schema.ts';
import { zDuration, zSize } from '../util/zod-units.ts';
import {
  HOST_ID_RE,
  zAbsolutePath,
  zCron,
  zPoll,
  zHostPort,
  zHttpUrl,
  zName,
  zRelativePath,
} from './fields.ts';
import { isLoopbackHost, parseListen } from '../metrics/address.ts';

/** `source.s3.poll` when it is not set: every 30 s, or every 5 minutes (a safety net) with SQS. */
export const DEFAULT_POLL = '*/30 * * * * *';
export const DEFAULT_POLL_WITH_SQS = '0 */5 * * * *';

const s3SourceSchema = z.strictObject({
  bucket: z.string().min(1).describe('Bucket holding artifacts, channels, pins, history and status.'),
  prefix: z.string().default('').describe('Key prefix inside the bucket, e.g. "hoist/". Empty for none.'),
  poll: zPoll.optional().meta({
    description:
      'node-cron expression of the S3 poll (6 fields = with seconds), or "off" to rely on SQS alone (one catch-up read at start). Each poll of an unchanged channel costs one 304. With source.sqs set, the poll is only a safety net (a lost message, a host down longer than the queue keeps messages), hence every 5 minutes by default.',
    defaultText: `\`"${DEFAULT_POLL}"\`; \`"${DEFAULT_POLL_WITH_SQS}"\` with \`source.sqs\``,
  }),
  jitter: zDuration
    .prefault('10s')
    .describe('Random delay added to each poll so a fleet does not poll in lockstep.'),
});

const sqsSourceSchema = z.strictObject({
  queueUrl: zHttpUrl.describe('URL of this host\'s SQS queue (subscribed to the SNS topic or S3 events).'),
  waitSeconds: z.int().min(1).max(20).default(20).describe('Long-poll wait of each ReceiveMessage, 1–20 seconds.'),
  visibilityTimeout: zDuration
    .prefault('5m')
    .describe('How long a received message stays hidden; extended while a deploy works on it.'),
});

// The bucket is always needed (artifacts and status reports live there), so source.s3 is required
// even when SQS carries the notifications; `poll: off` turns the polling itself off. The poll's
// default depends on whether SQS is set, so it is filled in here, where both are known.
const sourceSchema = z
  .strictObject({
    s3: s3SourceSchema.describe('The bucket (artifacts, channels, pins, status), and its poll: set poll: "off" to rely on SQS alone.'),
    sqs: sqsSourceSchema.optional().describe('Long-poll an SQS queue for hints (envelopes, SNS or S3 event notifications).'),
  })
  .transform((source) => ({ ...source, s3: { ...source.s3, poll: source.s3.poll ?? (source.sqs === undefined ? DEFAULT_POLL : DEFAULT_POLL_WITH_SQS) } }));

function hookSchema(defaultTimeout: string, what: string) {
  return z.strictObject({
    run: z.string().min(1).describe(`Shell command of the ${what}.`),
    timeout: zDuration
      .prefault(defaultTimeout)
      .describe(`Time after which the ${what}'s process group is killed and the deploy fails.`),
  });
}

const hooksSchema = z.strictObject({
  preActivate: hookSchema('10m', 'hook')
    .optional()
    .describe('Runs in the new release dir before the flip; a failure aborts the deploy and the current release keeps serving.'),
  postActivate: hookSchema('10m', 'hook')
    .optional()
    .describe('Runs in the new release dir after the flip and the restart.'),
});

const httpProbeSchema = z.strictObject({
  url: zHttpUrl.describe('URL probed with GET.'),
  expectStatus: z.int().min(100).max(599).default(200).describe('HTTP status a healthy answer has.'),
  bodyIncludes: z.string().min(1).optional().describe('Text a healthy answer\'s body contains.'),
});

const PROBE_KINDS = ['http', 'tcp', 'command'] as const;

const healthSchema = z
  .strictObject({
    http: httpProbeSchema.optional().describe('Probe: an HTTP GET.'),
    tcp: zHostPort.optional().describe('Probe: a TCP connect to "host:port".'),
    command: z.string().min(1).optional().describe('Probe: a shell command run in the release dir; exit 0 is healthy.'),
    timeout: zDuration.prefault('2s').describe('Timeout of one probe.'),
    interval: zDuration.prefault('2s').describe('Time between probes.'),
    startPeriod: zDuration.prefault('60s').describe('How long the new release may take to become healthy.'),
    successThreshold: z.int().min(1).default(3).describe('Consecutive successful probes that make the release healthy.'),
    failureThreshold: z
      .int()
      .min(1)
      .default(3)
      .describe('Consecutive failed answers (an HTTP status or body, a command exit code) that fail the release at once, even inside startPeriod; refused connections and time-outs inside startPeriod do not count. Inside bake, this many consecutive failures of any kind roll back.'),
    bake: zDuration
      .prefault('0s')
      .describe('How long to keep probing after it became healthy; failureThreshold consecutive failures inside bake still roll back.'),
  })
  .superRefine((health: unknown, ctx) => {
    // Runs even when other health fields failed; a missing health block is reported on its own.
    if (!isObject(health)) return;
    const kinds = PROBE_KINDS.filter((kind) => health[kind] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          kinds.length === 0
            ? 'set exactly one probe: http, tcp or command'
            : `set exactly one probe: http, tcp or command (found ${kinds.join(' and ')})`,
      });
    }
  }, { when: () => true });

const restartSchema = z.strictObject({
  run: z.string().min(1).describe('Shell command that restarts the app, e.g. "systemctl restart web". Runs as root (or restart.user) with cwd = the app root; it may not run a file of a release (a path under root, or $HOIST_RELEASE_DIR): a release is the archive\'s code.'),
  timeout: zDuration.prefault('2m').describe('Time after which the restart command\'s process group is killed and the deploy fails.'),
  user: z.string().min(1).optional().describe('Run the restart command as this user instead of root.'),
});

const appSchema = z.strictObject({
  name: zName.describe('App name, as in the manifests and S3 keys.'),
  env: zName.describe('Environment name, as in the manifests and S3 keys.'),
  root: zAbsolutePath.describe('App directory: releases/<version>-<sha256[0..12]>/, current -> releases/…, shared/.'),
  keep: z.int().min(2).default(5).describe('Releases kept on disk; current and previous are never removed.'),
  user: z.string().min(1).optional().describe('The app user: hooks and the health command run as it, with its supplementary groups; it reads the release (and owns it with writableRelease) and owns root/shared/.'),
  group: z.string().min(1).optional().describe('Group the release is readable by (and hooks run with); defaults to the user\'s primary group.'),
  writableRelease: z
    .boolean()
    .default(false)
    .describe('false (default): releases are owned by root and read-only to the app, so a compromised app cannot rewrite its code; write under root/shared/ instead. true: releases are owned by the app user, and everything inside them (unpack, shared links, pruning) runs with that user\'s rights.'),
  dedup: z.boolean().optional().meta({
    description:
      'Hard-link each file that is unchanged since the release current points at (same path, size, mode, owner and content) instead of writing it again: a release that changes 1 % of the files costs little more than those files on disk. Only with root-owned releases: with writableRelease a shared file could be changed through one release, and in every release holding it, so dedup: true with writableRelease: true is refused.',
    defaultText: '`true`; `false` with `writableRelease: true`',
  }),
  shared: z
    .array(zRelativePath)
    .default([])
    .describe('Paths under root/shared/ (owned by the app user) symlinked into every release (logs, uploads). Made by the app user; never nested (log and log/app) and never through a symlink of the release.'),
  allowSymlinks: z
    .boolean()
    .default(false)
    .describe('Allow relative symlinks in the artifact that stay inside the release.'),
  hooks: hooksSchema.optional().describe('Commands run around the flip, with cwd = the new release dir and HOIST_* env vars.'),
  restart: restartSchema
    .optional()
    .describe('Restarts the app after the flip (and after a rollback), e.g. "systemctl restart web"; as root unless restart.user is set, with cwd = the app root.'),
  health: healthSchema.describe('How to tell the new release is healthy; exactly one of http, tcp or command.'),
  window: zCron.optional().describe('node-cron expression: activate new releases only while it matches, e.g. "* 2-4 * * 1-5".'),
  trust: appTrustSchema.optional().describe('Trust override for this (app, env) entry only: its roles (and extra keys) replace the global ones here; other envs of the same app keep the global roles.'),
}).transform((app) => ({ ...app, dedup: app.dedup ?? !app.writableRelease }));

const limitsSchema = z.strictObject({
  manifestBytes: zSize.prefault('64KiB').describe('Largest envelope accepted.'),
  artifactBytes: zSize.prefault('4GiB').describe('Largest artifact downloaded.'),
  unpackedBytes: zSize.prefault('16GiB').describe('Largest total size of an unpacked release.'),
  entries: z.int().min(1).default(500_000).describe('Most entries in an archive.'),
  maxDepth: z.int().min(1).default(64).describe('Deepest directory nesting in an archive.'),
  maxDecompressionRatio: z
    .number()
    .positive()
    .default(200)
    .describe('Largest ratio of unpacked bytes to artifact bytes (zip-bomb guard).'),
});

const drainSchema = z.strictObject({
  timeout: zDuration
    .prefault('30s')
    .refine((ms) => ms >= 1000 && ms <= 600_000, 'expected a duration from 1s to 10m')
    .describe('How long SIGTERM may take: a health check not decided by then is left journalled and re-checked at the next start. Keep it below the unit\'s TimeoutStopSec (45s as shipped); the agent refuses to start under systemd otherwise.'),
});

const reportSchema = z.strictObject({
  s3: z.boolean().default(true).describe('Write status/<app>/<env>/<host-id>.json after every change.'),
  interval: zDuration
    .prefault('5m')
    .describe('Also rewrite the report this often when nothing changes, so `hoist status` can flag silent hosts as stale (one PUT per app per interval).'),
  events: z
    .boolean()
    .default(true)
    .describe('Write events/<app>/<env>/<sequence>/<outcome>/<host-id>.json once per deploy outcome (one PUT per deploy): rollout halts, `hoist rollout status`, `hoist history` and `hoist audit` read them.'),
});

const endpointsSchema = z.strictObject({
  s3: zHttpUrl.nullable().optional().describe('S3 endpoint, e.g. "https://bucket.vpce-0123abcd-ef01.s3.us-east-1.vpce.amazonaws.com"; null for AWS\'s own.'),
  sqs: zHttpUrl.nullable().optional().describe('SQS endpoint, e.g. "https://vpce-0123abcd-ef01.sqs.us-east-1.vpce.amazonaws.com"; null for AWS\'s own.'),
  sns: zHttpUrl.nullable().optional().describe('SNS endpoint (the agent itself does not call SNS); null for AWS\'s own.'),
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const LOG_FORMATS = ['auto', 'journal', 'json', 'pretty'] as const;

const logSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info').describe('pino log level. Logs go to stdout, one line each, the level written as its name ("level":"warn").'),
  format: z
    .enum(LOG_FORMATS)
    .default('auto')
    .describe('json: JSON lines. journal: JSON lines behind their syslog priority (<4>{...}), which journald files at that priority, so `journalctl -p warning` works. pretty: human-readable (needs pino-pretty installed, else json). auto: journal when stdout is the journal (systemd sets JOURNAL_STREAM), pretty on a TTY, else json.'),
});

const metricsSchema = z
  .strictObject({
    listen: zHostPort
      .optional()
      .describe('Serve GET /metrics (Prometheus text format) on this address, e.g. "127.0.0.1:9464". An address other than loopback needs allowRemote.'),
    textfile: zAbsolutePath
      .optional()
      .describe('Instead of listen: write the metrics to this file for node_exporter\'s textfile collector, e.g. /var/lib/node_exporter/textfile/hoist.prom (must end in .prom). Replaced atomically at start, after changes (at most every 15 s) and at exit.'),
    allowRemote: z
      .boolean()
      .default(false)
      .describe('Allow listen on an address other hosts can reach (0.0.0.0, a LAN address): anyone who reaches it reads the apps, versions and digests this host runs.'),
  })
  .superRefine((metrics: unknown, ctx) => {
    if (!isObject(metrics)) return;
    const { listen, textfile, allowRemote } = metrics;
    if ((listen === undefined) === (textfile === undefined)) {
      ctx.addIssue({ code: 'custom', message: listen === undefined ? 'set listen or textfile' : 'set listen or textfile, not both' });
    }
    if (typeof listen === 'string' && allowRemote !== true) {
      const address = parseListen(listen);
      if (address !== undefined && !isLoopbackHost(address.host)) {
        ctx.addIssue({ code: 'custom', path: ['listen'], message: `${address.host} is not a loopback address: other hosts could read the metrics; use 127.0.0.1, or set metrics.allowRemote: true` });
      }
    }
    if (typeof textfile === 'string' && !textfile.endsWith('.prom')) {
      ctx.addIssue({ code: 'custom', path: ['textfile'], message: 'node_exporter only reads files ending in .prom' });
    }
  }, { when: () => true });

export const agentConfigSchema = z
  .strictObject({
    hostId: z
      .string()
      .refine((id) => id === 'auto' || HOST_ID_RE.test(id), 'expected "auto" or 1–128 characters of letters, digits, ".", "_" or "-"')
      .default('auto')
      .describe('"auto": the EC2 instance id (IMDSv2), else the hostname. Or a literal id.'),
    region: z.string().min(1).optional().describe('AWS region; default: the SDK\'s (AWS_REGION, profile, IMDS).'),
    endpoint: zHttpUrl
      .nullable()
      .optional()
      .describe('S3/SQS/SNS endpoint override for S3-compatible stores and local emulators; null for AWS.'),
    endpoints: endpointsSchema
      .optional()
      .describe('One endpoint per service, over `endpoint`: VPC interface endpoints (see docs/networking.md).'),
    stateDir: zAbsolutePath.default('/var/lib/hoist').describe('Agent state, lock and download cache.'),
    source: sourceSchema.describe('Where the agent learns of new manifests: s3, sqs, or both.'),
    apps: z.array(appSchema).min(1, 'configure at least one app').describe('The apps this host runs.'),
    limits: limitsSchema.prefault({}).describe('Caps that protect the host from hostile or broken artifacts.'),
    report: reportSchema.prefault({}).describe('Status reporting.'),
    drain: drainSchema.prefault({}).describe('Shutdown on SIGTERM.'),
    log: logSchema.prefault({}).describe('Logging.'),
    metrics: metricsSchema.optional().describe('Prometheus metrics (off when absent): an HTTP endpoint (listen) or a node_exporter textfile, exactly one. See docs/metrics.md.'),
    trust: trustBlockSchema.describe('Trust policy: the keys and how many must sign each kind of manifest. Required: without one the agent refuses to start.'),
  })
  .superRefine(checkCrossReferences, { when: () => true });

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type AppConfig = AgentConfig['apps'][number];
export type HealthConfig = AppConfig['health'];
export type HookConfig = NonNullable<AppConfig['restart']>;
export type LimitsConfig = AgentConfig['limits'];
export type SourceConfig = AgentConfig['source'];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
export type MetricsConfig = NonNullable<AgentConfig['metrics']>;

/**
 * Checks that span fields: unique (name, env) and roots, and role keys that name a known key.
 * It runs even when other fields failed (so every problem is reported at once), hence the
 * defensive look at each value.
 */
function checkCrossReferences(config: unknown, ctx: z.RefinementCtx): void {
  if (!isObject(config)) return;
  const globalKeys = keyNames(isObject(config.trust) ? config.trust.keys : undefined);
  const apps = Array.isArray(config.apps) ? (config.apps as unknown[]) : [];
  const seenApps = new Map<string, number>();
  const seenRoots = new Map<string, number>();
  apps.forEach((app, index) => {
    if (!isObject(app)) return;
    if (typeof app.name === 'string' && typeof app.env === 'string') {
      const id = `${app.name}/${app.env}`;
      const first = seenApps.get(id);
      if (first === undefined) seenApps.set(id, index);
      else ctx.addIssue({ code: 'custom', path: ['apps', index], message: `duplicate app ${app.name} env ${app.env} (already apps[${first}])` });
    }
    if (typeof app.root === 'string') {
      const root = app.root.replace(/\/+$/, '') || '/';
      const first = seenRoots.get(root);
      if (first === undefined) seenRoots.set(root, index);
      else ctx.addIssue({ code: 'custom', path: ['apps', index, 'root'], message: `root ${app.root} is already used by apps[${first}]` });
    }
    if (app.dedup === true && app.writableRelease === true) {
      ctx.addIssue({
        code: 'custom',
        path: ['apps', index, 'dedup'],
        message: 'dedup links unchanged files between releases, and with writableRelease: true the app user could change a linked file through one release and so in every release holding it; set writableRelease: false (releases owned by root) or leave dedup out',
      });
    }
    checkShared(app.shared, ['apps', index, 'shared'], ctx);
    checkRestart(app, ['apps', index, 'restart', 'run'], ctx);
    if (isObject(app.trust)) {
      const known = new Set([...globalKeys, ...keyNames(app.trust.keys)]);
      checkRoleKeys(app.trust.roles, known, ['apps', index, 'trust', 'roles'], ctx);
    }
  });
  if (isObject(config.trust)) checkRoleKeys(config.trust.roles, new Set(globalKeys), ['trust', 'roles'], ctx);
}

/** Shared paths are distinct and never nest: `log` and `log/app` would link one into the other. */
function checkShared(shared: unknown, at: PropertyKey[], ctx: z.RefinementCtx): void {
  if (!Array.isArray(shared)) return;
  // an empty string is the field's own error
  const paths = (shared as unknown[]).map((p) => (typeof p === 'string' && p !== '' ? normalizeShared(p) : undefined));
  paths.forEach((p, i) => {
    if (p === undefined) return;
    if (p === '' || p === '.') {
      ctx.addIssue({ code: 'custom', path: [...at, i], message: 'a shared path must name something under root/shared/, not the release itself' });
      return;
    }
    paths.forEach((q, j) => {
      if (q === undefined || j === i || q === '') return;
      if (q === p && j < i) ctx.addIssue({ code: 'custom', path: [...at, i], message: `"${p}" is listed twice (already ${formatIndex(at, j)})` });
      else if (p.startsWith(`${q}/`)) ctx.addIssue({ code: 'custom', path: [...at, i], message: `"${p}" is inside the shared path "${q}" (${formatIndex(at, j)}); shared paths may not nest` });
    });
  });
}

function normalizeShared(p: string): string {
  return p.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

function formatIndex(at: PropertyKey[], i: number): string {
  return `${String(at.at(-1))}[${i}]`;
}

/**
 * `restart` runs as root: it must not run the archive's code. Refused: any path under the app root
 * (absolute, or relative to it, the restart's cwd: `./bin/x`, `current/bin/x`) and the variables
 * that name a release. `systemctl restart web` or `/usr/local/bin/restart-web` are fine.
 */
export function restartRunsRelease(run: string, root: string): string | undefined {
  if (/\$\{?HOIST_(RELEASE|PREVIOUS)_DIR\b/.test(run)) return 'it names $HOIST_RELEASE_DIR or $HOIST_PREVIOUS_DIR';
  const base = root.replace(/\/+$/, '');
  for (const word of run.split(/[\s;&|()<>`"'=]+/)) {
    if (word === '') continue;
    if (word === base || word.startsWith(`${base}/`)) return `it names ${word}, under the app root`;
    if (!word.startsWith('/') && word.includes('/') && !word.startsWith('-') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(word)) return `it names ${word}, a path relative to the app root (the restart's cwd)`;
  }
  return undefined;
}

function checkRestart(app: Record<string, unknown>, at: PropertyKey[], ctx: z.RefinementCtx): void {
  const restart = app.restart;
  if (!isObject(restart) || typeof restart.run !== 'string' || typeof app.root !== 'string') return;
  const why = restartRunsRelease(restart.run, app.root);
  if (why === undefined) return;
  ctx.addIssue({
    code: 'custom',
    path: at,
    message: `${why}: restart runs as root and may not run a file of a release (the archive's code). Restart through the service manager ("systemctl restart <unit>", whose unit runs the app as its user), or a script outside the app root`,
  });
}

function checkRoleKeys(roles: unknown, known: Set<string>, at: PropertyKey[], ctx: z.RefinementCtx): void {
  if (!isObject(roles)) return;
  for (const [role, block] of Object.entries(roles)) {
    if (!isObject(block) || !Array.isArray(block.keys)) continue;
    (block.keys as unknown[]).forEach((name, i) => {
      if (typeof name === 'string' && !known.has(name)) {
        ctx.addIssue({ code: 'custom', path: [...at, role, 'keys', i], message: `unknown key "${name}": add it under trust.keys` });
      }
    });
  }
}

function keyNames(keys: unknown): string[] {
  // parsed key blocks are Maps; a block that failed to parse is still the raw mapping
  if (keys instanceof Map) return [...(keys as Map<string, unknown>).keys()];
  return isObject(keys) ? Object.keys(keys) : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
