// Hub (src/router.ts) driven with plain messages: a recording HubOutput and a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub } from '../src/routing/hub.ts';
import { RpcCode } from '../src/protocol/errors.ts';
import { LATEST_LEGACY_VERSION, negotiateVersion } from '../src/protocol/versions.ts';
import type { JsonObject, JsonRpcId, JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from '../src/protocol/message.ts';

interface Delivery {
  sessionId: string;
  msg: JsonRpcMessage;
  relatedId: JsonRpcId | undefined;
}

const CHILD_RESULT = {
  protocolVersion: '2025-06-18',
  capabilities: { tools: { listChanged: true }, resources: { subscribe: true } },
  serverInfo: { name: 'fake', version: '1' },
};

/** A Hub whose every output is recorded (copied, since the hub owns and rewrites what it hands out). */
function harness(options: { shared?: boolean; relay?: JsonObject } = {}) {
  let nowMs = 1_000;
  let childAccepts = true;
  const toChild: JsonRpcMessage[] = [];
  const toSession: Delivery[] = [];
  const notes: string[] = [];
  const callsDone: Array<{ method: string; outcome: string }> = [];
  const hub = new Hub({
    toChild(msg) {
      if (childAccepts) toChild.push(structuredClone(msg));
      return childAccepts;
    },
    toSession(sessionId, msg, relatedId) {
      toSession.push({ sessionId, msg: structuredClone(msg), relatedId });
    },
    note(event) {
      notes.push(event);
    },
    callDone(method, outcome) {
      callsDone.push({ method, outcome });
    },
  }, { cacheInitialize: options.shared ?? true, ...(options.relay === undefined ? {} : { relayCapabilities: options.relay }), now: () => nowMs });

  return {
    hub, toChild, toSession, notes, callsDone,
    advance(ms: number) { nowMs += ms; },
    setChildAccepts(value: boolean) { childAccepts = value; },
    request(sessionId: string, id: JsonRpcId, method: string, params?: JsonObject) {
      const msg: JsonRpcRequest = { jsonrpc: '2.0', id, method };
      if (params !== undefined) msg.params = structuredClone(params);
      hub.fromClient(sessionId, msg);
    },
    notify(sessionId: string, method: string, params?: JsonObject) {
      hub.fromClient(sessionId, params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params: structuredClone(params) });
    },
    /** Everything sent to the child since the last call. */
    takeChild(): JsonRpcMessage[] {
      return toChild.splice(0);
    },
    /** Everything delivered to sessions since the last call. */
    takeSessions(): Delivery[] {
      return toSession.splice(0);
    },
    /** The child's last request for `method`: its upstream id. */
    lastChildRequest(method: string): JsonRpcRequest {
      const found = [...toChild].reverse().find((m) => 'method' in m && m.method === method && 'id' in m);
      assert.ok(found, `the child got no ${method} request`);
      return found as JsonRpcRequest;
    },
    childReply(id: JsonRpcId, result: unknown) {
      hub.fromChild({ jsonrpc: '2.0', id, result: structuredClone(result) });
    },
    childNotify(method: string, params?: JsonObject) {
      hub.fromChild(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params: structuredClone(params) });
    },
  };
}
type Harness = ReturnType<typeof harness>;

/** Adds a session and completes its handshake; the first one in shared mode goes to the child. */
function connect(h: Harness, sessionId: string, protocolVersion = '2025-06-18'): void {
  h.hub.addSession(sessionId);
  h.request(sessionId, 'init', 'initialize', { protocolVersion, capabilities: {}, clientInfo: { name: sessionId, version: '1' } });
  const forwarded = h.toChild.find((m) => 'method' in m && m.method === 'initialize' && 'id' in m) as JsonRpcRequest | undefined;
  if (forwarded !== undefined) h.childReply(forwarded.id, CHILD_RESULT);
  h.notify(sessionId, 'notifications/initialized');
  const answer = h.toSession.find((d) => d.sessionId === sessionId && 'id' in d.msg && d.msg.id === 'init');
  assert.ok(answer !== undefined && 'result' in answer.msg, `${sessionId} initialized`);
  h.takeChild();
  h.takeSessions();
}

function responsesTo(deliveries: Delivery[], sessionId: string): JsonRpcResponse[] {
  return deliveries.filter((d) => d.sessionId === sessionId && !('method' in d.msg)).map((d) => d.msg as JsonRpcResponse);
}

function methods(messages: JsonRpcMessage[]): string[] {
  return messages.map((m) => ('method' in m ? m.method : `response ${String(m.id)}`));
}

const MODES = [{ name: 'shared', shared: true }, { name: 'independent', shared: false }] as const;

for (const mode of MODES) {
  test(`${mode.name}: two sessions both using id 0 get their own answers`, () => {
    const h = harness({ shared: mode.shared });
    connect(h, 'a');
    connect(h, 'b');
    h.request('a', 0, 'tools/call', { name: 'echo', arguments: { text: 'a' } });
    h.request('b', 0, 'tools/call', { name: 'echo', arguments: { text: 'b' } });
    const [toA, toB] = h.takeChild() as JsonRpcRequest[];
    assert.notEqual(toA!.id, toB!.id, 'upstream ids are unique');
    assert.equal((toA!.params!.arguments as JsonObject).text, 'a');
    // The child answers in the other order.
    h.childReply(toB!.id, { text: 'b' });
    h.childReply(toA!.id, { text: 'a' });
    assert.deepEqual(h.takeSessions(), [
      { sessionId: 'b', msg: { jsonrpc: '2.0', id: 0, result: { text: 'b' } }, relatedId: 0 },
      { sessionId: 'a', msg: { jsonrpc: '2.0', id: 0, result: { text: 'a' } }, relatedId: 0 },
    ]);
    assert.equal(h.hub.pendingCount, 0);
  });
}

