/**
 * What a 2026-07-28 caller gets of a child's side traffic, through the built binary with real clients:
 * progress after an `input_required` round (under the retry's token), no server request folded into a
 * call it is unrelated to (server-everything's roots/list right after `initialized`; FastMCP 4's Python
 * client in its default mode), log messages on the call's stream by its own logLevel, and URL-mode
 * elicitation declared for clients and relayed (SDK 1.32 legacy, SDK v2 pinned 2026-07-28).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, EVERYTHING, ROOT, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { parseSse } from './helpers/ops.ts';
import { cachedVenv } from './helpers/venv.ts';

const TIMEOUT = { timeout: 60_000 };
const MODERN = '2026-07-28';
const MODERN_FIXTURE = join(ROOT, 'test', 'fixtures', 'modern-server.mjs');
type Json = Record<string, any>;

async function proxyFor(t: TestContext, server: string): Promise<RunningProxy> {
  // The SDK fixture speaks both eras, so it would run legacy: these tests are of the modern child's path.
  const pin = server === MODERN_FIXTURE ? ['--upstream-protocol', 'modern'] : [];
  const proxy = await startProxy([...pin, '--', process.execPath, server]);
  t.after(() => proxy.stop());
  return proxy;
}

/** An SDK v2 client pinned to 2026-07-28 that answers elicitation (accepted) and roots when it declares them, counting each. */
async function pinnedClient(t: TestContext, base: string, capabilities: Json): Promise<{ client: ClientV2; asked: string[] }> {
  const asked: string[] = [];
  const client = new ClientV2({ name: 'pinned', version: '1.0.0' }, { capabilities, versionNegotiation: { mode: { pin: MODERN } } });
  if (capabilities.roots !== undefined) {
    client.setRequestHandler('roots/list', async () => {
      asked.push('roots/list');
      return { roots: [{ uri: 'file:///tmp/pinned-root', name: 'pinned' }] };
    });
  }
  client.setRequestHandler('elicitation/create', async (req) => {
    asked.push(`elicitation/create:${(req.params as Json).mode ?? 'form'}`);
    return { action: 'accept', content: { ok: true } };
  });
  await withDeadline(client.connect(new StreamableV2(new URL(`${base}/mcp`))), 15_000, 'pinned connect');
  t.after(() => client.close());
  assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
  return { client, asked };
}

/** Keeps the server's progress (it has a total); the SDK v2 client reports each input round as progress too. */
function serverProgress(p: { progress: number; total?: number }, into: number[]): void {
  if (p.total !== undefined) into.push(p.progress);
}

test('server-everything, SDK v2 pinned with roots: the shared child is never told of roots, so the caller is never asked for them; its progress arrives', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, EVERYTHING);
  const { client, asked } = await pinnedClient(t, proxy.url, { roots: {}, elicitation: { form: {} } });
  // The shared child's handshake is the proxy's, made at its start without roots: server-everything
  // offers no roots tool and asks nobody for roots. Tools are listed first: the SDK lists them itself before its first call otherwise.
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  assert.ok(tools.includes('trigger-long-running-operation'));
  assert.ok(!tools.includes('get-roots-list'), 'one caller\'s roots never become everyone\'s');
  const progress: number[] = [];
  const long = await client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 3 } },
    { onprogress: (p) => serverProgress(p, progress), timeout: 30_000 },
  );
  assert.match(textOf(long), /Long running operation completed/);
  assert.deepEqual(asked, [], 'the caller was never asked for its roots');
  assert.deepEqual(progress, [1, 2, 3]);
});

test('modern child, SDK v2 pinned: progress after an input_required round arrives under the retry\'s token', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, MODERN_FIXTURE);
  const { client, asked } = await pinnedClient(t, proxy.url, { elicitation: { form: {} } });
  const progress: number[] = [];
  const result = await client.callTool({ name: 'confirm-progress', arguments: { steps: 3 } }, { onprogress: (p) => serverProgress(p, progress), timeout: 30_000 });
  assert.equal(textOf(result), 'went on for 3');
  assert.deepEqual(asked, ['elicitation/create:form'], 'one input_required round');
  assert.deepEqual(progress, [1, 2, 3]);
});

/** One stateless POST; every message of its answer (the notifications before the result, then the result). */
async function statelessCall(base: string, id: number, name: string, meta: Json, args: Json = {}): Promise<Json[]> {
  const response = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name },
    body: JSON.stringify({
      jsonrpc: '2.0', id, method: 'tools/call',
      params: { name, arguments: args, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, ...meta } },
    }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return response.headers.get('content-type')?.startsWith('text/event-stream') === true ? parseSse(text).map((e) => JSON.parse(e.data) as Json) : [JSON.parse(text) as Json];
}

test('server-everything: a log message during a call reaches a 2026-07-28 caller that set logLevel, never one that did not', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, EVERYTHING);
  const LEVEL = 'io.modelcontextprotocol/logLevel';
  // Each call toggles server-everything's simulated logging; turning it on logs once at once, during the call.
  const toggle = async (id: number, meta: Json): Promise<{ started: boolean; logs: Json[] }> => {
    const messages = await statelessCall(proxy.url, id, 'toggle-simulated-logging', meta);
    const result = messages.at(-1)!;
    assert.equal(result.result?.resultType, 'complete', JSON.stringify(result));
    return { started: /Started/.test(textOf(result.result)), logs: messages.filter((m) => m.method === 'notifications/message') };
  };
  const withLevel = await toggle(1, { [LEVEL]: 'debug' });
  assert.ok(withLevel.started, 'logging started in this call');
  assert.equal(withLevel.logs.length, 1, 'the log reached the caller that set logLevel');
  assert.match(String(withLevel.logs[0]!.params.data), /[- ]level[- ]message/);
  assert.equal((await toggle(2, {})).started, false);
  const without = await toggle(3, {});
  assert.ok(without.started, 'the child logged during this call too');
  assert.deepEqual(without.logs, [], 'never to a request without logLevel');
});

