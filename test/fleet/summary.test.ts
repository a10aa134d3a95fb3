import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetJson, lastError, renderFleetText, summarizeFleet, summaryLines, tableRows, type FetchedReport } from '../../src/fleet/summary.ts';
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
  assert.equal(rows[0]?.[3]?.startsWith('HOIST_HEALTH_FAILED: 3.0 is unhealthy'), true);
  assert.ok((rows[0]?.[3]?.length ?? 0) <= 60);
  assert.ok(rows[0]?.[3]?.endsWith('…'));
  assert.equal(rows[3]?.[4], '20m STALE');
  assert.deepEqual(rows[5], ['x', '?', 'unreadable', 'not JSON', '-']);
  assert.equal(rows[4]?.[1], '-');

  const lines = summaryLines(status);
  assert.match(lines[0] ?? '', /^6 hosts; versions: - on 1 host, 1\.0 on 1 host, 2\.0 on 3 hosts$/);
  assert.match(lines[1] ?? '', /healthy 2, rolled-back 1, failed 0, pinned 1, deploying 0, idle 1/);
  assert.match(lines.join('\n'), /STALE: d/);
  assert.match(lines.join('\n'), /unreadable reports: x/);
  assert.match(renderFleetText(status, renderTable), /^HOST +VERSION +STATE +LAST ERROR +AGE\n/);

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
  assert.equal(tableRows(summarizeFleet([weird], NOW))[0]?.[4], '? STALE');
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