test('ids keep their type: "1" and 1 are different requests, in one session and across two', () => {
  const cases: Array<{ name: string; calls: Array<[string, JsonRpcId]> }> = [
    { name: 'across sessions', calls: [['a', '1'], ['b', 1]] },
    { name: 'one session', calls: [['a', '1'], ['a', 1]] },
    { name: 'empty string and zero', calls: [['a', ''], ['a', 0], ['b', ''], ['b', 0]] },
  ];
  for (const { name, calls } of cases) {
    const h = harness();
    connect(h, 'a');
    connect(h, 'b');
    for (const [sessionId, id] of calls) h.request(sessionId, id, 'tools/call', { name: 'echo', arguments: { text: `${sessionId}:${typeof id}:${id}` } });
    const forwarded = h.takeChild() as JsonRpcRequest[];
    assert.equal(new Set(forwarded.map((m) => m.id)).size, calls.length, name);
    for (const req of forwarded.reverse()) h.childReply(req.id, { text: (req.params!.arguments as JsonObject).text });
    const got = h.takeSessions().map((d) => {
      const res = d.msg as JsonRpcResponse;
      return [d.sessionId, res.id, (res.result as JsonObject).text];
    });
    const expected = calls.map(([sessionId, id]) => [sessionId, id, `${sessionId}:${typeof id}:${id}`]);
    assert.deepEqual(got.sort(), expected.sort(), name);
  }
});

test('shared: initialize goes to the child once; later sessions get the cached result with their own version', () => {
  const h = harness();
  h.hub.addSession('a');
  h.request('a', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'a', version: '1' } });
  const init = h.lastChildRequest('initialize');
  h.childReply(init.id, CHILD_RESULT);
  h.notify('a', 'notifications/initialized');
  assert.deepEqual(methods(h.takeChild()), ['initialize', 'notifications/initialized']);
  assert.deepEqual(h.takeSessions(), [{ sessionId: 'a', msg: { jsonrpc: '2.0', id: 0, result: CHILD_RESULT }, relatedId: 0 }]);

  const requested = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '1999-01-01', undefined];
  requested.forEach((protocolVersion, i) => {
    const sessionId = `s${i}`;
    h.hub.addSession(sessionId);
    const params: JsonObject = { capabilities: {}, clientInfo: { name: sessionId, version: '1' } };
    if (protocolVersion !== undefined) params.protocolVersion = protocolVersion;
    h.request(sessionId, 0, 'initialize', params);
    h.notify(sessionId, 'notifications/initialized');
    const expectedVersion = negotiateVersion(protocolVersion, CHILD_RESULT.protocolVersion);
    assert.deepEqual(h.takeSessions(), [
      { sessionId, msg: { jsonrpc: '2.0', id: 0, result: { ...CHILD_RESULT, protocolVersion: expectedVersion } }, relatedId: 0 },
    ], `requested ${protocolVersion}`);
  });
  assert.deepEqual(negotiateVersion('2024-11-05', '2025-06-18'), '2024-11-05');
  assert.deepEqual(negotiateVersion('2025-11-25', '2025-06-18'), '2025-06-18');
  assert.deepEqual(h.takeChild(), [], 'neither initialize nor notifications/initialized is re-sent');
  assert.deepEqual(h.hub.initializeResult, CHILD_RESULT);
});

test('shared: the child is initialized with the proxy\'s version; the first client gets its own negotiated answer, later ones theirs', () => {
  for (const first of ['1999-01-01', '2024-11-05', '2025-06-18', undefined]) {
    const h = harness();
    h.hub.addSession('a');
    const params: JsonObject = { capabilities: {}, clientInfo: { name: 'a', version: '1' } };
    if (first !== undefined) params.protocolVersion = first;
    h.request('a', 0, 'initialize', params);
    const init = h.lastChildRequest('initialize');
    assert.equal((init.params as JsonObject).protocolVersion, LATEST_LEGACY_VERSION, `first client asked ${first}`);
    // A child that echoes what it was asked.
    h.childReply(init.id, { ...CHILD_RESULT, protocolVersion: LATEST_LEGACY_VERSION });
    const [reply] = h.takeSessions();
    assert.equal(((reply!.msg as JsonRpcResponse).result as JsonObject).protocolVersion, negotiateVersion(first, LATEST_LEGACY_VERSION));
    assert.equal(h.hub.initializeResult?.protocolVersion, LATEST_LEGACY_VERSION, 'the kept result is the child\'s own');
    for (const later of ['2025-11-25', '2025-06-18', '2024-11-05']) {
      h.hub.addSession(later);
      h.request(later, 0, 'initialize', { protocolVersion: later, capabilities: {} });
      assert.equal(((h.takeSessions()[0]!.msg as JsonRpcResponse).result as JsonObject).protocolVersion, later, `after a first ${first}`);
    }
  }
});

test('shared: the kept handshake declares what the proxy relays beside the first client\'s own; a restart re-sends the same', () => {
  const relay = { sampling: {}, elicitation: { form: {} }, roots: {} };
  const h = harness({ relay });
  h.hub.addSession('a');
  const clientInfo = { name: 'a', version: '1' };
  h.request('a', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: { elicitation: { form: {}, url: {} }, experimental: { x: {} } }, clientInfo });
  // The version is the proxy's (its newest), not the first client's: the handshake is every session's.
  const expected = { protocolVersion: LATEST_LEGACY_VERSION, capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: {}, experimental: { x: {} } }, clientInfo };
  assert.deepEqual(h.lastChildRequest('initialize').params, expected, "the client's own declarations win");
  h.childReply(h.lastChildRequest('initialize').id, CHILD_RESULT);
  h.notify('a', 'notifications/initialized');
  h.takeChild();
  h.hub.childDown('exited with code 1');
  h.hub.childUp();
  assert.deepEqual(h.lastChildRequest('initialize').params, expected);
  assert.deepEqual(relay, { sampling: {}, elicitation: { form: {} }, roots: {} }, 'the option is not changed');

  // Independent mode: each child is the client's own, initialized with exactly what it declared.
  const own = harness({ shared: false, relay });
  own.hub.addSession('b');
  own.request('b', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo });
  assert.deepEqual(own.lastChildRequest('initialize').params, { protocolVersion: '2025-06-18', capabilities: {}, clientInfo });
});

