import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { pae } from '../../src/dsse/pae.ts';
import { cohortValue } from '../../src/agent/decide.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { addSignature, serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { APPROVAL_PAYLOAD_TYPE, readApproval, readEnvelope } from '../../src/dashboard/manifest-view.ts';
import { readReport } from '../../src/dashboard/report-view.ts';
import type { AppEnvSnapshot, BucketSnapshot, ReportObject } from '../../src/dashboard/snapshot.ts';
import { toneOf } from '../../src/dashboard/host-row.ts';
import { appPage, overview, type ViewContext } from '../../src/dashboard/view.ts';
import { resolveTrustPolicy } from '../../src/trust/policy.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const MIN = 60_000;
const SHA_V1 = '1'.repeat(64);
const SHA_V2 = '2'.repeat(64);
const iso = (ms: number): string => new Date(ms).toISOString();

const keys = { ci: generateKeyPair(), ops: generateKeyPair(), intruder: generateKeyPair() };
const policy = await resolveTrustPolicy(
  { keys: new Map([['ci', keys.ci.publicPem], ['ops', keys.ops.publicPem]]), roles: { release: { keys: ['ci'], threshold: 1 }, pin: { keys: ['ops'], threshold: 1 } }, clockSkew: 5 * MIN },
  { baseDir: '/' },
);

function envelope(payload: Record<string, unknown>, signers: Array<keyof typeof keys>): Uint8Array {
  const [first, ...rest] = signers.map((s) => createPrivateKey(keys[s].privatePem));
  if (first === undefined) throw new Error('a signer');
  let env = signEnvelope(Buffer.from(JSON.stringify(payload)), first);
  for (const k of rest) env = addSignature(env, k);
  return Buffer.from(serializeEnvelope(env));
}

function release(version: string, sha256: string, sequence: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1, kind: 'release', app: 'web', env: 'prod', sequence, version,
    artifact: { key: `artifacts/web/${sha256}.tar.gz`, sha256, size: 10, format: 'tar+gzip' },
    issuedAt: iso(NOW - 60 * MIN), expiresAt: iso(NOW + 86_400_000), rollout: { percent: 100 }, notes: { by: 'ci', commit: 'abc123' }, ...extra,
  };
}

/** A signed approval statement, as `hoist approve` writes it to approvals/. */
function approval(signer: keyof typeof keys, payload: Record<string, unknown>): Uint8Array {
  const bytes = Buffer.from(JSON.stringify({ keyid: keys[signer].keyId, ...payload }));
  const sig = sign(null, pae(APPROVAL_PAYLOAD_TYPE, bytes), createPrivateKey(keys[signer].privatePem)).toString('base64');
  return Buffer.from(JSON.stringify({ payloadType: APPROVAL_PAYLOAD_TYPE, payload: bytes.toString('base64'), signatures: [{ keyid: keys[signer].keyId, sig }] }));
}

function object(key: string, bytes: Uint8Array): { key: string; bytes: Uint8Array; read: ReturnType<typeof readEnvelope> } {
  return { key, bytes, read: readEnvelope(bytes) };
}

function report(host: string, state: string, extra: Record<string, unknown> = {}): ReportObject {
  const value = {
    hostId: host, app: 'web', env: 'prod', state,
    current: { version: '2.0.0', sha256: SHA_V2, sequence: 2, since: iso(NOW - 30 * MIN) },
    lastAttempt: null, agentVersion: '0.1.0', updatedAt: iso(NOW - MIN), ...extra,
  };
  const r = readReport(value);
  return { key: `status/web/prod/${host}.json`, keyHost: host, ...(r === undefined ? {} : { report: r }) };
}

function snapshot(apps: AppEnvSnapshot[]): BucketSnapshot {
  return { bucket: 'b', prefix: '', readAt: NOW, durationMs: 3, requests: { list: 3, get: 0, notModified: 0 }, apps };
}

function webProd(extra: Partial<AppEnvSnapshot>): AppEnvSnapshot {
  return { app: 'web', env: 'prod', reports: [], history: [], historyCount: 0, ...extra };
}

const ctx = (withPolicy: boolean): ViewContext => ({ now: NOW, staleAfterMs: 15 * MIN, policy: withPolicy ? policy : undefined });

