/**
 * requestState for input_required: a round trip gives back the reference; a flipped byte, another key,
 * another instance, an expiry or garbage are each refused with a reason. Pure given the key and time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { digestOf, RequestStateCodec, type ParkedRef } from '../src/downstream/stateless/request-state.ts';

const KEY = randomBytes(32);
const NOW = 1_800_000_000_000;
const REF: ParkedRef = { token: 'tok-1', key: 'mcpproxy-srv-1', digest: digestOf({ method: 'tools/call', params: { name: 'ask-elicit' } }), principal: digestOf({}), expiresMs: NOW + 60_000 };

function errorOf(result: ParkedRef | { error: string }): string | undefined {
  return 'error' in result ? result.error : undefined;
}

test('round trip: decode gives back what encode bound', () => {
  const codec = new RequestStateCodec(KEY, 'instance-a');
  const state = codec.encode(REF);
  assert.equal(typeof state, 'string');
  assert.deepEqual(codec.decode(state, NOW), REF);
  assert.deepEqual(codec.decode(state, REF.expiresMs), REF, 'valid up to and including its expiry instant');
  assert.doesNotMatch(state, /[^A-Za-z0-9_.-]/, 'opaque and header/JSON safe');
});

test('a tampered state fails its integrity check', () => {
  const codec = new RequestStateCodec(KEY, 'instance-a');
  const state = codec.encode(REF);
  const [payload, mac] = state.split('.') as [string, string];
  // Rewrite the payload to name another principal, keep the old MAC.
  const forged = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  forged.principal = digestOf({ TOKEN: 'someone-else' });
  const forgedState = `${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${mac}`;
  assert.match(errorOf(codec.decode(forgedState, NOW)) ?? '', /integrity/);
  // Flip one character of the MAC, and of the payload.
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  assert.match(errorOf(codec.decode(`${payload}.${flip(mac, 3)}`, NOW)) ?? '', /integrity/);
  assert.match(errorOf(codec.decode(`${flip(payload, 5)}.${mac}`, NOW)) ?? '', /integrity/);
  assert.match(errorOf(codec.decode(`${payload}.`, NOW)) ?? '', /integrity/);
  assert.match(errorOf(codec.decode(`${payload}.${mac}x`, NOW)) ?? '', /integrity|malformed/);
});

test('garbage is refused without throwing', () => {
  const codec = new RequestStateCodec(KEY, 'instance-a');
  for (const garbage of ['', '.', 'abc', '.abc', 'a.b', 'not base64!.!!', '\u0000.\u0000']) {
    assert.notEqual(errorOf(codec.decode(garbage, NOW)), undefined, JSON.stringify(garbage));
  }
});

test('an expired state is refused', () => {
  const codec = new RequestStateCodec(KEY, 'instance-a');
  assert.match(errorOf(codec.decode(codec.encode(REF), REF.expiresMs + 1)) ?? '', /expired/);
});

test('another instance refuses it: another key, or the same key under another instance id', () => {
  const state = new RequestStateCodec(KEY, 'instance-a').encode(REF);
  assert.match(errorOf(new RequestStateCodec(randomBytes(32), 'instance-a').decode(state, NOW)) ?? '', /integrity/);
  assert.match(errorOf(new RequestStateCodec(KEY, 'instance-b').decode(state, NOW)) ?? '', /another proxy instance/);
});

test('digestOf is stable for equal values and differs for different ones', () => {
  assert.equal(digestOf({ a: 1 }), digestOf({ a: 1 }));
  assert.notEqual(digestOf({ a: 1 }), digestOf({ a: 2 }));
  assert.notEqual(digestOf({ method: 'tools/call', params: { name: 'x' } }), digestOf({ method: 'prompts/get', params: { name: 'x' } }));
  assert.equal(typeof digestOf(undefined), 'string');
  // A retry that sends the same params in another key order is the same call.
  assert.equal(digestOf({ method: 'm', params: { a: 1, b: { c: 2, d: [3, { e: 4, f: 5 }] } } }), digestOf({ params: { b: { d: [3, { f: 5, e: 4 }], c: 2 }, a: 1 }, method: 'm' }));
  assert.notEqual(digestOf({ a: [1, 2] }), digestOf({ a: [2, 1] }), 'array order matters');
});