test('shared: a session initializing while the first is pending waits, then is answered', () => {
  const h = harness();
  h.hub.addSession('a');
  h.hub.addSession('b');
  h.request('a', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  h.request('b', 0, 'initialize', { protocolVersion: '2024-11-05', capabilities: {} });
  const sent = h.takeChild();
  assert.deepEqual(methods(sent), ['initialize']);
  assert.deepEqual(h.takeSessions(), [], 'nobody is answered before the child');
  h.childReply((sent[0] as JsonRpcRequest).id, CHILD_RESULT);
  const answers = h.takeSessions().sort((x, y) => x.sessionId.localeCompare(y.sessionId));
  assert.deepEqual(answers, [
    { sessionId: 'a', msg: { jsonrpc: '2.0', id: 0, result: CHILD_RESULT }, relatedId: 0 },
    { sessionId: 'b', msg: { jsonrpc: '2.0', id: 0, result: { ...CHILD_RESULT, protocolVersion: '2024-11-05' } }, relatedId: 0 },
  ]);
});

test('shared: when the child refuses the first initialize, the waiting session tries its own', () => {
  const h = harness();
  h.hub.addSession('a');
  h.hub.addSession('b');
  h.request('a', 'ia', 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  h.request('b', 'ib', 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  const first = h.takeChild()[0] as JsonRpcRequest;
  h.hub.fromChild({ jsonrpc: '2.0', id: first.id, error: { code: -32602, message: 'bad params' } });
  const second = h.takeChild();
  assert.deepEqual(methods(second), ['initialize'], 'b\'s initialize is forwarded');
  assert.deepEqual(h.takeSessions(), [{ sessionId: 'a', msg: { jsonrpc: '2.0', id: 'ia', error: { code: -32602, message: 'bad params' } }, relatedId: 'ia' }]);
  h.childReply((second[0] as JsonRpcRequest).id, CHILD_RESULT);
  assert.deepEqual(h.takeSessions(), [{ sessionId: 'b', msg: { jsonrpc: '2.0', id: 'ib', result: CHILD_RESULT }, relatedId: 'ib' }]);
  // a may try again.
  h.request('a', 'ia2', 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  assert.deepEqual(responsesTo(h.takeSessions(), 'a').map((r) => r.result), [CHILD_RESULT]);
});

test('a request before initialize gets a JSON-RPC error and never reaches the child', () => {
  for (const mode of MODES) {
    const h = harness({ shared: mode.shared });
    h.hub.addSession('a');
    h.request('a', 7, 'tools/list');
    h.notify('a', 'notifications/roots/list_changed');
    assert.deepEqual(h.takeChild(), [], mode.name);
    const [res] = responsesTo(h.takeSessions(), 'a');
    assert.equal(res!.id, 7);
    assert.equal(res!.error?.code, RpcCode.invalidRequest);
    assert.match(res!.error!.message, /initialize/);
  }
});

test('a second initialize in one session is refused', () => {
  const h = harness();
  connect(h, 'a');
  h.request('a', 9, 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  assert.deepEqual(h.takeChild(), []);
  assert.equal(responsesTo(h.takeSessions(), 'a')[0]!.error?.code, RpcCode.invalidRequest);
});

test('progress tokens are rewritten and routed only to their owner, with the original token restored', () => {
  const h = harness();
  connect(h, 'a');
  connect(h, 'b');
  const tokens: Array<[string, JsonRpcId]> = [['a', 0], ['b', 0], ['b', 'tok'], ['a', '0']];
  tokens.forEach(([sessionId, token], i) => h.request(sessionId, i, 'tools/call', { name: 'slow', _meta: { progressToken: token } }));
  h.request('a', 'plain', 'tools/call', { name: 'slow' });
  const forwarded = h.takeChild() as JsonRpcRequest[];
  const upstreamTokens = forwarded.slice(0, tokens.length).map((r) => (r.params!._meta as JsonObject).progressToken);
  assert.equal(new Set(upstreamTokens).size, tokens.length, 'tokens are unique at the child');

  // Progress for each, newest first.
  for (let i = tokens.length - 1; i >= 0; i--) {
    h.childNotify('notifications/progress', { progressToken: upstreamTokens[i], progress: i, total: 10 });
  }
  const expected = tokens.map(([sessionId, token], i) => ({
    sessionId, relatedId: i, msg: { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: i, total: 10 } },
  })).reverse();
  assert.deepEqual(h.takeSessions(), expected);

  // A call that sent no token gets no progress; nor does an unknown or non-number token, nor a finished call.
  h.childNotify('notifications/progress', { progressToken: forwarded[tokens.length]!.id, progress: 1 });
  h.childNotify('notifications/progress', { progressToken: 999, progress: 1 });
  h.childNotify('notifications/progress', { progressToken: String(upstreamTokens[0]), progress: 1 });
  h.childReply(forwarded[0]!.id, {});
  h.takeSessions();
  h.childNotify('notifications/progress', { progressToken: upstreamTokens[0], progress: 2 });
  assert.deepEqual(h.takeSessions(), []);
});

test('notifications/cancelled from a client names the upstream id; the late reply is dropped', () => {
  const h = harness();
  connect(h, 'a');
  connect(h, 'b');
  h.request('a', 0, 'tools/call', { name: 'slow' });
  h.request('b', 0, 'tools/call', { name: 'slow' });
  const [toA, toB] = h.takeChild() as JsonRpcRequest[];
  h.notify('a', 'notifications/cancelled', { requestId: 0, reason: 'user' });
  assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: toA!.id, reason: 'user' } }]);
  // Cancelling something not in flight (again, or never sent) says nothing to the child.
  h.notify('a', 'notifications/cancelled', { requestId: 0 });
  h.notify('a', 'notifications/cancelled', { requestId: 42 });
  h.notify('a', 'notifications/cancelled', {});
  assert.deepEqual(h.takeChild(), []);
  h.childReply(toA!.id, { late: true });
  h.childReply(toB!.id, { ok: true });
  assert.deepEqual(h.takeSessions(), [{ sessionId: 'b', msg: { jsonrpc: '2.0', id: 0, result: { ok: true } }, relatedId: 0 }]);
  assert.equal(h.hub.pendingCount, 0);
});

