/**
 * Headers toward remote members, against the SDK 2.4 stateless server (test/fixtures/modern-http-server.mjs):
 * `forwardHeaders` on the aggregate (each client's own values reach its own upstream session, the proxy's
 * own Authorization never does, a header never becomes a stdio child's variable).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { startModernRemote } from './helpers/modern-remote.ts';
import { connectClient, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

const TIMEOUT = { timeout: 90_000 };
const AUTH_KEY = 'the-proxy-key';
const AUTH = { authorization: `Bearer ${AUTH_KEY}` };

async function front(t: TestContext, servers: Record<string, unknown>): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-remote-headers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  const proxy = await startProxy(['--config', file, '--auth-key', AUTH_KEY], { env: { REMOTE_TEST_KEY: 'k-9' } });
  t.after(() => proxy.stop());
  return proxy;
}

async function legacyClient(t: TestContext, url: string, headers: Record<string, string>) {
  const { client } = await connectClient(url, 'streamable', { headers: { ...AUTH, ...headers } });
  t.after(() => client.close());
  return client;
}

/** What the remote saw of a call's headers (its whoami tool). */
async function whoami(client: { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> }): Promise<unknown> {
  return JSON.parse(textOf(await client.callTool({ name: 'modern__whoami', arguments: {} })));
}

test('aggregate sessions forward their own client headers to a remote member; never the proxy key, never as a variable', TIMEOUT, async (t) => {
  const port = await startModernRemote(t);
  const proxy = await front(t, {
    modern: {
      url: `http://127.0.0.1:${port}/`, mode: 'independent', headers: { 'X-Api-Key': '${REMOTE_TEST_KEY}' }, forwardHeaders: ['X-User', 'Authorization'],
    },
    fault: { command: process.execPath, args: [FIXTURE], mode: 'independent', allowEnv: ['*'] },
  });
  await proxy.waitForLog(/upstream protocol server=modern era=modern/);
  const ada = await legacyClient(t, proxy.url, { 'x-user': 'ada', 'x-mcp-env': 'TENANT=a' });
  const bob = await legacyClient(t, proxy.url, { 'x-user': 'bob' });
  const nobody = await legacyClient(t, proxy.url, {});
  // A 2026-07-28 caller reaches the aggregate without a session: its headers come with each request.
  const cy = new ClientV2({ name: 'cy', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await withDeadline(cy.connect(new StreamableV2(new URL(`${proxy.url}/mcp`), { requestInit: { headers: { ...AUTH, 'x-user': 'cy' } } })), 15_000, 'connect cy');
  t.after(() => cy.close());
  assert.equal(cy.getNegotiatedProtocolVersion(), '2026-07-28');

  const seen = await Promise.all([ada, bob, nobody, cy].map((client) => whoami(client)));
  assert.deepEqual(seen, [
    { key: 'k-9', user: 'ada', auth: null },
    { key: 'k-9', user: 'bob', auth: null },
    { key: 'k-9', user: null, auth: null },
    { key: 'k-9', user: 'cy', auth: null },
  ]);
  // ada's variable reached the stdio member; her forwarded header did not, under any name.
  const env = async (name: string) => JSON.parse(textOf(await ada.callTool({ name: 'fault__env', arguments: { name } }))).value;
  assert.equal(await env('TENANT'), 'a');
  assert.equal(await env('header:x-user'), null);
  assert.equal(await env('x-user'), null);
});
