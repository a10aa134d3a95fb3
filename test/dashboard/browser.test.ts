/**
 * `hoist dashboard` in a real headless Chromium, against fauxqs with a real agent and synthetic
 * reports for the fields and states that agents do not write yet. Every wait is bounded; the
 * browser, the dashboards, the agent and the temp dirs are removed at the end.
 *
 * HOIST_SCREENSHOT=1 writes the screenshots to docs/ (to refresh the documentation); otherwise
 * they go to the test's temp dir, so a test run never rewrites the repository.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { cohortValue } from '../../src/agent/decide.ts';
import { createPrivateKey, sign } from 'node:crypto';
import { keyIdOf } from '../../src/crypto/keys.ts';
import { APPROVAL_PAYLOAD_TYPE } from '../../src/dashboard/manifest-view.ts';
import { pae } from '../../src/dsse/pae.ts';
import { buildRelease, ops, publishArgs, readManifest, writeTrust } from '../cli-ops/ops.ts';
import { BUCKET, createHarness, eventually, REPO, type AgentProcess, type Harness } from '../helpers/harness.ts';
import { inPage, launchChromium, until, type Chromium } from './browser.ts';
import { get, putAll, releasePayload, SHA, signed, startDashboard, statusReport, type Put } from './rig.ts';

let h: Harness;
let chromium: Chromium;
let agent: AgentProcess;

const screenshots = process.env.HOIST_SCREENSHOT === '1';

before(async () => {
  h = await createHarness({ hostId: 'host-1' });
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await h?.[Symbol.asyncDispose]();
});

async function reportState(host: string): Promise<string | undefined> {
  try {
    const out = await h.aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `status/web/prod/${host}.json` }));
    return (JSON.parse((await out.Body?.transformToString()) ?? '{}') as { state?: string; current?: { version?: string } }).state;
  } catch {
    return undefined;
  }
}

/** `state → count` of an app/env's row on the overview. */
function countsOf(appEnv: string): string {
  return `Object.fromEntries([...document.querySelectorAll('tr[data-app-env=' + CSS.escape(${JSON.stringify(appEnv)}) + '] [data-count-state]')].map((e) => [e.dataset.countState, Number(e.querySelector('.n').textContent)]))`;
}

/** Picks a state in the filter as a person would (the page re-renders at every refresh: one step in the page). */
function choose(state: string): string {
  return `((s) => { s.value = ${JSON.stringify(state)}; s.dispatchEvent(new Event('change')); })(document.querySelector('select[data-filter="state"]'))`;
}

const SHOWN_HOSTS = `[...document.querySelectorAll('tr.host-row')].map((r) => r.dataset.host)`;

