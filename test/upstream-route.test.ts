// UpstreamRoute and EraMemory with plain values: detection on the child's own first handshake, the
// verdict kept for later children, the order flipped after a child died on its first request, a pinned
// `modern` that is not, and the start gate; what a legacy child and a modern child's adapter are given
// of a request's `_meta`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRoute } from '../src/upstream/upstream-route.ts';
import { EraMemory, type EraPin } from '../src/upstream/era-memory.ts';
import { PROBE_ID } from '../src/upstream/era-probe.ts';
import { Logger } from '../src/observe/log.ts';
import type { JsonObject, JsonRpcMessage, JsonRpcRequest } from '../src/protocol/message.ts';
import { LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY } from '../src/protocol/meta-keys.ts';
import type { UpstreamEra } from '../src/upstream/era-probe.ts';

const log = new Logger('error', 'text', { write: () => {} });
const DISCOVER = { resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: { tools: {} }, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'm', version: '1' } } };
const INIT: JsonRpcRequest = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
const LIST: JsonRpcRequest = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

function memoryFor(pin: EraPin = 'auto'): { memory: EraMemory; fatal: string[] } {
  const fatal: string[] = [];
  return { memory: new EraMemory({ pin, file: undefined, gateMs: 60_000, log, onFatal: (reason) => fatal.push(reason) }), fatal };
}

function harness(memory: EraMemory) {
  const toChild: JsonRpcMessage[] = [];
  const toHub: JsonRpcMessage[] = [];
  const route = new UpstreamRoute((msg) => toHub.push(msg), { memory, log, clientVersion: 'test', now: Date.now });
  route.connect((msg) => { toChild.push(structuredClone(msg)); return true; });
  const methods = (): string[] => toChild.map((msg) => ('method' in msg ? msg.method : `reply ${String((msg as { id: unknown }).id)}`));
  return { route, toChild, toHub, methods };
}

test('legacy first: the Hub\'s initialize (sent before the child ran) goes to the child; a result settles legacy', () => {
  const { memory } = memoryFor();
  const h = harness(memory);
  h.route.send(structuredClone(INIT));
  h.route.send(structuredClone(LIST));
  h.route.childUp();
  assert.deepEqual(h.methods(), ['initialize'], 'only the initialize while the era is open');
  h.route.receive({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'l', version: '1' } } });
  assert.deepEqual(h.methods(), ['initialize', 'tools/list']);
  assert.equal((h.toHub[0] as { id: unknown }).id, 1, 'the Hub gets the child\'s own result');
  assert.deepEqual(memory.known, { era: 'legacy' });

  // A later child of the unit starts from the verdict: nothing but its own traffic.
  const next = harness(memory);
  next.route.childUp();
  next.route.send(structuredClone(INIT));
  assert.deepEqual(next.methods(), ['initialize']);
});

