import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetJson, lastError, noticeLines, renderFleetText, summarizeFleet, summaryLines, tableRows, type FetchedReport } from '../../src/fleet/summary.ts';
import { convergence } from '../../src/fleet/converge.ts';
import { waitForConvergence } from '../../src/fleet/wait.ts';
import { parseStatusReport } from '../../src/report/status.ts';
import { mapLimit } from '../../src/fleet/map-limit.ts';
import { renderTable } from '../../src/cli/table.ts';
import type { StatusReport } from '../../src/report/status.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');

function report(hostId: string, state: StatusReport['state'], version: string | null, ageMs: number, error?: { code: string; message: string }): FetchedReport {
  return {
    key: `status/web/prod/${hostId}.json`,
    hostId,
    report: {
      hostId,
      app: 'web',
      env: 'prod',
      state,
      current: version === null ? null : { version, sha256: 'a'.repeat(64), sequence: 1, since: new Date(NOW - ageMs).toISOString() },
      previous: null,
      lastAttempt: error === undefined ? null : { version: '3.0', outcome: 'rolled-back', code: error.code, message: error.message, at: new Date(NOW).toISOString() },
      agentVersion: '0.1.0',
      updatedAt: new Date(NOW - ageMs).toISOString(),
    },
  };
}

test('summarizeFleet: sorted hosts, versions, state counts, stale and unreadable', () => {
  const status = summarizeFleet(
    [
      report('c', 'healthy', '2.0', 1000),
      report('a', 'rolled-back', '2.0', 2000, { code: 'HOIST_HEALTH_FAILED', message: '3.0 is unhealthy '.repeat(10) }),
      report('b', 'pinned', '1.0', 60_000),
      report('d', 'healthy', '2.0', 20 * 60_000),
      report('e', 'idle', null, 0),
      { key: 'status/web/prod/x.json', hostId: 'x', error: 'not JSON' },
    ],
    NOW,
  );
  assert.deepEqual(status.hosts.map((h) => h.hostId), ['a', 'b', 'c', 'd', 'e', 'x']);
  assert.deepEqual(status.summary.versions, { '2.0': 3, '1.0': 1, '-': 1 });
  assert.equal(status.summary.states.healthy, 2);
  assert.equal(status.summary.states['rolled-back'], 1);
  assert.equal(status.summary.states.pinned, 1);
  assert.equal(status.summary.states.idle, 1);
  assert.equal(status.summary.states.failed, 0);
  assert.deepEqual(status.summary.stale, ['d']);
  assert.deepEqual(status.summary.unreadable, ['x']);

  const rows = tableRows(status);
  assert.equal(rows[0]?.[5]?.startsWith('HOIST_HEALTH_FAILED: 3.0 is unhealthy'), true);
  assert.ok((rows[0]?.[5]?.length ?? 0) <= 60);
  assert.ok(rows[0]?.[5]?.endsWith('…'));
  assert.equal(rows[3]?.[6], '20m STALE');
  assert.deepEqual(rows[5], ['x', '?', '?', 'unreadable', '-', 'not JSON', '-']);
  assert.equal(rows[4]?.[1], '-');
  assert.equal(rows[0]?.[2], '?', 'an agent that does not report desired');

  const lines = summaryLines(status);
  assert.match(lines[0] ?? '', /^6 hosts; versions: - on 1 host, 1\.0 on 1 host, 2\.0 on 3 hosts$/);
  assert.match(lines[1] ?? '', /healthy 2, rolled-back 1, failed 0, pinned 1, deploying 0, idle 1/);
  assert.match(lines.join('\n'), /STALE: d/);
  assert.match(lines.join('\n'), /unreadable reports: x/);
  assert.match(renderFleetText(status, renderTable), /^HOST +VERSION +DESIRED +STATE +PIN REASON +LAST ERROR +AGE\n/);
  assert.equal(status.summary.converged, false);
  assert.deepEqual(status.summary.notConverged.map((n) => n.hostId), ['a', 'd', 'e', 'x']);

  const json = fleetJson(status);
  assert.equal(json.hosts.length, 6);
  assert.equal(json.hosts.find((h) => h.hostId === 'd')?.stale, true);
  assert.equal(json.hosts.find((h) => h.hostId === 'x')?.error, 'not JSON');
});

