/**
 * Legacy HTTP+SSE (MCP 2024-11-05) against the built binary: the official SDK SSE client through the
 * proxy to server-everything, then the fixture for concurrency, faults and wire-level cases.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import test, { type TestContext } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, eventually, EVERYTHING, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { INIT_PARAMS, openLegacySession, openSse, post, rpcError } from './helpers/raw-sse.ts';

const TIMEOUT = { timeout: 60_000 };

async function proxyFor(t: TestContext, command: string[], flags: string[] = []): Promise<RunningProxy> {
  const proxy = await startProxy([...flags, '--', process.execPath, ...command]);
  t.after(() => proxy.stop());
  return proxy;
}

async function sseClient(t: TestContext, base: string, options: Parameters<typeof connectClient>[2] = {}): Promise<Client> {
  const { client } = await connectClient(base, 'sse', options);
  t.after(() => client.close());
  return client;
}

async function echo(client: Client, text: string): Promise<string> {
  return textOf(await client.callTool({ name: 'echo', arguments: { text } }));
}

/** Initializes a raw legacy session and returns a function that posts one message and reads its answer. */
async function rawInitialized(t: TestContext, base: string): Promise<{ call: (id: unknown, method: string, params?: unknown) => Promise<Record<string, unknown>>; postUrl: string }> {
  const { stream, postUrl } = await openLegacySession(base);
  t.after(() => stream.abort());
  const call = async (id: unknown, method: string, params: unknown = {}): Promise<Record<string, unknown>> => {
    const answer = await post(postUrl, { jsonrpc: '2.0', id, method, params });
    assert.equal(answer.status, 202, answer.text);
    for (;;) {
      const event = await stream.next(10_000, `answer to ${method}`);
      assert.ok(event !== undefined, 'stream ended');
      const msg = JSON.parse(event.data) as Record<string, unknown>;
      if ('id' in msg && !('method' in msg) && JSON.stringify(msg.id) === JSON.stringify(id)) return msg;
    }
  };
  const init = await call(0, 'initialize', INIT_PARAMS('2024-11-05'));
  assert.ok(init.result !== undefined, JSON.stringify(init));
  assert.equal((await post(postUrl, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
  return { call, postUrl };
}

test('server-everything over SSE: tools, prompts, resources, progress', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [EVERYTHING]);
  const client = await sseClient(t, proxy.url);

  const { tools } = await client.listTools();
  const names = tools.map((tool) => tool.name);
  for (const name of ['echo', 'get-sum', 'trigger-long-running-operation']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'héllo' } })), 'Echo: héllo');
  assert.match(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } })), /42/);

  const { prompts } = await client.listPrompts();
  assert.ok(prompts.some((prompt) => prompt.name === 'simple-prompt'));
  const simple = await client.getPrompt({ name: 'simple-prompt' });
  assert.ok(simple.messages.length > 0);
  const withArgs = await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Lyon', state: 'Rhône' } });
  assert.match(JSON.stringify(withArgs.messages), /Lyon/);

  const { resources } = await client.listResources();
  assert.ok(resources.length > 0);
  const read = await client.readResource({ uri: resources[0]!.uri });
  assert.equal(read.contents[0]!.uri, resources[0]!.uri);

  // The SDK dispatches notifications a tick after responses, so the last progress may race the reply.
  const progress: number[] = [];
  const result = await client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
  );
  assert.match(textOf(result), /Long running operation completed/);
  assert.ok(progress.length >= 1, 'at least one progress notification');
  assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
});

test('several SDK clients with colliding ids, 120 concurrent calls each, every answer to its asker', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const clients = await Promise.all([0, 1, 2].map(() => sseClient(t, proxy.url)));
  const results = await withDeadline(Promise.all(clients.map((client, c) =>
    Promise.all(Array.from({ length: 120 }, (_, i) => echo(client, `client${c}-call${i}`))))), 45_000, 'concurrent echoes');
  results.forEach((texts, c) => assert.deepEqual(texts, Array.from({ length: 120 }, (_, i) => `client${c}-call${i}`)));
});

