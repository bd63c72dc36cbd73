// ModernChildAdapter (src/modern/modern-child.ts) driven with plain messages: what the Hub sends down,
// what a modern child answers, and what goes up to the Hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_INPUT_ROUNDS, ModernChildAdapter } from '../src/upstream/modern-child.ts';
import { legacyResult } from '../src/upstream/era-shapes.ts';
import { LISTEN_REOPEN_MIN_MS } from '../src/upstream/child-listen.ts';
import {
  CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY, RELATED_REQUEST_META, SERVER_INFO_KEY, SUBSCRIPTION_ID_KEY,
} from '../src/protocol/meta-keys.ts';
import type { JsonObject, JsonRpcId, JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from '../src/protocol/message.ts';

const V = PROTOCOL_VERSION_KEY;
const CAPS = CLIENT_CAPABILITIES_KEY;
const INFO = CLIENT_INFO_KEY;
const LEVEL = LOG_LEVEL_KEY;
const SERVER_INFO = SERVER_INFO_KEY;
const SUB = SUBSCRIPTION_ID_KEY;

const DISCOVER: JsonObject = {
  resultType: 'complete',
  supportedVersions: ['2026-07-28'],
  capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, tasks: { list: {} } },
  instructions: 'be nice',
  ttlMs: 0,
  cacheScope: 'private',
  _meta: { [SERVER_INFO]: { name: 'modern', version: '2.0.0' } },
};

const INIT_PARAMS = {
  protocolVersion: '2025-06-18',
  capabilities: { elicitation: {}, roots: { listChanged: true }, tasks: { requests: {} } },
  clientInfo: { name: 'legacy-client', version: '1.0' },
};

function harness() {
  let nowMs = 10_000;
  let childAccepts = true;
  const toChild: JsonRpcMessage[] = [];
  const toHub: JsonRpcMessage[] = [];
  const adapter = new ModernChildAdapter(
    (msg) => { if (childAccepts) toChild.push(structuredClone(msg)); return childAccepts; },
    (msg) => { toHub.push(structuredClone(msg)); },
    { version: '2026-07-28', discover: DISCOVER, now: () => nowMs },
  );
  const h = {
    adapter, toChild, toHub,
    advance(ms: number) { nowMs += ms; },
    setChildAccepts(v: boolean) { childAccepts = v; },
    request(id: JsonRpcId, method: string, params?: JsonObject): boolean {
      const msg: JsonRpcRequest = { jsonrpc: '2.0', id, method };
      if (params !== undefined) msg.params = params;
      return adapter.send(msg);
    },
    childResult(id: JsonRpcId, result: JsonObject) { adapter.receive({ jsonrpc: '2.0', id, result }); },
    /** Drains and returns what went to the child / the Hub since the last call. */
    takeChild(): JsonRpcMessage[] { return toChild.splice(0); },
    takeHub(): JsonRpcMessage[] { return toHub.splice(0); },
    /** Hub handshake: initialize + initialized; the listen request is returned. */
    handshake(): JsonRpcRequest {
      h.request(0, 'initialize', structuredClone(INIT_PARAMS));
      h.takeHub();
      adapter.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const [listen] = h.takeChild() as JsonRpcRequest[];
      assert.equal(listen?.method, 'subscriptions/listen');
      return listen!;
    },
  };
  return h;
}

test('initialize is answered from the DiscoverResult, never sent to the child', () => {
  const h = harness();
  assert.equal(h.request(7, 'initialize', structuredClone(INIT_PARAMS)), true);
  assert.deepEqual(h.takeChild(), []);
  assert.deepEqual(h.takeHub(), [{
    jsonrpc: '2.0', id: 7,
    result: {
      protocolVersion: '2025-06-18',
      capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, logging: {} },
      serverInfo: { name: 'modern', version: '2.0.0' },
      instructions: 'be nice',
    },
  }]);
  h.request(8, 'initialize', { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 'x', version: '1' } });
  assert.equal(((h.takeHub()[0] as JsonRpcResponse).result as JsonObject).protocolVersion, '2025-11-25');
});

