import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pae } from '../../src/dsse/pae.ts';

test('PAE known answer (DSSE v1 protocol example)', () => {
  // From the DSSE protocol document: type "http://example.com/HelloWorld", body "hello world".
  const expected = Buffer.from('DSSEv1 29 http://example.com/HelloWorld 11 hello world', 'ascii');
  assert.deepEqual(pae('http://example.com/HelloWorld', Buffer.from('hello world')), expected);
});

test('PAE lengths are byte counts, not character counts', () => {
  const body = Buffer.from('héllo', 'utf8'); // 6 bytes, 5 characters
  // Built by hand: "DSSEv1" SP "5" SP <5 bytes of "tÿpe"> SP "6" SP <6 body bytes>
  const type = Buffer.from('tÿpe', 'utf8');
  assert.equal(type.length, 5);
  const byHand = Buffer.concat([Buffer.from('DSSEv1 5 '), type, Buffer.from(' 6 '), body]);
  assert.deepEqual(pae('tÿpe', body), byHand);
});

test('PAE of an empty body', () => {
  assert.deepEqual(pae('t', new Uint8Array()), Buffer.from('DSSEv1 1 t 0 '));
});

test('PAE keeps binary payload bytes as they are', () => {
  const body = Uint8Array.from([0, 255, 10, 32]);
  const out = pae('x', body);
  assert.deepEqual(out.subarray(out.length - 4), Buffer.from(body));
  assert.deepEqual(out.subarray(0, out.length - 4), Buffer.from('DSSEv1 1 x 4 '));
});