test('ids keep their type: "1" and 1 from two sessions each get their own answer', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const [a, b] = await Promise.all([rawInitialized(t, proxy.url), rawInitialized(t, proxy.url)]);
  const [ra, rb] = await Promise.all([
    a.call('1', 'tools/call', { name: 'echo', arguments: { text: 'string id' } }),
    b.call(1, 'tools/call', { name: 'echo', arguments: { text: 'number id' } }),
  ]);
  assert.equal(ra.id, '1');
  assert.equal(textOf(ra.result), 'string id');
  assert.equal(rb.id, 1);
  assert.equal(textOf(rb.result), 'number id');
});

test('access key: refused without it, accepted as ?auth_key= and as Authorization: Bearer', TIMEOUT, async (t) => {
  const key = 'k3y-for-tests';
  const proxy = await proxyFor(t, [FIXTURE], ['--auth-key', key]);

  for (const headers of [{}, { authorization: 'Bearer wrong' }] as Array<Record<string, string>>) {
    const refused = await fetch(`${proxy.url}/sse`, { headers: { accept: 'text/event-stream', ...headers }, signal: AbortSignal.timeout(10_000) });
    assert.equal(refused.status, 403, 'no OAuth configured: a 403 that clients show, not a 401 that starts OAuth');
    assert.ok(rpcError(await refused.json()) !== undefined);
  }
  const wrongQuery = await fetch(`${proxy.url}/sse?auth_key=nope`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(wrongQuery.status, 403);
  await wrongQuery.body?.cancel();

  // The endpoint event must not echo the key, and the SDK posts there without the query.
  const { stream, postUrl } = await openLegacySession(proxy.url, `?auth_key=${key}`);
  t.after(() => stream.abort());
  assert.ok(!postUrl.includes(key), postUrl);

  const viaQuery = await sseClient(t, proxy.url, { query: `auth_key=${key}` });
  assert.equal(await echo(viaQuery, 'query'), 'query');
  const viaBearer = await sseClient(t, proxy.url, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(await echo(viaBearer, 'bearer'), 'bearer');
  assert.ok(!proxy.logs().includes(key), 'the key never appears in the log');
});

test('heartbeat: an open /sse stream gets `: ping` comments', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE], ['--heartbeat', '1']);
  const { stream } = await openLegacySession(proxy.url);
  t.after(() => stream.abort());
  assert.equal(stream.response.headers.get('content-type')?.split(';')[0], 'text/event-stream');
  assert.match(stream.response.headers.get('cache-control') ?? '', /no-cache/);
  assert.equal(stream.response.headers.get('x-accel-buffering'), 'no');
  await stream.waitForComment('ping', 10_000);
});

test('malformed posts get 400/404 with a JSON-RPC error body, and the proxy keeps serving', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const { stream, postUrl } = await openLegacySession(proxy.url);
  t.after(() => stream.abort());

  const badJson = await post(postUrl, '{"jsonrpc": "2.0", "id": 1, "method": ');
  assert.equal(badJson.status, 400);
  assert.equal(rpcError(badJson.json)?.code, -32700);

  for (const body of ['{"hello": "world"}', '42', '"text"', 'null', '{"jsonrpc": "1.0", "id": 1, "method": "ping"}', '[]']) {
    const answer = await post(postUrl, body);
    assert.equal(answer.status, 400, `${body} → ${answer.status} ${answer.text}`);
    assert.equal(rpcError(answer.json)?.code, -32600, `${body} → ${answer.text}`);
  }

  const noSession = await post(`${proxy.url}/messages`, { jsonrpc: '2.0', id: 1, method: 'ping' });
  assert.equal(noSession.status, 400);
  assert.ok(rpcError(noSession.json) !== undefined, noSession.text);

  const unknown = await post(`${proxy.url}/messages?session_id=00000000-0000-4000-8000-000000000000`, { jsonrpc: '2.0', id: 1, method: 'ping' });
  assert.equal(unknown.status, 404);
  assert.ok(rpcError(unknown.json) !== undefined, unknown.text);

  const camel = new URL(postUrl);
  const sessionId = camel.searchParams.get('session_id')!;
  const viaCamel = await post(`${proxy.url}/messages?sessionId=${encodeURIComponent(sessionId)}`, { jsonrpc: '2.0', id: 'p', method: 'ping' });
  assert.equal(viaCamel.status, 202, 'sessionId is accepted too');
  const pong = await stream.next(10_000, 'ping answer');
  assert.deepEqual(JSON.parse(pong!.data), { jsonrpc: '2.0', id: 'p', result: {} });

  const client = await sseClient(t, proxy.url);
  assert.equal(await echo(client, 'still serving'), 'still serving');
});