test('ping, logging/setLevel and notifications/initialized end at the adapter; the level rides on later requests', () => {
  const h = harness();
  const listen = h.handshake();
  assert.deepEqual(listen.params, {
    notifications: { toolsListChanged: true, resourcesListChanged: true },
    _meta: { [V]: '2026-07-28', [CAPS]: { elicitation: {}, roots: {} }, [INFO]: INIT_PARAMS.clientInfo },
  });
  h.request(1, 'ping');
  h.request(2, 'logging/setLevel', { level: 'warning' });
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', id: 1, result: {} }, { jsonrpc: '2.0', id: 2, result: {} }]);
  assert.deepEqual(h.takeChild(), []);
  h.request(3, 'tools/list', {});
  const [sent] = h.takeChild() as JsonRpcRequest[];
  assert.equal((sent!.params!._meta as JsonObject)[LEVEL], 'warning');
  // A 2026-07-28 caller's request keeps its own level (the stateless front leaves it on the request).
  h.request(4, 'tools/call', { name: 'echo', _meta: { [LEVEL]: 'debug' } });
  const [own] = h.takeChild() as JsonRpcRequest[];
  assert.equal((own!.params!._meta as JsonObject)[LEVEL], 'debug');
  assert.equal((own!.params!._meta as JsonObject)[V], '2026-07-28');
});

test('a legacy request gets the envelope (keeping its progress token); its result loses the modern-only fields', () => {
  const h = harness();
  h.handshake();
  h.request(5, 'tools/call', { name: 'echo', arguments: { text: 'hi' }, _meta: { progressToken: 5 } });
  assert.deepEqual(h.takeChild(), [{
    jsonrpc: '2.0', id: 5, method: 'tools/call',
    params: {
      name: 'echo', arguments: { text: 'hi' },
      _meta: { progressToken: 5, [V]: '2026-07-28', [CAPS]: { elicitation: {}, roots: {} }, [INFO]: INIT_PARAMS.clientInfo },
    },
  }]);
  h.adapter.receive({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 5, progress: 1 } });
  h.childResult(5, { content: [{ type: 'text', text: 'hi' }], resultType: 'complete', _meta: { [SERVER_INFO]: { name: 'modern' } } });
  assert.deepEqual(h.takeHub(), [
    { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 5, progress: 1 } },
    { jsonrpc: '2.0', id: 5, result: { content: [{ type: 'text', text: 'hi' }] } },
  ]);
  h.request(6, 'tools/list', {});
  h.takeChild();
  h.childResult(6, { tools: [], resultType: 'complete', ttlMs: 0, cacheScope: 'private', _meta: { [SERVER_INFO]: {}, keep: 1 } });
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', id: 6, result: { tools: [], _meta: { keep: 1 } } }]);
  h.adapter.receive({ jsonrpc: '2.0', id: 9, error: { code: -32602, message: 'bad', data: { x: 1 } } });
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', id: 9, error: { code: -32602, message: 'bad', data: { x: 1 } } }], 'errors stay intact');
});

test('legacyResult drops resultType, ttlMs, cacheScope and serverInfo only', () => {
  assert.deepEqual(legacyResult({ a: 1, resultType: 'complete', ttlMs: 5, cacheScope: 'public', _meta: { [SERVER_INFO]: {} } }), { a: 1 });
});