test('a server-to-client request goes to the session with the call in flight; its answer returns with the child\'s id', () => {
  for (const childId of [0, 'c-1', 1] as JsonRpcId[]) {
    const h = harness();
    connect(h, 'a');
    connect(h, 'b');
    h.request('b', 0, 'tools/call', { name: 'ask-sampling' });
    const call = h.takeChild()[0] as JsonRpcRequest;
    h.hub.fromChild({ jsonrpc: '2.0', id: childId, method: 'sampling/createMessage', params: { messages: [], maxTokens: 10 } });
    const [delivery, ...rest] = h.takeSessions();
    assert.deepEqual(rest, []);
    assert.equal(delivery!.sessionId, 'b');
    assert.equal(delivery!.relatedId, 0, 'tied to the call that caused it');
    const proxyId = (delivery!.msg as JsonRpcRequest).id;
    assert.equal((delivery!.msg as JsonRpcRequest).method, 'sampling/createMessage');

    // a answers with b's id: dropped.
    h.hub.fromClient('a', { jsonrpc: '2.0', id: proxyId, result: { wrong: true } });
    assert.deepEqual(h.takeChild(), [], 'the wrong session\'s answer is dropped');
    assert.ok(h.notes.length > 0);
    h.hub.fromClient('b', { jsonrpc: '2.0', id: proxyId, result: { role: 'assistant' } });
    assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', id: childId, result: { role: 'assistant' } }]);
    // A second answer is dropped.
    h.hub.fromClient('b', { jsonrpc: '2.0', id: proxyId, result: { again: true } });
    assert.deepEqual(h.takeChild(), []);
    h.childReply(call.id, { content: [] });
    assert.deepEqual(responsesTo(h.takeSessions(), 'b').map((r) => r.id), [0]);
  }
});

test('a server-to-client request with nothing in flight goes to the most recently active session, or is answered by the hub', () => {
  const h = harness();
  h.hub.fromChild({ jsonrpc: '2.0', id: 5, method: 'roots/list' });
  assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', id: 5, result: { roots: [] } }], 'nobody to ask: the proxy has no roots');
  h.hub.fromChild({ jsonrpc: '2.0', id: 'e', method: 'elicitation/create', params: {} });
  const [refusal] = h.takeChild() as JsonRpcResponse[];
  assert.equal(refusal!.id, 'e');
  assert.equal(refusal!.error?.code, RpcCode.internalError);

  connect(h, 'a');
  h.advance(10);
  connect(h, 'b');
  h.advance(10);
  h.hub.addSession('c'); // never initialized: not a candidate
  h.hub.fromChild({ jsonrpc: '2.0', id: 6, method: 'roots/list' });
  assert.deepEqual(h.takeSessions().map((d) => [d.sessionId, d.relatedId]), [['b', undefined]]);
  h.advance(10);
  h.request('a', 'p', 'ping');
  h.takeSessions();
  h.hub.fromChild({ jsonrpc: '2.0', id: 7, method: 'roots/list' });
  assert.deepEqual(h.takeSessions().map((d) => [d.sessionId, d.relatedId]), [['a', undefined]]);
});

test('the child withdrawing its request reaches the session with the proxy id', () => {
  const h = harness();
  connect(h, 'a');
  h.request('a', 0, 'tools/call', { name: 'ask-elicit' });
  h.takeChild();
  h.hub.fromChild({ jsonrpc: '2.0', id: 'e1', method: 'elicitation/create', params: {} });
  const proxyId = (h.takeSessions()[0]!.msg as JsonRpcRequest).id;
  h.childNotify('notifications/cancelled', { requestId: 'e1', reason: 'gave up' });
  assert.deepEqual(h.takeSessions(), [
    { sessionId: 'a', msg: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: proxyId, reason: 'gave up' } }, relatedId: undefined },
  ]);
  h.hub.fromClient('a', { jsonrpc: '2.0', id: proxyId, result: {} });
  assert.deepEqual(h.takeChild(), [], 'an answer to a withdrawn request is dropped');
});

test('ping is answered locally, from the child and from a client', () => {
  const h = harness();
  h.hub.addSession('a');
  h.request('a', 0, 'ping'); // allowed before initialize
  connect(h, 'b');
  h.request('b', 'p', 'ping');
  h.hub.fromChild({ jsonrpc: '2.0', id: 'cp', method: 'ping' });
  assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', id: 'cp', result: {} }]);
  assert.deepEqual(h.takeSessions(), [
    { sessionId: 'b', msg: { jsonrpc: '2.0', id: 'p', result: {} }, relatedId: 'p' },
  ]);
  // a's ping was answered before b connected (connect() cleared the record), so check it separately.
  const h2 = harness();
  h2.hub.addSession('a');
  h2.request('a', 0, 'ping');
  assert.deepEqual(h2.takeChild(), []);
  assert.deepEqual(h2.takeSessions(), [{ sessionId: 'a', msg: { jsonrpc: '2.0', id: 0, result: {} }, relatedId: 0 }]);
});

test('list_changed and other notifications go to every initialized session', () => {
  for (const method of ['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed']) {
    const h = harness();
    connect(h, 'a');
    connect(h, 'b');
    h.hub.addSession('c');
    h.childNotify(method);
    assert.deepEqual(h.takeSessions(), [
      { sessionId: 'a', msg: { jsonrpc: '2.0', method }, relatedId: undefined },
      { sessionId: 'b', msg: { jsonrpc: '2.0', method }, relatedId: undefined },
    ], method);
  }
});

test('resources/updated reaches subscribers only; subscribe and unsubscribe are ref-counted at the child', () => {
  const h = harness();
  connect(h, 'a');
  connect(h, 'b');
  connect(h, 'c');
  const steps: Array<{ session: string; method: string; uri: string; toChild: boolean }> = [
    { session: 'a', method: 'resources/subscribe', uri: 'file:///x', toChild: true },
    { session: 'b', method: 'resources/subscribe', uri: 'file:///x', toChild: false },
    { session: 'a', method: 'resources/subscribe', uri: 'file:///x', toChild: false }, // again: no change
    { session: 'c', method: 'resources/subscribe', uri: 'file:///y', toChild: true },
    { session: 'c', method: 'resources/unsubscribe', uri: 'file:///x', toChild: false }, // never subscribed
  ];
  let id = 0;
  for (const step of steps) {
    h.request(step.session, id, step.method, { uri: step.uri });
    const sent = h.takeChild() as JsonRpcRequest[];
    assert.equal(sent.length, step.toChild ? 1 : 0, `${step.session} ${step.method} ${step.uri}`);
    if (step.toChild) h.childReply(sent[0]!.id, {});
    assert.deepEqual(responsesTo(h.takeSessions(), step.session), [{ jsonrpc: '2.0', id, result: {} }]);
    id++;
  }
  h.childNotify('notifications/resources/updated', { uri: 'file:///x' });
  assert.deepEqual(h.takeSessions().map((d) => d.sessionId), ['a', 'b']);
  h.childNotify('notifications/resources/updated', { uri: 'file:///y' });
  assert.deepEqual(h.takeSessions().map((d) => d.sessionId), ['c']);
  h.childNotify('notifications/resources/updated', { uri: 'file:///z' });
  h.childNotify('notifications/resources/updated', {});
  assert.deepEqual(h.takeSessions(), []);

  h.request('a', 'u1', 'resources/unsubscribe', { uri: 'file:///x' });
  assert.deepEqual(h.takeChild(), [], 'b still holds file:///x');
  h.request('b', 'u2', 'resources/unsubscribe', { uri: 'file:///x' });
  assert.deepEqual(methods(h.takeChild()), ['resources/unsubscribe'], 'the last holder left');
  h.childNotify('notifications/resources/updated', { uri: 'file:///x' });
  assert.deepEqual(h.takeSessions().filter((d) => 'method' in d.msg), []);

  // The last subscriber leaving by disconnect also unsubscribes at the child.
  h.hub.removeSession('c');
  assert.deepEqual(h.takeChild().map((m) => [('method' in m) && m.method, (m as JsonRpcRequest).params?.uri]), [['resources/unsubscribe', 'file:///y']]);

  h.request('a', 'bad', 'resources/subscribe', {});
  assert.equal(responsesTo(h.takeSessions(), 'a')[0]!.error?.code, RpcCode.invalidParams);
});