test('POST /sse is 405 and an unknown path is 404, each with a JSON-RPC error', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const postSse = await post(`${proxy.url}/sse`, { jsonrpc: '2.0', id: 1, method: 'ping' });
  assert.equal(postSse.status, 405);
  assert.match(postSse.headers.get('allow') ?? '', /GET/);
  assert.ok(rpcError(postSse.json) !== undefined);
  const missing = await fetch(`${proxy.url}/nowhere`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(missing.status, 404);
  assert.ok(rpcError(await missing.json()) !== undefined);
});

test('a request before initialize gets a prompt JSON-RPC error on the stream', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const { stream, postUrl } = await openLegacySession(proxy.url);
  t.after(() => stream.abort());
  const answer = await post(postUrl, { jsonrpc: '2.0', id: 7, method: 'server/discover', params: {} });
  assert.equal(answer.status, 202);
  const event = await stream.next(5_000, 'error for a request before initialize');
  const msg = JSON.parse(event!.data);
  assert.equal(msg.id, 7);
  assert.ok(msg.error !== undefined && typeof msg.error.code === 'number', event!.data);
});

test('closing the SSE stream ends the session: a later POST is 404', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const { stream, postUrl } = await openLegacySession(proxy.url);
  stream.abort();
  await eventually(async () => (await post(postUrl, { jsonrpc: '2.0', method: 'notifications/initialized' })).status === 404, 10_000, 'POST after close is 404');
  await proxy.waitForLog(/session closed/);
});

test('a server-to-client request (sampling) is answered by the SDK client that made the call', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const other = await sseClient(t, proxy.url, { capabilities: { sampling: {} } });
  other.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'wrong client' }, model: 'm' }));
  const client = await sseClient(t, proxy.url, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    const content = request.params.messages[0]!.content as { text: string };
    return { role: 'assistant', content: { type: 'text', text: `sampled: ${content.text}` }, model: 'test-model' };
  });
  const result = await client.callTool({ name: 'ask-sampling', arguments: { prompt: 'two plus two' } });
  assert.equal(textOf(result), 'sampled: two plus two');
});

test('a list_changed notification from the child reaches every connected client', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const clients = await Promise.all([0, 1, 2].map(() => sseClient(t, proxy.url)));
  const received = clients.map((client) => new Promise<void>((resolve) => {
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve());
  }));
  assert.equal(textOf(await clients[1]!.callTool({ name: 'notify-list-changed', arguments: {} })), 'ok');
  await withDeadline(Promise.all(received), 10_000, 'list_changed at every client');
});

