/**
 * Every client era on the aggregate and on a per-server route: the SDK v2 client (legacy, auto, pinned
 * 2026-07-28) and SDK 1.32 clients, with server-everything, the fault fixture and the modern (2026-07-28)
 * fixture as members: calls, progress, sampling and elicitation routed back to the client that called,
 * resources read and subscribed, completion, list_changed from a member's real change, and a member that
 * never came up joining later.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, eventually, EVERYTHING, FIXTURE, ROOT, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

const MODERN_FIXTURE = join(ROOT, 'test', 'fixtures', 'modern-server.mjs');
const MODES = ['legacy', 'auto', 'pinned'] as const;
type Mode = (typeof MODES)[number];
type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[1]>;
const node = process.execPath;

async function aggregateProxy(t: TestContext, servers: Record<string, unknown>, args: string[] = []): Promise<{ proxy: RunningProxy; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-aggc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  const proxy = await startProxy(['--config', file, ...args]);
  t.after(() => proxy.stop());
  return { proxy, dir };
}

/** A file the fault fixture's `--…-while-missing` flags wait for: the test writes it when the member should come up. */
function readyFlag(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-ready-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'ready');
}

async function v2Client(t: TestContext, url: string, mode: Mode, name: string, options: Partial<ClientOptions> = {}): Promise<Client> {
  const versionNegotiation: ClientOptions['versionNegotiation'] = mode === 'legacy' ? undefined : mode === 'auto' ? { mode: 'auto' } : { mode: { pin: '2026-07-28' } };
  const client = new Client({ name, version: '1.0.0' }, {
    capabilities: { sampling: {}, elicitation: { form: {} } }, ...(versionNegotiation === undefined ? {} : { versionNegotiation }), ...options,
  });
  // Each client answers with its own name, so an answer that reached the wrong client shows.
  client.setRequestHandler('sampling/createMessage', async (req) => {
    const content = req.params.messages[0]!.content as { text?: string };
    return { role: 'assistant', content: { type: 'text', text: `${name}:sampled(${content.text ?? ''})` }, model: 'm', stopReason: 'endTurn' };
  });
  client.setRequestHandler('elicitation/create', async (req) => ({ action: 'accept', content: { name: `${name}:${req.params.message}` } }));
  await withDeadline(client.connect(new StreamableHTTPClientTransport(new URL(url))), 15_000, `connect ${name} (${mode})`);
  t.after(() => client.close());
  return client;
}

const MEMBERS = {
  everything: { command: node, args: [EVERYTHING] },
  fault: { command: node, args: [FIXTURE] },
  modern: { command: node, args: [MODERN_FIXTURE], upstreamProtocol: 'modern' }, // dual-era: pinned to cover the modern adapter
};

for (const mode of MODES) {
  test(`aggregate, SDK v2 ${mode}: calls, progress, sampling and elicitation to the caller, resources, prompts, list_changed`, { timeout: 90_000 }, async (t) => {
    const { proxy } = await aggregateProxy(t, MEMBERS);
    let changes = 0;
    const a = await v2Client(t, `${proxy.url}/mcp`, mode, 'alice', { listChanged: { tools: { onChanged: () => { changes++; } } } });
    const b = await v2Client(t, `${proxy.url}/mcp`, mode, 'bob');
    // Lists wait (about 2 s, once) for members still starting; the rest join by list_changed.
    const expected = ['everything__echo', 'fault__echo', 'modern__echo', 'modern__greet'];
    await eventually(async () => {
      const names = (await a.listTools()).tools.map((tool) => tool.name);
      return expected.every((name) => names.includes(name));
    }, 30_000, `every member listed: ${expected.join(', ')}`);

    assert.equal(textOf(await a.callTool({ name: 'fault__echo', arguments: { text: mode } })), mode);
    assert.equal(textOf(await a.callTool({ name: 'modern__echo', arguments: { text: 'modern' } })), 'modern');
    assert.match(textOf(await b.callTool({ name: 'everything__echo', arguments: { message: 'e' } })), /Echo: e/);
    const progress: number[] = [];
    assert.equal(textOf(await a.callTool({ name: 'fault__slow', arguments: { ms: 600, steps: 3, text: 'done' } }, { onprogress: (p) => progress.push(p.progress), timeout: 30_000 })), 'done');
    assert.deepEqual(progress, [1, 2, 3]);

    // Sampling and elicitation go back to the client whose call asked. stdio links a server's request to
    // no call, so with calls of several clients in flight on one shared child the Hub can only guess
    // (docs/OPERATIONS.md); one after the other, the answer is exact.
    const sa = await a.callTool({ name: 'fault__ask-sampling', arguments: { prompt: 'x' } });
    const sb = await b.callTool({ name: 'fault__ask-elicit', arguments: { message: 'who?' } });
    assert.equal(textOf(sa), 'alice:sampled(x)');
    assert.deepEqual(JSON.parse(textOf(sb)), { action: 'accept', content: { name: 'bob:who?' } });

    assert.equal((await a.readResource({ uri: 'fault+fixture://a' })).contents[0]!.uri, 'fault+fixture://a');
    assert.match(JSON.stringify((await b.getPrompt({ name: 'fault__greet', arguments: { name: 'Oslo' } })).messages), /Hello, Oslo!/);
    assert.match(JSON.stringify((await a.getPrompt({ name: 'modern__hello', arguments: { name: 'Ada' } })).messages), /Ada/);

    // A member's real list change reaches every client as list_changed, and the new tool is listed.
    await b.callTool({ name: 'modern__add-tool', arguments: { name: `added-${mode}` } });
    await eventually(async () => (await a.listTools()).tools.some((tool) => tool.name === `modern__added-${mode}`), 15_000, 'new tool listed');
    await eventually(async () => changes >= 1, 15_000, 'list_changed reached the client');
  });
}