test('readReport keeps what it can read, drops mistyped fields and keeps unknown states', () => {
  const cases: Array<[string, unknown, unknown]> = [
    ['not an object', 'healthy', undefined],
    ['an array', [], undefined],
    ['empty object', {}, {}],
    ['mistyped fields are dropped', { hostId: 7, state: 'exploded', current: 'x', updatedAt: 'yesterday', lastAttempt: { outcome: 'rolled-back', code: 5 } }, { state: 'exploded', lastAttempt: { outcome: 'rolled-back' } }],
    [
      'new fields are read when present',
      { hostId: 'h', desired: { version: '2', sha256: 'x', sequence: 3, kind: 'pin', reason: 'hold' }, rejected: { code: 'HOIST_REPLAY', at: iso(NOW) }, skipped: { reason: 'step', eligibleAt: iso(NOW + MIN) }, trust: { version: 4, expiresAt: iso(NOW) } },
      { hostId: 'h', desired: { version: '2', sha256: 'x', sequence: 3, kind: 'pin', reason: 'hold' }, rejected: { code: 'HOIST_REPLAY', at: NOW }, skipped: { reason: 'step', eligibleAt: NOW + MIN }, trust: { version: 4, expiresAt: NOW } },
    ],
    ['long text is cut', { lastAttempt: { message: 'x'.repeat(2000) } }, { lastAttempt: { message: `${'x'.repeat(499)}\u2026` } }],
  ];
  for (const [name, value, want] of cases) assert.deepEqual(readReport(value), want, name);
});

test('overview: counts by state in a fixed order, unknown states kept, marks and red', () => {
  const reports = [
    report('a', 'healthy'),
    report('b', 'healthy', { updatedAt: iso(NOW - 60 * MIN) }),
    report('c', 'rolled-back', { lastAttempt: { version: '3.0.0', outcome: 'rolled-back', code: 'HOIST_HEALTH_FAILED', message: 'GET /healthz answered 500', at: iso(NOW) } }),
    report('d', 'exploded'),
    report('e', 'waiting', { skipped: { reason: 'step', eligibleAt: iso(NOW + 5 * MIN) } }),
    report('f', 'halted'),
    report('g', 'healthy', { rejected: { code: 'HOIST_SIGNATURE_UNTRUSTED', message: 'no trusted signature', sequence: 9, at: iso(NOW) } }),
    { ...report('h', 'healthy'), keyHost: 'h-key' },
    { key: 'status/web/prod/i.json', keyHost: 'i', error: 'not JSON' },
  ];
  const view = overview(snapshot([webProd({ reports }), { app: 'api', env: 'prod', reports: [{ ...report('z', 'healthy', { app: 'api' }), key: 'status/api/prod/z.json' }], history: [], historyCount: 0 }]), ctx(false));
  const web = view.rows[0];
  assert.equal(web?.app, 'web');
  assert.deepEqual(web.counts.map((c) => [c.state, c.n, c.tone]), [
    ['healthy', 4, 'ok'], ['waiting', 1, 'wait'], ['rolled-back', 1, 'bad'], ['halted', 1, 'bad'], ['exploded', 1, 'unknown'], ['unreadable', 1, 'bad'],
  ]);
  assert.deepEqual(web.marks.map((m) => m.kind), ['halted', 'rolled-back', 'stale', 'rejected', 'unreadable', 'mismatch']);
  assert.deepEqual(web.marks.map((m) => m.text), ['halted on 1 host', '1 host rolled back', '1 host stale', '1 host rejected a manifest', '1 report unreadable', '1 report naming another host']);
  assert.equal(web.red, true);
  assert.equal(web.hosts, 9);
  assert.equal(web.desired, null);
  assert.equal(web.progress, null);
  assert.equal(view.rows[1]?.red, false, 'an app/env with nothing wrong has no mark');

  const page = appPage(snapshot([webProd({ reports })]), 'web', 'prod', ctx(false));
  const byHost = new Map(page?.hosts.map((h) => [h.host, h]));
  const cases: Array<[string, Partial<Record<string, unknown>>]> = [
    ['a', { state: 'healthy', red: false, stale: false, ageMs: MIN, lastError: null, mismatch: null, desired: null, agent: '0.1.0' }],
    ['b', { red: true, stale: true }],
    ['c', { red: true, lastError: 'HOIST_HEALTH_FAILED: GET /healthz answered 500 (3.0.0)' }],
    ['d', { state: 'exploded', tone: 'unknown', red: false }],
    ['e', { skipped: 'step', eligibleAt: NOW + 5 * MIN, red: false }],
    ['g', { rejected: 'HOIST_SIGNATURE_UNTRUSTED: no trusted signature (sequence 9)', red: true }],
    ['h-key', { mismatch: 'the report names host "h", but its key names h-key in web/prod', red: true }],
    ['i', { state: 'unreadable', lastError: 'not JSON', red: true }],
  ];
  for (const [host, want] of cases) {
    const row = byHost.get(host) as unknown as Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(want)) assert.deepEqual(row?.[k], v, `${host}.${k}`);
  }
  assert.equal(appPage(snapshot([webProd({ reports })]), 'web', 'staging', ctx(false)), undefined);
});

