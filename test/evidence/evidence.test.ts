import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { generateKeyPair, keyIdOf } from '../../src/crypto/keys.ts';
import { serializeEnvelope, signEnvelope } from '../../src/dsse/envelope.ts';
import { approvalStatement, checkApproval, roleSignatures, signApproval } from '../../src/evidence/approvals.ts';
import { auditCsv, auditRecord, AUDIT_COLUMNS } from '../../src/evidence/audit.ts';
import { toCsv } from '../../src/evidence/csv.ts';
import { evidenceRows, notesText, rowJson, type EvidenceRow } from '../../src/evidence/history.ts';
import type { Evidence } from '../../src/evidence/read.ts';
import { parseManifest } from '../../src/manifest/schema.ts';
import { resolveTrustPolicy } from '../../src/trust/policy.ts';
import { parseCsv } from '../helpers/csv.ts';

test('toCsv: RFC 4180 quoting, CRLF records, formulas defused; the strict reader reads it back', () => {
  const rows = [
    ['plain', 'with,comma', 'with "quote"', 'two\nlines', '', null, 42, '=HYPERLINK("x")', '-12', '+1 day', '@home'],
  ];
  const text = toCsv(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'], rows);
  assert.equal(text.split('\r\n').length, 3);
  assert.deepEqual(parseCsv(text), [
    ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'],
    ['plain', 'with,comma', 'with "quote"', 'two\nlines', '', '', '42', '\'=HYPERLINK("x")', '-12', "'+1 day", "'@home"],
  ]);
  assert.throws(() => parseCsv('a,"b\r\n'), /unterminated/);
  assert.throws(() => parseCsv('a,b"c\r\n'), /quote inside/);
});

const SHA = 'c'.repeat(64);
const T0 = Date.parse('2026-12-01T10:00:00Z');

function manifest(sequence: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1,
    kind: 'release',
    app: 'web',
    env: 'prod',
    sequence,
    version: `1.0.${sequence}`,
    artifact: { key: `artifacts/web/${SHA}.tar.gz`, sha256: SHA, size: 10, format: 'tar+gzip' },
    issuedAt: new Date(T0 + sequence * 1000).toISOString(),
    expiresAt: new Date(T0 + 86_400_000).toISOString(),
    rollout: { percent: 100 },
    notes: { by: 'ci', commit: `c${sequence}`, ciRun: `https://ci/${sequence}`, ticket: 'CHG-1' },
    ...over,
  };
}

