/**
 * Stateless 2026-07-28 requests on /mcp over raw HTTP, against the built binary with the fixture as a
 * legacy child: the modern status table and classifier edges (MCP-ERAS §1.3, §1.4, §5), result shaping,
 * MRTR security (requestState tampered, changed params, another principal, undeclared capability),
 * cancellation by closing the request, mixed eras on one child with colliding ids, and /sse answering
 * a request sent before initialize.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Client as ClientV2, SSEClientTransport as SSEClientTransportV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { INIT_PARAMS, openLegacySession, readerOf, rpcError } from './helpers/raw-sse.ts';

const TIMEOUT = { timeout: 60_000 };
const MODERN = '2026-07-28';
const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire bodies in assertions

async function proxyFor(t: TestContext, flags: string[] = []): Promise<RunningProxy> {
  const proxy = await startProxy([...flags, '--', process.execPath, FIXTURE]);
  t.after(() => proxy.stop());
  return proxy;
}

interface ModernOptions {
  id?: string | number;
  capabilities?: Json;
  /** Replaces the whole `_meta` (null: none at all). */
  meta?: Json | null;
  /** Merged over the headers a conformant client sends; `undefined` removes one. */
  headers?: Record<string, string | undefined>;
  abort?: AbortController;
  httpMethod?: string;
}

const envelope = (capabilities: Json = {}): Json => ({
  [PROTOCOL_VERSION_KEY]: MODERN,
  [CLIENT_CAPABILITIES_KEY]: capabilities,
  'io.modelcontextprotocol/clientInfo': { name: 'raw-modern', version: '1.0.0' },
});

function modernBody(method: string, params: Json, options: ModernOptions): Json {
  const meta = options.meta === undefined ? envelope(options.capabilities) : options.meta;
  const withMeta = meta === null ? params : { ...params, _meta: { ...(params._meta ?? {}), ...meta } };
  return { jsonrpc: '2.0', ...(options.id === undefined && method.startsWith('notifications/') ? {} : { id: options.id ?? 1 }), method, params: withMeta };
}

/** One stateless POST with the headers a conformant 2026-07-28 client sends (then `options.headers`). */
function modernFetch(base: string, method: string, params: Json = {}, options: ModernOptions = {}): Promise<Response> {
  const name = method === 'resources/read' ? params.uri : method === 'tools/call' || method === 'prompts/get' ? params.name : undefined;
  const merged: Record<string, string | undefined> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
    ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    ...options.headers,
  };
  const headers = Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const abort = options.abort ?? new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  return fetch(`${base}/mcp`, {
    method: options.httpMethod ?? 'POST',
    headers,
    body: options.httpMethod === undefined || options.httpMethod === 'POST' ? JSON.stringify(modernBody(method, params, options)) : undefined,
    signal: abort.signal,
  }).finally(() => clearTimeout(timer));
}

/** The JSON-RPC answer of a POST (JSON, or the response that ends an SSE reply), with the HTTP status. */
async function modern(base: string, method: string, params: Json = {}, options: ModernOptions = {}): Promise<{ status: number; headers: Headers; body: Json }> {
  const response = await modernFetch(base, method, params, options);
  const text = await response.text();
  let body: Json;
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const messages = text.split(/\n\n/).map((block) => block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n'))
      .filter((data) => data !== '').map((data) => JSON.parse(data) as Json);
    body = messages.find((m) => m.method === undefined) ?? {};
  } else {
    body = text === '' ? {} : JSON.parse(text) as Json;
  }
  return { status: response.status, headers: response.headers, body };
}

const ECHO = (text: string): Json => ({ name: 'echo', arguments: { text } });

// ── status table and classifier edges ─────────────────────────────────────────────────────────────

test('GET and DELETE without a session but with a modern version header: 405, Allow: POST', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  for (const httpMethod of ['GET', 'DELETE']) {
    const response = await fetch(`${proxy.url}/mcp`, { method: httpMethod, headers: { accept: 'text/event-stream', 'mcp-protocol-version': MODERN } });
    await response.text();
    assert.equal(response.status, 405, httpMethod);
    assert.equal(response.headers.get('allow'), 'POST', httpMethod);
  }
});