test('input_required becomes real requests to the Hub, then a retry with a new id, two rounds', () => {
  const h = harness();
  h.handshake();
  h.request(11, 'tools/call', { name: 'greet', arguments: { rounds: 2 } });
  const [first] = h.takeChild() as JsonRpcRequest[];
  h.childResult(11, {
    resultType: 'input_required',
    inputRequests: {
      name: { method: 'elicitation/create', params: { mode: 'form', message: 'Name?', requestedSchema: { type: 'object' } } },
      where: { method: 'roots/list', params: {} },
    },
  });
  const asks = h.takeHub() as JsonRpcRequest[];
  assert.deepEqual(asks.map((m) => m.method), ['elicitation/create', 'roots/list']);
  for (const ask of asks) assert.equal((ask.params!._meta as JsonObject)[RELATED_REQUEST_META], 11);
  assert.notEqual(asks[0]!.id, asks[1]!.id);
  assert.equal(asks[0]!.params!.message, 'Name?');
  assert.equal(asks[0]!.params!.elicitationId, undefined, 'a form elicitation has none');
  h.adapter.send({ jsonrpc: '2.0', id: asks[1]!.id, result: { roots: [] } });
  assert.deepEqual(h.takeChild(), [], 'no retry until every input is in');
  h.adapter.send({ jsonrpc: '2.0', id: asks[0]!.id, result: { action: 'accept', content: { name: 'Bo' } } });
  const [retry] = h.takeChild() as JsonRpcRequest[];
  assert.notEqual(retry!.id, 11);
  assert.deepEqual(retry!.params, { ...first!.params, inputResponses: { name: { action: 'accept', content: { name: 'Bo' } }, where: { roots: [] } } });

  // Round two: the state must come back byte for byte, and only this round's answers.
  h.childResult(retry!.id, {
    resultType: 'input_required', requestState: 'opaque "state" ✓',
    inputRequests: { confirm: { method: 'elicitation/create', params: { message: 'Sure?' } } },
  });
  const [ask2] = h.takeHub() as JsonRpcRequest[];
  h.adapter.send({ jsonrpc: '2.0', id: ask2!.id, result: { action: 'accept', content: { ok: true } } });
  const [retry2] = h.takeChild() as JsonRpcRequest[];
  assert.notEqual(retry2!.id, retry!.id);
  assert.equal(retry2!.params!.requestState, 'opaque "state" ✓');
  assert.deepEqual(retry2!.params!.inputResponses, { confirm: { action: 'accept', content: { ok: true } } });
  h.childResult(retry2!.id, { content: [{ type: 'text', text: 'hello Bo' }], resultType: 'complete' });
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', id: 11, result: { content: [{ type: 'text', text: 'hello Bo' }] } }]);
});

test('input_required with only requestState is retried at once; a client error fails the call', () => {
  const h = harness();
  h.handshake();
  h.request(1, 'prompts/get', { name: 'p' });
  h.takeChild();
  h.childResult(1, { resultType: 'input_required', requestState: 's1' });
  const [retry] = h.takeChild() as JsonRpcRequest[];
  assert.deepEqual(retry!.params, { name: 'p', _meta: retry!.params!._meta, inputResponses: {}, requestState: 's1' });

  h.childResult(retry!.id, { resultType: 'input_required', inputRequests: { a: { method: 'elicitation/create', params: {} }, b: { method: 'roots/list' } } });
  const [askA, askB] = h.takeHub() as JsonRpcRequest[];
  h.adapter.send({ jsonrpc: '2.0', id: askA!.id, error: { code: -32601, message: 'no elicitation here' } });
  const up = h.takeHub();
  assert.deepEqual(up[0], { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: askB!.id, reason: 'request ended' } });
  assert.equal((up[1] as JsonRpcResponse).id, 1);
  assert.equal((up[1] as JsonRpcResponse).error?.code, -32601);
  h.adapter.send({ jsonrpc: '2.0', id: askB!.id, result: { roots: [] } });
  assert.deepEqual(h.takeChild(), [], 'a late answer for a dead call is dropped');
  assert.deepEqual(h.takeHub(), []);
});

test(`more than ${MAX_INPUT_ROUNDS} rounds fail the call; an unsupported embedded request fails it too`, () => {
  const h = harness();
  h.handshake();
  h.request(1, 'tools/call', { name: 'loop' });
  let [sent] = h.takeChild() as JsonRpcRequest[];
  for (let round = 1; round <= MAX_INPUT_ROUNDS; round++) {
    h.childResult(sent!.id, { resultType: 'input_required', requestState: `r${round}` });
    [sent] = h.takeChild() as JsonRpcRequest[];
  }
  h.childResult(sent!.id, { resultType: 'input_required', requestState: 'again' });
  assert.deepEqual(h.takeChild(), []);
  const [failed] = h.takeHub() as JsonRpcResponse[];
  assert.equal(failed!.id, 1);
  assert.match(failed!.error!.message, /more than 8 times/);

  h.request(2, 'tools/call', { name: 'odd' });
  h.takeChild();
  h.childResult(2, { resultType: 'input_required', inputRequests: { x: { method: 'tools/call', params: {} } } });
  const [odd] = h.takeHub() as JsonRpcResponse[];
  assert.equal(odd!.id, 2);
  assert.match(odd!.error!.message, /unsupported input/);
});

