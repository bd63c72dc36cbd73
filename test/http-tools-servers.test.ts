// Tools as plain HTTP with a servers file: every real server's document validates (aggregate and per
// server), filters hide tools from HTTP as from MCP, and a tool list change shows in the next document.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertValidOpenApi, getJson } from './helpers/openapi.ts';
import { eventually, EVERYTHING, FIXTURE, MEMORY, ROOT, startProxy } from './helpers/proxy.ts';

const node = process.execPath;
const FILESYSTEM = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
const MODERN = join(ROOT, 'test', 'fixtures', 'modern-server.mjs');

const post = (url: string, body: unknown): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('documents of real servers and fixtures validate; filters, typed tools and list changes over HTTP', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-openapi-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: {
    everything: { command: node, args: [EVERYTHING] },
    memory: { command: node, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, 'memory.json') } },
    files: { command: node, args: [FILESYSTEM, dir] },
    fault: { command: node, args: [FIXTURE, '--typed-tool'], tools: { deny: ['crash', 'kill-*'] } },
    modern: { command: node, args: [MODERN], upstreamProtocol: 'modern' }, // dual-era: pinned to cover the modern adapter
  } }));
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  const documentAt = async (path: string): Promise<any> => (await getJson(`${proxy.url}${path}`)).body;
  // A server still starting answers 503 (no paths yet): not there yet, rather than a failed wait.
  const hasPath = async (path: string, tool: string): Promise<boolean> => Object.hasOwn((await documentAt(path)).paths ?? {}, `/tools/${tool}`);

  await eventually(() => hasPath('/openapi.json', 'memory__create_entities'), 30_000, 'every member in the aggregate document');
  await eventually(() => hasPath('/openapi.json', 'files__read_text_file'), 30_000, 'the filesystem server in the aggregate document');
  for (const path of ['/openapi.json', ...['everything', 'memory', 'files', 'fault', 'modern'].map((name) => `/servers/${name}/openapi.json`)]) {
    const doc = await documentAt(path);
    assert.ok(Object.keys(doc.paths ?? {}).length > 0, `${path} lists tools: ${JSON.stringify(doc).slice(0, 300)}`);
    await assertValidOpenApi(doc, path);
  }

  // $defs and refs survive into the document and resolve; the call answers with structuredContent.
  const fault = await documentAt('/servers/fault/openapi.json');
  assert.deepEqual(fault.servers, [{ url: `${proxy.url}/servers/fault` }], 'absolute: the origin it was fetched from, then the route');
  assert.equal(fault.components.schemas['typed.input'].properties.point.$ref, '#/components/schemas/typed.input/$defs/point');
  assert.deepEqual(fault.paths['/tools/typed'].post['x-mcp-annotations'], { readOnlyHint: true, idempotentHint: true });
  const typed = { point: { x: 1, y: 2 }, unit: 'mm' };
  for (const url of [`${proxy.url}/servers/fault/tools/typed`, `${proxy.url}/tools/fault__typed`]) {
    assert.deepEqual(await (await post(url, typed)).json(), { ...typed, tags: [] }, url);
  }

  // A tool the servers file denies is not in either document and is 404 on either route, as unknown tools are.
  assert.ok(!(await hasPath('/servers/fault/openapi.json', 'crash')) && !(await hasPath('/openapi.json', 'fault__crash')));
  for (const path of ['/servers/fault/tools/crash', '/tools/fault__crash', '/servers/fault/tools/kill-self']) {
    assert.equal((await post(`${proxy.url}${path}`, {})).status, 404, path);
  }
  assert.equal((await post(`${proxy.url}/servers/nobody/tools/echo`, {})).status, 404);
  assert.equal((await post(`${proxy.url}/servers/modern/tools/add`, { a: 'one', b: 2 })).status, 422, 'arguments the schema refuses');

  // The document follows the list: revalidation says 304 until a tool is added, then the new tool is there and callable.
  const first = await fetch(`${proxy.url}/servers/modern/openapi.json`);
  const etag = first.headers.get('etag')!;
  assert.equal(first.headers.get('cache-control'), 'no-cache');
  assert.equal((await fetch(`${proxy.url}/servers/modern/openapi.json`, { headers: { 'if-none-match': etag } })).status, 304);
  assert.equal((await post(`${proxy.url}/servers/modern/tools/add-tool`, { name: 'fresh' })).status, 200);
  const next = await fetch(`${proxy.url}/servers/modern/openapi.json`);
  assert.notEqual(next.headers.get('etag'), etag);
  assert.ok(Object.hasOwn(((await next.json()) as any).paths, '/tools/fresh'));
  assert.deepEqual(await (await post(`${proxy.url}/servers/modern/tools/fresh`, {})).json(), { content: [{ type: 'text', text: 'fresh' }] });
  await eventually(() => hasPath('/openapi.json', 'modern__fresh'), 15_000, 'the aggregate document after list_changed');
  assert.deepEqual(await (await post(`${proxy.url}/tools/modern__fresh`, {})).json(), { content: [{ type: 'text', text: 'fresh' }] });
});