test('Mcp-Session-Id and Last-Event-ID are ignored and never issued on modern requests', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const stale = await modern(proxy.url, 'tools/call', ECHO('stale'), { headers: { 'mcp-session-id': 'no-such-session', 'last-event-id': 'x-1' } });
  assert.equal(stale.status, 200, JSON.stringify(stale.body));
  assert.equal(textOf(stale.body.result), 'stale');
  assert.equal(stale.headers.get('mcp-session-id'), null);
  // A live legacy session's id on a modern request does not make it legacy either.
  const init = await fetch(`${proxy.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: INIT_PARAMS('2025-11-25') }),
  });
  const sessionId = init.headers.get('mcp-session-id')!;
  await init.text();
  const live = await modern(proxy.url, 'tools/list', {}, { headers: { 'mcp-session-id': sessionId } });
  assert.equal(live.status, 200);
  assert.equal(live.body.result.resultType, 'complete');
  assert.equal(live.headers.get('mcp-session-id'), null);
  for (const call of ['tools/list', 'server/discover']) {
    const { headers } = await modern(proxy.url, call);
    assert.equal(headers.get('mcp-session-id'), null, call);
  }
});

test('-32020 for each header that is missing or differs from the body; the base64 sentinel is decoded', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const b64 = (text: string): string => `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;
  const cases: Array<[string, string, Json, Record<string, string | undefined>]> = [
    ['version header ≠ claim', 'tools/list', {}, { 'mcp-protocol-version': '2025-11-25' }],
    ['missing MCP-Protocol-Version', 'tools/list', {}, { 'mcp-protocol-version': undefined }],
    ['missing Mcp-Method', 'tools/list', {}, { 'mcp-method': undefined }],
    ['different Mcp-Method', 'tools/list', {}, { 'mcp-method': 'prompts/list' }],
    ['missing Mcp-Name, tools/call', 'tools/call', ECHO('x'), { 'mcp-name': undefined }],
    ['different Mcp-Name, tools/call', 'tools/call', ECHO('x'), { 'mcp-name': 'slow' }],
    ['missing Mcp-Name, resources/read', 'resources/read', { uri: 'fixture://a' }, { 'mcp-name': undefined }],
    ['different Mcp-Name, resources/read', 'resources/read', { uri: 'fixture://a' }, { 'mcp-name': 'fixture://b' }],
    ['missing Mcp-Name, prompts/get', 'prompts/get', { name: 'greet' }, { 'mcp-name': undefined }],
    ['sentinel decoding to another name', 'tools/call', ECHO('x'), { 'mcp-name': b64('slow') }],
  ];
  for (const [what, method, params, headers] of cases) {
    const { status, body } = await modern(proxy.url, method, params, { headers });
    assert.equal(status, 400, what);
    assert.equal(rpcError(body)?.code, -32020, `${what}: ${JSON.stringify(body)}`);
  }
  // Equal once decoded: accepted.
  const encoded = await modern(proxy.url, 'tools/call', ECHO('b64'), { headers: { 'mcp-name': b64('echo'), 'mcp-method': b64('tools/call') } });
  assert.equal(encoded.status, 200, JSON.stringify(encoded.body));
  assert.equal(textOf(encoded.body.result), 'b64');
  const uri = await modern(proxy.url, 'resources/read', { uri: 'fixture://a' }, { headers: { 'mcp-name': b64('fixture://a') } });
  assert.equal(uri.status, 200, JSON.stringify(uri.body));
  assert.equal(uri.body.result.contents[0].text, 'fixture resource a');
});