test('modern child: a 2026-07-28 caller\'s logLevel reaches the child, and its log the caller; none without logLevel', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, MODERN_FIXTURE);
  const call = async (id: number, meta: Json): Promise<{ text: string; logs: Json[] }> => {
    const messages = await statelessCall(proxy.url, id, 'log', meta, { text: `log-${id}` });
    return { text: textOf(messages.at(-1)!.result), logs: messages.filter((m) => m.method === 'notifications/message') };
  };
  const withLevel = await call(1, { 'io.modelcontextprotocol/logLevel': 'info' });
  assert.equal(withLevel.text, 'level info', 'the child saw the caller\'s level');
  assert.deepEqual(withLevel.logs.map((m) => m.params.data), ['log-1']);
  assert.deepEqual(await call(2, {}), { text: 'level none', logs: [] });
  assert.deepEqual(await call(3, { 'io.modelcontextprotocol/logLevel': 'error' }), { text: 'level error', logs: [] }, 'info is below error');
});

test('server-everything: trigger-url-elicitation is listed and works for SDK 1.32 (elicitation url) and SDK v2 pinned 2026-07-28', TIMEOUT, async (t) => {
  const proxy = await proxyFor(t, EVERYTHING);
  const url = 'https://example.com/authorize';
  // A 2026-07-28 caller first: the handshake the shared child keeps is the proxy's, not a client's that names url.
  const { client, asked } = await pinnedClient(t, proxy.url, { elicitation: { form: {}, url: {} } });
  assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'trigger-url-elicitation'), 'listed for 2026-07-28');
  const modernResult = await client.callTool({ name: 'trigger-url-elicitation', arguments: { url } });
  assert.match(textOf(modernResult), /User completed the URL elicitation flow/);
  assert.deepEqual(asked, ['elicitation/create:url']);

  const legacy = (await connectClient(proxy.url, 'streamable', { capabilities: { elicitation: { form: {}, url: {} } } })).client;
  t.after(() => legacy.close());
  const seen: Json[] = [];
  legacy.setRequestHandler(ElicitRequestSchema, async (req) => {
    seen.push(req.params);
    return { action: 'accept' };
  });
  assert.ok((await legacy.listTools()).tools.some((tool) => tool.name === 'trigger-url-elicitation'), 'listed');
  const legacyResult = await legacy.callTool({ name: 'trigger-url-elicitation', arguments: { url } });
  assert.match(textOf(legacyResult), /User completed the URL elicitation flow/);
  assert.equal(seen[0]?.mode, 'url');
  assert.equal(seen[0]?.url, url);
  assert.equal(typeof seen[0]?.elicitationId, 'string', 'a 2025-11-25 client gets the elicitationId');
});

// FastMCP's client in its default mode ('auto': it probes and speaks 2026-07-28), with roots, calling a
// tool that reports progress as the first thing on a fresh proxy; prints what it saw as one JSON line.
const FASTMCP_CLIENT = `
import asyncio, json, sys
from fastmcp import Client
async def main():
    asked, progress = [], []
    def roots(ctx):
        asked.append(1)
        return ["file:///tmp/fastmcp-root"]
    async def on_progress(p, total, message):
        progress.append(p)
    async with Client(sys.argv[1] + "/mcp", roots=roots) as client:
        result = await client.call_tool("trigger-long-running-operation", {"duration": 1.5, "steps": 3}, progress_handler=on_progress)
        print(json.dumps({"text": result.content[0].text, "rootsAsked": len(asked), "progress": progress}))
asyncio.run(main())
`;

test('FastMCP 4 client, default mode, on a fresh proxy 3 times: no roots input_required folded into its call, progress arrives', { timeout: 420_000 }, async (t) => {
  const venv = await cachedVenv('fastmcp==4.0.10');
  if ('skip' in venv) return t.skip(venv.skip);
  const python = join(venv.dir, 'bin', 'python');
  const script = join(tmpdir(), `mcpproxy-fastmcp-client-${process.pid}.py`);
  writeFileSync(script, FASTMCP_CLIENT);
  t.after(() => rmSync(script, { force: true }));
  for (let run = 1; run <= 3; run++) {
    const proxy = await startProxy(['--', process.execPath, EVERYTHING]);
    try {
      // Not spawnSync: the proxy's stderr must keep being read while the client runs.
      const out = await promisify(execFile)(python, [script, proxy.url], { encoding: 'utf8', timeout: 60_000 });
      const seen = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Json;
      assert.match(seen.text, /Long running operation completed/);
      assert.equal(seen.rootsAsked, 0, `run ${run}: the call was turned into a roots input_required`);
      assert.deepEqual(seen.progress, [1, 2, 3], `run ${run}`);
    } finally {
      await proxy.stop();
    }
  }
});