test('desired release and pin: unverified without --trust, verified or rejected with it', () => {
  const channel = object('channels/web/prod.json', envelope(release('2.0.0', SHA_V2, 20), ['ci']));
  const forged = object('channels/web/prod.json', envelope(release('6.6.6', SHA_V2, 21), ['intruder']));
  const pinPayload = { schema: 1, kind: 'pin', app: 'web', env: 'prod', sequence: 5, version: '1.0.0', artifact: { key: 'artifacts/web/x.tar.gz', sha256: SHA_V1, size: 1, format: 'tar+gzip' }, issuedAt: iso(NOW - MIN), hosts: ['a'], reason: 'hold a on 1.0.0' };
  const pin = object('pins/web/prod.json', envelope(pinPayload, ['ops']));
  const garbage = { key: 'channels/web/prod.json', bytes: Buffer.from('{'), read: readEnvelope(Buffer.from('{')) };
  const cases: Array<{ name: string; data: Partial<AppEnvSnapshot>; trust: boolean; desired: unknown; pin?: unknown; marks: string[] }> = [
    { name: 'no --trust', data: { channel }, trust: false, desired: { status: 'unverified', text: 'unverified' }, marks: [] },
    { name: 'verified by ci', data: { channel }, trust: true, desired: { status: 'verified', text: 'verified: ci' }, marks: [] },
    { name: 'signed by an unknown key', data: { channel: forged }, trust: true, desired: { status: 'rejected', code: 'HOIST_SIGNATURE_UNTRUSTED' }, marks: ['untrusted'] },
    { name: 'not an envelope', data: { channel: garbage }, trust: true, desired: { status: 'unreadable', text: 'unreadable: not JSON' }, marks: ['untrusted'] },
    { name: 'fetch failed', data: { channel: { key: 'channels/web/prod.json', error: 'HOIST_S3: AccessDenied' } }, trust: false, desired: { status: 'unreadable', text: 'unreadable: HOIST_S3: AccessDenied' }, marks: ['untrusted'] },
    { name: 'pin verified by ops', data: { channel, pin }, trust: true, desired: { status: 'verified' }, pin: { status: 'verified', text: 'verified: ops' }, marks: [] },
  ];
  for (const c of cases) {
    const row = overview(snapshot([webProd(c.data)]), ctx(c.trust)).rows[0];
    const desired = row?.desired?.trust as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(c.desired as Record<string, unknown>)) {
      if (k === 'code') assert.match(String(desired.text), new RegExp(`^NOT VERIFIED: ${String(v)}: `), c.name);
      else assert.equal(desired[k], v, `${c.name}: ${k}`);
    }
    if (c.pin !== undefined) for (const [k, v] of Object.entries(c.pin as Record<string, unknown>)) assert.equal((row?.pin?.trust as unknown as Record<string, unknown>)[k], v, `${c.name}: pin ${k}`);
    assert.deepEqual(row?.marks.map((m) => m.kind), c.marks, c.name);
  }
  const row = overview(snapshot([webProd({ channel, pin, reports: [report('a', 'pinned', { current: { version: '1.0.0', sha256: SHA_V1, sequence: 5, since: iso(NOW) } }), report('b', 'healthy'), report('c', 'healthy', { current: { version: '1.0.0', sha256: SHA_V1, sequence: 1, since: iso(NOW) } })] })]), ctx(true)).rows[0];
  assert.deepEqual(
    { version: row?.desired?.version, sequence: row?.desired?.sequence, sha12: row?.desired?.sha12, notes: row?.desired?.notes, rollout: row?.desired?.rollout },
    { version: '2.0.0', sequence: 20, sha12: '222222222222', notes: [['by', 'ci'], ['commit', 'abc123']], rollout: '100%' },
  );
  assert.deepEqual({ version: row?.pin?.version, reason: row?.pin?.reason, hosts: row?.pin?.hosts }, { version: '1.0.0', reason: 'hold a on 1.0.0', hosts: ['a'] });
  assert.equal(row?.onDesired, 2, 'a runs its pin, b the channel release, c neither');
});

