// A shared child's handshake (issue 28 item 4): the proxy initializes it with the version it chooses
// (its newest legacy one), whatever the first client asked; each client gets the version negotiated for
// it. With the fault fixture echoing whatever version it is asked, and with server-everything.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, EVERYTHING, FIXTURE, startProxy, textOf, type RunningProxy } from './helpers/proxy.ts';
import { LATEST_LEGACY_VERSION } from '../src/protocol/versions.ts';

/** A raw Streamable HTTP initialize asking `version`; the version the proxy answered with. */
async function initializeAsking(proxy: RunningProxy, version: string): Promise<string> {
  const res = await fetch(`${proxy.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: `asks-${version}`, version: '1' } } }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  // JSON, or one SSE event whose data is the reply.
  const json = res.headers.get('content-type')?.includes('text/event-stream') === true
    ? body.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length)
    : body;
  const reply = JSON.parse(json) as { result?: { protocolVersion?: string }; error?: unknown };
  assert.equal(reply.error, undefined, json);
  return reply.result!.protocolVersion!;
}

/** An SDK 1.32 client (it asks the newest version it knows) connects and calls a tool. */
async function sdkClientWorks(t: TestContext, proxy: RunningProxy, tool: string, args: Record<string, unknown>): Promise<string> {
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  return textOf(await client.callTool({ name: tool, arguments: args }));
}

const SERVERS = [
  { name: 'a server that echoes the version it is asked', command: [process.execPath, FIXTURE, '--echo-version'], tool: 'echo', args: { text: 'ok' }, says: /^ok$/ },
  { name: 'server-everything', command: [process.execPath, EVERYTHING], tool: 'echo', args: { message: 'ok' }, says: /Echo: ok/ },
];

for (const server of SERVERS) {
  for (const first of ['1999-01-01', '2024-11-05']) {
    test(`${server.name}: a first client asking ${first} changes nothing for later clients`, { timeout: 60_000 }, async (t) => {
      const proxy = await startProxy(['--shared', '--', ...server.command]);
      t.after(() => proxy.stop());
      // The first client gets its own version if the proxy serves it, else the newest.
      assert.equal(await initializeAsking(proxy, first), first === '1999-01-01' ? LATEST_LEGACY_VERSION : first);
      for (const later of ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']) {
        assert.equal(await initializeAsking(proxy, later), later, `a later client asking ${later}`);
      }
      assert.match(await sdkClientWorks(t, proxy, server.tool, server.args), server.says);
    });
  }
}