test('-32022 with data.supported for an unknown version; -32602 for a bad envelope or a header without one', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const future = await modern(proxy.url, 'tools/list', {}, {
    meta: { ...envelope(), [PROTOCOL_VERSION_KEY]: '2099-01-01' },
    headers: { 'mcp-protocol-version': '2099-01-01' },
  });
  assert.equal(future.status, 400);
  assert.equal(future.body.error.code, -32022);
  assert.ok(future.body.error.data.supported.includes(MODERN), JSON.stringify(future.body));
  assert.equal(future.body.error.data.requested, '2099-01-01');

  const noCapabilities = await modern(proxy.url, 'tools/list', {}, { meta: { [PROTOCOL_VERSION_KEY]: MODERN } });
  assert.equal(noCapabilities.status, 400);
  assert.equal(noCapabilities.body.error.code, -32602);

  const headerOnly = await modern(proxy.url, 'tools/list', {}, { meta: null });
  assert.equal(headerOnly.status, 400);
  assert.equal(headerOnly.body.error.code, -32602);
});

test('errors before dispatch echo the request id, as the SDK\'s createMcpHandler does (echoableRequestId)', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const answers = [
    await modern(proxy.url, 'tools/list', {}, { id: 41, headers: { 'mcp-method': 'prompts/list' } }), // -32020
    await modern(proxy.url, 'tools/list', {}, { id: 42, meta: { ...envelope(), [PROTOCOL_VERSION_KEY]: '2099-01-01' }, headers: { 'mcp-protocol-version': '2099-01-01' } }), // -32022
    await modern(proxy.url, 'tools/list', {}, { id: 43, meta: { [PROTOCOL_VERSION_KEY]: MODERN } }), // -32602
    await modern(proxy.url, 'ping', {}, { id: 44 }), // -32601
  ];
  assert.deepEqual(answers.map(({ body }) => body.id), [41, 42, 43, 44]);
});

test('404 -32601 for methods 2026-07-28 removed, and initialize sent with an envelope', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const cases: Array<[string, Json]> = [
    ['ping', {}],
    ['logging/setLevel', { level: 'debug' }],
    ['resources/subscribe', { uri: 'fixture://a' }],
    ['resources/unsubscribe', { uri: 'fixture://a' }],
    ['initialize', INIT_PARAMS(MODERN)],
    ['no/such-method', {}],
  ];
  for (const [method, params] of cases) {
    const { status, body } = await modern(proxy.url, method, params);
    assert.equal(status, 404, method);
    assert.equal(body.error?.code, -32601, `${method}: ${JSON.stringify(body)}`);
  }
});

