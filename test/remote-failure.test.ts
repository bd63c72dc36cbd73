/**
 * Remote members when things go wrong, and a 2026-07-28 stateless remote (the SDK 2.4 server behind
 * node:http): the upstream killed and restarted (fast errors naming the member, reconnect, tools back,
 * list_changed), and a stream cut mid-call resumed with Last-Event-ID through a loopback TCP relay.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ElicitRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startModernRemote } from './helpers/modern-remote.ts';
import { connectClient, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

const node = process.execPath;
const TIMEOUT = { timeout: 90_000 };

async function front(t: TestContext, servers: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-remote-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  // With an access key the proxy's own Authorization is never passed on, even where listed.
  const proxy = await startProxy(['--config', file, '--auth-key', AUTH_KEY], { env });
  t.after(() => proxy.stop());
  return proxy;
}

const AUTH_KEY = 'the-proxy-key';

async function connect(t: TestContext, url: string, headers: Record<string, string> = {}) {
  const { client } = await connectClient(url, 'streamable', { capabilities: { elicitation: {} }, headers: { authorization: `Bearer ${AUTH_KEY}`, ...headers } });
  t.after(() => client.close());
  return client;
}

/** A loopback TCP relay to `port` whose connections can all be cut at once. */
async function relay(t: TestContext, port: number): Promise<{ port: number; cut(): void; cuts: number }> {
  const sockets = new Set<Socket>();
  const state = { port: 0, cuts: 0, cut: () => {} };
  const server = createServer((down) => {
    const up = createConnection({ host: '127.0.0.1', port });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as { port: number }).port;
  state.cut = () => {
    state.cuts++;
    for (const s of sockets) s.destroy();
  };
  t.after(() => new Promise<void>((resolve) => {
    state.cut();
    server.close(() => resolve());
  }));
  return state;
}

test('upstream killed: calls fail fast naming the member; restarted: reconnect, list_changed, tools back', TIMEOUT, async (t) => {
  const first = await startProxy(['--shared', '--', node, FIXTURE]);
  const proxy = await front(t, { fault: { url: `${first.url}/mcp`, type: 'http', upstreamProtocol: 'legacy' } });
  const client = await connect(t, `${proxy.url}/servers/fault`);
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'before' } })), 'before');
  await first.stop();
  const failure = client.callTool({ name: 'echo', arguments: { text: 'down' } });
  await assert.rejects(withDeadline(failure, 10_000, 'a call to a dead remote'), /remote fault unreachable/);

  const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
  const second = await startProxy(['--port', String(first.port), '--shared', '--', node, FIXTURE]);
  t.after(() => second.stop());
  await withDeadline(changed, 40_000, 'tools/list_changed after the reconnect');
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'after' } })), 'after');
  assert.match(proxy.logs(), /remote server lost server=fault reason="remote fault unreachable/);
});

test('a stream cut mid-call is resumed with Last-Event-ID and loses nothing', TIMEOUT, async (t) => {
  const upstream = await startProxy(['--shared', '--', node, FIXTURE]);
  t.after(() => upstream.stop());
  const tcp = await relay(t, upstream.port);
  const proxy = await front(t, { fault: { url: `http://127.0.0.1:${tcp.port}/mcp`, type: 'http', upstreamProtocol: 'legacy' } });
  const client = await connect(t, `${proxy.url}/servers/fault`);
  const progress: number[] = [];
  const call = client.callTool({ name: 'slow', arguments: { ms: 1500, steps: 5, text: 'whole' } }, undefined, {
    timeout: 30_000,
    onprogress: (p) => {
      progress.push(p.progress);
      if (p.progress === 1) tcp.cut();
    },
  });
  assert.equal(textOf(await call), 'whole');
  assert.equal(tcp.cuts, 1);
  assert.deepEqual(progress, [1, 2, 3, 4, 5]);
  assert.doesNotMatch(proxy.logs(), /remote server lost/);
});

test('a 2026-07-28 stateless remote (SDK 2.4 createMcpHandler): calls, progress, elicitation through input_required, list_changed', TIMEOUT, async (t) => {
  const port = await startModernRemote(t);
  // Independent: each session its own upstream session (the client's own capabilities, its own headers).
  const proxy = await front(t, {
    modern: { url: `http://127.0.0.1:${port}/`, mode: 'independent', headers: { 'X-Api-Key': '${REMOTE_TEST_KEY}' }, forwardHeaders: ['X-User', 'Authorization'] },
  }, { REMOTE_TEST_KEY: 'k-123' });
  await proxy.waitForLog(/upstream protocol server=modern era=modern/);
  for (const url of [`${proxy.url}/servers/modern`, proxy.url]) {
    const client = await connect(t, url, { 'x-user': 'ada' });
    const tool = (name: string): string => (url === proxy.url ? `modern__${name}` : name);
    // x-user is passed on, on the member's route and through the aggregate; the proxy's own key never is.
    assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: tool('whoami'), arguments: {} }))), { key: 'k-123', user: 'ada', auth: null });
    client.setRequestHandler(ElicitRequestSchema, async (req) => ({ action: 'accept', content: { name: `me(${req.params.message})` } }));
    assert.equal(textOf(await client.callTool({ name: tool('echo'), arguments: { text: 'über' } })), 'über');
    const progress: number[] = [];
    assert.equal(textOf(await client.callTool({ name: tool('progress'), arguments: { steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) })), 'done 3');
    assert.deepEqual(progress, [1, 2, 3]);
    assert.equal(textOf(await client.callTool({ name: tool('greet'), arguments: {} })), 'hello me(What is your name?)');
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await client.callTool({ name: tool('add-tool'), arguments: { name: `added-${url === proxy.url ? 'agg' : 'own'}` } });
    await withDeadline(changed, 15_000, 'tools/list_changed from the remote');
  }
});