test('a cancel from the Hub reaches the retry id at the child, or withdraws the open input requests', () => {
  const h = harness();
  h.handshake();
  h.request(1, 'tools/call', { name: 'greet' });
  h.takeChild();
  h.childResult(1, { resultType: 'input_required', requestState: 's' });
  const [retry] = h.takeChild() as JsonRpcRequest[];
  h.adapter.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'timeout' } });
  assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: retry!.id, reason: 'timeout' } }]);
  h.childResult(retry!.id, { content: [], resultType: 'complete' });
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', id: retry!.id, result: { content: [], resultType: 'complete' } }], 'unknown ids go up untouched; the Hub drops them');

  h.request(2, 'tools/call', { name: 'greet' });
  h.takeChild();
  h.childResult(2, { resultType: 'input_required', inputRequests: { name: { method: 'elicitation/create', params: {} } } });
  const [ask] = h.takeHub() as JsonRpcRequest[];
  h.adapter.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2 } });
  assert.deepEqual(h.takeChild(), [], 'nothing runs at the child between rounds');
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: ask!.id, reason: 'request ended' } }]);
});

test('listen notifications go up untagged, the ack is swallowed, other listens pass through', () => {
  const h = harness();
  const listen = h.handshake();
  h.adapter.receive({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: { toolsListChanged: true }, _meta: { [SUB]: listen.id } } });
  h.adapter.receive({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { [SUB]: listen.id } } });
  h.adapter.receive({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'a://b', _meta: { [SUB]: listen.id, other: true } } });
  h.adapter.receive({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { [SUB]: 44 } } });
  h.adapter.receive({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } });
  assert.deepEqual(h.takeHub(), [
    { jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: {} },
    { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'a://b', _meta: { other: true } } },
    { jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { [SUB]: 44 } } },
    { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } },
  ]);
});

test('resources/subscribe is answered here and reopens the listen with the new URI set', () => {
  const h = harness();
  const first = h.handshake();
  h.request(1, 'resources/subscribe', { uri: 'test://a' });
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', id: 1, result: {} }]);
  const [cancel, second] = h.takeChild() as JsonRpcRequest[];
  assert.deepEqual(cancel, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: first.id, reason: 'subscriptions changed' } });
  assert.equal(second!.method, 'subscriptions/listen');
  assert.notEqual(second!.id, first.id);
  assert.deepEqual((second!.params!.notifications as JsonObject).resourceSubscriptions, ['test://a']);
  h.request(2, 'resources/subscribe', { uri: 'test://a' });
  assert.deepEqual(h.takeChild(), [], 'no change, no reopen');
  h.request(3, 'resources/unsubscribe', { uri: 'test://a' });
  const [, third] = h.takeChild() as JsonRpcRequest[];
  assert.equal((third!.params!.notifications as JsonObject).resourceSubscriptions, undefined);
  h.takeHub();
  h.request(4, 'resources/subscribe', {});
  assert.equal((h.takeHub()[0] as JsonRpcResponse).error?.code, -32602);
});

test('a listen the child ends is reopened: at once when it lived long enough, else on the next send; an error stops it', () => {
  const h = harness();
  const first = h.handshake();
  h.advance(LISTEN_REOPEN_MIN_MS);
  h.childResult(first.id, { resultType: 'complete', _meta: { [SUB]: first.id } });
  const [second] = h.takeChild() as JsonRpcRequest[];
  assert.equal(second?.method, 'subscriptions/listen');
  assert.deepEqual(h.takeHub(), [], 'the end of our listen is not relayed');

  h.adapter.receive({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: second!.id } });
  assert.deepEqual(h.takeChild(), [], 'ended too soon: no storm');
  h.request(9, 'tools/list', {});
  const [third, list] = h.takeChild() as JsonRpcRequest[];
  assert.equal(third?.method, 'subscriptions/listen');
  assert.equal(list?.method, 'tools/list');

  h.adapter.receive({ jsonrpc: '2.0', id: third!.id, error: { code: -32601, message: 'Method not found' } });
  h.request(10, 'tools/list', {});
  assert.deepEqual((h.takeChild() as JsonRpcRequest[]).map((m) => m.method), ['tools/list']);
});

