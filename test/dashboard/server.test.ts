import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Script } from 'node:vm';
import { S3Client } from '@aws-sdk/client-s3';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { CLIENT_JS } from '../../src/dashboard/client.ts';
import { LiveFleet } from '../../src/dashboard/live.ts';
import { BucketReader } from '../../src/dashboard/reader.ts';
import { serveDashboard } from '../../src/dashboard/server.ts';
import { appPage } from '../../src/dashboard/view.ts';
import { startAws } from '../helpers/fauxqs.ts';
import { HOIST_BIN, run } from '../helpers/harness.ts';
import { events, get, putAll, releasePayload, remove, SHA, signed, startDashboard, statusReport } from './rig.ts';

const BUCKET = 'hoist-dash';

test('a refresh costs one LIST page per 1,000 reports plus the changed objects', { timeout: 180_000 }, async (t) => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  const ci = generateKeyPair();
  // 2,001 reports: three LIST pages of status/.
  const hosts = Array.from({ length: 2001 }, (_, i) => `host-${String(i).padStart(4, '0')}`);
  const report = (host: string, state = 'healthy'): { key: string; body: string } => ({ key: `status/web/prod/${host}.json`, body: statusReport({ host, app: 'web', env: 'prod', state }) });
  const channel = (sequence: number, version: string): Array<{ key: string; body: string }> => {
    const body = signed(releasePayload({ app: 'web', env: 'prod', version, sha256: SHA(version.charAt(0)), sequence }), [ci.privatePem]);
    return [{ key: 'channels/web/prod.json', body }, { key: `history/web/prod/${sequence}.json`, body }];
  };
  await putAll(aws.s3, BUCKET, [...hosts.map((h) => report(h)), ...channel(1, '1.0.0')]);

  const reader = new BucketReader(aws.s3, { bucket: BUCKET, prefix: '' });
  const refresh = async (what: string): Promise<{ list: number; get: number; notModified: number }> => {
    const s = await reader.refresh(AbortSignal.timeout(60_000));
    t.diagnostic(`${what}: ${s.requests.list} LIST, ${s.requests.get} GET (${s.requests.notModified} not modified), ${s.durationMs} ms, ${s.apps[0]?.reports.length ?? 0} reports`);
    return s.requests;
  };
  // channels/ + pins/ + 3 pages of status/, then history/, approvals/ and events/ of web/prod: all new.
  assert.deepEqual(await refresh('first refresh of 2,001 reports'), { list: 8, get: 2003, notModified: 0 });
  // Events are listed once more after a change (an event may land just after its report).
  assert.deepEqual(await refresh('nothing changed'), { list: 6, get: 0, notModified: 0 });
  assert.deepEqual(await refresh('nothing changed'), { list: 5, get: 0, notModified: 0 });

  await putAll(aws.s3, BUCKET, [report('host-0007', 'rolled-back'), report('host-1999', 'failed')]);
  assert.deepEqual(await refresh('two reports changed'), { list: 6, get: 2, notModified: 0 });
  assert.deepEqual(await refresh('nothing changed'), { list: 6, get: 0, notModified: 0 });
  assert.deepEqual(await refresh('nothing changed'), { list: 5, get: 0, notModified: 0 });

  await putAll(aws.s3, BUCKET, [...channel(2, '2.0.0'), { key: 'approvals/web/prod/2/abc.json', body: '{}' }]);
  assert.deepEqual(await refresh('a new release, approved'), { list: 8, get: 3, notModified: 0 });

  await remove(aws.s3, BUCKET, 'status/web/prod/host-0001.json');
  const s = await reader.refresh(AbortSignal.timeout(60_000));
  assert.equal(s.apps[0]?.reports.length, 2000, 'a deleted report is gone');
  assert.equal(s.apps[0]?.reports.find((r) => r.keyHost === 'host-0007')?.report?.state, 'rolled-back');
  assert.deepEqual(s.apps[0]?.history.map((h) => h.sequence), [2, 1]);
});

