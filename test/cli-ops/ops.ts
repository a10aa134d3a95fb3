/** Helpers for the operator-command tests: release tarballs of the test app and the CLI with fauxqs. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { packDirectory } from '../../src/pack/pack.ts';
import { decodePayload, parseEnvelope } from '../../src/dsse/envelope.ts';
import { writeAppRelease, type AppBehaviour } from '../helpers/app.ts';
import { BUCKET, HOIST_BIN, run, type Harness, type RunResult } from '../helpers/harness.ts';

export const CREDS = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

/** Packs a release of the test app; returns the tarball path. */
export async function buildRelease(h: Harness, version: string, behaviour: AppBehaviour = 'healthy', zstd = false): Promise<string> {
  const src = path.join(h.dir, 'ops-build', `${version}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(src, { recursive: true });
  await writeAppRelease(src, { version, behaviour });
  const file = `${src}.${zstd ? 'tar.zst' : 'tar.gz'}`;
  await packDirectory(src, file, { zstd });
  return file;
}

/** `hoist <args> --bucket hoist-test --endpoint <fauxqs> --region us-east-1` with test credentials. */
export function ops(h: Harness, args: string[], options: { bucket?: boolean } = {}): Promise<RunResult> {
  const extra = options.bucket === false ? [] : ['--bucket', BUCKET];
  return run([HOIST_BIN, ...args, ...extra, '--endpoint', h.aws.endpoint, '--region', 'us-east-1'], { env: CREDS });
}

export function publishArgs(h: Harness, version: string, file: string, key = 'ci'): string[] {
  return ['publish', '--app', 'web', '--env', 'prod', '--version', version, '--artifact', file, '--key', h.keyPaths[key]?.key ?? ''];
}

export async function listAll(h: Harness, prefix: string): Promise<string[]> {
  const out = await h.aws.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

export async function getText(h: Harness, key: string): Promise<string> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const out = await h.aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await out.Body?.transformToString()) ?? '';
}

/** The payload of the envelope at `key`, and how many signatures it carries. */
export async function readManifest(h: Harness, key: string): Promise<{ payload: Record<string, unknown>; signatures: number }> {
  const env = parseEnvelope(await getText(h, key));
  return { payload: JSON.parse(decodePayload(env).toString('utf8')) as Record<string, unknown>, signatures: env.signatures.length };
}

/** A --trust file: the release role is ci/alice/bob with this threshold, pins alice/bob. */
export async function writeTrust(h: Harness, threshold = 1, releaseKeys = ['ci', 'alice', 'bob']): Promise<string> {
  const file = path.join(h.dir, `trust-${threshold}-${releaseKeys.join('-')}.json`);
  await writeFile(
    file,
    JSON.stringify({
      keys: { ci: h.keyPaths.ci?.pub, alice: h.keyPaths.alice?.pub, bob: h.keyPaths.bob?.pub },
      roles: { release: { keys: releaseKeys, threshold }, pin: { keys: ['alice', 'bob'], threshold: 1 } },
    }),
  );
  return file;
}

export function assertCode(r: RunResult, exit: number, code: string): void {
  if (r.code !== exit || !r.stderr.includes(`hoist: ${code}:`)) {
    throw new Error(`expected exit ${exit} with ${code}, got ${r.code}:\n${r.stdout}\n${r.stderr}`);
  }
}
