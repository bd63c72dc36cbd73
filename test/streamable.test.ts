/**
 * Streamable HTTP on /mcp against the built binary: the official SDK client through the proxy to
 * server-everything, raw HTTP for the spec's status codes and stream rules (fixture upstream), and
 * SSE and Streamable HTTP clients sharing one child.
 */
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { connectClient, EVERYTHING, FIXTURE, startProxy, textOf, withDeadline, eventually, type RunningProxy, type TransportKind } from './helpers/proxy.ts';
import { INIT_PARAMS, readerOf, rpcError, type SseEvent, type SseReader } from './helpers/raw-sse.ts';
import { checkEverythingBasics } from './helpers/everything.ts';

const TIMEOUT = { timeout: 60_000 };
const ACCEPT_BOTH = 'application/json, text/event-stream';

async function proxyFor(t: TestContext, command: string[], flags: string[] = []): Promise<RunningProxy> {
  const proxy = await startProxy([...flags, '--', process.execPath, ...command]);
  t.after(() => proxy.stop());
  return proxy;
}

async function sdkClient(t: TestContext, base: string, kind: TransportKind, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const { client } = await connectClient(base, kind, { capabilities });
  t.after(() => client.close());
  return client;
}

// ── raw HTTP ────────────────────────────────────────────────────────────────────────────────────────

interface McpRequest {
  method?: string;
  body?: unknown;
  session?: string;
  version?: string;
  accept?: string;
  contentType?: string;
  lastEventId?: string;
  abort?: AbortController;
}

/** One request to /mcp; the body is left unread so a stream can be followed. */
function mcp(base: string, request: McpRequest): Promise<Response> {
  const headers: Record<string, string> = { accept: request.accept ?? ACCEPT_BOTH };
  if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
  if (request.session !== undefined) headers['mcp-session-id'] = request.session;
  if (request.version !== undefined) headers['mcp-protocol-version'] = request.version;
  if (request.lastEventId !== undefined) headers['last-event-id'] = request.lastEventId;
  const abort = request.abort ?? new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  return fetch(`${base}/mcp`, {
    method: request.method ?? (request.body === undefined ? 'GET' : 'POST'),
    headers,
    body: request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body),
    signal: abort.signal,
  }).finally(() => clearTimeout(timer));
}

