// Real Python servers as children (issue 22 item 6): a FastMCP 4 server and a low-level `mcp` 2.3
// server, both dual-era, each with a tool that samples (push-style `create_message`) and one that
// elicits. Both must work through the proxy for an SDK 1.32 client (Streamable HTTP) and an SDK v2
// client pinned to 2026-07-28: the proxy runs such a child legacy, the era it serves fully.
// The servers are the field matrix's fixtures; their venvs come from test/helpers/venv.ts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { connectClient, ROOT, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { cachedVenv, VENV_BUILD_MS } from './helpers/venv.ts';

/** What each client answers: a sampled text naming the prompt, and "Ada" for the first field asked. */
function sampled(messages: Array<{ content: unknown }>): { role: 'assistant'; content: { type: 'text'; text: string }; model: string; stopReason: string } {
  const text = (messages[0]?.content as { text?: string } | undefined)?.text ?? '';
  return { role: 'assistant', content: { type: 'text', text: `model says ${text}` }, model: 'test-model', stopReason: 'endTurn' };
}
function elicited(schema: { properties?: Record<string, unknown> } | undefined): { action: 'accept'; content: Record<string, string> } {
  const field = Object.keys(schema?.properties ?? {})[0] ?? 'name';
  return { action: 'accept', content: { [field]: 'Ada' } };
}

async function legacyClientAsks(t: TestContext, proxy: RunningProxy): Promise<string[]> {
  const { client } = await connectClient(proxy.url, 'streamable', { capabilities: { sampling: {}, elicitation: {} }, connectMs: 60_000 });
  t.after(() => client.close());
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => sampled(req.params.messages));
  client.setRequestHandler(ElicitRequestSchema, async (req) => elicited((req.params as { requestedSchema?: { properties?: Record<string, unknown> } }).requestedSchema));
  return [
    textOf(await withDeadline(client.callTool({ name: 'sample', arguments: { prompt: 'hi' } }), 30_000, 'sampling (SDK 1.32)')),
    textOf(await withDeadline(client.callTool({ name: 'elicit', arguments: { question: 'What is your name?' } }), 30_000, 'elicitation (SDK 1.32)')),
  ];
}

async function modernClientAsks(t: TestContext, proxy: RunningProxy): Promise<string[]> {
  const client = new ClientV2({ name: 'v2-pinned', version: '1.0.0' }, {
    capabilities: { sampling: {}, elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } },
  });
  client.setRequestHandler('sampling/createMessage', async (req) => sampled(req.params.messages));
  client.setRequestHandler('elicitation/create', async (req) => elicited((req.params as { requestedSchema?: { properties?: Record<string, unknown> } }).requestedSchema));
  await withDeadline(client.connect(new StreamableV2(new URL(`${proxy.url}/mcp`))), 60_000, 'connect (SDK v2 pinned)');
  t.after(() => client.close());
  assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
  return [
    textOf(await withDeadline(client.callTool({ name: 'sample', arguments: { prompt: 'hi' } }), 30_000, 'sampling (SDK v2 2026-07-28)')),
    textOf(await withDeadline(client.callTool({ name: 'elicit', arguments: { question: 'What is your name?' } }), 30_000, 'elicitation (SDK v2 2026-07-28)')),
  ];
}

const SERVERS = [
  { name: 'FastMCP 4', requirement: 'fastmcp==4.0.10', file: 'field-fastmcp-server.py' },
  { name: 'low-level mcp 2.3', requirement: 'mcp==2.3.0', file: 'field-lowlevel-server.py' },
];

for (const server of SERVERS) {
  test(`${server.name} server (dual-era): sampling and elicitation work for an SDK 1.32 client and a 2026-07-28 SDK v2 client`, { timeout: VENV_BUILD_MS + 120_000 }, async (t) => {
    const venv = await cachedVenv(server.requirement);
    if ('skip' in venv) return t.skip(venv.skip);
    const proxy = await startProxy(['--shared', '--', join(venv.dir, 'bin', 'python'), join(ROOT, 'test', 'fixtures', server.file)]);
    t.after(() => proxy.stop());
    assert.deepEqual(await legacyClientAsks(t, proxy), ['sampled: model says hi', 'accept: Ada']);
    assert.deepEqual(await modernClientAsks(t, proxy), ['sampled: model says hi', 'accept: Ada']);
    // Both eras answered: the proxy chose the one whose features it can serve every client.
    assert.match(proxy.logs(), /upstream protocol era=legacy via=initialize/);
  });
}
