// UpstreamRoute (src/upstream/upstream-route.ts) with plain messages: what a legacy child and a modern
// child's adapter are given of a request's `_meta`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRoute } from '../src/upstream/upstream-route.ts';
import { LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY } from '../src/protocol/meta-keys.ts';
import type { JsonObject, JsonRpcMessage, JsonRpcRequest } from '../src/protocol/message.ts';
import type { UpstreamEra } from '../src/upstream/era-probe.ts';

const MODERN: UpstreamEra = { era: 'modern', version: '2026-07-28', discover: { supportedVersions: ['2026-07-28'], capabilities: {} } };
const LEGACY: UpstreamEra = { era: 'legacy' };

function routed(era: UpstreamEra, meta: JsonObject): JsonRpcRequest {
  const sent: JsonRpcMessage[] = [];
  const route = new UpstreamRoute(() => {});
  route.connect(era, (msg) => { sent.push(structuredClone(msg)); return true; });
  route.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: structuredClone(meta) } });
  return sent.find((msg): msg is JsonRpcRequest => 'method' in msg && msg.method === 'tools/call')!;
}

test('a caller\'s logLevel reaches a modern child\'s envelope and never a legacy child', () => {
  assert.deepEqual(routed(LEGACY, { [LOG_LEVEL_KEY]: 'info' }).params, { name: 'echo' }, 'an emptied _meta is removed');
  assert.deepEqual(routed(LEGACY, { [LOG_LEVEL_KEY]: 'info', progressToken: 3 }).params, { name: 'echo', _meta: { progressToken: 3 } });
  const modern = routed(MODERN, { [LOG_LEVEL_KEY]: 'info' }).params!._meta as JsonObject;
  assert.equal(modern[LOG_LEVEL_KEY], 'info');
  assert.equal(modern[PROTOCOL_VERSION_KEY], '2026-07-28');
});