test('reset after a restart drops calls in flight and reopens the listen', () => {
  const h = harness();
  h.handshake();
  h.request(1, 'tools/call', { name: 'greet' });
  h.takeChild();
  h.childResult(1, { resultType: 'input_required', inputRequests: { n: { method: 'elicitation/create', params: {} } } });
  const [ask] = h.takeHub() as JsonRpcRequest[];
  h.adapter.reset();
  const [listen] = h.takeChild() as JsonRpcRequest[];
  assert.equal(listen?.method, 'subscriptions/listen');
  h.adapter.send({ jsonrpc: '2.0', id: ask!.id, result: { action: 'accept' } });
  assert.deepEqual(h.takeChild(), [], 'the old round is gone');
  // The Hub re-initializes a restarted child: answered here, no second listen.
  h.request(2, 'initialize', structuredClone(INIT_PARAMS));
  h.adapter.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.deepEqual(h.takeChild(), []);
});

test('a listen the child cannot take yet is opened on the next send', () => {
  const h = harness();
  h.request(0, 'initialize', structuredClone(INIT_PARAMS));
  h.setChildAccepts(false);
  h.adapter.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.equal(h.adapter.listenId, undefined);
  h.setChildAccepts(true);
  h.request(1, 'tools/list', {});
  assert.deepEqual((h.takeChild() as JsonRpcRequest[]).map((m) => m.method), ['subscriptions/listen', 'tools/list']);
});

test('enveloped requests pass through untouched, results too (input_required included); an unsupported version gets -32022', () => {
  const h = harness();
  h.handshake();
  const params = { name: 'greet', arguments: {}, _meta: { [V]: '2026-07-28', [CAPS]: { elicitation: {} }, progressToken: 3 } };
  h.request(3, 'tools/call', structuredClone(params));
  assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', id: 3, method: 'tools/call', params }]);
  const inputRequired = { resultType: 'input_required', inputRequests: { n: { method: 'elicitation/create', params: {} } }, _meta: { [SERVER_INFO]: {} } };
  h.childResult(3, structuredClone(inputRequired));
  assert.deepEqual(h.takeHub(), [{ jsonrpc: '2.0', id: 3, result: inputRequired }]);

  h.request(4, 'ping', { _meta: { [V]: '2026-07-28', [CAPS]: {} } });
  assert.equal((h.takeChild()[0] as JsonRpcRequest).method, 'ping', 'enveloped: the child decides');

  h.request(5, 'tools/list', { _meta: { [V]: '2099-01-01', [CAPS]: {} } });
  assert.deepEqual(h.takeChild(), []);
  assert.deepEqual(h.takeHub(), [{
    jsonrpc: '2.0', id: 5,
    error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'], requested: '2099-01-01' } },
  }]);
});

test('a refused write is reported to the Hub as false', () => {
  const h = harness();
  h.handshake();
  h.setChildAccepts(false);
  assert.equal(h.request(1, 'tools/list', {}), false);
  assert.equal(h.request(2, 'ping'), true, 'answered here');
});

test('a URL elicitation in input_required gets an elicitationId for a 2025-11-25 client; one the child gave is kept', () => {
  const h = harness();
  h.handshake();
  h.request(12, 'tools/call', { name: 'login', arguments: {} });
  h.takeChild();
  h.childResult(12, {
    resultType: 'input_required',
    inputRequests: {
      a: { method: 'elicitation/create', params: { mode: 'url', url: 'https://example.com/a', message: 'Open' } },
      b: { method: 'elicitation/create', params: { mode: 'url', url: 'https://example.com/b', message: 'Open', elicitationId: 'own' } },
    },
  });
  const [a, b] = h.takeHub() as JsonRpcRequest[];
  assert.equal(a!.params!.elicitationId, a!.id, 'unique: the adapter\'s id of the request');
  assert.equal(b!.params!.elicitationId, 'own');
});
