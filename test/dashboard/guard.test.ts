import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedHosts, hostAllowed, isLoopback, parseListen, requestToken, SECURITY_HEADERS, tokenMatches } from '../../src/dashboard/guard.ts';
import { parseEventKey, parseHistoryKey, parseManifestKey, parseStatusKey } from '../../src/dashboard/keys.ts';
import { isHoistError } from '../../src/errors.ts';

test('parseListen: HOST:PORT and [IPv6]:PORT, anything else is a usage error', () => {
  const good: Array<[string, string, number]> = [
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['[::1]:9000', '::1', 9000],
    ['localhost:0', 'localhost', 0],
    ['0.0.0.0:80', '0.0.0.0', 80],
    ['dash.internal:8443', 'dash.internal', 8443],
  ];
  for (const [text, host, port] of good) assert.deepEqual(parseListen(text), { host, port }, text);
  for (const bad of ['8080', '127.0.0.1', '127.0.0.1:http', '127.0.0.1:70000', '[nothex]:80', '::1:80', 'a b:80', '']) {
    assert.throws(() => parseListen(bad), (e: unknown) => isHoistError(e, 'HOIST_USAGE'), bad);
  }
});

test('isLoopback', () => {
  for (const [address, loopback] of [['127.0.0.1', true], ['127.8.9.10', true], ['::1', true], ['::ffff:127.0.0.1', true], ['localhost', true], ['10.0.0.5', false], ['0.0.0.0', false], ['::', false], ['128.0.0.1', false], ['localhost.evil.example', false]] as const) {
    assert.equal(isLoopback(address), loopback, address);
  }
});

test('allowedHosts and hostAllowed: only the listen address (DNS rebinding names are refused)', () => {
  const cases: Array<{ listen: string; port: number; interfaces?: string[]; allowed: string[]; refused: string[] }> = [
    { listen: '127.0.0.1:8080', port: 8080, allowed: ['127.0.0.1:8080', 'LOCALHOST:8080', '[::1]:8080'], refused: ['evil.example:8080', '127.0.0.1:8081', '127.0.0.1', '', 'rebind.127.0.0.1.nip.io:8080'] },
    { listen: '127.0.0.1:0', port: 43210, allowed: ['127.0.0.1:43210'], refused: ['127.0.0.1:0'] },
    { listen: '[::1]:8080', port: 8080, allowed: ['[::1]:8080', 'localhost:8080'], refused: ['::1:8080'] },
    { listen: '10.0.0.5:8080', port: 8080, allowed: ['10.0.0.5:8080'], refused: ['localhost:8080', '127.0.0.1:8080', 'dash.example:8080'] },
    { listen: 'dash.internal:8080', port: 8080, allowed: ['dash.internal:8080'], refused: ['10.0.0.5:8080'] },
    { listen: '0.0.0.0:8080', port: 8080, interfaces: ['10.0.0.5', 'fe80::1'], allowed: ['10.0.0.5:8080', '[fe80::1]:8080', 'localhost:8080'], refused: ['evil.example:8080', '10.0.0.6:8080'] },
  ];
  for (const c of cases) {
    const allowed = allowedHosts(parseListen(c.listen), c.port, c.interfaces ?? []);
    for (const h of c.allowed) assert.equal(hostAllowed(h, allowed), true, `${c.listen} allows ${h}`);
    for (const h of c.refused) assert.equal(hostAllowed(h, allowed), false, `${c.listen} refuses ${h}`);
    assert.equal(hostAllowed(undefined, allowed), false);
  }
});

test('tokens: constant-time match, from a bearer header or the cookie', () => {
  assert.equal(tokenMatches('abc', 'abc'), true);
  assert.equal(tokenMatches('abc', 'abd'), false);
  assert.equal(tokenMatches('abc', 'abcd'), false);
  assert.equal(tokenMatches('abc', undefined), false);
  const cases: Array<[Record<string, string>, string | undefined]> = [
    [{ authorization: 'Bearer t0k' }, 't0k'],
    [{ cookie: 'a=1; hoist_dashboard=t0k=; b=2' }, 't0k='],
    [{ authorization: 'Basic x', cookie: 'hoist_dashboard=c' }, 'c'],
    [{ cookie: 'other=1' }, undefined],
    [{}, undefined],
  ];
  for (const [headers, want] of cases) assert.equal(requestToken(headers), want, JSON.stringify(headers));
});

test('the Content-Security-Policy allows no inline script, no other origin and no HTML sinks', () => {
  const csp = SECURITY_HEADERS['Content-Security-Policy'] ?? '';
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('script-src'), ["'self'"]);
  assert.deepEqual(directives.get('connect-src'), ["'self'"]);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  assert.deepEqual(directives.get('require-trusted-types-for'), ["'script'"]);
  assert.doesNotMatch(csp, /unsafe|https?:|\*/);
});

test('listed keys: only the exact shapes count', () => {
  const cases: Array<[string, unknown]> = [
    ['status/web/prod/host-1.json', { app: 'web', env: 'prod', host: 'host-1' }],
    ['status/web/prod/<img src=x onerror=alert(1)>.json', { app: 'web', env: 'prod', host: '<img src=x onerror=alert(1)>' }],
    ['status/web/prod/nested/x.json', undefined],
    ['status/web/prod/.json', undefined],
    ['status/web/../x.json', undefined],
    ['status/web/prod/x.txt', undefined],
  ];
  for (const [key, want] of cases) assert.deepEqual(parseStatusKey('status/', key), want, key);
  assert.deepEqual(parseManifestKey('p/channels/', 'p/channels/web/prod.json'), { app: 'web', env: 'prod' });
  assert.equal(parseManifestKey('p/channels/', 'p/channels/web/prod/x.json'), undefined);
  assert.equal(parseManifestKey('p/channels/', 'channels/web/prod.json'), undefined);
  const h = 'history/web/prod/';
  assert.deepEqual(parseHistoryKey(h, `${h}1764201234567.json`), { kind: 'release', sequence: 1764201234567 });
  assert.deepEqual(parseHistoryKey(h, `${h}pins/12.json`), { kind: 'pin', sequence: 12 });
  for (const bad of [`${h}x.json`, `${h}pins/x.json`, `${h}other/1.json`, `${h}99999999999999999.json`, `${h}1.json.bak`]) assert.equal(parseHistoryKey(h, bad), undefined, bad);
  const e = 'events/web/prod/5/';
  assert.deepEqual(parseEventKey(e, `${e}rolled-back/host-1.json`), { outcome: 'rolled-back', host: 'host-1' });
  assert.equal(parseEventKey(e, `${e}host-1.json`), undefined);
  assert.equal(parseEventKey(e, `${e}a/b/c.json`), undefined);
});