test('per-server route with SDK v2 auto and pinned: the server as itself, filters enforced', { timeout: 60_000 }, async (t) => {
  const { proxy } = await aggregateProxy(t, { ...MEMBERS, fault: { command: node, args: [FIXTURE], tools: { deny: ['ask-*', 'crash'] } } });
  for (const mode of ['auto', 'pinned'] as const) {
    const client = await v2Client(t, `${proxy.url}/servers/fault/mcp`, mode, `solo-${mode}`);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes('echo') && !names.includes('crash') && !names.includes('ask-sampling'), `filtered list: ${names.join(',')}`);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: mode } })), mode);
    const refused = await client.callTool({ name: 'crash', arguments: {} }).then(() => 'called', (err: Error) => err.message);
    assert.match(refused, /Unknown tool: crash \(not allowed on this server\)/);
  }
  const legacy = await connectClient(`${proxy.url}/servers/fault`, 'sse');
  t.after(() => legacy.client.close());
  assert.ok(!(await legacy.client.listTools()).tools.some((tool) => tool.name === 'crash'), 'the filter holds over legacy SSE too');
});

test('aggregate over SDK 1.32 SSE: subscribe and resources/updated with namespaced URIs; completion', { timeout: 60_000 }, async (t) => {
  const { proxy } = await aggregateProxy(t, MEMBERS);
  const { client } = await connectClient(proxy.url, 'sse');
  t.after(() => client.close());
  await eventually(async () => (await client.listResources()).resources.some((r) => r.uri === 'fault+fixture://a')
    && (await client.listResourceTemplates()).resourceTemplates.length > 0, 20_000, 'fixture resource and server-everything\'s templates listed');
  const updated = new Promise<string>((resolve) => client.setNotificationHandler(ResourceUpdatedNotificationSchema, (note) => resolve(note.params.uri)));
  await client.subscribeResource({ uri: 'fault+fixture://a' });
  await client.callTool({ name: 'fault__update-resource', arguments: { uri: 'fixture://a' } });
  assert.equal(await withDeadline(updated, 10_000, 'resources/updated'), 'fault+fixture://a');
  const templates = (await client.listResourceTemplates()).resourceTemplates.map((tpl) => tpl.uriTemplate);
  assert.ok(templates.some((tpl) => tpl.startsWith('everything+')), `templates namespaced: ${templates.join(', ')}`);
  const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'everything__args-prompt' }, argument: { name: 'city', value: '' } });
  assert.ok(Array.isArray(completion.completion.values));
});

test('a member that never came up joins later: its tools appear with list_changed; --max-children refuses a session past the bound', { timeout: 60_000 }, async (t) => {
  const flag = readyFlag(t);
  const { proxy } = await aggregateProxy(t, {
    steady: { command: node, args: [FIXTURE] },
    late: { command: node, args: [FIXTURE, `--fail-while-missing=${flag}`] },
    solo: { command: node, args: [FIXTURE], mode: 'independent' },
  }, ['--max-children', '4']);
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  await eventually(async () => (await client.listTools()).tools.some((tool) => tool.name === 'steady__echo'), 15_000, 'steady listed');
  assert.ok(!(await client.listTools()).tools.some((tool) => tool.name.startsWith('late__')), 'a member that never came up is left out');
  const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
  writeFileSync(flag, '');
  await withDeadline(changed, 40_000, 'list_changed when it came up');
  await eventually(async () => (await client.listTools()).tools.some((tool) => tool.name === 'late__echo'), 15_000, 'late listed');
  assert.equal(textOf(await client.callTool({ name: 'late__echo', arguments: { text: 'late' } })), 'late');

  // steady + late + solo's catalog child = 3 children; one independent session makes 4, the next is refused.
  const first = await connectClient(`${proxy.url}/servers/solo`, 'streamable');
  t.after(() => first.client.close());
  const refused = await fetch(`${proxy.url}/servers/solo/mcp`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '5');
  assert.match(JSON.stringify(await refused.json()), /--max-children 4/);
});