test('a real agent and synthetic reports: overview counts, a rollback turns red live, filter by state', { timeout: 240_000 }, async (t) => {
  await h.writeConfig();
  agent = h.start();
  const v1 = await buildRelease(h, '1.0.0');
  const v2 = await buildRelease(h, '2.0.0', 'unhealthy');
  const published = await ops(h, [...publishArgs(h, '1.0.0', v1), '--commit', 'a1b2c3d', '--by', 'ci']);
  assert.equal(published.code, 0, published.stderr);
  await eventually(async () => (await reportState('host-1')) === 'healthy', 'the agent runs 1.0.0 healthy', 60_000);

  // An approval statement by alice, as `hoist approve` is to write them beside the manifest.
  const { payload: v1Manifest } = await readManifest(h, 'channels/web/prod.json');
  const alice = createPrivateKey(h.keyPaths.alice?.pem ?? '');
  const aliceId = keyIdOf(alice);
  const statement = Buffer.from(JSON.stringify({ app: 'web', env: 'prod', sequence: v1Manifest.sequence, sha256: (v1Manifest.artifact as { sha256: string }).sha256, keyid: aliceId, at: new Date().toISOString() }));
  const approvalEnvelope = JSON.stringify({ payloadType: APPROVAL_PAYLOAD_TYPE, payload: statement.toString('base64'), signatures: [{ keyid: aliceId, sig: sign(null, pae(APPROVAL_PAYLOAD_TYPE, statement), alice).toString('base64') }] });
  await putAll(h.aws.s3, BUCKET, [{ key: `approvals/web/prod/${String(v1Manifest.sequence)}/${aliceId}.json`, body: approvalEnvelope }]);

  // Hosts the single real agent cannot be: newer fields (desired, skipped, rejected), other states.
  const now = Date.now();
  const synthetic: Put[] = [
    { key: 'status/web/prod/host-2.json', body: statusReport({ host: 'host-2', app: 'web', env: 'prod', state: 'healthy', extra: { desired: { version: '1.0.0', sha256: SHA('1'), sequence: 1, kind: 'release' } } }) },
    {
      key: 'status/web/prod/host-3.json',
      body: statusReport({ host: 'host-3', app: 'web', env: 'prod', state: 'rolled-back', extra: { lastAttempt: { version: '1.0.0', outcome: 'rolled-back', code: 'HOIST_HEALTH_FAILED', message: 'GET /healthz answered 500 three times', at: new Date(now).toISOString() } } }),
    },
    { key: 'status/web/prod/host-4.json', body: statusReport({ host: 'host-4', app: 'web', env: 'prod', state: 'deploying', version: null }) },
  ];
  // api/staging: a two-step schedule (25 % now, 100 % in two hours) with a halt limit.
  const seq = Date.now();
  const stgHosts = Array.from({ length: 12 }, (_, i) => `stg-${i}`);
  const firstStep = stgHosts.filter((x) => cohortValue(x, 'api', 'staging') < 2500);
  assert.ok(firstStep.length >= 2, 'the first step holds two hosts');
  const [haltedHost, ...canaries] = firstStep;
  const later = stgHosts.filter((x) => !firstStep.includes(x));
  const apiRelease = releasePayload({ app: 'api', env: 'staging', version: '2.1.0', sha256: SHA('a'), sequence: seq, issuedAt: now - 10 * 60_000, rollout: { steps: [{ percent: 25, after: '0s' }, { percent: 100, after: '2h' }], halt: { maxFailures: 2 } } });
  const apiEnvelope = signed(apiRelease, [h.keyPaths.ci?.pem ?? '']);
  const stg = (x: string, state: string, extra: Record<string, unknown> = {}): Put => ({ key: `status/api/staging/${x}.json`, body: statusReport({ host: x, app: 'api', env: 'staging', state, ...extra }) });
  synthetic.push(
    { key: 'channels/api/staging.json', body: apiEnvelope },
    { key: `history/api/staging/${seq}.json`, body: apiEnvelope },
    ...canaries.map((x) => stg(x, 'healthy', { version: '2.1.0', sha256: SHA('a') })),
    stg(haltedHost ?? '', 'halted'),
    { key: `events/api/staging/${seq}/halted/${haltedHost ?? ''}.json`, body: '{}' },
    ...later.slice(0, -1).map((x) => stg(x, 'waiting', { extra: { skipped: { reason: 'step', eligibleAt: new Date(now + 2 * 3_600_000).toISOString() } } })),
    stg(later.at(-1) ?? '', 'exploded'),
    { key: 'channels/docs/prod.json', body: signed(releasePayload({ app: 'docs', env: 'prod', version: '0.9.0', sha256: SHA('d'), sequence: seq }), [h.keyPaths.ci?.pem ?? '']) },
  );
  await putAll(h.aws.s3, BUCKET, synthetic);

  const trust = await writeTrust(h);
  await using dash = await startDashboard(['--bucket', BUCKET, '--endpoint', h.aws.endpoint, '--region', 'us-east-1', '--trust', trust, '--refresh', '500ms']);
  const watched = await chromium.page();
  const { page, errors, dialogs, offHost } = watched;
  await page.setViewport({ width: 1360, height: 900 });
  await page.goto(dash.url);
  await until(page, `document.querySelector('tr[data-app-env="web/prod"]')`);

  assert.deepEqual(await inPage(page, `[...document.querySelectorAll('tr[data-app-env]')].map((r) => r.dataset.appEnv)`), ['api/staging', 'docs/prod', 'web/prod']);
  assert.deepEqual(await inPage(page, countsOf('web/prod')), { healthy: 2, deploying: 1, 'rolled-back': 1 });
  assert.deepEqual(await inPage(page, countsOf('api/staging')), { healthy: canaries.length, waiting: later.length - 1, halted: 1, exploded: 1 });
  assert.deepEqual(await inPage(page, countsOf('docs/prod')), {});
  assert.equal(await inPage(page, `document.querySelector('tr[data-app-env="web/prod"] [data-trust]').dataset.trust`), 'verified', 'the CLI-published release verifies with --trust');
  assert.equal(await inPage(page, `document.querySelector('tr[data-app-env="api/staging"] [data-trust]').dataset.trust`), 'verified', 'a release with rollout steps and a halt limit verifies');
  assert.ok((await inPage<string[]>(page, `[...document.querySelectorAll('tr[data-app-env="api/staging"] [data-mark]')].map((m) => m.dataset.mark)`)).includes('halted'));
  assert.deepEqual(await inPage(page, `[...document.querySelectorAll('tr[data-app-env="web/prod"] [data-mark]')].map((m) => m.dataset.mark)`), ['rolled-back']);
  assert.equal(await inPage(page, `document.querySelectorAll('tr[data-app-env="api/staging"] .seg').length`), 2, 'one bar segment per step');
  if (screenshots) await page.screenshot({ path: path.join(REPO, 'docs', 'dashboard-overview.png') });

  // The app page, then a rollback while it is open: the host turns red with no reload.
  await page.goto(`${dash.url}#/app/web/prod`);
  await until(page, `document.querySelector('tr[data-host="host-1"]')`);
  assert.equal(await inPage(page, `document.querySelector('tr[data-host="host-1"]').dataset.state`), 'healthy');
  assert.equal(await inPage(page, `document.querySelector('tr[data-host="host-1"]').classList.contains('red')`), false);
  assert.match(await inPage<string>(page, `document.querySelector('table.history').textContent`), /1\.0\.0.*ci.*commit: a1b2c3d/s, 'history names the signer');
  assert.match(await inPage<string>(page, `document.querySelector('[data-approval="verified"]').textContent`), /^approved by alice at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  await page.evaluate('window.__sameDocument = true');

  const broken = await ops(h, [...publishArgs(h, '2.0.0', v2), '--commit', 'e4f5a6b', '--by', 'ci']);
  assert.equal(broken.code, 0, broken.stderr);
  await eventually(async () => (await reportState('host-1')) === 'rolled-back', 'the agent rolled 2.0.0 back', 90_000);
  const seenAt = (JSON.parse((await get(dash.port, '/api/overview')).body) as { refresh: number }).refresh;
  await until(page, `document.querySelector('tr[data-host="host-1"]')?.dataset.state === 'rolled-back'`);
  const shownAt = Number(await inPage(page, 'document.body.dataset.refresh'));
  t.diagnostic(`the rollback was in S3 by refresh ${seenAt} and on the page at refresh ${shownAt}`);
  // The refresh running when the report landed may have listed before it; the next one has it.
  assert.ok(shownAt <= seenAt + 2, `shown at refresh ${shownAt}, in S3 by ${seenAt}`);
  assert.equal(await inPage(page, 'window.__sameDocument === true'), true, 'the page was not reloaded');
  assert.equal(await inPage(page, `document.querySelector('tr[data-host="host-1"]').classList.contains('red')`), true);
  assert.equal(await inPage(page, `getComputedStyle(document.querySelector('tr[data-host="host-1"] td')).boxShadow.includes('rgb(180, 35, 24)')`), true, 'a red edge');
  assert.match(await inPage<string>(page, `document.querySelector('tr[data-host="host-1"] td.err').textContent`), /HOIST_HEALTH_FAILED/);
  // the real agent's event of that outcome (events/web/prod/<sequence>/rolled-back/host-1.json) is counted
  await until(page, `document.body.textContent.includes('events of this sequence: rolled-back 1')`);

  // Filter by state: exactly the rolled-back hosts, then every host again.
  await page.evaluate(choose('rolled-back'));
  await until(page, `location.hash.includes('state=rolled-back')`);
  assert.deepEqual(await inPage(page, SHOWN_HOSTS), ['host-1', 'host-3']);
  // Typing in the host filter narrows the table as you type, and a live refresh keeps the text and the focus.
  await page.type('input[data-filter="host"]', 'st-3');
  await until(page, `document.querySelectorAll('tr.host-row').length === 1`);
  assert.deepEqual(await inPage(page, SHOWN_HOSTS), ['host-3']);
  const typedAt = Number(await inPage(page, 'document.body.dataset.refresh'));
  await until(page, `Number(document.body.dataset.refresh) > ${typedAt}`);
  assert.deepEqual(await inPage(page, `[document.activeElement.dataset.filter, document.activeElement.value, location.hash.includes('q=st-3')]`), ['host', 'st-3', true]);
  await page.evaluate(`((s) => { s.value = ''; s.dispatchEvent(new Event('input')); })(document.querySelector('input[data-filter="host"]'))`);
  await until(page, `document.querySelectorAll('tr.host-row').length === 2`);
  await page.evaluate(choose(''));
  await until(page, `document.querySelectorAll('tr.host-row').length === 4`);
  // Sorted by state, then host.
  await page.evaluate(`document.querySelector('th[data-sort="state"] button').click()`);
  await until(page, `document.querySelector('th[data-sort="state"]').getAttribute('aria-sort') === 'ascending'`);
  assert.deepEqual(await inPage(page, `[...document.querySelectorAll('tr.host-row')].map((r) => r.dataset.state)`), ['deploying', 'healthy', 'rolled-back', 'rolled-back']);

  const shot = path.join(screenshots ? path.join(REPO, 'docs') : h.dir, 'dashboard.png');
  await page.goto(`${dash.url}#/app/api/staging`);
  await until(page, `document.querySelectorAll('table.steps tbody tr').length === 2`);
  assert.deepEqual(await inPage(page, `[...document.querySelectorAll('table.steps tbody tr')].map((r) => [...r.children].slice(4).map((c) => Number(c.textContent)))`), [
    [firstStep.length, canaries.length, 0, 0, 1],
    [later.length, 0, 0, later.length - 1, 0],
  ]);
  await page.goto(`${dash.url}#/app/web/prod`);
  await until(page, `document.querySelectorAll('tr.host-row').length === 4`);
  await page.screenshot({ path: shot, fullPage: true });
  assert.deepEqual([...(await readFile(shot)).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  t.diagnostic(`screenshot: ${screenshots ? 'docs/dashboard.png' : 'temp dir (HOIST_SCREENSHOT=1 writes docs/)'}`);

  assert.deepEqual({ errors, dialogs, offHost, csp: await watched.cspViolations() }, { errors: [], dialogs: [], offHost: [], csp: [] });
  await page.close();
  agent.kill('SIGTERM');
  await agent.exited;
});

test('hostile text in reports and manifests renders as text and runs nothing', { timeout: 120_000 }, async () => {
  const SCRIPT = '<script>alert("host")</script>';
  const IMG = '<img src=x onerror=alert("key")>';
  const MESSAGE = '<script>alert("msg")</script><img src=x onerror=alert("msg")>';
  const STATE = '<img src=x onerror=alert("state")>';
  const APP = '<img src=x onerror=alert("app")>';
  const seq = Date.now();
  const channel = signed(
    { ...releasePayload({ app: 'web', env: 'prod', version: '1.0.0', sha256: SHA('1'), sequence: seq }), notes: { by: MESSAGE, [SCRIPT]: 'x' } },
    [h.keyPaths.ci?.pem ?? ''],
  );
  await putAll(h.aws.s3, BUCKET, [
    {
      key: `xss/status/web/prod/${IMG}.json`,
      body: statusReport({
        host: SCRIPT, app: 'web', env: 'prod', state: STATE, version: MESSAGE,
        extra: { lastAttempt: { version: IMG, outcome: 'rolled-back', code: SCRIPT, message: MESSAGE, at: new Date().toISOString() }, rejected: { code: IMG, message: MESSAGE }, skipped: { reason: SCRIPT }, desired: { version: IMG, kind: SCRIPT } },
      }),
    },
    { key: 'xss/status/web/prod/plain.json', body: statusReport({ host: 'plain', app: 'web', env: 'prod', state: 'rolled-back', extra: { lastAttempt: { outcome: 'failed', code: 'HOIST_HOOK_FAILED', message: MESSAGE, at: new Date().toISOString() } } }) },
    { key: `xss/status/${APP}/prod/h.json`, body: statusReport({ host: 'h', app: APP, env: 'prod', state: 'healthy' }) },
    { key: 'xss/channels/web/prod.json', body: channel },
    { key: `xss/history/web/prod/${seq}.json`, body: channel },
  ]);
  await using dash = await startDashboard(['--bucket', BUCKET, '--prefix', 'xss/', '--endpoint', h.aws.endpoint, '--region', 'us-east-1', '--refresh', '1s']);
  const watched = await chromium.page();
  const { page } = watched;
  const injected = `document.querySelectorAll('main img, main script, main iframe, main [onerror]').length`;
  await page.goto(dash.url);
  await until(page, `document.querySelectorAll('tr[data-app-env]').length === 2`);
  assert.equal(await inPage(page, injected), 0);
  const overview = await inPage<string>(page, `document.querySelector('main').textContent`);
  assert.ok(overview.includes(`${APP}/prod`), 'the app name from the key, as text');
  assert.ok(overview.includes(STATE), 'the unknown state, as text');

  await page.goto(`${dash.url}#/app/web/prod`);
  await until(page, `document.querySelectorAll('tr.host-row').length === 2`);
  const hostile = `document.querySelector('tr[data-host=' + CSS.escape(${JSON.stringify(IMG)}) + ']')`;
  const text = await inPage<string>(page, `${hostile}.textContent`);
  for (const s of [IMG, SCRIPT, MESSAGE, STATE]) assert.ok(text.includes(s), `shown as text: ${s}`);
  assert.ok(text.includes(`the report names host "${SCRIPT}"`), 'the report that names another host than its key is flagged');
  assert.equal(await inPage(page, `${hostile}.dataset.state`), STATE);
  const main = await inPage<string>(page, `document.querySelector('main').textContent`);
  assert.ok(main.includes(`by${MESSAGE}`) || main.includes(MESSAGE), 'notes as text');
  assert.equal(await inPage(page, injected), 0);

  await page.goto(dash.url);
  await until(page, `document.querySelectorAll('a.appenv').length === 2`);
  // The page re-renders at every refresh, so act inside it in one step rather than hold a handle.
  await page.evaluate(`document.querySelector('a.appenv').click()`);
  await until(page, `document.querySelector('h1')?.textContent === ${JSON.stringify(`${APP} / prod`)}`);
  await until(page, `document.querySelectorAll('tr.host-row').length === 1`);
  assert.equal(await inPage(page, injected), 0);
  // Wait for a live refresh on this page too, then check nothing ran at any point.
  const refreshed = Number(await inPage(page, 'document.body.dataset.refresh'));
  await until(page, `Number(document.body.dataset.refresh) > ${refreshed}`);
  assert.deepEqual(
    { errors: watched.errors, dialogs: watched.dialogs, offHost: watched.offHost, csp: await watched.cspViolations() },
    { errors: [], dialogs: [], offHost: [], csp: [] },
  );
  await page.close();
});

test('2,000 synthetic reports render; the render time is measured, not asserted', { timeout: 180_000 }, async (t) => {
  const states = ['healthy', 'healthy', 'healthy', 'waiting', 'deploying', 'rolled-back', 'failed', 'pinned'];
  const hosts = Array.from({ length: 2000 }, (_, i) => `i-${(0x0abc0000 + i).toString(16).padStart(17, '0')}`);
  const seq = Date.now();
  await putAll(h.aws.s3, BUCKET, [
    { key: 'scale/channels/web/prod.json', body: signed(releasePayload({ app: 'web', env: 'prod', version: '3.1.4', sha256: SHA('3'), sequence: seq, rollout: { percent: 50 } }), [h.keyPaths.ci?.pem ?? '']) },
    ...hosts.map((x, i) => ({
      key: `scale/status/web/prod/${x}.json`,
      body: statusReport({
        host: x, app: 'web', env: 'prod', state: states[i % states.length] ?? 'healthy', version: i % 2 === 0 ? '3.1.4' : '3.1.3', sha256: i % 2 === 0 ? SHA('3') : SHA('2'),
        extra: i % 8 === 5 ? { lastAttempt: { version: '3.1.4', outcome: 'rolled-back', code: 'HOIST_HEALTH_FAILED', message: 'GET /healthz answered 503', at: new Date().toISOString() } } : {},
      }),
    })),
  ]);
  await using dash = await startDashboard(['--bucket', BUCKET, '--prefix', 'scale/', '--endpoint', h.aws.endpoint, '--region', 'us-east-1', '--refresh', '2s']);
  const first = JSON.parse((await get(dash.port, '/api/overview')).body) as { requests: { list: number; get: number } };
  const watched = await chromium.page();
  const { page } = watched;
  await page.setViewport({ width: 1360, height: 900 });
  await page.goto(`${dash.url}#/app/web/prod`);
  await until(page, `document.querySelectorAll('tr.host-row').length === 2000`, 60_000);
  // The first render is the one with the data (the page renders nothing before its first answer).
  const [render, shown] = await inPage<[number, number]>(page, `((m) => [m.duration, m.startTime + m.duration])(performance.getEntriesByName('hoist:render')[0])`);
  const json = await inPage<number>(page, `performance.getEntriesByType('resource').find((e) => e.name.includes('/api/app')).duration`);
  const counts = await inPage<Record<string, number>>(page, `Object.fromEntries([...document.querySelectorAll('[data-count-state]')].slice(0, 8).map((e) => [e.dataset.countState, Number(e.querySelector('.n').textContent)]))`);
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 2000);
  const refreshed = Number(await inPage(page, 'document.body.dataset.refresh'));
  await until(page, `Number(document.body.dataset.refresh) > ${refreshed}`, 30_000);
  const again = await inPage<number>(page, `performance.getEntriesByName('hoist:render').at(-1).duration`);
  const steady = JSON.parse((await get(dash.port, '/api/overview')).body) as { requests: { list: number; get: number } };
  t.diagnostic(`2,000 hosts: table built in ${render.toFixed(0)} ms, on screen ${shown.toFixed(0)} ms after navigation (its JSON took ${json.toFixed(0)} ms); a re-render after a live refresh ${again.toFixed(0)} ms`);
  t.diagnostic(`S3 requests: first refresh ${first.requests.list} LIST + ${first.requests.get} GET; a refresh with nothing changed ${steady.requests.list} LIST + ${steady.requests.get} GET`);
  assert.equal(steady.requests.get, 0, 'an unchanged bucket costs no GET');
  assert.deepEqual({ errors: watched.errors, dialogs: watched.dialogs, offHost: watched.offHost }, { errors: [], dialogs: [], offHost: [] });
  await page.close();
});