test('an initialize refused: server/discover on the same child; a DiscoverResult means modern and the adapter answers', () => {
  const { memory } = memoryFor();
  const h = harness(memory);
  h.route.childUp();
  h.route.send(structuredClone(INIT));
  h.route.receive({ jsonrpc: '2.0', id: 1, error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'] } } });
  assert.deepEqual(h.methods(), ['initialize', 'server/discover']);
  assert.equal((h.toChild[1] as JsonRpcRequest).id, PROBE_ID);
  assert.deepEqual(h.toHub, [], 'the refusal is held while discover decides');
  h.route.receive({ jsonrpc: '2.0', id: PROBE_ID, result: DISCOVER });
  const answer = h.toHub[0] as { id: unknown; result: { serverInfo: unknown } };
  assert.equal(answer.id, 1);
  assert.deepEqual(answer.result.serverInfo, { name: 'm', version: '1' });
  assert.equal(memory.known?.era, 'modern');
  assert.equal(memory.first, 'discover');
});

test('an initialize refused and discover refused: legacy, and the Hub gets the child\'s own refusal', () => {
  const { memory } = memoryFor();
  const h = harness(memory);
  h.route.childUp();
  h.route.send(structuredClone(INIT));
  h.route.receive({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad params' } });
  h.route.receive({ jsonrpc: '2.0', id: PROBE_ID, error: { code: -32601, message: 'Method not found' } });
  assert.deepEqual(h.toHub, [{ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad params' } }]);
  assert.deepEqual(memory.known, { era: 'legacy' });
});

test('a child that dies on its first initialize: the next child is asked server/discover first', () => {
  const { memory } = memoryFor();
  const h = harness(memory);
  h.route.childUp();
  h.route.send(structuredClone(INIT));
  h.route.childGone();
  assert.equal(memory.first, 'discover');
  h.route.childUp();
  assert.deepEqual(h.methods(), ['initialize', 'server/discover'], 'discover asked as soon as the new child runs');
  h.route.send(structuredClone(INIT));
  assert.equal(h.toChild.length, 2, 'the initialize waits for the verdict');
  h.route.receive({ jsonrpc: '2.0', id: PROBE_ID, error: { code: -32601, message: 'Method not found' } });
  assert.deepEqual(h.methods(), ['initialize', 'server/discover', 'initialize'], 'legacy after all: the held initialize goes to the child');
});

test('a child stopped by the proxy says nothing about the server', () => {
  const { memory } = memoryFor();
  const h = harness(memory);
  h.route.childUp();
  h.route.send(structuredClone(INIT));
  h.route.close();
  h.route.childGone();
  assert.equal(memory.first, 'initialize');
});

test('pinned modern: discover first; no DiscoverResult makes the server fatal and answers what waited', () => {
  const { memory, fatal } = memoryFor('modern');
  const h = harness(memory);
  h.route.childUp();
  assert.deepEqual(h.methods(), ['server/discover']);
  h.route.send(structuredClone(INIT));
  h.route.receive({ jsonrpc: '2.0', id: PROBE_ID, error: { code: -32601, message: 'Method not found' } });
  assert.equal(fatal.length, 1);
  assert.match(fatal[0]!, /did not answer server\/discover/);
  assert.equal((h.toHub[0] as { id: unknown; error?: unknown }).id, 1);
  assert.ok((h.toHub[0] as { error?: unknown }).error !== undefined);
  assert.deepEqual(h.methods(), ['server/discover'], 'the legacy handshake is never tried');
});

test('pinned legacy: no detection at all', () => {
  const { memory } = memoryFor('legacy');
  const h = harness(memory);
  h.route.childUp();
  h.route.send(structuredClone(INIT));
  h.route.receive({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'no' } });
  assert.deepEqual(h.methods(), ['initialize']);
  assert.equal(h.toHub.length, 1);
});

test('the start gate: the first child starts at once, later ones when it answered first', async () => {
  const { memory } = memoryFor();
  await memory.mayStart();
  let isSecondStarted = false;
  const second = memory.mayStart().then(() => { isSecondStarted = true; });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(isSecondStarted, false, 'held while the first is in its first start');
  const h = harness(memory);
  h.route.childUp();
  h.route.send(structuredClone(INIT));
  h.route.receive({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-11-25', capabilities: {} } });
  await second;
  assert.equal(isSecondStarted, true);
  await memory.mayStart(); // open from then on
});

test('the start gate opens when the first child ends without ever coming up (a command that cannot be spawned)', { timeout: 5000 }, async () => {
  const { memory } = memoryFor();
  await memory.mayStart();
  const second = memory.mayStart();
  harness(memory).route.childGone();
  await second; // would wait the gate's 60 s otherwise (the test's own timeout is shorter)
});

const MODERN: UpstreamEra = { era: 'modern', version: '2026-07-28', discover: { supportedVersions: ['2026-07-28'], capabilities: {} } };

function routed(era: UpstreamEra, meta: JsonObject): JsonRpcRequest {
  const sent: JsonRpcMessage[] = [];
  const route = new UpstreamRoute(() => {}, { log, clientVersion: 'test', now: Date.now });
  route.connect((msg) => { sent.push(structuredClone(msg)); return true; }, era);
  route.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: structuredClone(meta) } });
  return sent.find((msg): msg is JsonRpcRequest => 'method' in msg && msg.method === 'tools/call')!;
}

test('a caller\'s logLevel reaches a modern child\'s envelope and never a legacy child', () => {
  assert.deepEqual(routed({ era: 'legacy' }, { [LOG_LEVEL_KEY]: 'info' }).params, { name: 'echo' }, 'an emptied _meta is removed');
  assert.deepEqual(routed({ era: 'legacy' }, { [LOG_LEVEL_KEY]: 'info', progressToken: 3 }).params, { name: 'echo', _meta: { progressToken: 3 } });
  const modern = routed(MODERN, { [LOG_LEVEL_KEY]: 'info' }).params!._meta as JsonObject;
  assert.equal(modern[LOG_LEVEL_KEY], 'info');
  assert.equal(modern[PROTOCOL_VERSION_KEY], '2026-07-28');
});
