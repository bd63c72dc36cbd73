/**
 * Headers toward remote members, against the SDK 2.4 stateless server (test/fixtures/modern-http-server.mjs):
 * `forwardHeaders` on the aggregate (each client's own values reach its own upstream session, the proxy's
 * own Authorization never does, a header never becomes a stdio child's variable), and the `Mcp-Param-*`
 * headers the SDK server requires of a call whose tool declares `x-mcp-header` (it refuses with -32020):
 * through the proxy, and from the stateless client alone (a tool it has not seen listed, a stale schema).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableV2 } from '@modelcontextprotocol/client';
import { ParamHeaderRegistry } from '../src/protocol/param-headers.ts';
import { CLIENT_CAPABILITIES_KEY, PROTOCOL_VERSION_KEY } from '../src/protocol/meta-keys.ts';
import type { JsonRpcMessage, JsonRpcRequest } from '../src/protocol/message.ts';
import { discoverRequest } from '../src/upstream/era-probe.ts';
import { StatelessClient } from '../src/upstream/remote/stateless-client.ts';
import { startModernRemote } from './helpers/modern-remote.ts';
import { connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';

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

  // As a client would, list first: a call routes by the catalog, which may still be reading the member.
  await eventually(async () => (await nobody.listTools()).tools.some((tool) => tool.name === 'modern__whoami'), 15_000, 'modern__whoami listed');
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

const MODERN = '2026-07-28';
const b64 = (text: string): string => `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;
const LOCATE_ARGS = { region: 'zürich', floor: 3, where: { indoor: true } };
const LOCATE_HEADERS = { 'mcp-param-region': b64('zürich'), 'mcp-param-floor': '3', 'mcp-param-indoor': 'true' };
const ENVELOPE = { [PROTOCOL_VERSION_KEY]: MODERN, [CLIENT_CAPABILITIES_KEY]: {} };

function locateCall(id: number, args: Record<string, unknown>): JsonRpcRequest {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'locate', arguments: args, _meta: ENVELOPE } };
}

test('the SDK 2.4 server is strict: a call of a tool that declares x-mcp-header without its Mcp-Param headers is refused with -32020', TIMEOUT, async (t) => {
  const port = await startModernRemote(t);
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'locate' },
    body: JSON.stringify(locateCall(1, LOCATE_ARGS)),
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32020);
});

test('calls to a stateless remote carry the Mcp-Param headers its tools declare: shared and independent, per server and on the aggregate', TIMEOUT, async (t) => {
  const port = await startModernRemote(t);
  const url = `http://127.0.0.1:${port}/`;
  const proxy = await front(t, { modern: { url }, solo: { url, mode: 'independent' } });
  await proxy.waitForLog(/upstream protocol server=solo era=modern/);
  const calls: Array<[string, string]> = [
    [`${proxy.url}/servers/modern`, 'locate'], [`${proxy.url}/servers/solo`, 'locate'], [proxy.url, 'modern__locate'], [proxy.url, 'solo__locate'],
  ];
  for (const [base, name] of calls) {
    const client = await legacyClient(t, base, {});
    const seen = JSON.parse(textOf(await client.callTool({ name, arguments: LOCATE_ARGS })));
    assert.deepEqual(seen, LOCATE_HEADERS, `${base} ${name}`);
    // Absent arguments send no header; a value with surrounding spaces travels base64-wrapped.
    assert.deepEqual(JSON.parse(textOf(await client.callTool({ name, arguments: { region: ' eu ' } }))), { 'mcp-param-region': b64(' eu ') });
  }
});

test('a stateless remote\'s tool with an invalid x-mcp-header declaration is left out, as a 2026-07-28 client must: listed nowhere, refused by name, warned once', TIMEOUT, async (t) => {
  const port = await startModernRemote(t);
  const proxy = await front(t, { modern: { url: `http://127.0.0.1:${port}/` } });
  await proxy.waitForLog(/upstream protocol server=modern era=modern/);
  for (const [base, prefix] of [[`${proxy.url}/servers/modern`, ''], [proxy.url, 'modern__']] as const) {
    const client = await legacyClient(t, base, {});
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes(`${prefix}locate`) && !names.includes(`${prefix}weigh`), names.join(', '));
  }
  const direct = await legacyClient(t, `${proxy.url}/servers/modern`, {});
  const refused = await direct.callTool({ name: 'weigh', arguments: { kg: 2 } }).then(() => 'answered', (err: Error) => err.message);
  assert.match(refused, /tool weigh is not offered: its x-mcp-header declarations are invalid \(kg: .*"number" property/);
  await proxy.waitForLog(/warn .*tool left out: invalid x-mcp-header declaration server=modern tool=weigh/);
  assert.equal(proxy.logs().match(/tool left out/g)?.length, 1, 'said once, however many lists passed');
});

test('the stateless client reads the tool list for a tool it has not seen, and again when a call is refused for a stale schema', TIMEOUT, async (t) => {
  const port = await startModernRemote(t);
  const exchanges = await recordingRelay(t, port);
  const answers: JsonRpcMessage[] = [];
  const declarations = new ParamHeaderRegistry();
  const client = new StatelessClient(
    { target: { url: new URL(`http://127.0.0.1:${exchanges.port}/`), headers: {}, ca: undefined, timeoutMs: 10_000 }, requestTimeoutMs: 30_000, maxMessageBytes: 1 << 20 },
    { message: (msg) => answers.push(msg), lost: (reason) => assert.fail(`lost: ${reason}`) },
    discoverRequest('probe', MODERN, '0.0.0'), declarations,
  );
  t.after(() => client.close());
  await withDeadline(client.connect(), 10_000, 'connect');
  const answer = async (id: number): Promise<unknown> => {
    const find = () => answers.find((msg) => 'id' in msg && msg.id === id);
    await eventually(() => find() !== undefined, 20_000, `answer ${id}`);
    return find();
  };
  // The headers the remote saw, or the error it answered with.
  const seenBy = async (id: number): Promise<unknown> => {
    const msg = await answer(id) as { result?: unknown; error?: unknown };
    return msg.result === undefined ? msg.error : JSON.parse(textOf(msg.result));
  };
  // Never listed: the client lists first, then calls with the headers.
  exchanges.seen.length = 0;
  client.send(locateCall(1, LOCATE_ARGS));
  assert.deepEqual(await seenBy(1), LOCATE_HEADERS, 'a tool not seen yet');
  assert.deepEqual(exchanges.seen, ['tools/list 200', 'tools/call 200']);
  // A stale schema (the region now declared elsewhere): refused with -32020, listed again, retried once.
  exchanges.seen.length = 0;
  declarations.learn({ tools: [{ name: 'locate', inputSchema: { properties: { other: { type: 'string', 'x-mcp-header': 'Region' } } } }] });
  client.send(locateCall(2, LOCATE_ARGS));
  assert.deepEqual(await seenBy(2), LOCATE_HEADERS, 'a stale schema');
  assert.deepEqual(exchanges.seen, ['tools/call 400', 'tools/list 200', 'tools/call 200']);
  assert.equal(answers.filter((msg) => 'id' in msg && msg.id === 2).length, 1, 'the refusal itself is not passed on');
});

/** An HTTP relay to the remote on `port` that records each request's `Mcp-Method` and the status it got. */
async function recordingRelay(t: TestContext, port: number): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((down, downRes) => {
    const up = request({ host: '127.0.0.1', port, method: down.method, path: down.url, headers: down.headers }, (upRes) => {
      seen.push(`${down.headers['mcp-method']} ${upRes.statusCode}`);
      downRes.writeHead(upRes.statusCode!, upRes.headers);
      upRes.pipe(downRes);
    });
    up.on('error', () => downRes.destroy());
    down.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { port: (server.address() as { port: number }).port, seen };
}