test('classifier edges: batches, posted responses, notifications, initialize with a modern header, claim-less requests', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const post = async (body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> => {
    const response = await fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) as Json };
  };
  const enveloped = modernBody('tools/list', {}, {});
  const batch = await post([enveloped, { ...enveloped, id: 2 }], { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' });
  assert.equal(batch.status, 400);
  assert.equal(batch.body.error.code, -32600);
  const mixed = await post([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, enveloped]);
  assert.equal(mixed.status, 400);
  assert.equal(mixed.body.error.code, -32600);

  // A posted response has no session to go to: refused, never accepted as modern.
  const response = await post({ jsonrpc: '2.0', id: 1, result: {} }, { 'mcp-protocol-version': MODERN });
  assert.equal(response.status, 400, JSON.stringify(response.body));

  // Notifications: 202 and ignored, whether they carry the claim or only the modern header.
  for (const [what, body, headers] of [
    ['claim', modernBody('notifications/cancelled', { requestId: 1 }, {}), { 'mcp-protocol-version': MODERN, 'mcp-method': 'notifications/cancelled' }],
    ['claim, no headers', modernBody('notifications/initialized', {}, {}), {}],
    ['modern header only', { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-protocol-version': MODERN }],
  ] as Array<[string, Json, Record<string, string>]>) {
    const answer = await fetch(`${proxy.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
    assert.equal(answer.status, 202, what);
    assert.equal(await answer.text(), '', what);
  }

  const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: INIT_PARAMS('2025-11-25') }, { 'mcp-protocol-version': MODERN });
  assert.equal(init.status, 400);
  assert.equal(init.body.error.code, -32020);

  const claimless = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  assert.equal(claimless.status, 400, 'legacy: a session id is required');
  assert.notEqual(claimless.body.error?.code, -32020);
  const legacyHeader = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, { 'mcp-protocol-version': '2025-11-25' });
  assert.equal(legacyHeader.status, 400);
});

test('tool errors stay 200 with the error in the body', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const unknown = await modern(proxy.url, 'tools/call', { name: 'no-such-tool', arguments: {} });
  assert.equal(unknown.status, 200);
  assert.equal(unknown.body.id, 1);
  assert.equal(unknown.body.error.code, -32602, JSON.stringify(unknown.body));
  const prompt = await modern(proxy.url, 'prompts/get', { name: 'nope' });
  assert.equal(prompt.status, 200);
  assert.ok(prompt.body.error !== undefined, JSON.stringify(prompt.body));
});

test('result shaping: resultType, ttlMs/cacheScope, serverInfo; discover; -32002 becomes -32602', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const serverInfo = { name: 'fault-fixture', version: '1.0.0' };
  const tools = await modern(proxy.url, 'tools/list');
  assert.equal(tools.status, 200);
  const list = tools.body.result;
  assert.equal(list.resultType, 'complete');
  assert.ok(Number.isInteger(list.ttlMs), JSON.stringify(list).slice(0, 200));
  assert.ok(['public', 'private'].includes(list.cacheScope));
  assert.deepEqual(list._meta[SERVER_INFO_KEY], serverInfo);
  assert.ok(list.tools.some((tool: Json) => tool.name === 'echo'));

  for (const [method, params] of [['prompts/list', {}], ['resources/list', {}], ['resources/read', { uri: 'fixture://a' }]] as Array<[string, Json]>) {
    const { status, body } = await modern(proxy.url, method, params);
    assert.equal(status, 200, method);
    assert.equal(body.result.resultType, 'complete', method);
    assert.ok(Number.isInteger(body.result.ttlMs), method);
    assert.ok(['public', 'private'].includes(body.result.cacheScope), method);
  }
  const call = await modern(proxy.url, 'tools/call', ECHO('shaped'));
  assert.equal(call.body.result.resultType, 'complete');
  assert.deepEqual(call.body.result._meta[SERVER_INFO_KEY], serverInfo);

  const discover = await modern(proxy.url, 'server/discover', {}, { id: 'server-discover-probe-1' });
  assert.equal(discover.status, 200);
  assert.equal(discover.body.id, 'server-discover-probe-1');
  const found = discover.body.result;
  assert.ok(found.supportedVersions.includes(MODERN), JSON.stringify(found));
  assert.equal(found.resultType, 'complete');
  assert.ok(Number.isInteger(found.ttlMs));
  assert.ok(['public', 'private'].includes(found.cacheScope));
  assert.deepEqual(found._meta[SERVER_INFO_KEY], serverInfo);
  assert.equal(found.capabilities.tasks, undefined);
  assert.deepEqual(found.capabilities.tools, { listChanged: true });

  // The fixture answers an unknown URI with the retired -32002 (2025 resource-not-found).
  const missing = await modern(proxy.url, 'resources/read', { uri: 'fixture://missing' });
  assert.equal(missing.status, 200);
  assert.equal(missing.body.error.code, -32602, JSON.stringify(missing.body));
});

test('subscriptions/listen: ack lists only what the child honours; notifications carry the listen id as subscriptionId', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const abort = new AbortController();
  t.after(() => abort.abort());
  const response = await modernFetch(proxy.url, 'subscriptions/listen', {
    notifications: { toolsListChanged: true, promptsListChanged: false, somethingElseChanged: true, resourceSubscriptions: ['fixture://a'] },
  }, { id: 'sub-1', abort });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type')?.split(';')[0], 'text/event-stream');
  assert.equal(response.headers.get('mcp-session-id'), null);
  const stream = readerOf(response, abort);
  const next = async (what: string): Promise<Json> => JSON.parse((await stream.next(10_000, what))!.data) as Json;
  const ack = await next('ack');
  assert.deepEqual(ack, {
    jsonrpc: '2.0',
    method: 'notifications/subscriptions/acknowledged',
    params: { notifications: { toolsListChanged: true, resourceSubscriptions: ['fixture://a'] }, _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-1' } },
  });
  const call = (name: string, args: Json): Promise<unknown> => modern(proxy.url, 'tools/call', { name, arguments: args }, { id: 'sub-1' });
  await call('update-resource', { uri: 'fixture://b' }); // not subscribed: never delivered
  await call('log', { text: 'not for listen streams' });
  await call('notify-list-changed', {});
  const changed = await next('list_changed');
  assert.equal(changed.method, 'notifications/tools/list_changed');
  assert.equal(changed.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
  await call('update-resource', { uri: 'fixture://a' });
  const updated = await next('resources/updated');
  assert.equal(updated.method, 'notifications/resources/updated');
  assert.equal(updated.params.uri, 'fixture://a');
  assert.equal(updated.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
});

// ── MRTR: the child's server-to-client requests as input_required ─────────────────────────────────

test('MRTR: input_required, then tampered, changed, other-principal retries refused, a valid retry completes the same call', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, ['--no-shared', '--allow-env', 'TOKEN']);
  const alice = { 'x-mcp-env': 'TOKEN=alice' };
  const capabilities = { elicitation: { form: {} } };
  const params = { name: 'ask-elicit', arguments: { message: 'Your name?' } };
  const first = await modern(proxy.url, 'tools/call', params, { id: 10, capabilities, headers: alice });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const asked = first.body.result;
  assert.equal(asked.resultType, 'input_required', JSON.stringify(asked));
  assert.equal(typeof asked.requestState, 'string');
  const [[key, inputRequest]] = Object.entries(asked.inputRequests as Json) as Array<[string, Json]>;
  assert.equal(inputRequest.method, 'elicitation/create');
  assert.equal(inputRequest.params.message, 'Your name?');
  const answer = { action: 'accept', content: { name: 'Ada' } };
  const retry = (extra: Json, options: ModernOptions = {}): Promise<{ status: number; body: Json }> =>
    modern(proxy.url, 'tools/call', { ...params, inputResponses: { [key]: answer }, requestState: asked.requestState, ...extra }, { id: 11, capabilities, headers: alice, ...options });

  const refusals: Array<[string, Promise<{ status: number; body: Json }>]> = [
    ['tampered requestState', retry({ requestState: `${asked.requestState.slice(0, -2)}${asked.requestState.endsWith('AA') ? 'BB' : 'AA'}` })],
    ['garbage requestState', retry({ requestState: 'not-one-of-ours' })],
    ['changed params', retry({ arguments: { message: 'Someone else?' } })],
    ['changed tool', retry({ name: 'echo' }, { headers: { ...alice, 'mcp-name': 'echo' } })],
    ['another principal', retry({}, { headers: { 'x-mcp-env': 'TOKEN=mallory' } })],
    ['no principal', retry({}, { headers: { 'x-mcp-env': undefined } })],
    ['answer under another key', retry({ inputResponses: { other: answer } })],
  ];
  for (const [what, pending] of refusals) {
    const { status, body } = await pending;
    assert.equal(status, 200, what);
    assert.equal(body.id, 11, what);
    assert.equal(body.error?.code, -32602, `${what}: ${JSON.stringify(body)}`);
  }

  const done = await retry({});
  assert.equal(done.status, 200);
  assert.equal(done.body.id, 11);
  assert.equal(done.body.result.resultType, 'complete', JSON.stringify(done.body));
  assert.deepEqual(JSON.parse(textOf(done.body.result)), answer, 'the fixture got the client\'s answer');
  // Used up: the same requestState cannot resume again.
  const again = await retry({});
  assert.equal(again.body.error?.code, -32602);
  // The parked call was never cancelled at the child while it waited.
  const stats = await modern(proxy.url, 'tools/call', { name: 'stats', arguments: {} }, { headers: alice });
  assert.deepEqual(JSON.parse(textOf(stats.body.result)).cancelled, []);
});

test('MRTR: sampling round trip; an undeclared capability is refused to the child and the call says so', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const params = { name: 'ask-sampling', arguments: { prompt: 'hi' } };
  const first = await modern(proxy.url, 'tools/call', params, { capabilities: { sampling: {} } });
  const asked = first.body.result;
  assert.equal(asked.resultType, 'input_required', JSON.stringify(first.body));
  const [[key, inputRequest]] = Object.entries(asked.inputRequests as Json) as Array<[string, Json]>;
  assert.equal(inputRequest.method, 'sampling/createMessage');
  const sampled = { role: 'assistant', content: { type: 'text', text: 'sampled!' }, model: 'test', stopReason: 'endTurn' };
  const done = await modern(proxy.url, 'tools/call', { ...params, inputResponses: { [key]: sampled }, requestState: asked.requestState }, { id: 2, capabilities: { sampling: {} } });
  assert.equal(textOf(done.body.result), 'sampled!', JSON.stringify(done.body));

  // No elicitation declared: the child's elicitation/create gets an error, which the fixture reports as its result.
  const undeclared = await modern(proxy.url, 'tools/call', { name: 'ask-elicit', arguments: {} }, { capabilities: { sampling: {} } });
  assert.equal(undeclared.status, 200);
  assert.equal(undeclared.body.result.resultType, 'complete', JSON.stringify(undeclared.body));
  assert.match(textOf(undeclared.body.result), /elicitation/);
  const noSampling = await modern(proxy.url, 'tools/call', params, { capabilities: {} });
  assert.equal(noSampling.body.result.resultType, 'complete');
  assert.match(textOf(noSampling.body.result), /sampling/);
});

test('MRTR attribution: a child request made while another caller\'s call is newer never reaches that caller', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, ['--shutdown-timeout', '1']);
  const capabilities = { elicitation: { form: {} } };
  const stats = async (): Promise<{ requests: number }> => JSON.parse(textOf((await modern(proxy.url, 'tools/call', { name: 'stats', arguments: {} }, { id: 'stats' })).body.result));
  const base = (await stats()).requests;
  // A asks after a delay; C (another caller, newer) is in flight when the child's request arrives.
  const a = modern(proxy.url, 'tools/call', { name: 'ask-elicit', arguments: { message: 'for-A', delayMs: 1500 } }, { id: 1, capabilities });
  let polls = 0;
  await eventually(async () => (await stats()).requests - base - ++polls >= 1, 10_000, 'A reached the child');
  const c = modern(proxy.url, 'tools/call', { name: 'slow', arguments: { ms: 3000, text: 'C-done' } }, { id: 1, capabilities });
  a.catch(() => {}); // when C is wrongly handed A's question, A never completes; the proxy's stop ends it
  const answerC = await c;
  assert.equal(answerC.body.result?.resultType, 'complete', `C was shown another caller's question: ${JSON.stringify(answerC.body)}`);
  const answerA = await a;
  assert.equal(textOf(answerC.body.result), 'C-done');
  const resultA = answerA.body.result;
  if (resultA.resultType === 'input_required') {
    assert.equal((Object.values(resultA.inputRequests)[0] as Json).params.message, 'for-A');
  } else {
    assert.match(textOf(resultA), /./, 'refused to the child: the fixture reports the error as its result');
  }
});

// ── cancellation ─────────────────────────────────────────────────────────────────────────────────────

test('closing a modern request cancels the call at the child', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const abort = new AbortController();
  const response = await modernFetch(proxy.url, 'tools/call', { name: 'slow', arguments: { ms: 5000, steps: 5, text: 'late' }, _meta: { progressToken: 'p1' } }, { id: 7, abort });
  assert.equal(response.status, 200);
  const reader = readerOf(response, abort);
  const progress = await reader.next(10_000, 'first progress');
  assert.equal(JSON.parse(progress!.data).method, 'notifications/progress', 'the call reached the child');
  reader.abort();
  await eventually(async () => {
    const stats = await modern(proxy.url, 'tools/call', { name: 'stats', arguments: {} }, { id: 8 });
    return JSON.parse(textOf(stats.body.result)).cancelled.length === 1;
  }, 10_000, 'the child saw notifications/cancelled');
});

// ── eras side by side ────────────────────────────────────────────────────────────────────────────────

test('mixed eras on one shared child: SDK 1.32 SSE and Streamable, SDK v2 pinned, colliding ids, no crosstalk', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const sse = (await connectClient(proxy.url, 'sse')).client;
  t.after(() => sse.close());
  const streamable = (await connectClient(proxy.url, 'streamable')).client;
  t.after(() => streamable.close());
  const pinned = new ClientV2({ name: 'pinned', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
  await withDeadline(pinned.connect(new StreamableV2(new URL(`${proxy.url}/mcp`))), 15_000, 'pinned connect');
  t.after(() => pinned.close());
  assert.equal(pinned.getNegotiatedProtocolVersion(), MODERN);
  const N = 8;
  const calls: Array<Promise<[string, string]>> = [];
  for (let i = 0; i < N; i++) {
    for (const [name, client] of [['sse', sse], ['streamable', streamable], ['pinned', pinned]] as const) {
      const text = `${name}-${i}`;
      calls.push((client as { callTool(p: Json): Promise<unknown> }).callTool({ name: 'echo', arguments: { text } }).then((r) => [text, textOf(r)]));
    }
  }
  for (const [asked, answered] of await withDeadline(Promise.all(calls), 30_000, 'concurrent echoes')) assert.equal(answered, asked);
});

test('/sse: server/discover before initialize gets a JSON-RPC error; SDK v2 auto over SSE falls back to legacy', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const { stream, postUrl } = await openLegacySession(proxy.url);
  t.after(() => stream.abort());
  const probe = await fetch(postUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(modernBody('server/discover', {}, { id: 'server-discover-probe-1' })),
  });
  assert.equal(probe.status, 202);
  await probe.text();
  const reply = JSON.parse((await stream.next(10_000, 'discover reply'))!.data) as Json;
  assert.equal(reply.id, 'server-discover-probe-1');
  assert.equal(typeof reply.error?.code, 'number', JSON.stringify(reply));

  const client = new ClientV2({ name: 'auto-sse', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await withDeadline(client.connect(new SSEClientTransportV2(new URL(`${proxy.url}/sse`))), 15_000, 'auto connect over SSE');
  t.after(() => client.close());
  assert.ok(client.getNegotiatedProtocolVersion()! < MODERN, `legacy era, got ${client.getNegotiatedProtocolVersion()}`);
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'via sse' } })), 'via sse');
});

