// The built binary in front of a modern (2026-07-28) stdio child (test/fixtures/modern-server.mjs,
// SDK 2.4 serveStdio): legacy SDK 1.32 clients over /sse and /mcp list and call tools, get progress,
// answer an elicitation that the child asked for with `input_required`, and get list_changed via the
// proxy's own subscriptions/listen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ElicitRequestSchema, ToolListChangedNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type TransportKind } from './helpers/proxy.ts';

const MODERN_FIXTURE = new URL('./fixtures/modern-server.mjs', import.meta.url).pathname;
// serveStdio is dual-era, so unpinned it runs legacy (the era the proxy serves fully); pinned, it covers the modern adapter.
const PIN_MODERN = ['--upstream-protocol', 'modern'];

for (const mode of ['shared', 'independent'] as const) {
  for (const kind of ['sse', 'streamable'] as TransportKind[]) {
    test(`modern child, ${mode} mode, SDK 1.32 client over ${kind}: tools, progress, elicitation round trip`, { timeout: 60_000 }, async (t) => {
      const proxy = await startProxy([...(mode === 'shared' ? ['--shared'] : []), ...PIN_MODERN, '--', process.execPath, MODERN_FIXTURE]);
      t.after(() => proxy.stop());
      await proxy.waitForLog(/upstream protocol era=modern version=2026-07-28/);
      const { client } = await connectClient(proxy.url, kind, { capabilities: { elicitation: {} } });
      t.after(() => client.close());
      const asked: string[] = [];
      client.setRequestHandler(ElicitRequestSchema, async (req) => {
        asked.push(req.params.message);
        return req.params.message === 'What is your name?'
          ? { action: 'accept', content: { name: 'Ada' } }
          : { action: 'accept', content: { ok: true } };
      });

      assert.equal(client.getServerVersion()?.name, 'modern-fixture');
      assert.equal(client.getInstructions(), 'modern fixture for mcpproxy tests');
      const { tools } = await withDeadline(client.listTools(), 15_000, 'tools/list');
      assert.deepEqual(tools.map((tool) => tool.name).sort(), ['add', 'add-tool', 'confirm-progress', 'echo', 'greet', 'log', 'progress', 'touch']);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'héllo' } })), 'héllo');
      assert.equal(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })), '42');

      const progress: number[] = [];
      const done = await withDeadline(client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      }), 15_000, 'progress');
      assert.equal(textOf(done), 'done 3');
      assert.deepEqual(progress, [1, 2, 3]);

      const greeted = await withDeadline(client.callTool({ name: 'greet', arguments: { rounds: 2 } }), 15_000, 'greet');
      assert.equal(textOf(greeted), 'hello Ada');
      assert.deepEqual(asked, ['What is your name?', 'Greet Ada?']);
    });
  }
}

test('modern child: list_changed and resources/updated reach a legacy client through the proxy listen', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...PIN_MODERN, '--', process.execPath, MODERN_FIXTURE]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  let changed = 0;
  const updated: string[] = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri); });
  await client.subscribeResource({ uri: 'test://counter' });

  // The proxy's listen (reopened with the URI by the subscribe) was written to the child before these calls.
  await client.callTool({ name: 'add-tool', arguments: { name: 'extra-0' } });
  await client.callTool({ name: 'touch', arguments: { uri: 'test://counter' } });
  await eventually(() => changed > 0 && updated.length > 0, 15_000, 'list_changed and resources/updated');
  assert.ok(changed > 0, 'tools/list_changed arrived');
  assert.ok(updated.includes('test://counter'), 'resources/updated arrived');
  const { tools } = await client.listTools();
  assert.ok(tools.some((tool) => tool.name === 'extra-0'));
});

test('--upstream-protocol modern against a legacy child fails loudly; legacy skips the probe', { timeout: 60_000 }, async (t) => {
  const failing = await startProxy(['--upstream-protocol', 'modern', '--', process.execPath, FIXTURE]);
  t.after(() => failing.stop());
  await failing.waitForLog(/did not answer server\/discover/);
  const exit = await failing.stop();
  assert.equal(exit.code, 1);

  const legacy = await startProxy(['--upstream-protocol', 'legacy', '--', process.execPath, MODERN_FIXTURE]);
  t.after(() => legacy.stop());
  await legacy.waitForLog(/upstream protocol era=legacy probe=off/);
  const { client } = await connectClient(legacy.url, 'streamable');
  t.after(() => client.close());
  // serveStdio is dual-era: spoken to as a legacy server it serves the legacy handshake itself.
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'old' } })), 'old');
});

// The SDK v2 client in each negotiation mode in front of the modern child: every era pair.
for (const mode of ['legacy', 'auto', 'pinned'] as const) {
  test(`modern child, SDK v2 client (${mode}): tools, resources, prompts, progress, two-round elicitation, list_changed`, { timeout: 60_000 }, async (t) => {
    const proxy = await startProxy([...PIN_MODERN, '--', process.execPath, MODERN_FIXTURE]);
    t.after(() => proxy.stop());
    await proxy.waitForLog(/upstream protocol era=modern/);
    let changes = 0;
    const versionNegotiation = mode === 'legacy' ? undefined : mode === 'auto' ? { mode: 'auto' as const } : { mode: { pin: '2026-07-28' } };
    const client = new ClientV2({ name: `v2-${mode}`, version: '1.0.0' }, {
      capabilities: { elicitation: { form: {} } },
      ...(versionNegotiation === undefined ? {} : { versionNegotiation }),
      listChanged: { tools: { onChanged: () => { changes++; } } },
    });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(req.params.message);
      const content: Record<string, string | boolean> = req.params.message === 'What is your name?' ? { name: 'Ada' } : { ok: true };
      return { action: 'accept' as const, content };
    });
    await withDeadline(client.connect(new StreamableV2(new URL(`${proxy.url}/mcp`))), 15_000, `connect (${mode})`);
    t.after(() => client.close());
    assert.equal(client.getNegotiatedProtocolVersion(), mode === 'legacy' ? '2025-11-25' : '2026-07-28');

    assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'greet'));
    assert.equal(textOf(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })), '3');
    const { resources } = await client.listResources();
    assert.ok(resources.length > 0, 'resources listed');
    assert.equal((await client.readResource({ uri: resources[0]!.uri })).contents[0]!.uri, resources[0]!.uri);
    assert.ok((await client.listPrompts()).prompts.some((prompt) => prompt.name === 'hello'));
    const progress: number[] = [];
    assert.equal(textOf(await client.callTool({ name: 'progress', arguments: { steps: 3 } }, { onprogress: (p) => progress.push(p.progress) })), 'done 3');
    assert.ok(progress.length >= 1, 'progress arrived');
    assert.equal(textOf(await withDeadline(client.callTool({ name: 'greet', arguments: { rounds: 2 } }), 15_000, 'greet')), 'hello Ada');
    assert.deepEqual(asked, ['What is your name?', 'Greet Ada?']);
    await eventually(async () => {
      await client.callTool({ name: 'add-tool', arguments: { name: `t${Date.now()}` } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      return changes > 0;
    }, 15_000, 'tools list_changed');
  });
}