test('shared: logging/setLevel sets the most verbose level at the child and filters each session to its own', () => {
  const h = harness();
  for (const s of ['a', 'b', 'c']) connect(h, s);
  const steps: Array<{ session: string; level: string; childLevel: string | undefined }> = [
    { session: 'a', level: 'warning', childLevel: 'warning' },
    { session: 'b', level: 'debug', childLevel: 'debug' },
    { session: 'a', level: 'error', childLevel: undefined }, // the child stays at debug for b
  ];
  steps.forEach((step, i) => {
    h.request(step.session, i, 'logging/setLevel', { level: step.level });
    const sent = h.takeChild() as JsonRpcRequest[];
    assert.deepEqual(sent.map((m) => m.params?.level), step.childLevel === undefined ? [] : [step.childLevel], `${step.session} → ${step.level}`);
    if (sent[0] !== undefined) h.childReply(sent[0].id, {});
    assert.deepEqual(responsesTo(h.takeSessions(), step.session), [{ jsonrpc: '2.0', id: i, result: {} }]);
  });
  const cases: Array<{ level: string; sessions: string[] }> = [
    { level: 'debug', sessions: ['b', 'c'] },
    { level: 'info', sessions: ['b', 'c'] },
    { level: 'warning', sessions: ['b', 'c'] },
    { level: 'error', sessions: ['a', 'b', 'c'] },
    { level: 'emergency', sessions: ['a', 'b', 'c'] },
    { level: 'nonsense', sessions: ['a', 'b', 'c'] },
  ];
  for (const { level, sessions } of cases) {
    h.childNotify('notifications/message', { level, data: 'x' });
    assert.deepEqual(h.takeSessions().map((d) => d.sessionId), sessions, level);
  }
  h.request('c', 'bad', 'logging/setLevel', { level: 'loud' });
  assert.equal(responsesTo(h.takeSessions(), 'c')[0]!.error?.code, RpcCode.invalidParams);
  assert.deepEqual(h.takeChild(), []);
});

test('removeSession cancels its calls at the child, refuses its pending server requests, drops late replies', () => {
  const h = harness();
  connect(h, 'a');
  connect(h, 'b');
  h.request('a', 0, 'tools/call', { name: 'slow' });
  h.request('a', 1, 'tools/call', { name: 'ask-sampling' });
  h.request('b', 0, 'tools/call', { name: 'slow' });
  const [a0, a1, b0] = h.takeChild() as JsonRpcRequest[];
  // The newest call in flight is b's, so make a the target by answering b first.
  h.childReply(b0!.id, { ok: true });
  h.hub.fromChild({ jsonrpc: '2.0', id: 'sampling-1', method: 'sampling/createMessage', params: {} });
  const delivered = h.takeSessions();
  assert.deepEqual(delivered.map((d) => [d.sessionId, 'method' in d.msg ? d.msg.method : 'response']), [['b', 'response'], ['a', 'sampling/createMessage']]);
  const before = h.hub.pendingCount;

  h.hub.removeSession('a');
  const sent = h.takeChild();
  assert.deepEqual(sent.filter((m) => 'method' in m).map((m) => (m as { params: JsonObject }).params.requestId).sort(), [a0!.id, a1!.id].sort());
  assert.ok(sent.filter((m) => 'method' in m).every((m) => (m as { method: string }).method === 'notifications/cancelled'));
  const refusal = sent.find((m) => !('method' in m)) as JsonRpcResponse;
  assert.equal(refusal.id, 'sampling-1');
  assert.equal(refusal.error?.code, RpcCode.internalError);
  assert.equal(h.hub.pendingCount, before - 2);
  assert.equal(h.hub.sessionCount, 1, 'only b is left');

  h.childReply(a0!.id, { late: true });
  h.childReply(a1!.id, { late: true });
  h.hub.fromClient('a', { jsonrpc: '2.0', id: 99, method: 'tools/list' });
  assert.deepEqual(h.takeSessions(), []);
  assert.deepEqual(h.takeChild(), []);
  h.hub.removeSession('a'); // twice: nothing more
  assert.deepEqual(h.takeChild(), []);
});

test('childDown errors every call in flight with -32000 naming the reason; new requests fail fast', () => {
  const h = harness();
  connect(h, 'a');
  connect(h, 'b');
  h.request('a', 0, 'tools/call', { name: 'slow' });
  h.request('b', 0, 'tools/call', { name: 'slow' });
  h.request('b', 1, 'tools/list');
  h.takeChild();
  h.hub.childDown('exited with code 3');
  const answers = h.takeSessions();
  assert.deepEqual(answers.map((d) => [d.sessionId, (d.msg as JsonRpcResponse).id]), [['a', 0], ['b', 0], ['b', 1]]);
  for (const { msg } of answers) {
    assert.equal((msg as JsonRpcResponse).error?.code, RpcCode.serverError);
    assert.match((msg as JsonRpcResponse).error!.message, /exited with code 3/);
  }
  assert.equal(h.hub.pendingCount, 0);
  assert.equal(h.callsDone.filter((c) => c.outcome === 'error').length, 3);

  h.request('a', 2, 'tools/list');
  assert.deepEqual(h.takeChild(), []);
  const [fast] = responsesTo(h.takeSessions(), 'a');
  assert.equal(fast!.error?.code, RpcCode.serverError);
  assert.match(fast!.error!.message, /exited with code 3/);
});