test('a custom stale threshold and an unparsable updatedAt', () => {
  const r = report('a', 'healthy', '1', 2 * 60_000);
  assert.equal(summarizeFleet([r], NOW, 60_000).hosts[0]?.stale, true);
  assert.equal(summarizeFleet([r], NOW, 5 * 60_000).hosts[0]?.stale, false);
  const weird = { ...r, report: { ...(r.report as StatusReport), updatedAt: 'yesterday' } };
  const h = summarizeFleet([weird], NOW).hosts[0];
  assert.equal(h?.ageMs, null);
  assert.equal(h?.stale, true);
  assert.equal(tableRows(summarizeFleet([weird], NOW))[0]?.[6], '? STALE');
});

test('lastError', () => {
  const base = report('a', 'failed', '1', 0, { code: 'HOIST_X', message: 'short\nmessage' }).report as StatusReport;
  assert.equal(lastError(base), 'HOIST_X: short message');
  assert.equal(lastError({ ...base, lastAttempt: null }), '-');
  assert.equal(lastError({ ...base, lastAttempt: { version: null, outcome: 'healthy', code: null, message: null, at: '' } }), '-');
});

test('mapLimit keeps order and bounds concurrency', async () => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, n * 3));
    inFlight--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(peak, 2);
  assert.deepEqual(await mapLimit([], 4, () => Promise.resolve(1)), []);
});

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function withFields(r: FetchedReport, fields: Record<string, unknown>): StatusReport {
  return { ...(r.report as StatusReport), ...fields };
}

test('convergence: settled state, the desired release, fresh report', () => {
  const base = report('a', 'healthy', '1.0', 0);
  const desired = (sha256: string, kind = 'release', reason?: string): Record<string, unknown> => ({ desired: { version: sha256 === SHA_A ? '1.0' : '2.0', sha256, sequence: 2, kind, ...(reason === undefined ? {} : { reason }) } });
  const table: Array<[string, StatusReport | null, boolean, boolean, string | null]> = [
    ['healthy on what it desires', withFields(base, desired(SHA_A)), false, true, null],
    ['healthy, older agent without desired', withFields(base, {}), false, true, null],
    ['healthy on an older release', withFields(base, desired(SHA_B)), false, false, 'runs 1.0, desires 2.0'],
    ['pinned to what the pin says', withFields(base, { state: 'pinned', ...desired(SHA_A, 'pin', 'leak') }), false, true, null],
    ['waiting outside the due cohort (desires what it runs)', withFields(base, { state: 'waiting', ...desired(SHA_A), skipped: { reason: 'step', eligibleAt: '2026-01-01T13:00:00Z' } }), false, true, null],
    ['rolled back', withFields(base, { state: 'rolled-back', lastAttempt: { version: '2.0', outcome: 'rolled-back', code: 'HOIST_HEALTH_FAILED', message: 'x', at: '' } }), false, false, 'rolled-back (HOIST_HEALTH_FAILED)'],
    ['halted', withFields(base, { state: 'halted' }), false, false, 'halted'],
    ['deploying', withFields(base, { state: 'deploying' }), false, false, 'deploying'],
    ['a state this version does not know', withFields(base, { state: 'quarantined' }), false, false, 'quarantined'],
    ['healthy but stale', withFields(base, {}), true, false, 'stale report'],
    ['unreadable', null, false, false, 'unreadable report'],
  ];
  for (const [what, r, stale, converged, reason] of table) {
    assert.deepEqual(convergence(r, stale), { converged, reason }, what);
  }
});

