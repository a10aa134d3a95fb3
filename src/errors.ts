/**
 * Every failure hoist reports carries a stable `code` that operators and tests match on.
 *
 * The catalogue below is the single source of truth: `docs/errors.md` is generated from it
 * (`npm run docs`), and a test fails when the page drifts. To add a code, add an entry here with
 * a one-line meaning and what the operator should do about it.
 */

export interface ErrorInfo {
  /** What happened, in one line. */
  readonly meaning: string;
  /** What to do about it. */
  readonly action: string;
  /** Exit status of the CLI when this error ends a command: 2 for usage/config, 130 for Ctrl-C, else 1. */
  readonly exit: 1 | 2 | 130;
}

export const ERROR_CATALOGUE = {
  // --- usage and configuration (exit 2) ---
  HOIST_USAGE: {
    meaning: 'The command line is wrong: an unknown option, a missing argument or a bad value.',
    action: 'Run the command with --help and correct the invocation.',
    exit: 2,
  },
  HOIST_CONFIG_INVALID: {
    meaning: 'The agent configuration (or a --trust file) failed validation; every problem is listed with its path.',
    action: 'Fix each listed path in the YAML file; nothing was touched.',
    exit: 2,
  },
  HOIST_CONFIG_READ: {
    meaning: 'The configuration file could not be read or is not valid YAML/JSON.',
    action: 'Check the path given with --config/--trust, its permissions and its syntax.',
    exit: 2,
  },
  HOIST_KEY_INVALID: {
    meaning: 'A key file or inline key is missing, unreadable, or not an Ed25519 PEM key of the expected kind.',
    action: 'Use keys made by `hoist keygen` or `openssl genpkey -algorithm ed25519` (PKCS#8 private, SPKI public).',
    exit: 2,
  },
  HOIST_KEY_PERMISSIONS: {
    meaning: 'A private key file is readable or writable by its group or by others, so someone else on this machine may hold a copy.',
    action: 'Run `chmod 600 KEYFILE` (and consider the key leaked if others could read it: rotate it). Pass --allow-loose-key only where the file system cannot keep modes (some CI mounts).',
    exit: 2,
  },
  // --- envelope and manifest verification (exit 1) ---
  HOIST_ENVELOPE_TOO_LARGE: {
    meaning: 'The envelope is larger than limits.manifestBytes (64 KiB by default).',
    action: 'Refuse it: manifests are small. Check what produced it.',
    exit: 1,
  },
  HOIST_ENVELOPE_MALFORMED: {
    meaning: 'The envelope is not JSON, or not a DSSE envelope (payloadType, payload, signatures).',
    action: 'Re-publish with `hoist publish` or `hoist sign`; check the object was not truncated or overwritten.',
    exit: 1,
  },
  HOIST_PAYLOAD_TYPE: {
    meaning: 'The envelope payloadType is not application/vnd.hoist.manifest+json.',
    action: 'Only hoist manifests are accepted; sign the payload with `hoist sign`.',
    exit: 1,
  },
  HOIST_SIGNATURE_MISSING: {
    meaning: 'The envelope carries no signatures.',
    action: 'Sign it with a key trusted for the role (`hoist sign`, `hoist approve`).',
    exit: 1,
  },
  HOIST_SIGNATURE_UNTRUSTED: {
    meaning: 'No signature on the envelope is by a key trusted for the manifest role.',
    action: 'Sign with a key listed under trust.roles.<role>.keys, or add the signer\'s public key to the trust policy.',
    exit: 1,
  },
  HOIST_SIGNATURE_INVALID: {
    meaning: 'A signature by a trusted key does not verify: the payload or the signature was altered.',
    action: 'Treat the object as tampered with. Re-publish from CI and investigate who can write to the bucket.',
    exit: 1,
  },
  HOIST_SIGNATURE_THRESHOLD: {
    meaning: 'Fewer distinct trusted keys signed than the role threshold requires.',
    action: 'Collect more approvals (`hoist approve`) from distinct keys of the role.',
    exit: 1,
  },
  HOIST_MANIFEST_INVALID: {
    meaning: 'The signed payload does not match the manifest schema; every problem is listed with its path.',
    action: 'Fix each listed field of the payload (the manifest format is in docs/operations.md) and sign it again.',
    exit: 1,
  },
  HOIST_MANIFEST_MISMATCH: {
    meaning: 'The manifest is for another app, env or kind than the one expected.',
    action: 'Check the key it was read from, and the --app/--env given.',
    exit: 1,
  },
  HOIST_MANIFEST_NOT_YET_VALID: {
    meaning: 'issuedAt lies in the future by more than trust.clockSkew.',
    action: 'Check the clocks of the publisher and of this host (NTP).',
    exit: 1,
  },
  HOIST_MANIFEST_EXPIRED: {
    meaning: 'expiresAt has passed.',
    action: 'Publish the release again (a new sequence) to renew it.',
    exit: 1,
  },
  HOIST_MANIFEST_VALIDITY_TOO_LONG: {
    meaning: 'expiresAt − issuedAt is longer than trust.maxValidity.',
    action: 'Publish with a shorter --expires.',
    exit: 1,
  },
  HOIST_REPLAY: {
    meaning: 'The manifest sequence is below the high-water mark already accepted for (app, env, kind).',
    action: 'Nothing: an old manifest was replayed and ignored. Publish a new one to change the target.',
    exit: 1,
  },
  HOIST_FAILED_LIST: {
    meaning: 'The verified target is on this host\'s failed list (it failed its health check here before), so it is not deployed again.',
    action: 'Publish a fix, or a manifest with retryFailed (`hoist rollback` sets it; `publish` and `pin` take --retry-failed) for one more try.',
    exit: 1,
  },
  HOIST_ROLLOUT_HALTED: {
    meaning: 'The rollout of this manifest reached its failure limit (rollout.halt.maxFailures) across the fleet; this host does not activate it.',
    action: 'Publish a fix (a new manifest) or roll back with `hoist rollback`; hosts already healthy on it stay.',
    exit: 1,
  },
  HOIST_CLOCK_SKEW: {
    meaning: 'The host clock differs from S3\'s by more than half of trust.clockSkew: manifest expiry and issue times are judged by the host clock.',
    action: 'Fix the host\'s time sync (NTP, chrony, Amazon Time Sync).',
    exit: 1,
  },
  HOIST_SEQUENCE_CONFLICT: {
    meaning: 'A manifest with an already accepted sequence but different bytes was seen: a possible attack.',
    action: 'Investigate who wrote it; sequences must never be reused. Publish with a new sequence.',
    exit: 1,
  },
  // --- trust documents (trust/root.json, trust/history/) ---
  HOIST_TRUST_ROOT_THRESHOLD: {
    meaning: 'A trust document is not signed by the threshold of the root role the host currently trusts.',
    action: 'Sign it with enough keys of the current root role (`hoist sign --add-to`, `hoist trust publish --key`); if nobody did, treat the bucket as tampered with.',
    exit: 1,
  },
  HOIST_TRUST_NEW_ROOT_THRESHOLD: {
    meaning: 'A trust document is not signed by the threshold of the root role it declares itself.',
    action: 'A root rotation needs both sides: add signatures from enough of the new root keys, then publish again.',
    exit: 1,
  },
  HOIST_TRUST_VERSION: {
    meaning: 'A trust document\'s version is not exactly one more than the one the host holds (an older document put back, or a skipped version).',
    action: 'Nothing when an old document was replayed: the host keeps the newer one. Otherwise publish with `hoist trust publish`, which numbers versions from the bucket.',
    exit: 1,
  },
  HOIST_TRUST_CONFLICT: {
    meaning: 'A trust document reuses the version the host holds with a different payload: a possible attack.',
    action: 'Investigate who wrote trust/; versions are never reused. Publish the intended change as the next version.',
    exit: 1,
  },
  HOIST_TRUST_EXPIRED: {
    meaning: 'The trust document the host holds is past its expiresAt: nothing new is activated (the serving release keeps serving).',
    action: 'Publish a new trust document (`hoist trust publish`, default --expires 90d) before the old one expires; hosts warn 7 days ahead.',
    exit: 1,
  },
  HOIST_TRUST_INVALID: {
    meaning: 'A trust document is malformed: not a DSSE envelope of the trust payload type, or its payload fails the schema (every problem is listed).',
    action: 'Build it with `hoist trust publish` (or `hoist sign` of a kind: trust payload) and publish again.',
    exit: 1,
  },
  HOIST_TRUST_CHAIN_BROKEN: {
    meaning: 'A trust document between the one the host holds and trust/root.json is missing from trust/history/.',
    action: 'Put the missing trust/history/<version>.json back (protect the prefix with S3 Object Lock); the host keeps the last document it reached.',
    exit: 1,
  },
  HOIST_TRUST_NOT_FOUND: {
    meaning: 'No trust document is published in the bucket (trust/root.json does not exist).',
    action: 'Publish the first one with `hoist trust publish`; until then hosts use the trust block of their config.',
    exit: 1,
  },
  // --- fetch ---
  HOIST_ARTIFACT_NOT_FOUND: {
    meaning: 'The artifact named by the manifest does not exist in the bucket.',
    action: 'Upload it (`hoist publish` does) or fix the manifest\'s artifact.key.',
    exit: 1,
  },
  HOIST_DIGEST_MISMATCH: {
    meaning: 'The downloaded artifact\'s SHA-256 differs from the signed digest.',
    action: 'Treat the artifact as tampered with or corrupt; publish it again. Nothing was unpacked.',
    exit: 1,
  },
  HOIST_SIZE_EXCEEDED: {
    meaning: 'The artifact is larger than its signed size (or limits.artifactBytes); the download was stopped.',
    action: 'Publish the artifact again; nothing was unpacked.',
    exit: 1,
  },
  HOIST_SIZE_MISMATCH: {
    meaning: 'The artifact is shorter than its signed size.',
    action: 'Publish the artifact again; nothing was unpacked.',
    exit: 1,
  },
  HOIST_DOWNLOAD_FAILED: {
    meaning: 'The artifact download kept failing after every retry.',
    action: 'Check network access to S3 and the agent\'s IAM permissions; the agent retries on the next poll.',
    exit: 1,
  },
  HOIST_S3: {
    meaning: 'An S3 request failed (access denied, no such bucket, unreachable endpoint).',
    action: 'Check the bucket name, region, --endpoint, credentials and IAM policy.',
    exit: 1,
  },
  HOIST_SQS: {
    meaning: 'An SQS request failed (access denied, no such queue, unreachable endpoint).',
    action: 'Check the queue URL, region, credentials and IAM policy.',
    exit: 1,
  },
  HOIST_SNS: {
    meaning: 'An SNS publish failed.',
    action: 'Check the topic ARN, region, credentials and IAM policy.',
    exit: 1,
  },
  HOIST_S3_UNREACHABLE: {
    meaning: 'The S3 endpoint (or the proxy in front of it) could not be reached or did not answer in time; the message names both.',
    action: 'Check the endpoint (--endpoint-s3, endpoints.s3), HTTPS_PROXY/HTTP_PROXY/NO_PROXY, security groups and VPC endpoints; see docs/networking.md.',
    exit: 1,
  },
  HOIST_SQS_UNREACHABLE: {
    meaning: 'The SQS endpoint (or the proxy in front of it) could not be reached or did not answer in time; the message names both.',
    action: 'Check the endpoint (--endpoint-sqs, endpoints.sqs), HTTPS_PROXY/HTTP_PROXY/NO_PROXY, security groups and VPC endpoints; see docs/networking.md.',
    exit: 1,
  },
  HOIST_SNS_UNREACHABLE: {
    meaning: 'The SNS endpoint (or the proxy in front of it) could not be reached or did not answer in time; the message names both.',
    action: 'Check the endpoint (--endpoint-sns, endpoints.sns), HTTPS_PROXY/HTTP_PROXY/NO_PROXY, security groups and VPC endpoints; see docs/networking.md.',
    exit: 1,
  },
  // --- pack and unpack ---
  HOIST_PACK_FAILED: {
    meaning: 'The directory could not be packed (unreadable file, unsupported entry type, a file that changed size while it was read).',
    action: 'Check the directory: only regular files, directories and relative symlinks are packed, and nothing may write to it while it is packed.',
    exit: 1,
  },
  HOIST_UNSAFE_ENTRY: {
    meaning: 'The archive holds an entry that could write outside the release: absolute path, `..`, hardlink, device, FIFO or an escaping symlink.',
    action: 'Treat the artifact as hostile. Build it with `hoist pack`. Nothing outside staging was written.',
    exit: 1,
  },
  HOIST_UNPACK_LIMIT: {
    meaning: 'The archive exceeds a cap: entries, unpacked bytes, depth or decompression ratio.',
    action: 'Raise limits.* in the config if the release is genuinely that large; otherwise treat it as hostile.',
    exit: 1,
  },
  HOIST_UNPACK_FAILED: {
    meaning: 'The archive is corrupt, carries trailing data after its compressed stream (zero padding excepted), or tar reported a warning.',
    action: 'Publish the artifact again; the current release keeps serving.',
    exit: 1,
  },
  HOIST_ARCHIVE_TRUNCATED: {
    meaning: 'The archive ends before its end: the tar end-of-archive marker is missing, or the compressed stream stops inside a zstd frame or gzip member (or before the first one). A cut upload or a broken build; nothing of it is deployed.',
    action: 'Pack and publish the artifact again (`hoist pack` always writes a complete archive); the current release keeps serving.',
    exit: 1,
  },
  // --- deploy ---
  HOIST_HOOK_FAILED: {
    meaning: 'A hook (preActivate, postActivate) or the restart command exited non-zero.',
    action: 'Read the hook output in the agent log; fix the release or the hook.',
    exit: 1,
  },
  HOIST_HOOK_TIMEOUT: {
    meaning: 'A hook or the restart command ran over its timeout; its process group was killed.',
    action: 'Make the hook faster or raise its timeout.',
    exit: 1,
  },
  HOIST_HEALTH_FAILED: {
    meaning: 'The new release did not become healthy within startPeriod, or failed during bake.',
    action: 'The agent rolled back by itself. Read lastAttempt in the status report and fix the release.',
    exit: 1,
  },
  HOIST_ROLLBACK_FAILED: {
    meaning: 'After a failed deploy, the previous release did not become healthy again either.',
    action: 'Page a human: the app is down. See docs/runbook-rollback.md.',
    exit: 1,
  },
  HOIST_DEPLOY_ABORTED: {
    meaning: 'The deploy was abandoned at a safe point because the agent is shutting down.',
    action: 'Nothing: the next start resumes from the channel.',
    exit: 1,
  },
  // --- state ---
  HOIST_LOCKED: {
    meaning: 'Another hoist agent holds the lock on this stateDir.',
    action: 'Stop the other agent (systemctl status hoist-agent) or use another stateDir.',
    exit: 1,
  },
  HOIST_STATE_CORRUPT: {
    meaning: 'state.json could not be parsed.',
    action: 'The corrupt file is kept as state.json.corrupt-*; the agent starts from the releases on disk.',
    exit: 1,
  },
  HOIST_IO: {
    meaning: 'A filesystem operation failed (permissions, a read-only file system).',
    action: 'Check permissions on stateDir and the app root.',
    exit: 1,
  },
  HOIST_NO_SPACE: {
    meaning: 'Not enough free space (or inodes) for the artifact or its unpacked release, checked before the download, or the disk filled during it. Partial files were removed; the serving release keeps serving.',
    action: 'Free space under stateDir (downloads) or the app root (releases), lower `keep`, or grow the volume; the deploy is retried.',
    exit: 1,
  },
  HOIST_UNSAFE_ROOT: {
    meaning: 'An app root, its releases/ directory or a parent directory can be written by the app user or by others, so a local user could swap what the agent (root) works on.',
    action: 'Make each named directory owned by root and not writable by group or others (`chown root:root DIR && chmod 755 DIR`); a root-owned sticky directory such as /tmp is fine as a parent. The agent did not start.',
    exit: 2,
  },
  // --- metrics ---
  HOIST_METRICS_UNAVAILABLE: {
    meaning: 'The metrics endpoint could not listen on metrics.listen (the port is taken, the address is not on this host), or metrics.textfile could not be written. The agent keeps deploying without metrics.',
    action: 'Free the port or choose another metrics.listen; for a textfile, create its directory and let the agent write it (a ReadWritePaths= drop-in under systemd), then restart the agent.',
    exit: 1,
  },
  // --- operator commands ---
  HOIST_CHANNEL_NOT_FOUND: {
    meaning: 'No channel manifest exists for this app and env.',
    action: 'Publish a release first (`hoist publish`), or check --app/--env/--bucket.',
    exit: 1,
  },
  HOIST_ALREADY_SIGNED: {
    meaning: 'This key has already signed the envelope.',
    action: 'Approvals count distinct keys: ask another approver.',
    exit: 1,
  },
  HOIST_VERSION_NOT_FOUND: {
    meaning: 'No published release with that version was found in the channel history.',
    action: 'List history/<app>/<env>/ and pick a version that was published.',
    exit: 1,
  },
  HOIST_KEY_NOT_IN_ROLE: {
    meaning: 'The signing key is not trusted for the role this command signs for.',
    action: 'Use a key listed under trust.roles.<role>.keys.',
    exit: 1,
  },
  HOIST_NOT_CONVERGED: {
    meaning: '`hoist status` found hosts that do not run their desired release healthy, or whose reports are stale (with --wait: still so when the time ran out).',
    action: 'Read the listed hosts\' rows: STATE, DESIRED and LAST ERROR say why; a stale host\'s agent is stopped or the host is gone (hide terminated hosts with --forget-after).',
    exit: 1,
  },
  HOIST_INTERRUPTED: {
    meaning: 'The command was interrupted (Ctrl-C, SIGTERM) and stopped at a safe point.',
    action: 'Nothing was published: an artifact upload under way was aborted on S3. Run the command again.',
    exit: 130,
  },
  HOIST_LISTEN: {
    meaning: 'hoist dashboard could not listen on the --listen address: the port is in use, or the address is not one of this machine.',
    action: 'Pick another port or address with --listen (the default is 127.0.0.1:8080).',
    exit: 1,
  },
  HOIST_PRECONDITION: {
    meaning: 'S3 refused a conditional write: an object written once already exists, or the channel changed between reading and writing it.',
    action: 'Run the command again: it reads what the bucket holds now. A write-once object that exists is never overwritten.',
    exit: 1,
  },
  HOIST_PROMOTE_GATE: {
    meaning: '`hoist promote` refused: too few of the source env\'s reporting hosts run its release healthy for long enough (--min-healthy, --min-age).',
    action: 'Wait until the source env is healthy on the release (`hoist status`), or fix it; the message gives the numbers. Nothing was published.',
    exit: 1,
  },
  HOIST_INTERNAL: {
    meaning: 'An unexpected error: a bug in hoist.',
    action: 'Report it with the log line; the release that was serving keeps serving.',
    exit: 1,
  },
} as const satisfies Record<string, ErrorInfo>;

export type HoistErrorCode = keyof typeof ERROR_CATALOGUE;

export interface HoistErrorOptions {
  readonly cause?: unknown;
  /** Structured details (paths, issue lists, sizes) for logs and `--json` output. */
  readonly details?: Record<string, unknown>;
}

/** The one error class hoist throws. Match on `code`, never on `message`. */
export class HoistError extends Error {
  readonly code: HoistErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: HoistErrorCode, message: string, options: HoistErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HoistError';
    this.code = code;
    this.details = options.details;
  }

  /** Exit status of a CLI command that ends with this error. */
  get exitCode(): 1 | 2 | 130 {
    return ERROR_CATALOGUE[this.code].exit;
  }
}

export function isHoistError(value: unknown, code?: HoistErrorCode): value is HoistError {
  return value instanceof HoistError && (code === undefined || value.code === code);
}

/** Wraps anything thrown into a HoistError, keeping HoistErrors as they are. */
export function toHoistError(value: unknown, code: HoistErrorCode = 'HOIST_INTERNAL'): HoistError {
  if (value instanceof HoistError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new HoistError(code, message, { cause: value });
}