test('childDown answers sessions waiting for a pending shared initialize', () => {
  const h = harness();
  h.hub.addSession('a');
  h.hub.addSession('b');
  h.request('a', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  h.request('b', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  h.hub.childDown('failed to start');
  const answers = h.takeSessions();
  assert.deepEqual(answers.map((d) => d.sessionId).sort(), ['a', 'b']);
  for (const { msg } of answers) assert.equal((msg as JsonRpcResponse).error?.code, RpcCode.serverError);
});

test('childUp after a restart re-initializes with the cached params, re-subscribes and broadcasts list_changed', () => {
  const h = harness();
  h.hub.addSession('a');
  const params = { protocolVersion: '2025-06-18', capabilities: { sampling: {} }, clientInfo: { name: 'first', version: '1' } };
  h.request('a', 0, 'initialize', params);
  h.childReply(h.lastChildRequest('initialize').id, CHILD_RESULT);
  h.notify('a', 'notifications/initialized');
  connect(h, 'b');
  h.hub.addSession('c'); // not initialized: told nothing
  h.request('a', 1, 'resources/subscribe', { uri: 'file:///x' });
  h.childReply(h.lastChildRequest('resources/subscribe').id, {});
  h.request('b', 1, 'logging/setLevel', { level: 'info' });
  h.childReply(h.lastChildRequest('logging/setLevel').id, {});
  h.takeChild();
  h.takeSessions();

  h.hub.childDown('exited with code 1');
  h.hub.childUp();
  const init = h.takeChild();
  assert.deepEqual(methods(init), ['initialize'], 'nothing else before the initialize result (spec order)');
  assert.deepEqual((init[0] as JsonRpcRequest).params, { ...params, protocolVersion: LATEST_LEGACY_VERSION });
  assert.deepEqual(h.takeSessions(), []);
  h.childReply((init[0] as JsonRpcRequest).id, CHILD_RESULT);
  const sent = h.takeChild();
  assert.deepEqual(methods(sent), ['notifications/initialized', 'resources/subscribe', 'logging/setLevel']);
  assert.deepEqual((sent[1] as JsonRpcRequest).params, { uri: 'file:///x' });
  assert.deepEqual((sent[2] as JsonRpcRequest).params, { level: 'info' });
  // CHILD_RESULT has tools and resources, not prompts.
  assert.deepEqual(h.takeSessions().map((d) => [d.sessionId, (d.msg as { method: string }).method]), [
    ['a', 'notifications/tools/list_changed'], ['b', 'notifications/tools/list_changed'],
    ['a', 'notifications/resources/list_changed'], ['b', 'notifications/resources/list_changed'],
  ]);
  // The hub's own requests are answered to the hub, not to a client.
  for (const m of sent) if ('id' in m && 'method' in m) h.childReply(m.id, {});
  assert.deepEqual(h.takeSessions(), []);
  assert.equal(h.hub.pendingCount, 0);
  // Requests flow again.
  h.request('a', 2, 'tools/list');
  const call = h.takeChild()[0] as JsonRpcRequest;
  h.childReply(call.id, { tools: [] });
  assert.deepEqual(responsesTo(h.takeSessions(), 'a'), [{ jsonrpc: '2.0', id: 2, result: { tools: [] } }]);
});

test('childUp before anything was initialized sends nothing', () => {
  const h = harness();
  h.hub.addSession('a');
  h.hub.childUp();
  assert.deepEqual(h.takeChild(), []);
  assert.deepEqual(h.takeSessions(), []);
});

test('expireCalls fails old calls with an error and cancels them at the child', () => {
  const h = harness();
  connect(h, 'a');
  connect(h, 'b');
  h.request('a', 0, 'tools/call', { name: 'slow' });
  const [old] = h.takeChild() as JsonRpcRequest[];
  h.advance(4_000);
  h.request('b', 0, 'tools/call', { name: 'slow' });
  const [fresh] = h.takeChild() as JsonRpcRequest[];
  h.advance(1_000);
  h.hub.expireCalls(5_000);
  assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: old!.id, reason: 'request timed out' } }]);
  const [timedOut, ...others] = h.takeSessions();
  assert.deepEqual(others, []);
  assert.equal(timedOut!.sessionId, 'a');
  assert.equal((timedOut!.msg as JsonRpcResponse).id, 0);
  assert.equal((timedOut!.msg as JsonRpcResponse).error?.code, RpcCode.serverError);
  assert.match((timedOut!.msg as JsonRpcResponse).error!.message, /timed out after 5 s/);
  h.childReply(old!.id, { late: true });
  assert.deepEqual(h.takeSessions(), [], 'the late reply is dropped');
  h.childReply(fresh!.id, { ok: true });
  assert.deepEqual(responsesTo(h.takeSessions(), 'b'), [{ jsonrpc: '2.0', id: 0, result: { ok: true } }]);
});

test('a child that will not take input answers the request with an error at once', () => {
  const h = harness();
  connect(h, 'a');
  h.setChildAccepts(false);
  h.request('a', 0, 'tools/list');
  const [res] = responsesTo(h.takeSessions(), 'a');
  assert.equal(res!.error?.code, RpcCode.serverError);
  assert.equal(h.hub.pendingCount, 0);

  // A shared initialize the child could not take leaves the session free to try again.
  const h2 = harness();
  h2.hub.addSession('a');
  h2.setChildAccepts(false);
  h2.request('a', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  assert.equal(responsesTo(h2.takeSessions(), 'a')[0]!.error?.code, RpcCode.serverError);
  h2.setChildAccepts(true);
  h2.request('a', 1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {} });
  assert.deepEqual(methods(h2.takeChild()), ['initialize']);
});