test('a client that disconnects mid-call has its call cancelled upstream; others are unaffected', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const [leaver, stayer] = await Promise.all([sseClient(t, proxy.url), sseClient(t, proxy.url)]);
  const statsOf = async (): Promise<{ cancelled: unknown[] }> => JSON.parse(textOf(await stayer.callTool({ name: 'stats', arguments: {} })));
  assert.deepEqual((await statsOf()).cancelled, []);

  // Progress proves the child is working on the call before the client goes away.
  let started!: () => void;
  const isStarted = new Promise<void>((resolve) => { started = resolve; });
  const abandoned = leaver.callTool({ name: 'slow', arguments: { ms: 60_000, steps: 600, text: 'never' } }, undefined, { onprogress: () => started(), timeout: 60_000 });
  abandoned.catch(() => {});
  const survivor = stayer.callTool({ name: 'slow', arguments: { ms: 1_500, text: 'survived' } });
  await withDeadline(isStarted, 10_000, 'first progress of the abandoned call');
  await leaver.close();

  await eventually(async () => (await statsOf()).cancelled.length === 1, 10_000, 'the child saw notifications/cancelled');
  const { cancelled } = await statsOf();
  assert.equal(typeof cancelled[0], 'number', 'the upstream (rewritten) id is cancelled');
  assert.equal(textOf(await withDeadline(survivor, 15_000, 'the other client\'s call')), 'survived');
  assert.equal(await echo(stayer, 'after'), 'after');
});

test('a 4 MiB reply of multi-byte characters arrives intact; garbage stdout lines are skipped', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE]);
  const client = await sseClient(t, proxy.url);
  const bytes = 4 * 1024 * 1024;
  const big = textOf(await client.callTool({ name: 'big', arguments: { bytes, char: 'é' } }, undefined, { timeout: 30_000 }));
  assert.equal(Buffer.byteLength(big), bytes);
  assert.ok(big === 'é'.repeat(bytes / 2), 'every character is é');

  assert.equal(textOf(await client.callTool({ name: 'noisy', arguments: { text: 'through the noise' } })), 'through the noise');
  assert.equal(await echo(client, 'after noise'), 'after noise');
  await proxy.waitForLog(/not JSON, skipped/, 5_000);
});

test('a client that stops reading is cut off at --max-stream-buffer; the others are not stalled', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE], ['--max-stream-buffer', String(1024 * 1024)]);
  const reader = await sseClient(t, proxy.url);
  // node:http so the stream really stops being read (fetch would keep buffering).
  let isClosed = false;
  const postUrl = await withDeadline(new Promise<string>((resolve, reject) => {
    const req = get(`${proxy.url}/sse`, { headers: { accept: 'text/event-stream' } }, (res) => {
      let head = '';
      const onData = (chunk: Buffer): void => {
        head += chunk.toString('utf8');
        const match = /data: (\/messages\S*)\n/.exec(head);
        if (match === null) return;
        res.off('data', onData);
        res.pause();
        resolve(`${proxy.url}${match[1]}`);
      };
      res.on('data', onData);
      res.on('close', () => { isClosed = true; });
    });
    req.on('error', reject);
    t.after(() => req.destroy());
  }), 10_000, 'endpoint event');
  assert.equal((await post(postUrl, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INIT_PARAMS('2024-11-05') })).status, 202);
  assert.equal((await post(postUrl, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);

  // Each 4 MiB reply piles up unread until the proxy gives up on this client; then its session is gone.
  for (let i = 1; ; i++) {
    const answer = await post(postUrl, { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'big', arguments: { bytes: 4 * 1024 * 1024 } } });
    assert.equal(await echo(reader, `meanwhile ${i}`), `meanwhile ${i}`);
    if (answer.status === 404) break;
    assert.equal(answer.status, 202);
    assert.ok(i < 30, 'the non-reading client was never cut off');
  }
  await eventually(() => isClosed, 10_000, 'the non-reading client\'s connection closed');
  assert.equal(await echo(reader, 'after'), 'after');
});

test('the endpoint event is a relative /messages URL; /healthz needs no key', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, [FIXTURE], ['--auth-key', 'x']);
  const health = await fetch(`${proxy.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(health.status, 200);
  const stream = await openSse(`${proxy.url}/sse?auth_key=x`);
  t.after(() => stream.abort());
  assert.equal(stream.response.status, 200);
  const endpoint = await stream.next();
  assert.equal(endpoint?.event, 'endpoint');
  assert.match(endpoint!.data, /^\/messages\?session_id=[^&]+$/);
});