test('evidence rows and the audit record: signers and approvals checked and named, outcomes from events, one record per manifest', async () => {
  const ci = generateKeyPair();
  const alice = generateKeyPair();
  const mallory = generateKeyPair();
  const policy = await resolveTrustPolicy(
    { keys: new Map([['ci', ci.publicPem], ['alice', alice.publicPem]]), roles: { release: { keys: ['ci', 'alice'], threshold: 2 }, pin: { keys: ['alice'], threshold: 1 } }, clockSkew: 300_000 },
    { baseDir: '/' },
  );
  const sign = (payload: Record<string, unknown>, pem: string): Buffer => Buffer.from(serializeEnvelope(signEnvelope(Buffer.from(JSON.stringify(payload)), createPrivateKey(pem))));
  const m2 = manifest(2);
  const approve = (pem: string, over: Record<string, unknown> = {}): Buffer => {
    const key = createPrivateKey(pem);
    const statement = { ...approvalStatement(parseManifest(m2) as Extract<ReturnType<typeof parseManifest>, { kind: 'release' }>, key, new Date(T0 + 5000)), ...over };
    return Buffer.from(serializeEnvelope(signApproval(statement, key)));
  };
  const evidence: Evidence = {
    entries: [
      { key: 'history/web/prod/3.json', kind: 'release', sequence: 3, bytes: sign(manifest(3), ci.privatePem) },
      { key: 'history/web/prod/2.json', kind: 'release', sequence: 2, bytes: sign(m2, ci.privatePem) },
      { key: 'history/web/prod/1.json', kind: 'release', sequence: 1, error: 'deleted since it was listed' },
    ],
    approvals: new Map([[2, [approve(alice.privatePem), approve(mallory.privatePem), approve(alice.privatePem, { sha256: 'd'.repeat(64) })]]]),
    events: new Map([[2, new Map([['healthy', [{ host: 'h2', at: T0 + 9000 }, { host: 'h1', at: T0 + 8000 }]], ['rolled-back', [{ host: 'h3', at: T0 + 7000 }]]])]]),
  };
  const rows = evidenceRows(evidence, { app: 'web', env: 'prod', policy });
  assert.deepEqual(rows.map((r) => [r.sequence, r.kind, r.verdict]), [[3, 'release', 'incomplete'], [2, 'release', 'verified'], [1, 'unreadable', 'unverified']]);
  const two = rows[1];
  assert.ok(two !== undefined);
  assert.deepEqual(two.signers, [{ name: 'ci', status: 'verified' }]);
  assert.deepEqual(two.approvals.map((a) => [a.name, a.status, a.keyId === keyIdOf(createPrivateKey(alice.privatePem)) ? 'alice-id' : 'other']), [
    ['alice', 'verified', 'alice-id'],
    [`${keyIdOf(createPrivateKey(mallory.privatePem)).slice(0, 12)}…`, 'unknown-key', 'other'],
    ['alice', 'mismatch', 'alice-id'],
  ]);
  assert.deepEqual(two.outcomes, { healthy: 2, 'rolled-back': 1, failed: 0, halted: 0 });
  assert.deepEqual(two.ran.map((r) => r.host), ['h1', 'h2'], 'earliest first');

  const record = auditRecord('web', 'prod', two);
  const at = (c: (typeof AUDIT_COLUMNS)[number]): string | number | undefined => record[AUDIT_COLUMNS.indexOf(c)];
  assert.equal(record.length, AUDIT_COLUMNS.length);
  assert.equal(at('built_by'), 'ci');
  assert.equal(at('commit'), 'c2');
  assert.equal(at('ci_run'), 'https://ci/2');
  assert.equal(at('other_notes'), 'ticket=CHG-1');
  assert.equal(at('signatures_verified'), 'yes');
  assert.equal(at('first_healthy_at'), new Date(T0 + 8000).toISOString());
  assert.equal(at('last_healthy_at'), new Date(T0 + 9000).toISOString());
  assert.deepEqual([at('hosts_healthy'), at('hosts_rolled_back'), at('hosts_failed'), at('hosts_halted')], [2, 1, 0, 0]);
  assert.equal(at('hosts'), `h1 healthy ${new Date(T0 + 8000).toISOString()}; h2 healthy ${new Date(T0 + 9000).toISOString()}; h3 rolled-back ${new Date(T0 + 7000).toISOString()}`);
  assert.equal(parseCsv(auditCsv('web', 'prod', rows)).length, 4);
  assert.equal(rowJson(two, true).firstHealthyAt, new Date(T0 + 8000).toISOString());

  // --since drops what was issued before (and the unreadable entry, whose time is unknown)
  assert.deepEqual(evidenceRows(evidence, { app: 'web', env: 'prod', policy, since: T0 + 2500 }).map((r) => r.sequence), [3]);
  // roleSignatures: the approval makes it 2 of 2; without it, 1 of 2
  const envelope = JSON.parse((evidence.entries[1]?.bytes ?? Buffer.alloc(0)).toString()) as Parameters<typeof roleSignatures>[0];
  assert.deepEqual(roleSignatures(envelope, { app: 'web', env: 'prod' }, two.approvals, policy, 'release'), { signers: ['ci', 'alice'], threshold: 2, complete: true });
  assert.equal(roleSignatures(envelope, { app: 'web', env: 'prod' }, [], policy, 'release').complete, false);
  assert.equal(checkApproval(Buffer.from('garbage'), { app: 'web', env: 'prod', sequence: 2, sha256: SHA }, policy).status, 'invalid');
});

test('notesText: the notes a reader looks for, not the unpacked size agents check free space against', () => {
  const row = (notes: Array<[string, string]>): EvidenceRow => ({ notes }) as unknown as EvidenceRow;
  assert.equal(notesText(row([['commit', 'c0ffee'], ['unpackedBytes', '4096'], ['by', 'ci']])), 'commit=c0ffee by=ci');
  assert.equal(notesText(row([['unpackedBytes', '4096']])), '-');
});