test('rollout progress: hosts per step by cohort, failures from events and reports, the halt limit', () => {
  const hosts = Array.from({ length: 40 }, (_, i) => `host-${i}`);
  const steps = [{ percent: 25, after: '0s' }, { percent: 100, after: '1h' }];
  const channel = object('channels/web/prod.json', envelope(release('2.0.0', SHA_V2, 30, { issuedAt: iso(NOW - 10 * MIN), rollout: { steps, halt: { maxFailures: '10%' } } }), ['ci']));
  const first = hosts.filter((h) => cohortValue(h, 'web', 'prod') < 2500);
  assert.ok(first.length >= 4, 'enough canaries for the test');
  const [failedByEvent, failedByReport, waitingHost, ...onRelease] = first;
  const reports = hosts.map((h) => {
    if (h === failedByReport) return report(h, 'rolled-back', { current: { version: '1.0.0', sha256: SHA_V1, sequence: 1, since: iso(NOW) }, lastAttempt: { version: '2.0.0', outcome: 'rolled-back', code: 'HOIST_HEALTH_FAILED', at: iso(NOW) } });
    if (h === failedByEvent) return report(h, 'healthy', { current: { version: '1.0.0', sha256: SHA_V1, sequence: 1, since: iso(NOW) } });
    if (h === waitingHost) return report(h, 'waiting', { current: { version: '1.0.0', sha256: SHA_V1, sequence: 1, since: iso(NOW) } });
    if (onRelease.includes(h)) return report(h, 'healthy');
    return report(h, 'waiting', { current: { version: '1.0.0', sha256: SHA_V1, sequence: 1, since: iso(NOW) } });
  });
  const events = { sequence: 30, outcomes: new Map([['rolled-back', [failedByEvent ?? '']], ['healthy', onRelease]]) };
  const page = appPage(snapshot([webProd({ channel, reports, events })]), 'web', 'prod', ctx(false));
  const progress = page?.row.progress;
  assert.equal(progress?.kind, 'steps');
  assert.deepEqual(progress?.steps.map((s) => [s.index, s.fromPercent, s.percent, s.due, s.hosts, s.done, s.failed]), [
    [0, 0, 25, true, first.length, onRelease.length, 2],
    [1, 25, 100, false, hosts.length - first.length, 0, 0],
  ]);
  assert.equal(progress?.steps[1]?.dueAt, NOW + 50 * MIN);
  assert.equal(progress?.steps[0]?.spreadMs, 30 * MIN);
  assert.deepEqual(progress?.halt, { limit: Math.max(1, Math.ceil(0.1 * first.length)), text: '10%', failures: 2, reached: 2 >= Math.max(1, Math.ceil(0.1 * first.length)) });
  assert.deepEqual(progress?.events, [['healthy', onRelease.length], ['rolled-back', 1]]);
  assert.equal(page?.row.desired?.rollout, '25% at once, 100% after 1h');
  assert.equal(page?.hosts.find((h) => h.host === waitingHost)?.step, 0);

  const stale = appPage(snapshot([webProd({ channel, reports, events: { sequence: 29, outcomes: new Map([['failed', hosts]]) } })]), 'web', 'prod', ctx(false));
  assert.equal(stale?.row.progress?.events, null, 'events of another sequence are not this rollout\'s');
  assert.equal(stale?.row.progress?.halt?.failures, 1);

  const partial = object('channels/web/prod.json', envelope(release('2.0.0', SHA_V2, 31, { rollout: { percent: 25 } }), ['ci']));
  const p = appPage(snapshot([webProd({ channel: partial, reports })]), 'web', 'prod', ctx(false))?.row.progress;
  assert.deepEqual([p?.kind, p?.steps.length, p?.outside, p?.halt], ['percent', 1, hosts.length - first.length, null]);

  const broken = object('channels/web/prod.json', envelope(release('2.0.0', SHA_V2, 32, { rollout: { steps: 'all' } }), ['ci']));
  const b = overview(snapshot([webProd({ channel: broken, reports })]), ctx(false)).rows[0]?.progress;
  assert.deepEqual([b?.kind, b?.reason], ['invalid', 'rollout.steps: Invalid input: expected array, received string']);
});

