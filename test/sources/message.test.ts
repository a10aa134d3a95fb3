import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeS3EventKey, parseSqsBody } from '../../src/sources/message.ts';

const envelopeText = JSON.stringify({
  payloadType: 'application/vnd.hoist.manifest+json',
  payload: Buffer.from('{"schema":1}').toString('base64'),
  signatures: [{ keyid: 'k', sig: 'c2ln' }],
});

function s3Event(key: string, bucket = 'hoist-releases', eventName = 'ObjectCreated:Put'): string {
  return JSON.stringify({
    Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName, s3: { bucket: { name: bucket }, object: { key, size: 10 } } }],
  });
}

function sns(message: string): string {
  return JSON.stringify({ Type: 'Notification', MessageId: 'm1', TopicArn: 'arn:aws:sns:us-east-1:1:t', Message: message });
}

test('a raw DSSE envelope comes back as its original bytes', () => {
  // Odd spacing on purpose: the bytes must not be re-serialised.
  const text = `  ${envelopeText.replace(',', ' ,  ')}\n`;
  const out = parseSqsBody(text, '');
  assert.equal(out.type, 'envelope');
  assert.ok(out.type === 'envelope' && out.bytes.equals(Buffer.from(text, 'utf8')));
});

test('an SNS notification whose Message is an envelope yields the Message bytes', () => {
  const out = parseSqsBody(sns(envelopeText), '');
  assert.equal(out.type, 'envelope');
  assert.ok(out.type === 'envelope' && out.bytes.toString('utf8') === envelopeText);
});

test('an SNS notification carrying an S3 event yields the manifest keys', () => {
  assert.deepEqual(parseSqsBody(sns(s3Event('rel/pins/web/prod.json')), 'rel/'), {
    type: 's3-keys',
    keys: [{ bucket: 'hoist-releases', key: 'rel/pins/web/prod.json', kind: 'pin', app: 'web', env: 'prod' }],
  });
});

test('an S3 event with a URL-encoded key is decoded (+ is a space)', () => {
  assert.deepEqual(parseSqsBody(s3Event('channels/my+app/pr%C3%B6d%2B1.json'), ''), {
    type: 's3-keys',
    keys: [{ bucket: 'hoist-releases', key: 'channels/my app/pröd+1.json', kind: 'release', app: 'my app', env: 'pröd+1' }],
  });
});

test('an S3 event with several records keeps the manifest keys once each, skipping others', () => {
  const body = JSON.stringify({
    Records: [
      { eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'channels/web/prod.json' } } },
      { eventSource: 'aws:s3', eventName: 'ObjectCreated:Copy', s3: { bucket: { name: 'b' }, object: { key: 'channels/web/prod.json' } } },
      { eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'history/web/prod/1.json' } } },
      { eventSource: 'aws:sqs', body: 'x' },
      { eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'pins/web/prod.json' } } },
    ],
  });
  const out = parseSqsBody(body, '');
  assert.equal(out.type, 's3-keys');
  assert.deepEqual(out.type === 's3-keys' && out.keys.map((k) => k.key), ['channels/web/prod.json', 'pins/web/prod.json']);
});

test('table: ignored and garbage bodies never throw', () => {
  const cases: Array<[string, string, 'ignore' | 'garbage']> = [
    ['S3 test event', JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2026-01-01T00:00:00Z', Bucket: 'b' }), 'ignore'],
    ['SNS-wrapped S3 test event', sns(JSON.stringify({ Event: 's3:TestEvent' })), 'ignore'],
    ['unrelated key', s3Event(`artifacts/web/${'a'.repeat(64)}.tar.gz`), 'ignore'],
    ['key outside the prefix', s3Event('other/channels/web/prod.json'), 'ignore'],
    ['empty Records', JSON.stringify({ Records: [] }), 'ignore'],
    ['garbage JSON', '{"payloadType": "x", ', 'garbage'],
    ['non-JSON', 'deploy web please', 'garbage'],
    ['empty', '', 'garbage'],
    ['whitespace', '  \n', 'garbage'],
    ['JSON array', '[1,2]', 'garbage'],
    ['JSON string', '"hello"', 'garbage'],
    ['JSON null', 'null', 'garbage'],
    ['unknown object', '{"hello":"world"}', 'garbage'],
    ['half an envelope', '{"payloadType":"x","payload":"eA=="}', 'garbage'],
    ['SNS without Message', JSON.stringify({ Type: 'Notification', Message: 42 }), 'garbage'],
    ['SNS with non-JSON Message', sns('hello'), 'garbage'],
    ['SNS inside SNS', sns(sns(envelopeText)), 'garbage'],
    ['Records not an array', JSON.stringify({ Records: {} }), 'garbage'],
    ['S3 record without key', JSON.stringify({ Records: [{ eventSource: 'aws:s3', s3: { bucket: { name: 'b' } } }] }), 'garbage'],
    ['badly encoded key', s3Event('channels/web/%E0%A4%A.json'), 'garbage'],
  ];
  for (const [name, body, type] of cases) {
    const out = parseSqsBody(body, '');
    assert.equal(out.type, type, name);
    assert.ok((out.type === 'ignore' || out.type === 'garbage') && out.reason.length > 0, name);
  }
});

test('decodeS3EventKey', () => {
  assert.equal(decodeS3EventKey('a+b%2Fc'), 'a b/c');
  assert.equal(decodeS3EventKey('%'), undefined);
});

test('an S3 event naming trust/root.json asks for a trust refresh (in that bucket), alone or with manifest keys', () => {
  assert.deepEqual(parseSqsBody(s3Event('rel/trust/root.json'), 'rel/'), { type: 's3-keys', keys: [], trust: { bucket: 'hoist-releases' } });
  assert.deepEqual(parseSqsBody(sns(s3Event('trust/root.json', 'other')), ''), { type: 's3-keys', keys: [], trust: { bucket: 'other' } });
  const both = JSON.stringify({
    Records: [
      { eventSource: 'aws:s3', s3: { bucket: { name: 'b' }, object: { key: 'trust/history/4.json' } } },
      { eventSource: 'aws:s3', s3: { bucket: { name: 'b' }, object: { key: 'trust/root.json' } } },
      { eventSource: 'aws:s3', s3: { bucket: { name: 'b' }, object: { key: 'channels/web/prod.json' } } },
    ],
  });
  assert.deepEqual(parseSqsBody(both, ''), { type: 's3-keys', keys: [{ bucket: 'b', key: 'channels/web/prod.json', kind: 'release', app: 'web', env: 'prod' }], trust: { bucket: 'b' } });
  // Another prefix's trust document, or a history entry alone, is not this host's hint.
  assert.equal(parseSqsBody(s3Event('trust/root.json'), 'rel/').type, 'ignore');
  assert.equal(parseSqsBody(s3Event('trust/history/4.json'), '').type, 'ignore');
});