async function jsonOf(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${response.status} ${response.headers.get('content-type')}): ${text.slice(0, 200)}`);
  }
}

const request = (id: unknown, method: string, params: unknown = {}): Record<string, unknown> => ({ jsonrpc: '2.0', id, method, params });
const echoCall = (id: unknown, text: string): Record<string, unknown> => request(id, 'tools/call', { name: 'echo', arguments: { text } });

/** A raw session through initialize and notifications/initialized; requests then carry its version header. */
async function rawSession(base: string, version: string): Promise<{ id: string; version: string }> {
  const response = await mcp(base, { body: request(0, 'initialize', INIT_PARAMS(version)) });
  assert.equal(response.status, 200);
  const id = response.headers.get('mcp-session-id');
  assert.ok(id !== null && /^[\x21-\x7e]+$/.test(id), `session id ${id}`);
  const init = await jsonOf(response) as { result: { protocolVersion: string } };
  assert.equal(init.result.protocolVersion, version);
  const initialized = await mcp(base, { session: id, version, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
  assert.equal(initialized.status, 202);
  return { id, version };
}

function messagesOf(events: SseEvent[]): Array<Record<string, unknown>> {
  return events.filter((event) => event.data !== '').map((event) => JSON.parse(event.data) as Record<string, unknown>);
}

async function sseReply(response: Response, abort: AbortController): Promise<SseReader> {
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type')?.split(';')[0], 'text/event-stream');
  return readerOf(response, abort);
}

// ── server-everything through the SDK client ────────────────────────────────────────────────────────

test('server-everything over Streamable HTTP: tools, prompts, resources, progress, subscriptions, sampling', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [EVERYTHING]);
  // The first client's capabilities decide which conditional tools server-everything registers.
  const client = await sdkClient(t, proxy.url, 'streamable', { sampling: {} });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    const content = req.params.messages[0]!.content as { text: string };
    return { role: 'assistant', content: { type: 'text', text: `sampled(${content.text})` }, model: 'test-model' };
  });

  const uri = await checkEverythingBasics(client, ['trigger-long-running-operation', 'toggle-subscriber-updates', 'trigger-sampling-request']);

  const progress: number[] = [];
  const long = await client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
  );
  assert.match(textOf(long), /Long running operation completed/);
  assert.ok(progress.length >= 1, 'progress notifications arrived');

  // toggle-subscriber-updates sends one resources/updated at once for every subscribed URI.
  const updated = new Promise<string>((resolve) => {
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (note) => resolve(note.params.uri));
  });
  await client.subscribeResource({ uri });
  await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
  assert.equal(await withDeadline(updated, 15_000, 'resources/updated'), uri);
  await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
  await client.unsubscribeResource({ uri });

  const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
  assert.match(textOf(sampled), /sampled\(Resource trigger-sampling-request context: hi\)/);
});

test('fixture over Streamable HTTP: elicitation and sampling answered by the client, resource updates to subscribers', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const client = await sdkClient(t, proxy.url, 'streamable', { sampling: {}, elicitation: {} });
  client.setRequestHandler(ElicitRequestSchema, async (req) => ({ action: 'accept', content: { name: `answer to ${req.params.message}` } }));
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'sampled' }, model: 'm' }));
  const bystander = await sdkClient(t, proxy.url, 'streamable');
  let bystanderUpdates = 0;
  bystander.setNotificationHandler(ResourceUpdatedNotificationSchema, () => { bystanderUpdates++; });

  const elicited = JSON.parse(textOf(await client.callTool({ name: 'ask-elicit', arguments: { message: 'who?' } })));
  assert.deepEqual(elicited, { action: 'accept', content: { name: 'answer to who?' } });
  assert.equal(textOf(await client.callTool({ name: 'ask-sampling', arguments: { prompt: 'x' } })), 'sampled');

  const updated = new Promise<string>((resolve) => {
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (note) => resolve(note.params.uri));
  });
  await client.subscribeResource({ uri: 'fixture://a' });
  await bystander.callTool({ name: 'update-resource', arguments: { uri: 'fixture://a' } });
  assert.equal(await withDeadline(updated, 10_000, 'resources/updated'), 'fixture://a');
  assert.equal(bystanderUpdates, 0, 'a client that did not subscribe gets no update');
});

// ── raw HTTP against one fixture proxy ──────────────────────────────────────────────────────────────

let raw: RunningProxy;
before(async () => {
  raw = await startProxy(['--', process.execPath, FIXTURE]);
  // The shared child negotiates with the first client: start at the newest so every later version fits.
  await rawSession(raw.url, '2025-11-25');
});
after(() => raw?.stop());

test('session errors: 400 without a session, 404 for an unknown one, 400 for a bad MCP-Protocol-Version', TIMEOUT, async () => {
  const missing = await mcp(raw.url, { body: request(1, 'tools/list') });
  assert.equal(missing.status, 400);
  assert.ok(rpcError(await jsonOf(missing)) !== undefined);

  const unknown = await mcp(raw.url, { session: 'no-such-session', body: request(1, 'tools/list') });
  assert.equal(unknown.status, 404);
  assert.ok(rpcError(await jsonOf(unknown)) !== undefined);
  const unknownGet = await mcp(raw.url, { session: 'no-such-session' });
  assert.equal(unknownGet.status, 404);
  await unknownGet.body?.cancel();

  const session = await rawSession(raw.url, '2025-06-18');
  const badVersion = await mcp(raw.url, { session: session.id, version: '1999-01-01', body: request(1, 'tools/list') });
  assert.equal(badVersion.status, 400);
  assert.ok(rpcError(await jsonOf(badVersion)) !== undefined);
  // Absent header: the negotiated version is assumed.
  const noHeader = await mcp(raw.url, { session: session.id, body: request(2, 'tools/list') });
  assert.equal(noHeader.status, 200);
  assert.ok(Array.isArray((await jsonOf(noHeader) as { result: { tools: unknown[] } }).result.tools));
});

test('406 for a POST without both media types and a GET without text/event-stream; 415; 405 for PUT', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-06-18');
  const jsonOnly = await mcp(raw.url, { session: session.id, version: session.version, accept: 'application/json', body: request(1, 'tools/list') });
  assert.equal(jsonOnly.status, 406);
  assert.ok(rpcError(await jsonOf(jsonOnly)) !== undefined);
  const getJson = await mcp(raw.url, { session: session.id, version: session.version, accept: 'application/json' });
  assert.equal(getJson.status, 406);
  await getJson.body?.cancel();

  const textPlain = await mcp(raw.url, { session: session.id, version: session.version, contentType: 'text/plain', body: request(1, 'tools/list') });
  assert.equal(textPlain.status, 415);
  assert.ok(rpcError(await jsonOf(textPlain)) !== undefined);

  const put = await mcp(raw.url, { method: 'PUT', session: session.id, body: request(1, 'tools/list') });
  assert.equal(put.status, 405);
  assert.match(put.headers.get('allow') ?? '', /POST/);
  assert.ok(rpcError(await jsonOf(put)) !== undefined);

  const badJson = await mcp(raw.url, { session: session.id, version: session.version, body: '{"jsonrpc":' });
  assert.equal(badJson.status, 400);
  assert.equal(rpcError(await jsonOf(badJson))?.code, -32700);
});

test('DELETE ends the session (then 404), and a fresh initialize works', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-06-18');
  const deleted = await mcp(raw.url, { method: 'DELETE', session: session.id, version: session.version });
  assert.ok(deleted.status === 200 || deleted.status === 204, `DELETE → ${deleted.status}`);
  await deleted.body?.cancel();
  const after = await mcp(raw.url, { session: session.id, version: session.version, body: request(1, 'tools/list') });
  assert.equal(after.status, 404);
  assert.ok(rpcError(await jsonOf(after)) !== undefined);
  const again = await mcp(raw.url, { method: 'DELETE', session: session.id });
  assert.equal(again.status, 404);
  await again.body?.cancel();

  const fresh = await rawSession(raw.url, '2025-06-18');
  const answer = await mcp(raw.url, { session: fresh.id, version: fresh.version, body: echoCall(1, 'fresh') });
  assert.equal(textOf((await jsonOf(answer) as { result: unknown }).result), 'fresh');
});

test('initialize twice on one session is 400', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-06-18');
  const twice = await mcp(raw.url, { session: session.id, body: request(1, 'initialize', INIT_PARAMS('2025-06-18')) });
  assert.equal(twice.status, 400);
  assert.equal(rpcError(await jsonOf(twice))?.code, -32600);
  // The session is still good.
  const answer = await mcp(raw.url, { session: session.id, version: session.version, body: echoCall(2, 'still') });
  assert.equal(textOf((await jsonOf(answer) as { result: unknown }).result), 'still');
});

test('batches: accepted for a 2025-03-26 session, 400 -32600 for 2025-06-18', TIMEOUT, async () => {
  const old = await rawSession(raw.url, '2025-03-26');
  const batch = [echoCall('a', 'first'), { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'none', progress: 1 } }, echoCall(2, 'second')];
  const accepted = await mcp(raw.url, { session: old.id, version: old.version, body: batch });
  assert.equal(accepted.status, 200);
  let replies: Array<Record<string, unknown>>;
  if (accepted.headers.get('content-type')?.startsWith('text/event-stream')) {
    replies = messagesOf(await readerOf(accepted, new AbortController()).rest());
  } else {
    const body = await jsonOf(accepted);
    replies = Array.isArray(body) ? body : [body as Record<string, unknown>];
  }
  const byId = new Map(replies.map((reply) => [JSON.stringify(reply.id), textOf(reply.result)]));
  assert.deepEqual([...byId.entries()].sort(), [['"a"', 'first'], ['2', 'second']]);

  const notesOnly = await mcp(raw.url, { session: old.id, version: old.version, body: [{ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }] });
  assert.equal(notesOnly.status, 202);
  assert.equal(await notesOnly.text(), '');
  const withInit = await mcp(raw.url, { session: old.id, version: old.version, body: [request(9, 'initialize', INIT_PARAMS('2025-03-26')), echoCall(10, 'x')] });
  assert.equal(withInit.status, 400, 'initialize is never part of a batch');
  assert.equal(rpcError(await jsonOf(withInit))?.code, -32600);

  const modern = await rawSession(raw.url, '2025-06-18');
  const refused = await mcp(raw.url, { session: modern.id, version: modern.version, body: [echoCall(1, 'x'), echoCall(2, 'y')] });
  assert.equal(refused.status, 400);
  assert.equal(rpcError(await jsonOf(refused))?.code, -32600);
});

test('a notification-only POST is 202 with an empty body; a plain request gets one JSON reply', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-06-18');
  const note = await mcp(raw.url, { session: session.id, version: session.version, body: { jsonrpc: '2.0', method: 'notifications/roots/list_changed' } });
  assert.equal(note.status, 202);
  assert.equal(await note.text(), '');

  const plain = await mcp(raw.url, { session: session.id, version: session.version, body: echoCall(5, 'json please') });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('content-type')?.split(';')[0], 'application/json');
  assert.equal(plain.headers.get('mcp-session-id'), session.id);
  const body = await jsonOf(plain) as { id: unknown; result: unknown };
  assert.equal(body.id, 5);
  assert.equal(textOf(body.result), 'json please');
});

/** A `slow` call with a progress token over raw fetch; the answer is an SSE stream. */
async function slowWithProgress(session: { id: string; version: string }, id: unknown, ms: number, steps: number, abort = new AbortController()): Promise<SseReader> {
  const body = request(id, 'tools/call', { name: 'slow', arguments: { ms, steps, text: 'done' }, _meta: { progressToken: `tok-${String(id)}` } });
  return sseReply(await mcp(raw.url, { session: session.id, version: session.version, body, abort }), abort);
}

test('a call that sends progress is answered as SSE: progress then the reply, then the stream ends', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-06-18');
  const events = await (await slowWithProgress(session, 9, 300, 3)).rest(15_000);
  const messages = messagesOf(events);
  assert.deepEqual(messages.map((msg) => msg.method ?? `reply ${String(msg.id)}`), [
    'notifications/progress', 'notifications/progress', 'notifications/progress', 'reply 9',
  ]);
  assert.deepEqual(messages.slice(0, 3).map((msg) => (msg.params as { progress: number; progressToken: string })), [
    { progressToken: 'tok-9', progress: 1, total: 3 }, { progressToken: 'tok-9', progress: 2, total: 3 }, { progressToken: 'tok-9', progress: 3, total: 3 },
  ]);
  assert.equal(textOf(messages[3]!.result), 'done');
  const ids = events.map((event) => event.id);
  assert.ok(ids.every((id) => id !== undefined), 'every event has an id');
  assert.equal(new Set(ids).size, ids.length, 'event ids are unique');
  assert.ok(!events.some((event) => event.data === ''), 'no priming event before 2025-11-25');
});

test('2025-11-25 streams start with a priming event (id, empty data) and a retry field', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-11-25');
  const reader = await slowWithProgress(session, 1, 300, 2);
  const first = await reader.next(10_000, 'priming event');
  assert.equal(first?.data, '');
  assert.ok(first?.id !== undefined && first.id !== '', 'priming event has an id');
  const rest = messagesOf(await reader.rest(15_000));
  assert.equal(rest.at(-1)!.id, 1);
  assert.ok(reader.retries.length > 0 && reader.retries.every((ms) => ms > 0), 'retry field sent');

  // The standalone GET stream primes too.
  const abort = new AbortController();
  const standalone = readerOf(await mcp(raw.url, { session: session.id, version: session.version, abort }), abort);
  try {
    assert.equal(standalone.response.status, 200);
    const priming = await standalone.next(10_000, 'standalone priming event');
    assert.equal(priming?.data, '');
    assert.ok(priming?.id !== undefined);
  } finally {
    standalone.abort();
  }
});

test('2025-11-25 standalone stream: a client dropped right after a priming event loses nothing by resuming from it', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-11-25');
  const open = async (lastEventId?: string): Promise<SseReader> => {
    if (lastEventId !== undefined) return resume(session, lastEventId);
    const abort = new AbortController();
    return sseReply(await mcp(raw.url, { session: session.id, version: session.version, abort }), abort);
  };
  const first = await open();
  const priming = await first.next(10_000, 'priming event');
  assert.equal(priming?.data, '');
  first.abort();

  // Sent while no connection is open: kept for the next one.
  const notify = await mcp(raw.url, { session: session.id, version: session.version, body: request(1, 'tools/call', { name: 'notify-list-changed', arguments: {} }) });
  assert.equal(notify.status, 200);
  await notify.body?.cancel();

  let lastId = priming!.id!;
  for (let attempt = 0; attempt < 2; attempt++) {
    // Each time, drop right after the priming event and resume from the id it gave.
    const again = await open(lastId);
    const event = await again.next(10_000, 'event after resume');
    if (event!.data === '') {
      lastId = event!.id!;
      again.abort();
      continue;
    }
    again.abort();
    assert.fail(`resumed stream gave data before its priming event: ${event!.data}`);
  }
  const final = await open(lastId);
  const event = await final.next(10_000, 'the list_changed notification');
  const data = event!.data === '' ? (await final.next(10_000, 'the list_changed notification'))!.data : event!.data;
  final.abort();
  assert.equal(JSON.parse(data).method, 'notifications/tools/list_changed');
});

test('a second concurrent GET stream on one session is 409', TIMEOUT, async () => {
  const session = await rawSession(raw.url, '2025-06-18');
  const abort = new AbortController();
  const first = await mcp(raw.url, { session: session.id, version: session.version, abort });
  const stream = readerOf(first, abort);
  try {
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type')?.split(';')[0], 'text/event-stream');
    const second = await mcp(raw.url, { session: session.id, version: session.version });
    assert.equal(second.status, 409);
    assert.ok(rpcError(await jsonOf(second)) !== undefined);

    // Unsolicited messages go to the standalone stream; before 2025-11-25 there is no priming event.
    const notify = await mcp(raw.url, { session: session.id, version: session.version, body: request(1, 'tools/call', { name: 'notify-list-changed', arguments: {} }) });
    assert.equal(notify.status, 200);
    await notify.body?.cancel();
    const event = await stream.next(10_000, 'list_changed on the standalone stream');
    assert.equal(JSON.parse(event!.data).method, 'notifications/tools/list_changed');
    assert.ok(event!.id !== undefined);
  } finally {
    stream.abort();
  }
});

async function childStats(session: { id: string; version: string }): Promise<{ cancelled: unknown[] }> {
  const answer = await mcp(raw.url, { session: session.id, version: session.version, body: request('stats', 'tools/call', { name: 'stats', arguments: {} }) });
  return JSON.parse(textOf((await jsonOf(answer) as { result: unknown }).result));
}

/** Resumes with GET + Last-Event-ID; until the server has noticed the drop the stream is still live (409). */
async function resume(session: { id: string; version: string }, lastEventId: string): Promise<SseReader> {
  let resumed: SseReader | undefined;
  await eventually(async () => {
    const abort = new AbortController();
    const response = await mcp(raw.url, { session: session.id, version: session.version, lastEventId, abort });
    if (response.status === 409) {
      await response.body?.cancel();
      return false;
    }
    resumed = await sseReply(response, abort);
    return true;
  }, 10_000, 'resume after the drop');
  return resumed!;
}

for (const version of ['2025-06-18', '2025-11-25']) {
  test(`Last-Event-ID replays what a dropped POST stream missed, exactly once (${version})`, TIMEOUT, async () => {
    const session = await rawSession(raw.url, version);
    const cancelledBefore = (await childStats(session)).cancelled.length;
    const steps = 6;
    const reader = await slowWithProgress(session, 'r', 1_400, steps);
    // 2025-11-25: drop right after the priming event, so everything comes from the replay.
    const first = await reader.next(10_000, 'first event');
    assert.ok(first?.id !== undefined, 'events carry ids');
    assert.equal(first.data === '', version === '2025-11-25', 'priming event only for 2025-11-25');
    reader.abort(); // a dropped connection, not a cancellation

    const seen: SseEvent[] = [first, ...await (await resume(session, first.id)).rest(15_000)];
    const messages = messagesOf(seen);
    const progress = messages.filter((msg) => msg.method === 'notifications/progress').map((msg) => (msg.params as { progress: number }).progress);
    assert.deepEqual(progress, Array.from({ length: steps }, (_, i) => i + 1), 'every progress once, in order');
    const replies = messages.filter((msg) => msg.method === undefined);
    assert.equal(replies.length, 1, 'the reply exactly once');
    assert.equal(replies[0]!.id, 'r');
    assert.equal(textOf(replies[0]!.result), 'done');
    const ids = seen.filter((event) => event.data !== '').map((event) => event.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.equal((await childStats(session)).cancelled.length, cancelledBefore, 'the drop cancelled nothing upstream');

    const unknown = await mcp(raw.url, { session: session.id, version: session.version, lastEventId: 'not-an-event-id' });
    assert.equal(unknown.status, 400);
    await unknown.body?.cancel();
  });
}

// ── timers: heartbeat and idle sessions ─────────────────────────────────────────────────────────────

test('heartbeat: the standalone stream and a long call\'s POST (switched to SSE) get `: ping`', TIMEOUT, async (t) => {
  // The slow call is still running at the end: a short shutdown grace keeps the test fast.
  const proxy = await proxyFor(t, [FIXTURE], ['--heartbeat', '1', '--shutdown-timeout', '1']);
  const session = { id: '', version: '2025-06-18' };
  const init = await mcp(proxy.url, { body: request(0, 'initialize', INIT_PARAMS(session.version)) });
  session.id = init.headers.get('mcp-session-id')!;
  await init.body?.cancel();

  const getAbort = new AbortController();
  const standalone = readerOf(await mcp(proxy.url, { session: session.id, version: session.version, abort: getAbort }), getAbort);
  t.after(() => standalone.abort());
  assert.equal(standalone.response.headers.get('x-accel-buffering'), 'no');
  await standalone.waitForComment('ping', 10_000);

  // A call with nothing to say for a long time is switched to SSE so the heartbeat can keep it alive.
  const postAbort = new AbortController();
  const body = request(1, 'tools/call', { name: 'slow', arguments: { ms: 60_000, text: 'late' } });
  const long = await sseReply(await mcp(proxy.url, { session: session.id, version: session.version, body, abort: postAbort }), postAbort);
  t.after(() => long.abort());
  await long.waitForComment('ping', 10_000);
});

test('--session-idle-timeout ends sessions with no stream and no request', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE], ['--session-idle-timeout', '1']);
  const init = await mcp(proxy.url, { body: request(0, 'initialize', INIT_PARAMS('2025-06-18')) });
  const id = init.headers.get('mcp-session-id')!;
  await init.body?.cancel();
  // Polling with requests would keep it active: wait for the log line, then look.
  await proxy.waitForLog(new RegExp(`session closed session=${id}.*idle timeout`), 15_000);
  const response = await mcp(proxy.url, { session: id, version: '2025-06-18', body: request(1, 'ping') });
  assert.equal(response.status, 404);
  await response.body?.cancel();
});

test('a cancelled call whose SSE answer was dropped does not pin its session forever', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE], ['--session-idle-timeout', '1']);
  const init = await mcp(proxy.url, { body: request(0, 'initialize', INIT_PARAMS('2025-06-18')) });
  const session = { id: init.headers.get('mcp-session-id')!, version: '2025-06-18' };
  await init.body?.cancel();
  const abort = new AbortController();
  const body = request(5, 'tools/call', { name: 'slow', arguments: { ms: 60_000, steps: 600 }, _meta: { progressToken: 'p' } });
  const stream = await sseReply(await mcp(proxy.url, { session: session.id, version: session.version, body, abort }), abort);
  await stream.next(10_000, 'first progress');
  const cancel = await mcp(proxy.url, { session: session.id, version: session.version, body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5 } } });
  assert.equal(cancel.status, 202);
  stream.abort();
  await proxy.waitForLog(new RegExp(`session closed session=${session.id}.*idle timeout`), 15_000);
});

// ── shared mode: both transports on one child ───────────────────────────────────────────────────────

test('shared mode: SSE and Streamable HTTP clients on one child, colliding ids and progress tokens, no crosstalk', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const kinds: TransportKind[] = ['sse', 'streamable', 'sse', 'streamable'];
  const clients = await Promise.all(kinds.map((kind) => sdkClient(t, proxy.url, kind)));

  // Each client's first call has the same id, and the SDK uses the id as the progress token.
  const progressCalls = clients.map(async (client, c) => {
    const steps = c + 2;
    const totals: number[] = [];
    const result = await client.callTool(
      { name: 'slow', arguments: { ms: 400, steps, text: `slow-${c}` } },
      undefined,
      { onprogress: (p) => totals.push(p.total ?? -1), timeout: 30_000 },
    );
    assert.equal(textOf(result), `slow-${c}`);
    assert.ok(totals.every((total) => total === steps), `client ${c} got only its own progress: ${totals.join(',')}`);
  });
  await withDeadline(Promise.all(progressCalls), 30_000, 'progress calls');

  const results = await withDeadline(Promise.all(clients.map((client, c) =>
    Promise.all(Array.from({ length: 60 }, (_, i) => client.callTool({ name: 'echo', arguments: { text: `${kinds[c]}${c}-${i}` } }).then(textOf))))), 45_000, 'concurrent echoes');
  results.forEach((texts, c) => assert.deepEqual(texts, Array.from({ length: 60 }, (_, i) => `${kinds[c]}${c}-${i}`)));
});