/** A tiny deterministic PRNG (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('every pending request ends exactly once, whatever happens to it', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
    const h = harness();
    const sessions = ['a', 'b', 'c'];
    for (const s of sessions) connect(h, s);
    /** `${session}:${typeof id}:${id}` → answers seen; undefined once the client gave up on it. */
    const expected = new Map<string, number>();
    const gaveUp = new Set<string>();
    const removed = new Set<string>();
    let nextId = 0;
    const count = () => {
      for (const d of h.takeSessions()) {
        if ('method' in d.msg) continue;
        const key = `${d.sessionId}:${typeof d.msg.id}:${String(d.msg.id)}`;
        assert.ok(expected.has(key), `seed ${seed}: an answer to a request never made: ${key}`);
        assert.ok(!removed.has(d.sessionId), `seed ${seed}: an answer to a removed session`);
        expected.set(key, expected.get(key)! + 1);
      }
    };
    for (let step = 0; step < 60; step++) {
      const live = sessions.filter((s) => !removed.has(s));
      const action = rand();
      if (action < 0.4 && live.length > 0) {
        const s = pick(live);
        const id: JsonRpcId = rand() < 0.5 ? nextId : String(nextId);
        nextId++;
        expected.set(`${s}:${typeof id}:${id}`, 0);
        h.request(s, id, pick(['tools/call', 'tools/list', 'ping']), { _meta: { progressToken: id } });
      } else if (action < 0.65) {
        const pending = h.toChild.filter((m) => 'method' in m && 'id' in m) as JsonRpcRequest[];
        if (pending.length > 0) {
          const req = pick(pending);
          h.childReply(req.id, {});
          if (rand() < 0.2) h.childReply(req.id, { duplicate: true });
        }
      } else if (action < 0.72) {
        h.advance(1_000);
        h.hub.expireCalls(3_000);
      } else if (action < 0.77 && live.length > 0) {
        const s = pick(live);
        const mine = [...expected.keys()].filter((k) => k.startsWith(`${s}:`) && expected.get(k) === 0);
        if (mine.length > 0) {
          const key = pick(mine);
          const [, type, raw] = key.split(':');
          h.notify(s, 'notifications/cancelled', { requestId: type === 'number' ? Number(raw) : raw! });
          gaveUp.add(key);
        }
      } else if (action < 0.8 && live.length > 1) {
        const s = pick(live);
        h.hub.removeSession(s);
        removed.add(s);
      } else if (action < 0.83) {
        h.hub.childDown('crashed');
        count();
        h.hub.childUp();
        h.takeChild(); // the re-initialize: answer it so it is not pending forever
      } else {
        h.advance(100);
      }
      count();
    }
    h.hub.childDown('shutting down');
    count();
    assert.equal(h.hub.pendingCount, 0, `seed ${seed}: nothing left pending`);
    for (const [key, answers] of expected) {
      const [session] = key.split(':');
      if (removed.has(session!) || gaveUp.has(key)) assert.ok(answers <= 1, `seed ${seed}: ${key} answered ${answers} times`);
      else assert.equal(answers, 1, `seed ${seed}: ${key} answered ${answers} times`);
    }
  }
});

// ── the shared handshake when its first caller goes away ────────────────────────────────────────────

const INIT_PARAMS = { protocolVersion: '2025-06-18', capabilities: {} };

for (const how of ['removeSession', 'client cancel'] as const) {
  test(`shared initialize survives its first caller leaving (${how}): the waiting session is answered, nothing cancelled`, () => {
    const h = harness();
    h.hub.addSession('a');
    h.hub.addSession('b');
    h.request('a', 0, 'initialize', INIT_PARAMS);
    h.request('b', 0, 'initialize', INIT_PARAMS);
    const upstream = h.lastChildRequest('initialize').id;
    if (how === 'removeSession') h.hub.removeSession('a');
    else h.notify('a', 'notifications/cancelled', { requestId: 0 });
    assert.deepEqual(methods(h.takeChild()).filter((m) => m === 'notifications/cancelled'), [], 'initialize is never cancelled');
    h.childReply(upstream, CHILD_RESULT);
    assert.ok(responsesTo(h.toSession, 'b').some((r) => r.result !== undefined), 'b answered from the child reply');
    h.hub.addSession('c');
    h.request('c', 7, 'initialize', INIT_PARAMS);
    assert.ok(responsesTo(h.toSession, 'c').some((r) => r.id === 7 && r.result !== undefined), 'c answered from the cache');
  });
}

test('a shared initialize that times out fails every waiting session, and a new initialize is sent', () => {
  const h = harness();
  h.hub.addSession('a');
  h.hub.addSession('b');
  h.request('a', 0, 'initialize', INIT_PARAMS);
  h.request('b', 0, 'initialize', INIT_PARAMS);
  h.takeChild();
  h.advance(10_000);
  h.hub.expireCalls(5_000);
  for (const sessionId of ['a', 'b']) {
    assert.equal(responsesTo(h.toSession, sessionId)[0]?.error?.code, RpcCode.serverError, `${sessionId} told`);
  }
  assert.deepEqual(methods(h.takeChild()), [], 'initialize is not cancelled');
  h.request('a', 1, 'initialize', INIT_PARAMS);
  h.childReply(h.lastChildRequest('initialize').id, CHILD_RESULT);
  assert.ok(responsesTo(h.toSession, 'a').some((r) => r.id === 1 && r.result !== undefined), 'a retried and succeeded');
});

test('a child that dies during the shared initialize lets the sessions initialize again after the restart', () => {
  const h = harness();
  h.hub.addSession('a');
  h.request('a', 0, 'initialize', INIT_PARAMS);
  h.hub.childDown('exited with code 1');
  h.hub.childUp();
  h.takeChild();
  h.takeSessions();
  h.request('a', 1, 'initialize', INIT_PARAMS);
  assert.equal(methods(h.takeChild()).filter((m) => m === 'initialize').length, 1, 'forwarded again');
  assert.deepEqual(responsesTo(h.toSession, 'a'), [], 'not refused as already initialized');
});

test('a server request with stateless callers among several in flight is refused to the child; with one caller it is routed', () => {
  const h = harness();
  connect(h, 'legacy');
  h.hub.addSession('s1', { isStateless: true });
  h.hub.addSession('s2', { isStateless: true });
  h.request('s1', 1, 'tools/call', { name: 'ask' });
  const ask = { jsonrpc: '2.0' as const, id: 'srv-1', method: 'elicitation/create', params: { message: 'm' } };
  h.hub.fromChild(structuredClone(ask));
  assert.equal(h.takeSessions().filter((d) => d.sessionId === 's1' && 'method' in d.msg).length, 1, 'one caller: it gets the request');
  h.request('s2', 1, 'tools/call', { name: 'other' });
  h.takeChild();
  h.hub.fromChild({ ...structuredClone(ask), id: 'srv-2' });
  assert.deepEqual(h.takeSessions().filter((d) => 'method' in d.msg), [], 'no caller is handed an ambiguous request');
  const refusal = h.takeChild().find((m) => 'id' in m && m.id === 'srv-2') as JsonRpcResponse | undefined;
  assert.equal(refusal?.error?.code, RpcCode.internalError);
});

