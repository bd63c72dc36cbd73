// Tools as plain HTTP against server-everything: a generic OpenAPI client built from the document at
// run time gets what an MCP client gets; errors per the mapping; progress over SSE; access control.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OpenAPIClientAxios } from 'openapi-client-axios';
import { assertValidOpenApi, getJson } from './helpers/openapi.ts';
import { connectClient, eventually, EVERYTHING, FIXTURE, startProxy, withDeadline } from './helpers/proxy.ts';
import { readerOf } from './helpers/raw-sse.ts';

const node = process.execPath;
/** server-everything registers these only for clients with roots, sampling, elicitation or tasks. */
const NEEDS_CLIENT = /^(get-roots-list|trigger-(elicitation|sampling|url-elicitation)-.*|trigger-(elicitation|sampling)-request|trigger-url-elicitation|simulate-research-query)$/;
/** Arguments per tool (others get {}); gzip's default would fetch a URL, so it gets a data: URI. */
const ARGS: Record<string, Record<string, unknown>> = {
  echo: { message: 'hi there' },
  'get-annotated-message': { messageType: 'success', includeImage: true },
  'get-resource-links': { count: 2 },
  'get-resource-reference': { resourceType: 'Blob', resourceId: 2 },
  'get-structured-content': { location: 'Chicago' },
  'get-sum': { a: 2, b: 40 },
  'gzip-file-as-resource': { name: 'x.gz', data: 'data:text/plain;base64,aGVsbG8=', outputType: 'resource' },
  'trigger-long-running-operation': { duration: 0.2, steps: 2 },
};
/** Each call flips server state: compared as a pair of calls, which ends where it began. */
const TOGGLES = new Set(['toggle-simulated-logging', 'toggle-subscriber-updates']);

/** server-everything stamps made-on-demand resources with the wall clock (`7:40:12 PM`, or `19:40:12` in a
 * 24-hour locale): two calls a second apart differ in that alone, so the clock is masked (in text and
 * decoded blobs) before comparing. */
const CLOCK = /\d{1,2}:\d{2}:\d{2}(?:\s?[AP]M)?/g;
const timeless = (value: unknown): unknown => JSON.parse(JSON.stringify(value), (key, field) => {
  if (typeof field !== 'string') return field;
  const text = key === 'blob' ? Buffer.from(field, 'base64').toString() : field;
  const masked = text.replace(CLOCK, '<clock>');
  return masked === text ? field : masked;
});