test('a member that refused its first handshake or list is read again: it joins with list_changed, /status says why meanwhile', { timeout: 60_000 }, async (t) => {
  const flag = readyFlag(t);
  const { proxy } = await aggregateProxy(t, {
    steady: { command: node, args: [FIXTURE] },
    noinit: { command: node, args: [FIXTURE, `--refuse-initialize-while-missing=${flag}`] },
    nolist: { command: node, args: [FIXTURE, `--fail-lists-while-missing=${flag}`] },
  });
  await proxy.waitForLog(/warn .*catalog not read, retrying server=noinit .*initialize refused/);
  await proxy.waitForLog(/warn .*catalog not read, retrying server=nolist .*tools\/list failed/);
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  const names = async (): Promise<string[]> => (await client.listTools()).tools.map((tool) => tool.name);
  assert.deepEqual((await names()).filter((name) => name.endsWith('__echo')), ['steady__echo']);
  const status = (await (await fetch(`${proxy.url}/status`)).json()) as { servers: Array<{ name: string; lastError?: string }> };
  const errors = Object.fromEntries(status.servers.map((server) => [server.name, server.lastError]));
  assert.match(errors.noinit ?? '', /initialize refused/);
  assert.match(errors.nolist ?? '', /tools\/list failed.*prompts\/list failed/);
  assert.ok(!(await client.listPrompts()).prompts.some((prompt) => prompt.name.startsWith('nolist__')));
  const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
  writeFileSync(flag, '');
  await withDeadline(changed, 40_000, 'list_changed when they were read');
  await eventually(async () => {
    const listed = await names();
    return ['noinit__echo', 'nolist__echo'].every((name) => listed.includes(name));
  }, 40_000, 'both listed');
  assert.equal(textOf(await client.callTool({ name: 'nolist__echo', arguments: { text: 'read again' } })), 'read again');
  await eventually(async () => (await client.listPrompts()).prompts.some((prompt) => prompt.name === 'nolist__greet'), 10_000, 'prompts read again too');
  const after = (await (await fetch(`${proxy.url}/status`)).json()) as { servers: Array<{ name: string; lastError?: string }> };
  assert.deepEqual(after.servers.map((server) => server.lastError ?? null), [null, null, null]);
});

test('an independent member lists and serves for each session\'s own environment; children start only for members a session uses', { timeout: 60_000 }, async (t) => {
  const { proxy } = await aggregateProxy(t, {
    steady: { command: node, args: [FIXTURE] },
    solo: { command: node, args: [FIXTURE], mode: 'independent', allowEnv: ['EXTRA_TOOL'] },
  });
  const childrenOf = async (name: string): Promise<number> => {
    const status = await (await fetch(`${proxy.url}/status`)).json() as { servers: Array<{ name: string; children: number }> };
    return status.servers.find((server) => server.name === name)!.children;
  };
  const plain = await connectClient(proxy.url, 'streamable');
  t.after(() => plain.client.close());
  await eventually(async () => (await plain.client.listTools()).tools.some((tool) => tool.name === 'solo__echo'), 20_000, 'solo listed from its catalog');
  assert.equal(await childrenOf('solo'), 1, 'only the catalog child: listing started no child for the session');
  assert.equal(textOf(await plain.client.callTool({ name: 'steady__echo', arguments: { text: 's' } })), 's');
  assert.equal(await childrenOf('solo'), 1, 'a call to another member started no child of solo');

  const alice = await connectClient(proxy.url, 'streamable', { headers: { 'X-MCP-Env': 'EXTRA_TOOL=alpha' } });
  t.after(() => alice.client.close());
  // Her first list starts her child: it waits for it about 2 s, then her list comes by list_changed.
  let names: string[] = [];
  await eventually(async () => {
    names = (await alice.client.listTools()).tools.map((tool) => tool.name);
    return names.includes('solo__alpha');
  }, 20_000, 'the session\'s own list');
  assert.ok(!(await plain.client.listTools()).tools.some((tool) => tool.name === 'solo__alpha'), 'another session does not see it');
  assert.equal(textOf(await alice.client.callTool({ name: 'solo__alpha', arguments: { text: 'mine' } })), 'extra: mine');
  assert.equal(await childrenOf('solo'), 2, 'the catalog child and alice\'s');
});

