/**
 * Helpers for the dashboard tests: signed manifests and status reports written to fauxqs, plain
 * node:http requests (a browser cannot forge a Host header; these can), and the `hoist dashboard`
 * command run as a child process whose printed address is read back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { request } from 'node:http';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { addSignature, serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { mapLimit } from '../../src/fleet/map-limit.ts';
import { HOIST_BIN, TEST_AWS_ENV } from '../helpers/harness.ts';

export const SHA = (c: string): string => c.repeat(64).slice(0, 64);

export interface Put {
  readonly key: string;
  readonly body: string;
}

export async function putAll(s3: S3Client, bucket: string, objects: readonly Put[]): Promise<void> {
  await mapLimit(objects, 32, (o) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: o.body })));
}

export async function remove(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** A DSSE envelope of `payload` signed by each PEM private key given. */
export function signed(payload: Record<string, unknown>, privatePems: readonly string[]): string {
  const [first, ...rest] = privatePems.map((pem) => createPrivateKey(pem));
  if (first === undefined) throw new Error('sign with at least one key');
  let env = signEnvelope(Buffer.from(JSON.stringify(payload)), first);
  for (const k of rest) env = addSignature(env, k);
  return serializeEnvelope(env);
}

export function releasePayload(o: { app: string; env: string; version: string; sha256: string; sequence: number; rollout?: Record<string, unknown>; issuedAt?: number }): Record<string, unknown> {
  const issued = o.issuedAt ?? Date.now() - 1000;
  return {
    schema: 1,
    kind: 'release',
    app: o.app,
    env: o.env,
    sequence: o.sequence,
    version: o.version,
    artifact: { key: `artifacts/${o.app}/${o.sha256}.tar.gz`, sha256: o.sha256, size: 100, format: 'tar+gzip' },
    issuedAt: new Date(issued).toISOString(),
    expiresAt: new Date(issued + 30 * 86_400_000).toISOString(),
    rollout: o.rollout ?? { percent: 100 },
    notes: { by: 'ci', commit: 'c0ffee' },
  };
}

/** A status report as an agent of this version writes it, plus any newer fields given. */
export function statusReport(o: { host: string; app: string; env: string; state: string; version?: string | null; sha256?: string; ageMs?: number; extra?: Record<string, unknown> }): string {
  const at = new Date(Date.now() - (o.ageMs ?? 2000)).toISOString();
  return JSON.stringify({
    hostId: o.host,
    app: o.app,
    env: o.env,
    state: o.state,
    current: o.version === null ? null : { version: o.version ?? '1.0.0', sha256: o.sha256 ?? SHA('1'), sequence: 1, since: at },
    previous: null,
    lastAttempt: null,
    agentVersion: '0.1.0',
    updatedAt: at,
    ...o.extra,
  });
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request to 127.0.0.1:port with the given Host header (and others). */
export function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Reads an event stream until `count` events of `name` arrived (bounded). */
export function events(port: number, name: string, count: number, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const req = request({ host: '127.0.0.1', port, path: '/api/live', headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buffer += d;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.includes(`event: ${name}\n`)) got.push(block.slice(block.indexOf('data: ') + 6));
          if (got.length >= count) {
            clearTimeout(timer);
            req.destroy();
            resolve(got);
            return;
          }
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`only ${got.length} of ${count} ${name} events within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      if (got.length < count) reject(e);
    });
    req.end();
  });
}

export interface DashboardProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  output(): string;
  /** SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `hoist dashboard <args> --listen 127.0.0.1:0` and waits for the address it prints (bounded). */
export async function startDashboard(args: readonly string[], timeoutMs = 30_000): Promise<DashboardProcess> {
  const child = spawn(process.execPath, [HOIST_BIN, 'dashboard', '--listen', '127.0.0.1:0', ...args], { env: { ...process.env, ...TEST_AWS_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hoist dashboard printed no address within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = (): void => {
      const m = /^open (\S+)$/m.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hoist dashboard exited ${code}:\n${out}`));
    });
  });
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    }
    return exited;
  };
  return { child, url, port: Number(new URL(url).port), output: () => out, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}
