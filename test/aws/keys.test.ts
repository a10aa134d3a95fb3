import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePrefix, parseManifestKey, s3Keys } from '../../src/aws/keys.ts';
import { isHoistError } from '../../src/errors.ts';

const SHA = 'a'.repeat(64);

test('s3Keys without a prefix builds the documented layout at the bucket root', () => {
  const k = s3Keys('');
  assert.equal(k.prefix, '');
  assert.equal(k.channel('web', 'prod'), 'channels/web/prod.json');
  assert.equal(k.pin('web', 'prod'), 'pins/web/prod.json');
  assert.equal(k.history('web', 'prod', 1764201234567), 'history/web/prod/1764201234567.json');
  assert.equal(k.historyPrefix('web', 'prod'), 'history/web/prod/');
  assert.equal(k.status('web', 'prod', 'i-0abc'), 'status/web/prod/i-0abc.json');
  assert.equal(k.statusPrefix('web', 'prod'), 'status/web/prod/');
  assert.equal(k.artifact('web', SHA, 'tar.gz'), `artifacts/web/${SHA}.tar.gz`);
  assert.equal(k.artifact('web', SHA, 'tar.zst'), `artifacts/web/${SHA}.tar.zst`);
});

test('s3Keys with a prefix puts everything under it, with or without the trailing slash', () => {
  for (const prefix of ['team/releases/', 'team/releases']) {
    const k = s3Keys(prefix);
    assert.equal(k.prefix, 'team/releases/');
    assert.equal(k.channel('web', 'prod'), 'team/releases/channels/web/prod.json');
    assert.equal(k.pin('api', 'staging'), 'team/releases/pins/api/staging.json');
    assert.equal(k.history('web', 'prod', 7), 'team/releases/history/web/prod/7.json');
    assert.equal(k.historyPrefix('web', 'prod'), 'team/releases/history/web/prod/');
    assert.equal(k.status('web', 'prod', 'host-1'), 'team/releases/status/web/prod/host-1.json');
    assert.equal(k.statusPrefix('web', 'prod'), 'team/releases/status/web/prod/');
    assert.equal(k.artifact('web', SHA, 'tar.gz'), `team/releases/artifacts/web/${SHA}.tar.gz`);
  }
  assert.equal(normalizePrefix(''), '');
  assert.equal(normalizePrefix('x/'), 'x/');
});

test('history sequence is written as a plain decimal integer, never exponent notation', () => {
  assert.equal(s3Keys('').history('web', 'prod', Number.MAX_SAFE_INTEGER), `history/web/prod/${Number.MAX_SAFE_INTEGER}.json`);
  assert.equal(s3Keys('').history('web', 'prod', 0), 'history/web/prod/0.json');
});

test('s3Keys refuses names that would escape their folder and bad digests or sequences', () => {
  const k = s3Keys('');
  const bad: Array<() => string> = [
    () => k.channel('a/b', 'prod'),
    () => k.pin('web', ''),
    () => k.status('web', 'prod', '..'),
    () => k.history('web', 'prod', 1.5),
    () => k.history('web', 'prod', -1),
    () => k.artifact('web', 'ABC', 'tar.gz'),
    () => k.artifact('web', 'A'.repeat(64), 'tar.gz'),
  ];
  for (const fn of bad) assert.throws(fn, (err) => isHoistError(err, 'HOIST_USAGE'));
});

test('parseManifestKey recognises channel and pin keys only', () => {
  assert.deepEqual(parseManifestKey('', 'channels/web/prod.json'), { kind: 'release', app: 'web', env: 'prod' });
  assert.deepEqual(parseManifestKey('', 'pins/web/prod.json'), { kind: 'pin', app: 'web', env: 'prod' });
  assert.deepEqual(parseManifestKey('p', 'p/channels/api/staging.json'), { kind: 'release', app: 'api', env: 'staging' });
  assert.deepEqual(parseManifestKey('p/', 'p/pins/my app/prod.json'), { kind: 'pin', app: 'my app', env: 'prod' });
  const ignored = [
    ['', `artifacts/web/${SHA}.tar.gz`],
    ['', 'history/web/prod/1.json'],
    ['', 'status/web/prod/h.json'],
    ['', 'channels/web/prod.yaml'],
    ['', 'channels/web/prod/extra.json'],
    ['', 'channels/web/.json'],
    ['', 'channels/../prod.json'],
    ['p/', 'channels/web/prod.json'],
    ['', 'p/channels/web/prod.json'],
  ] as const;
  for (const [prefix, key] of ignored) assert.equal(parseManifestKey(prefix, key), undefined, key);
});

test('parseManifestKey is the inverse of s3Keys for channel and pin', () => {
  const k = s3Keys('x/y');
  assert.deepEqual(parseManifestKey('x/y', k.channel('web', 'prod')), { kind: 'release', app: 'web', env: 'prod' });
  assert.deepEqual(parseManifestKey('x/y', k.pin('web', 'prod')), { kind: 'pin', app: 'web', env: 'prod' });
});