test('reports: new fields read, unknown states and fields kept, a malformed new field read as absent', () => {
  const raw = {
    ...(report('a', 'healthy', '1.0', 0).report as StatusReport),
    state: 'quarantined',
    desired: { version: '2.0', sha256: SHA_B, sequence: 5, kind: 'pin', reason: '2.0 leaks memory' },
    rejected: { sequence: 7, code: 'HOIST_SIGNATURE_UNTRUSTED', message: 'no trusted signature', at: new Date(NOW - 60_000).toISOString() },
    skipped: 'not an object',
    trust: { version: 4, expiresAt: '2027-01-01T00:00:00Z' },
    clockSkew: { ms: 4200 },
    futureField: [1, 2],
  };
  const parsed = parseStatusReport(raw);
  assert.ok(parsed !== undefined);
  assert.equal(parsed.state, 'quarantined');
  assert.equal(parsed.desired?.reason, '2.0 leaks memory');
  assert.equal(parsed.skipped, undefined);
  assert.equal(parsed.trust?.version, 4);
  assert.deepEqual(parsed.clockSkew, { ms: 4200 });
  assert.deepEqual(parsed['futureField'], [1, 2]);
  const status = summarizeFleet([{ key: 'k', hostId: 'a', report: parsed }], NOW);
  assert.equal(status.summary.states['quarantined'], 1);
  assert.match(summaryLines(status)[1] ?? '', /, halted 0, quarantined 1$/);
  const row = tableRows(status)[0];
  assert.deepEqual(row?.slice(0, 5), ['a', '1.0', '2.0 (pin)', 'quarantined', '2.0 leaks memory']);
  assert.deepEqual(noticeLines(status, NOW), ['rejected: a sequence 7 HOIST_SIGNATURE_UNTRUSTED: no trusted signature (1m ago)']);
  assert.deepEqual((fleetJson(status).hosts[0] as Record<string, unknown>)['futureField'], [1, 2]);
});

test('skipped targets are listed; --forget-after hides old reports from the table and the verdict', () => {
  const skipped = { key: 'k', hostId: 'b', report: withFields(report('b', 'healthy', '1.0', 0), { skipped: { reason: 'failed-list' } }) };
  const gone = report('old', 'healthy', '0.9', 8 * 86_400_000);
  const status = summarizeFleet([skipped, gone], NOW, { forgetAfterMs: 7 * 86_400_000 });
  assert.deepEqual(status.hosts.map((h) => h.hostId), ['b']);
  assert.deepEqual(status.summary.forgotten, ['old']);
  assert.equal(status.summary.converged, true);
  assert.deepEqual(noticeLines(status, NOW), ['skipped: b failed-list']);
  assert.match(summaryLines(status).join('\n'), /hidden: 1 report older than --forget-after \(old\)\nconverged: every host/);
  assert.equal(summarizeFleet([skipped, gone], NOW).summary.converged, false, 'without --forget-after the old report is stale');
});

test('waitForConvergence: returns the first converged read, or the last one at the deadline', async () => {
  const lagging = summarizeFleet([report('a', 'deploying', '1.0', 0)], NOW);
  const done = summarizeFleet([report('a', 'healthy', '2.0', 0)], NOW);
  let reads = 0;
  const progress: number[] = [];
  const converged = await waitForConvergence(() => Promise.resolve(++reads < 3 ? lagging : done), { waitMs: 60_000, pollMs: 1, onProgress: () => progress.push(reads) });
  assert.equal(converged, done);
  assert.equal(reads, 3);
  assert.deepEqual(progress, [1, 2]);
  let clock = 0;
  reads = 0;
  const timedOut = await waitForConvergence(() => {
    reads++;
    clock += 400;
    return Promise.resolve(lagging);
  }, { waitMs: 1000, pollMs: 1, now: () => clock });
  assert.equal(timedOut, lagging);
  assert.equal(reads, 3);
  const aborted = AbortSignal.abort(new Error('stop'));
  await assert.rejects(waitForConvergence(() => Promise.resolve(lagging), { waitMs: 60_000, pollMs: 1000, signal: aborted }), /stop/);
});