const getDocument = async (url: string, headers: Record<string, string> = {}): Promise<any> => (await getJson(`${url}/openapi.json`, headers)).body;
const call = (url: string, tool: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${url}/tools/${tool}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

test('a generic OpenAPI client calls every capability-free tool of server-everything and gets what an MCP client gets', { timeout: 90_000 }, async (t) => {
  const proxy = await startProxy(['--', node, EVERYTHING]);
  t.after(() => proxy.stop());
  const doc = await getDocument(proxy.url);
  await assertValidOpenApi(doc, 'server-everything');
  // No baseURL given: the document's own `servers` entry must say where the operations are.
  const api = await new OpenAPIClientAxios({ definition: doc }).init();
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  const viaMcp = async (name: string): Promise<unknown> => {
    const result = await client.callTool({ name, arguments: ARGS[name] ?? {} });
    return timeless(result.structuredContent ?? { content: result.content });
  };
  // The operationId is the generated method's name; the tool's own name is in x-mcp-tool.
  const operationIds = new Map(Object.values(doc.paths).map((item: any) => [item.post['x-mcp-tool'] as string, item.post.operationId as string]));
  const viaHttp = async (name: string): Promise<unknown> => timeless((await (api as any)[operationIds.get(name)!](null, ARGS[name] ?? {})).data);
  const names = [...operationIds.keys()].filter((name) => !NEEDS_CLIENT.test(name));
  assert.ok(names.length >= 12, `capability-free tools: ${names.join(', ')}`);
  for (const name of names) {
    if (TOGGLES.has(name)) {
      assert.deepEqual([await viaHttp(name), await viaHttp(name)], [await viaMcp(name), await viaMcp(name)], name);
      continue;
    }
    assert.deepEqual(await viaHttp(name), await viaMcp(name), name);
  }
  // Binary content passes as MCP content blocks: base64 in `data` (image) and `resource.blob`.
  const image = (await viaHttp('get-tiny-image')) as { content: Array<{ type: string; data?: string }> };
  assert.ok(image.content.some((block) => block.type === 'image' && (block.data ?? '').length > 100));
});

test('errors per the mapping, progress over SSE, concurrent calls, the docs page', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--request-timeout', '1', '--', node, FIXTURE]);
  t.after(() => proxy.stop());
  const error = async (res: Response): Promise<[number, string]> => [res.status, ((await res.json()) as any).error.message];
  assert.deepEqual(await error(await call(proxy.url, 'nope', {})), [404, 'Unknown tool: nope']);
  assert.equal((await call(proxy.url, 'echo', [1])).status, 400);
  assert.equal((await call(proxy.url, 'echo', '{"text":')).status, 400);
  assert.equal((await fetch(`${proxy.url}/tools/echo`)).status, 405);
  // The fixture checks no arguments; an empty body is a call without any.
  assert.deepEqual(await (await call(proxy.url, 'echo', '')).json(), { content: [{ type: 'text', text: '' }] });
  const [status, message] = await error(await call(proxy.url, 'slow', { ms: 5000 }));
  assert.equal(status, 504, message);
  assert.match(message, /timed out/);

  const crashed = await call(proxy.url, 'crash', {});
  assert.equal(crashed.status, 503);
  assert.equal(crashed.headers.get('retry-after'), '5');
  await eventually(async () => (await call(proxy.url, 'echo', { text: 'back' })).status === 200, 15_000, 'the child restarted');

  const abort = new AbortController();
  const res = await call(proxy.url, 'slow', { ms: 300, steps: 3, text: 'done' }, { accept: 'text/event-stream' });
  const events = await readerOf(res, abort).rest(10_000);
  assert.deepEqual(events.map((e) => e.event), ['progress', 'progress', 'progress', 'result']);
  assert.deepEqual(JSON.parse(events[1]!.data), { progress: 2, total: 3, progressToken: 1 });
  assert.deepEqual(JSON.parse(events[3]!.data), { content: [{ type: 'text', text: 'done' }] });

  // Every call is its own attached session: 40 at once, each gets its own answer (ids collide in nothing).
  const texts = Array.from({ length: 40 }, (_, i) => `call-${i}`);
  const answers = await withDeadline(Promise.all(texts.map(async (text, i) => {
    const body = await (await call(proxy.url, i % 2 === 0 ? 'echo' : 'slow', { text, ms: 20 })).json() as { content: Array<{ text: string }> };
    return body.content[0]!.text;
  })), 20_000, 'concurrent calls');
  assert.deepEqual(answers, texts);

  const page = await fetch(`${proxy.url}/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'sha256-/);
  assert.match(await page.text(), /openapi\.json/);
});

test('access control: 401 without the key; the document declares the bearer key', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--auth-key', 'k3y', '--', node, FIXTURE]);
  t.after(() => proxy.stop());
  assert.equal((await fetch(`${proxy.url}/openapi.json`)).status, 401);
  assert.equal((await call(proxy.url, 'echo', { text: 'x' })).status, 401);
  assert.equal((await call(proxy.url, 'echo', { text: 'x' }, { authorization: 'Bearer wrong' })).status, 401);
  const doc = await getDocument(proxy.url, { authorization: 'Bearer k3y' });
  assert.deepEqual(doc.security, [{ bearerKey: [] }, { queryKey: [] }]);
  const ok = await fetch(`${proxy.url}/tools/echo?auth_key=k3y`, { method: 'POST', body: '{"text":"in"}' });
  assert.deepEqual(await ok.json(), { content: [{ type: 'text', text: 'in' }] });
});

test('independent mode: each allowed environment has its own child, tools and document', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', '--allow-env', 'EXTRA_TOOL', '--', node, FIXTURE]);
  t.after(() => proxy.stop());
  const as = (name: string): Record<string, string> => ({ 'x-mcp-env': `EXTRA_TOOL=${name}` });
  assert.ok(Object.hasOwn((await getDocument(proxy.url, as('mine'))).paths, '/tools/mine'));
  assert.ok(!Object.hasOwn((await getDocument(proxy.url, as('yours'))).paths, '/tools/mine'));
  assert.deepEqual(await (await call(proxy.url, 'mine', { text: 'a' }, as('mine'))).json(), { content: [{ type: 'text', text: 'extra: a' }] });
  assert.equal((await call(proxy.url, 'mine', { text: 'a' }, as('yours'))).status, 404);
  const pidOf = async (name: string): Promise<number> => JSON.parse(((await (await call(proxy.url, 'pid', {}, as(name))).json()) as any).content[0].text).pid;
  const [mine, yours, again] = [await pidOf('mine'), await pidOf('yours'), await pidOf('mine')];
  assert.notEqual(mine, yours);
  assert.equal(mine, again, 'one pooled child per distinct environment');
  // Pooled children serve no session; /status (and the console) list them as the stateless pool's.
  const { children } = await (await fetch(`${proxy.url}/status`)).json() as { children: Array<{ pid: number; session?: string }> };
  const pooled = children.filter((child) => child.session === '~stateless').map((child) => child.pid).sort();
  assert.deepEqual(pooled, [mine, yours].sort(), JSON.stringify(children));
});

test('a principal\'s tool rules apply over HTTP as over MCP: hidden tools are out of its document and 404', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'keys'), 'alice:alice-key-123456\n');
  const proxy = await startProxy(['--auth-keys-file', join(dir, 'keys'), '--allow-tools', 'alice=echo', '--', node, FIXTURE]);
  t.after(() => proxy.stop());
  const alice = { authorization: 'Bearer alice-key-123456' };
  assert.deepEqual(Object.keys((await getDocument(proxy.url, alice)).paths), ['/tools/echo']);
  assert.deepEqual(await (await call(proxy.url, 'echo', { text: 'ok' }, alice)).json(), { content: [{ type: 'text', text: 'ok' }] });
  assert.equal((await call(proxy.url, 'slow', { ms: 1 }, alice)).status, 404);
});