test('shared: a first client naming only form elicitation keeps the relayed url mode beside it', () => {
  const h = harness({ relay: { sampling: {}, elicitation: { form: {}, url: {} } } });
  h.hub.addSession('a');
  h.request('a', 0, 'initialize', { ...INIT_PARAMS, capabilities: { elicitation: { form: { own: true } }, sampling: 'odd' } });
  assert.deepEqual(h.lastChildRequest('initialize').params!.capabilities, { sampling: 'odd', elicitation: { form: { own: true }, url: {} } });
});

test('a legacy child\'s request reaches a stateless call only when related: the one MRTR-capable call in flight, never roots', () => {
  const ask = (h: Harness, id: string, method: string): Delivery[] => {
    h.hub.fromChild({ jsonrpc: '2.0', id, method, params: {} });
    return h.takeSessions().filter((d) => 'method' in d.msg);
  };
  // A fresh shared child asks for roots right after `initialized` while a stateless call runs.
  const h = harness();
  h.hub.addSession('s', { isStateless: true });
  h.request('s', 1, 'tools/call', { name: 'long' });
  h.takeChild();
  assert.deepEqual(ask(h, 'r1', 'roots/list'), [], 'roots are never one call\'s input');
  assert.deepEqual(h.takeChild(), [{ jsonrpc: '2.0', id: 'r1', result: { roots: [] } }]);
  assert.deepEqual(ask(h, 'e1', 'elicitation/create').map((d) => [d.sessionId, d.relatedId]), [['s', 1]], 'the one MRTR call in flight');
  // With a legacy session connected its roots are asked for, never the stateless caller's.
  connect(h, 'legacy');
  assert.deepEqual(ask(h, 'r2', 'roots/list').map((d) => d.sessionId), ['legacy']);
  // A legacy call beside the stateless one: the child's request could be either's.
  h.request('legacy', 0, 'tools/call', { name: 'other' });
  h.takeChild();
  assert.deepEqual(ask(h, 'e2', 'sampling/createMessage'), []);
  assert.equal((h.takeChild().find((m) => 'id' in m && m.id === 'e2') as JsonRpcResponse).error?.code, RpcCode.internalError);
  // A stateless tools/list cannot take input_required: the legacy call is the only candidate.
  const list = harness();
  connect(list, 'legacy');
  list.hub.addSession('s', { isStateless: true });
  list.request('s', 1, 'tools/list');
  list.request('legacy', 0, 'tools/call', { name: 'ask' });
  list.takeChild();
  assert.deepEqual(ask(list, 'e3', 'elicitation/create').map((d) => [d.sessionId, d.relatedId]), [['legacy', 0]]);
});

test('a child\'s log reaches a stateless caller only on its call, when that call is the only one in flight; legacy sessions as before', () => {
  const h = harness();
  connect(h, 'legacy');
  h.hub.addSession('s', { isStateless: true });
  h.hub.addSession('idle', { isStateless: true }); // a listen stream: no call, no logs
  const log = (): Array<[string, unknown]> => {
    h.childNotify('notifications/message', { level: 'info', data: 'x' });
    return h.takeSessions().map((d) => [d.sessionId, d.relatedId]);
  };
  assert.deepEqual(log(), [['legacy', undefined]], 'nothing in flight: unsolicited, legacy sessions only');
  h.request('s', 7, 'tools/call', { name: 'work' });
  h.takeChild();
  assert.deepEqual(log(), [['legacy', undefined], ['s', 7]], 'the only call in flight: on its stream');
  h.request('legacy', 0, 'tools/call', { name: 'other' });
  h.takeChild();
  assert.deepEqual(log(), [['legacy', undefined]], 'two calls in flight: not the stateless caller\'s to have');
});

test('a reused request id while the first is in flight is refused; the first call still gets its own answer', () => {
  for (const shared of [true, false]) {
    const h = harness({ shared });
    connect(h, 'a');
    h.request('a', 7, 'tools/call', { name: 'slow' });
    const first = h.lastChildRequest('tools/call');
    h.takeChild();
    h.request('a', 7, 'tools/call', { name: 'echo' });
    assert.deepEqual(h.takeChild(), [], 'the duplicate never reaches the child');
    assert.equal(responsesTo(h.takeSessions(), 'a')[0]?.error?.code, RpcCode.invalidRequest);
    h.childReply(first.id, { content: [] });
    assert.deepEqual(responsesTo(h.takeSessions(), 'a'), [{ jsonrpc: '2.0', id: 7, result: { content: [] } }]);
    h.hub.removeSession('a');
    h.hub.fromChild({ jsonrpc: '2.0', id: 'srv-9', method: 'elicitation/create', params: {} });
    const refusal = h.takeChild().find((m) => 'id' in m && m.id === 'srv-9') as JsonRpcResponse | undefined;
    assert.equal(refusal?.error?.code, RpcCode.internalError, 'with no client left, the child is answered, nothing throws');
  }
});

test('a refused shared initialize hands the handshake to the next waiting session that is still there', () => {
  const h = harness();
  for (const id of ['a', 'b', 'c']) h.hub.addSession(id);
  for (const id of ['a', 'b', 'c']) h.request(id, 0, 'initialize', INIT_PARAMS);
  const first = h.lastChildRequest('initialize');
  h.hub.removeSession('b');
  h.takeChild();
  h.hub.fromChild({ jsonrpc: '2.0', id: first.id, error: { code: -32602, message: 'no' } });
  assert.equal(responsesTo(h.toSession, 'a')[0]?.error?.code, -32602);
  const second = h.lastChildRequest('initialize');
  assert.notEqual(second.id, first.id, "c's initialize is sent");
  h.childReply(second.id, CHILD_RESULT);
  assert.ok(responsesTo(h.toSession, 'c').some((r) => r.result !== undefined), 'c is answered');
});