test('history: newest first, signers named and checked with --trust, unverified without', () => {
  const v1 = envelope(release('1.0.0', SHA_V1, 10), ['ci']);
  const v2 = envelope(release('2.0.0', SHA_V2, 20, { notes: { by: 'ci', promotedFrom: 'staging@7' } }), ['ci', 'intruder']);
  const unpin = envelope({ schema: 1, kind: 'pin', app: 'web', env: 'prod', sequence: 6, artifact: null, issuedAt: iso(NOW) }, ['ops']);
  const tampered = JSON.parse(Buffer.from(v1).toString('utf8')) as { signatures: Array<{ keyid: string; sig: string }> };
  const sig = tampered.signatures[0];
  if (sig !== undefined) sig.sig = Buffer.alloc(64).toString('base64');
  const approved = { app: 'web', env: 'prod', sequence: 20, sha256: SHA_V2 };
  const approvals = [
    { key: 'approvals/web/prod/20/b.json', read: readApproval(approval('ops', { ...approved, at: iso(NOW - 2 * MIN) })) },
    { key: 'approvals/web/prod/20/a.json', read: readApproval(approval('ci', { ...approved, at: iso(NOW - 5 * MIN) })) },
    { key: 'approvals/web/prod/20/c.json', read: readApproval(approval('intruder', { ...approved, at: iso(NOW - MIN) })) },
    { key: 'approvals/web/prod/20/d.json', read: readApproval(approval('ops', { ...approved, sequence: 19, at: iso(NOW) })) },
    { key: 'approvals/web/prod/20/e.json', read: readApproval(Buffer.from('{}')) },
  ];
  const data = webProd({
    channel: object('channels/web/prod.json', v2),
    history: [
      { key: 'history/web/prod/20.json', kind: 'release', sequence: 20, object: object('history/web/prod/20.json', v2), approvals },
      { key: 'history/web/prod/11.json', kind: 'release', sequence: 11, object: object('history/web/prod/11.json', Buffer.from(JSON.stringify(tampered))) },
      { key: 'history/web/prod/10.json', kind: 'release', sequence: 10, object: object('history/web/prod/10.json', v1) },
      { key: 'history/web/prod/pins/6.json', kind: 'pin', sequence: 6, object: object('history/web/prod/pins/6.json', unpin) },
      { key: 'history/web/prod/5.json', kind: 'release', sequence: 5, object: { key: 'history/web/prod/5.json', error: 'HOIST_S3: AccessDenied' } },
    ],
    historyCount: 42,
  });
  const trusted = appPage(snapshot([data]), 'web', 'prod', ctx(true));
  assert.equal(trusted?.historyCount, 42);
  assert.deepEqual(trusted?.history.map((h) => [h.sequence, h.kind, h.version, h.current, h.signers.map((s) => `${s.name} ${s.status}`), h.error]), [
    [20, 'release', '2.0.0', true, ['ci verified', `${keys.intruder.keyId.slice(0, 12)}\u2026 unknown-key`], null],
    [11, 'release', '1.0.0', false, ['ci invalid'], 'the key says sequence 11 but the manifest says 10'],
    [10, 'release', '1.0.0', false, ['ci verified'], null],
    [6, 'unpin', null, false, ['ops verified'], null],
    [5, 'unreadable', null, false, [], 'HOIST_S3: AccessDenied'],
  ]);
  assert.deepEqual(trusted?.history[0]?.notes, [['by', 'ci'], ['promotedFrom', 'staging@7']]);
  assert.deepEqual(trusted?.history[0]?.approvals, [
    { name: 'unreadable approval', at: null, status: 'invalid' },
    { name: 'ci', at: NOW - 5 * MIN, status: 'verified' },
    { name: 'ops', at: NOW - 2 * MIN, status: 'verified' },
    { name: `${keys.intruder.keyId.slice(0, 12)}\u2026`, at: NOW - MIN, status: 'unknown-key' },
    { name: 'ops', at: NOW, status: 'mismatch' },
  ]);
  assert.deepEqual(trusted?.history[2]?.approvals, [], 'no statements for this sequence');
  const unverified = appPage(snapshot([data]), 'web', 'prod', ctx(false));
  assert.deepEqual(unverified?.history[0]?.approvals.map((a) => a.status), ['invalid', 'unverified', 'unverified', 'unverified', 'mismatch']);
  assert.deepEqual(unverified?.history[0]?.signers, [
    { name: `${keys.ci.keyId.slice(0, 12)}\u2026`, status: 'unverified' },
    { name: `${keys.intruder.keyId.slice(0, 12)}\u2026`, status: 'unverified' },
  ]);
});

test('toneOf: a colour class only from the fixed set, never from the state text', () => {
  for (const [state, tone] of [['healthy', 'ok'], ['halted', 'bad'], ['deploying', 'busy'], ['constructor', 'unknown'], ['__proto__', 'unknown'], ['<b>x</b>', 'unknown']] as const) {
    assert.equal(toneOf(state), tone, state);
  }
});
