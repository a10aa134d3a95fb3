/**
 * Change evidence end to end: publishes, approvals and a pin written by the CLI, deployed by the
 * real agent; `hoist history` names the signers and approvers through --trust, `hoist audit
 * --format csv` parses as RFC 4180 CSV with one record per manifest and its host counts, and
 * rollback --trust counts approval statements toward the threshold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_COLUMNS } from '../../src/evidence/audit.ts';
import { createHarness } from '../helpers/harness.ts';
import { parseCsv } from '../helpers/csv.ts';
import { assertCode, buildRelease, listAll, ops, publishArgs, readManifest, writeTrust } from './ops.ts';

test('history lists signers and approvers by name, audit csv has one record per manifest with host counts', { timeout: 240_000 }, async () => {
  await using h = await createHarness();
  const trustBlock = {
    keys: { ci: h.keyPaths.ci?.pub, alice: h.keyPaths.alice?.pub, bob: h.keyPaths.bob?.pub },
    roles: { release: { keys: ['ci', 'alice', 'bob'], threshold: 2 }, pin: { keys: ['alice', 'bob'], threshold: 1 } },
  };
  await h.writeConfig({ trust: trustBlock });
  const trust = await writeTrust(h, 2);
  const approve = (key: string): Promise<unknown> => ops(h, ['approve', '--app', 'web', '--env', 'prod', '--key', h.keyPaths[key]?.key ?? '', '--trust', trust]);

  const f1 = await buildRelease(h, '1.0.0');
  const p1 = await ops(h, [...publishArgs(h, '1.0.0', f1), '--commit', 'c0ffee1', '--by', 'ci, the "robot"', '--ci-run', 'https://ci.example/run/1']);
  assert.equal(p1.code, 0, p1.stderr);
  await approve('alice');
  assert.equal((await h.once()).code, 0);
  const f2 = await buildRelease(h, '2.0.0');
  assert.equal((await ops(h, [...publishArgs(h, '2.0.0', f2), '--commit', 'c0ffee2', '--by', 'ci'])).code, 0);
  await approve('bob');
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '2.0.0');
  const pinned = await ops(h, ['pin', '--app', 'web', '--env', 'prod', '--version', '1.0.0', '--reason', '2.0.0 is slow', '--key', h.keyPaths.alice?.key ?? '']);
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.equal((await h.once()).code, 0);
  assert.equal(await h.current(), '1.0.0');
  assert.equal((await listAll(h, 'history/web/prod/pins/')).length, 1, 'the pin has its history copy');

  // history, by name
  const text = await ops(h, ['history', '--app', 'web', '--env', 'prod', '--trust', trust]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^SEQUENCE +KIND +VERSION +SHA256 +ISSUED +SIGNED BY +APPROVALS +OUTCOMES +NOTES$/);
  assert.match(lines[1] ?? '', /^\d+ +pin +1\.0\.0 .* alice .* healthy 1 .*reason=2\.0\.0 is slow/);
  assert.match(lines[2] ?? '', /^\d+ +release +2\.0\.0 .* ci +bob \d{4}-\d\d-\d\dT[\d:.]+Z +healthy 1 +.*commit=c0ffee2/);
  assert.match(lines[3] ?? '', /^\d+ +release +1\.0\.0 .* ci +alice \d{4}-\d\d-\d\dT[\d:.]+Z +healthy 1 +.*ciRun=https:\/\/ci\.example\/run\/1/);
  const json = JSON.parse((await ops(h, ['history', '--app', 'web', '--env', 'prod', '--trust', trust, '--json'])).stdout) as Array<{ kind: string; version: string; signers: Array<{ name: string; status: string }>; approvals: Array<{ name: string; status: string; at: string }>; verdict: string; outcomes: Record<string, number> }>;
  assert.deepEqual(json.map((r) => [r.kind, r.version, r.signers.map((s) => `${s.name}:${s.status}`), r.approvals.map((a) => `${a.name}:${a.status}`), r.verdict, r.outcomes.healthy]), [
    ['pin', '1.0.0', ['alice:verified'], [], 'verified', 1],
    ['release', '2.0.0', ['ci:verified'], ['bob:verified'], 'verified', 1],
    ['release', '1.0.0', ['ci:verified'], ['alice:verified'], 'verified', 1],
  ]);
  // without --trust the key ids are shown as claimed, unchecked
  const unchecked = await ops(h, ['history', '--app', 'web', '--env', 'prod']);
  assert.match(unchecked.stdout, /signatures not checked/);
  assert.doesNotMatch(unchecked.stdout, /\balice\b/);

  // audit, as CSV
  const csv = await ops(h, ['audit', '--app', 'web', '--env', 'prod', '--trust', trust, '--format', 'csv']);
  assert.equal(csv.code, 0, csv.stderr);
  const records = parseCsv(csv.stdout);
  assert.deepEqual(records[0], [...AUDIT_COLUMNS]);
  assert.equal(records.length, 4, 'a header and one record per manifest');
  const rows = records.slice(1).map((r) => Object.fromEntries(AUDIT_COLUMNS.map((c, i) => [c, r[i] ?? ''])));
  assert.deepEqual(rows.map((r) => [r.kind, r.version, r.hosts_healthy, r.hosts_rolled_back, r.hosts_failed, r.hosts_halted, r.signatures_verified]), [
    ['pin', '1.0.0', '1', '0', '0', '0', 'yes'],
    ['release', '2.0.0', '1', '0', '0', '0', 'yes'],
    ['release', '1.0.0', '1', '0', '0', '0', 'yes'],
  ]);
  const first = rows[2] ?? {};
  assert.equal(first.built_by, 'ci, the "robot"', 'commas and quotes survive');
  assert.equal(first.commit, 'c0ffee1');
  assert.equal(first.ci_run, 'https://ci.example/run/1');
  assert.match(first.approvals ?? '', /^alice \d{4}-\d\d-\d\dT/);
  assert.match(first.hosts ?? '', /^host-1 healthy \d{4}-/);
  assert.ok(Date.parse(first.first_healthy_at ?? '') >= Date.parse(first.issued_at ?? ''));
  assert.equal(parseCsv((await ops(h, ['audit', '--app', 'web', '--env', 'prod', '--format', 'csv', '--since', '2099-01-01T00:00:00Z'])).stdout).length, 1, 'only the header');
  const audit = JSON.parse((await ops(h, ['audit', '--app', 'web', '--env', 'prod', '--trust', trust, '--json', '--since', '1d'])).stdout) as { manifests: Array<{ hosts: Record<string, Array<{ host: string }>> }> };
  assert.equal(audit.manifests.length, 3);
  assert.deepEqual(audit.manifests[0]?.hosts.healthy?.map((x) => x.host), ['host-1']);

  // rollback --trust finds 1.0.0 fully approved: ci on the copy, alice's statement beside it
  const back = await ops(h, ['rollback', '--app', 'web', '--env', 'prod', '--to', '1.0.0', '--key', h.keyPaths.ci?.key ?? '', '--trust', trust]);
  assert.equal(back.code, 0, back.stderr);
  const channel = await readManifest(h, 'channels/web/prod.json');
  assert.equal(channel.payload.version, '1.0.0');
  assert.equal(channel.payload.retryFailed, true, 'a rollback always sets retryFailed');
  // a release nobody approved does not qualify
  const f3 = await buildRelease(h, '3.0.0');
  assert.equal((await ops(h, publishArgs(h, '3.0.0', f3))).code, 0);
  assertCode(await ops(h, ['rollback', '--app', 'web', '--env', 'prod', '--to', '3.0.0', '--key', h.keyPaths.ci?.key ?? '', '--trust', trust]), 1, 'HOIST_VERSION_NOT_FOUND');
});