test('history/ or events/ that cannot be listed are reported on the page, not a failed refresh', { timeout: 60_000 }, async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  const ci = generateKeyPair();
  await putAll(aws.s3, BUCKET, [
    { key: 'channels/web/prod.json', body: signed(releasePayload({ app: 'web', env: 'prod', version: '1.0.0', sha256: SHA('1'), sequence: 5 }), [ci.privatePem]) },
    { key: 'status/web/prod/h1.json', body: statusReport({ host: 'h1', app: 'web', env: 'prod', state: 'healthy' }) },
  ]);
  // An IAM policy that leaves out history/ and events/: S3 answers AccessDenied to those listings.
  const s3 = new S3Client({ endpoint: aws.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  s3.middlewareStack.add(
    (next) => async (args) => {
      const prefix = (args.input as { Prefix?: string }).Prefix ?? '';
      if (prefix.startsWith('history/') || prefix.startsWith('events/')) throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      return next(args);
    },
    { step: 'initialize' },
  );
  try {
    const reader = new BucketReader(s3, { bucket: BUCKET, prefix: '' });
    const snapshot = await reader.refresh(AbortSignal.timeout(30_000));
    const page = appPage(snapshot, 'web', 'prod', { now: Date.now(), staleAfterMs: 900_000 });
    assert.equal(page?.hosts.length, 1, 'the reports still show');
    assert.match(page?.historyError ?? '', /^HOIST_S3: S3 ListObjectsV2 s3:\/\/hoist-dash\/history\/web\/prod\/ failed: access denied/);
    assert.match(page?.row.progress?.eventsError ?? '', /^HOIST_S3: S3 ListObjectsV2 .* access denied/);
    assert.equal(page?.row.desired?.version, '1.0.0');
    const again = await reader.refresh(AbortSignal.timeout(30_000));
    assert.equal(again.requests.list, 5, 'both listings are tried again on the next refresh');
  } finally {
    s3.destroy();
  }
});

test('the server: Host check, read-only, headers, JSON views, live refresh events', { timeout: 60_000 }, async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  await putAll(aws.s3, BUCKET, [{ key: 'status/web/prod/h1.json', body: statusReport({ host: 'h1', app: 'web', env: 'prod', state: 'healthy' }) }]);
  const live = new LiveFleet({ source: new BucketReader(aws.s3, { bucket: BUCKET, prefix: '' }), refreshMs: 200, staleAfterMs: 900_000 });
  await live.start();
  const server = await serveDashboard({ listen: { host: '127.0.0.1', port: 0 }, live });
  try {
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
    assert.equal(server.token, undefined, 'loopback needs no token');
    const page = await get(server.port, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.match(page.body, /<script src="\/assets\/dashboard.js" defer><\/script>/);
    assert.doesNotMatch(page.body, /<script>|\son\w+=/, 'no inline script or handler');
    for (const path of ['/assets/dashboard.js', '/assets/dashboard.css', '/favicon.svg']) assert.equal((await get(server.port, path)).status, 200, path);

    const rebound = await get(server.port, '/api/overview', { host: 'evil.example:80' });
    assert.equal(rebound.status, 403, 'a Host that is not the listen address is refused');
    assert.doesNotMatch(rebound.body, /h1/);
    assert.equal((await get(server.port, '/api/overview', { host: `evil.example:${server.port}` })).status, 403);
    assert.equal((await get(server.port, '/api/overview', { host: `localhost:${server.port}` })).status, 200);
    const post = await get(server.port, '/api/overview', {}, 'POST');
    assert.deepEqual([post.status, post.headers.allow], [405, 'GET, HEAD']);
    assert.equal((await get(server.port, '/nope')).status, 404);
    assert.equal((await get(server.port, '/api/app?app=web&env=nope')).status, 404);

    const overview = JSON.parse((await get(server.port, '/api/overview')).body) as { rows: Array<{ app: string; counts: Array<{ state: string; n: number }> }> };
    assert.deepEqual(overview.rows.map((r) => [r.app, r.counts]), [['web', [{ state: 'healthy', n: 1, tone: 'ok' }]]]);
    const app = JSON.parse((await get(server.port, '/api/app?app=web&env=prod')).body) as { hosts: Array<{ host: string }> };
    assert.deepEqual(app.hosts.map((h) => h.host), ['h1']);

    const notices = await events(server.port, 'refresh', 2);
    const [a, b] = notices.map((n) => JSON.parse(n) as { refresh: number; ok: boolean });
    assert.ok(a !== undefined && b !== undefined && b.refresh > a.refresh && a.ok && b.ok, notices.join(' '));
  } finally {
    await server.close();
    live.close();
  }
});

test('a token: traded for a cookie, required on every request', { timeout: 60_000 }, async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  const live = new LiveFleet({ source: new BucketReader(aws.s3, { bucket: BUCKET, prefix: '' }), refreshMs: 1000, staleAfterMs: 900_000 });
  await live.start();
  const server = await serveDashboard({ listen: { host: '127.0.0.1', port: 0 }, live, requireToken: true });
  try {
    const token = server.token ?? '';
    assert.match(token, /^[A-Za-z0-9_-]{32}$/);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/?token=${token}`);
    for (const path of ['/', '/api/overview', '/api/live', '/assets/dashboard.js', `/?token=${token}x`, `/api/overview?token=${token}`]) {
      assert.equal((await get(server.port, path)).status, 401, path);
    }
    const trade = await get(server.port, `/?token=${token}`);
    assert.equal(trade.status, 303);
    assert.equal(trade.headers.location, '/');
    const cookie = String(trade.headers['set-cookie']);
    assert.match(cookie, /^hoist_dashboard=[^;]+; HttpOnly; SameSite=Strict; Path=\/$/);
    const pair = cookie.split(';')[0] ?? '';
    assert.equal((await get(server.port, '/api/overview', { cookie: pair })).status, 200);
    assert.equal((await get(server.port, '/api/overview', { authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await get(server.port, '/api/overview', { cookie: 'hoist_dashboard=guess' })).status, 401);
    assert.equal((await get(server.port, '/api/overview', { cookie: pair, host: 'evil.example' })).status, 403, 'the Host check comes first');
  } finally {
    await server.close();
    live.close();
  }
});

test('hoist dashboard: prints its address, serves, stops on Ctrl-C; usage, bucket and port errors', { timeout: 90_000 }, async () => {
  await using aws = await startAws();
  await aws.createBucket(BUCKET);
  const aws_ = ['--endpoint', aws.endpoint, '--region', 'us-east-1'];
  const dash = await startDashboard(['--bucket', BUCKET, '--refresh', '300ms', ...aws_]);
  try {
    assert.match(dash.output(), /^hoist dashboard: s3:\/\/hoist-dash\/, signatures unverified \(no --trust\), read every 300ms while a page is open$/m);
    assert.equal((await get(dash.port, '/')).status, 200);
    assert.equal((await events(dash.port, 'refresh', 1)).length, 1);

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = await run([HOIST_BIN, 'dashboard', '--bucket', BUCKET, '--listen', `127.0.0.1:${port}`, ...aws_]);
      assert.equal(busy.code, 1, busy.stderr);
      assert.match(busy.stderr, /hoist: HOIST_LISTEN: cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
    } finally {
      blocker.close();
    }
  } finally {
    assert.equal(await dash.stop(), 0, dash.output());
  }
  const usage = await run([HOIST_BIN, 'dashboard', '--bucket', BUCKET, '--listen', 'everywhere', ...aws_]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /HOIST_USAGE: --listen "everywhere" is not an address/);
  const fast = await run([HOIST_BIN, 'dashboard', '--bucket', BUCKET, '--refresh', '10ms', ...aws_]);
  assert.match(fast.stderr, /HOIST_USAGE: --refresh 10ms is too short/);
  const missing = await run([HOIST_BIN, 'dashboard', '--bucket', 'no-such-bucket', '--listen', '127.0.0.1:0', ...aws_]);
  assert.equal(missing.code, 1, missing.stdout);
  assert.match(missing.stderr, /hoist: HOIST_S3: .*no-such-bucket.*\(endpoint http:\/\/127\.0\.0\.1:\d+\)/);
});

test('the page script compiles as written (it is served as text)', () => {
  assert.doesNotThrow(() => new Script(CLIENT_JS, { filename: 'dashboard.js' }));
  assert.match(CLIENT_JS, /^[\x20-\x7e\n]*$/, 'ASCII only');
  assert.doesNotMatch(CLIENT_JS, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
});