test('Mcp-Param-* headers are checked against the x-mcp-header declarations of a listed tool', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t);
  const listed = await modern(proxy.url, 'tools/list');
  assert.ok(listed.body.result.tools.some((tool: Json) => tool.name === 'routed'));
  const call = (args: Json, headers: Record<string, string>) => modern(proxy.url, 'tools/call', { name: 'routed', arguments: args }, { headers });
  const ok = await call({ region: 'eu', count: 3 }, { 'mcp-name': 'routed', 'mcp-param-region': 'eu', 'mcp-param-count': '3.0' });
  assert.equal(ok.status, 200);
  assert.equal(textOf(ok.body.result), 'eu/3');
  const encoded = await call({ region: 'zürich' }, { 'mcp-name': 'routed', 'mcp-param-region': `=?base64?${Buffer.from('zürich').toString('base64')}?=` });
  assert.equal(textOf(encoded.body.result), 'zürich/-');
  for (const headers of [{ 'mcp-name': 'routed' }, { 'mcp-name': 'routed', 'mcp-param-region': 'us' }] as Array<Record<string, string>>) {
    const refused = await call({ region: 'eu' }, headers);
    assert.equal(refused.status, 400, JSON.stringify(headers));
    assert.equal(refused.body.error.code, -32020);
  }
});

test('a long stateless call with nothing to say switches to SSE and gets heartbeat comments, then its reply', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, ['--heartbeat', '1']);
  const response = await modernFetch(proxy.url, 'tools/call', { name: 'slow', arguments: { ms: 3000, text: 'late but there' } }, { id: 5 });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await withDeadline(response.text(), 15_000, 'the whole stream');
  assert.match(text, /^: ping$/m, 'a heartbeat comment while the call ran');
  const data = text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)));
  assert.equal(data.length, 1);
  assert.equal(data[0].id, 5);
  assert.equal(textOf(data[0].result), 'late but there');
});
