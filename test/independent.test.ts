/**
 * Independent mode (issue 6) against the built binary: one child per session with that session's
 * allowed variables, loader/runtime variables never passed, malformed input refused with 400, values
 * kept out of the logs, children (and grandchildren) stopped with their session, crashes, the session
 * bound, spawn failures, fixed variables, and per-session env in shared mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectClient, FIXTURE, startProxy, withDeadline, type TransportKind } from './helpers/proxy.ts';
import { allGone, callJson, initParams, killAll, rawRequest, RawSseSession, RawStreamable, rpcErrorOf } from './helpers/ops.ts';

const CHILD = ['--', process.execPath, FIXTURE];
const KINDS: TransportKind[] = ['sse', 'streamable'];

interface EnvReport { value: string | null; pid: number }

test('two clients with different tokens get their own child and their own value, fixed --env for both', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', '--allow-env', 'TOKEN,OTHER', '--env', 'FIXED=1', ...CHILD]);
  t.after(() => proxy.stop());
  for (const kind of KINDS) {
    const a = await connectClient(proxy.url, kind, { query: `TOKEN=token-a-${kind}` });
    t.after(() => a.client.close());
    // Two variables on one header line, as fetch sends repeated X-MCP-Env headers (joined with ", ").
    const b = await connectClient(proxy.url, kind, { headers: { 'X-MCP-Env': `TOKEN=token-b-${kind}, OTHER=x,y` } });
    t.after(() => b.client.close());
    const [ra, rb] = await Promise.all([
      callJson<EnvReport>(a.client, 'env', { name: 'TOKEN' }),
      callJson<EnvReport>(b.client, 'env', { name: 'TOKEN' }),
    ]);
    assert.equal(ra.value, `token-a-${kind}`, `${kind}: query value`);
    assert.equal(rb.value, `token-b-${kind}`, `${kind}: header value`);
    assert.notEqual(ra.pid, rb.pid, `${kind}: each session has its own child`);
    assert.equal((await callJson<EnvReport>(b.client, 'env', { name: 'OTHER' })).value, 'x,y', `${kind}: second variable of a combined header`);
    assert.equal((await callJson<EnvReport>(a.client, 'env', { name: 'OTHER' })).value, null, `${kind}: not in the other session`);
    for (const client of [a.client, b.client]) {
      assert.equal((await callJson<EnvReport>(client, 'env', { name: 'FIXED' })).value, '1', `${kind}: --env reaches every child`);
      // Each child was initialized by its own client's initialize, nothing cached across sessions.
      assert.equal((await callJson<{ initializeCount: number }>(client, 'stats')).initializeCount, 1, `${kind}: own initialize`);
    }
  }
});

const DENIED = { LD_PRELOAD: '/tmp/evil.so', NODE_OPTIONS: '--max-old-space-size=77', PATH: '/tmp/evil-bin' } as const;

for (const allow of ['*', 'LD_*,NODE_*,PATH,NODE_OPTIONS,TOKEN']) {
  test(`loader and runtime variables never reach the child (--allow-env '${allow}')`, { timeout: 60_000 }, async (t) => {
    const proxy = await startProxy(['--no-shared', '--allow-env', allow, ...CHILD]);
    t.after(() => proxy.stop());
    const check = async (client: Awaited<ReturnType<typeof connectClient>>['client'], how: string): Promise<void> => {
      assert.equal((await callJson<EnvReport>(client, 'env', { name: 'TOKEN' })).value, 'allowed-token', `${how}: the allowed one passes`);
      for (const name of Object.keys(DENIED) as (keyof typeof DENIED)[]) {
        const { value } = await callJson<EnvReport>(client, 'env', { name });
        assert.notEqual(value, DENIED[name], `${how}: ${name} reached the child`);
        if (name === 'PATH') assert.equal(value, process.env.PATH, `${how}: the child keeps the operator's PATH`);
      }
    };
    // Query parameters, on the request that opens each transport's session.
    const query = new URLSearchParams({ TOKEN: 'allowed-token', ...DENIED }).toString();
    for (const kind of KINDS) {
      const { client } = await connectClient(proxy.url, kind, { query });
      t.after(() => client.close());
      await check(client, `${kind} query`);
    }
    // The header form: one X-MCP-Env per variable, each on its own client (fetch merges repeated headers).
    for (const name of Object.keys(DENIED) as (keyof typeof DENIED)[]) {
      const { client } = await connectClient(proxy.url, 'streamable', {
        query: 'TOKEN=allowed-token',
        headers: { 'X-MCP-Env': `${name}=${DENIED[name]}` },
      });
      t.after(() => client.close());
      await check(client, `header ${name}`);
    }
    // Repeated header lines (as a reverse proxy passes them): every one is judged on its own.
    const raw = new RawStreamable(proxy.url, { 'x-mcp-env': ['TOKEN=allowed-token', ...Object.entries(DENIED).map(([n, v]) => `${n}=${v}`)] });
    assert.equal((await raw.initialize()).status, 200);
    t.after(() => raw.dispose());
    assert.equal((await raw.callJson<EnvReport>('env', { name: 'TOKEN' })).value, 'allowed-token');
    for (const name of Object.keys(DENIED) as (keyof typeof DENIED)[]) {
      assert.notEqual((await raw.callJson<EnvReport>('env', { name })).value, DENIED[name], `repeated headers: ${name}`);
    }
    // Ignored names are logged by name, never with their value.
    await proxy.waitForLog(/not allowed, ignored.*LD_PRELOAD/);
    assert.ok(!proxy.logs().includes('/tmp/evil'), 'a denied value was logged');
  });
}

test('malformed session environment is a 400 with a JSON-RPC error; the proxy goes on', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', '--allow-env', '*', ...CHILD]);
  t.after(() => proxy.stop());
  const initBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams() });
  const postInit = (query: string, headers: Record<string, string> = {}) => rawRequest(`${proxy.url}/mcp${query}`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: initBody,
  });
  const cases: Array<[string, () => Promise<Awaited<ReturnType<typeof rawRequest>>>, RegExp]> = [
    ['bad name in the query (/sse)', () => rawRequest(`${proxy.url}/sse?1BAD=x`), /not a valid environment variable name/],
    ['bad name in the query (/mcp)', () => postInit('?1BAD=x'), /not a valid environment variable name/],
    ['bad name in a header', () => postInit('', { 'x-mcp-env': '1BAD=x' }), /not a valid environment variable name/],
    ['header without "="', () => postInit('', { 'x-mcp-env': 'NOEQUALS' }), /NAME=value/],
    ['NUL in a query value', () => postInit('?TOKEN=a%00b'), /NUL/],
    ['value over the bound (query)', () => postInit(`?TOKEN=${'x'.repeat(9000)}`), /longer than/],
    ['value over the bound (header)', () => postInit('', { 'x-mcp-env': `TOKEN=${'x'.repeat(9000)}` }), /longer than/],
  ];
  for (const [what, send, message] of cases) {
    const res = await send();
    assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 200)}`);
    const error = rpcErrorOf(res.json);
    assert.equal(error?.code, -32602, `${what}: JSON-RPC error code`);
    assert.match(error!.message, message, what);
  }
  // A NUL byte inside a header line never gets past Node's HTTP parser: a plain 400, nothing opened.
  const nulHeader = await new Promise<string>((resolve, reject) => {
    const socket = connect(proxy.port, '127.0.0.1', () => {
      socket.end(`GET /sse HTTP/1.1\r\nhost: 127.0.0.1\r\nx-mcp-env: TOKEN=a\0b\r\n\r\n`);
    });
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk; });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer to a NUL header')));
  });
  assert.match(nulHeader, /^HTTP\/1\.1 400 /);
  const { client } = await connectClient(proxy.url, 'streamable', { query: 'TOKEN=still-fine' });
  t.after(() => client.close());
  assert.equal((await callJson<EnvReport>(client, 'env', { name: 'TOKEN' })).value, 'still-fine');
});

test('session env values never appear in the logs, even at debug', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', '--allow-env', 'TOKEN,OTHER', '--log-level', 'debug', ...CHILD]);
  t.after(() => proxy.stop());
  const secrets = ['query-secret-4f1c9a', 'header-secret-7d2e0b'];
  const a = await connectClient(proxy.url, 'sse', { query: `TOKEN=${secrets[0]}` });
  const b = await connectClient(proxy.url, 'streamable', { headers: { 'X-MCP-Env': `TOKEN=${secrets[1]}` } });
  // The child echoes the value back (a reply body logged at debug), and writes a line on stderr with it.
  assert.equal((await callJson<EnvReport>(a.client, 'env', { name: 'TOKEN' })).value, secrets[0]);
  assert.equal((await callJson<EnvReport>(b.client, 'env', { name: 'TOKEN' })).value, secrets[1]);
  await a.client.close();
  await (b.transport as StreamableHTTPClientTransport).terminateSession();
  await b.client.close();
  await proxy.waitForLog(/session closed[^\n]*\n[^]*session closed/);
  await proxy.stop();
  const logs = proxy.logs();
  assert.match(logs, /session open[^\n]*env=TOKEN/, 'the names are logged');
  for (const secret of secrets) assert.ok(!logs.includes(secret), `${secret} appeared in the logs`);
});

test('closing a session stops its child and grandchild (SSE close, DELETE, idle timeout)', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', '--session-idle-timeout', '1', ...CHILD]);
  t.after(() => proxy.stop());
  const pids: number[] = [];
  t.after(() => killAll(pids));
  const track = (child: number, grandchild: number): number[] => {
    pids.push(child, grandchild);
    return [child, grandchild];
  };

  // SSE: the client drops its stream.
  const sse = await connectClient(proxy.url, 'sse');
  const ssePids = track((await callJson<{ pid: number }>(sse.client, 'pid')).pid, (await callJson<{ pid: number }>(sse.client, 'spawn-grandchild')).pid);
  await sse.client.close();
  await allGone(ssePids, 15_000, 'after the SSE stream closed');

  // Streamable HTTP: DELETE ends the session.
  const mcp = await connectClient(proxy.url, 'streamable');
  const mcpPids = track((await callJson<{ pid: number }>(mcp.client, 'pid')).pid, (await callJson<{ pid: number }>(mcp.client, 'spawn-grandchild')).pid);
  await (mcp.transport as StreamableHTTPClientTransport).terminateSession();
  await mcp.client.close();
  await allGone(mcpPids, 15_000, 'after DELETE');

  // Idle: a session with no open stream and no request for a second is ended by the proxy.
  const idle = new RawStreamable(proxy.url);
  assert.equal((await idle.initialize()).status, 200);
  const idlePids = track((await idle.callJson<{ pid: number }>('pid')).pid, (await idle.callJson<{ pid: number }>('spawn-grandchild')).pid);
  await proxy.waitForLog(/session closed[^\n]*reason="?idle timeout/, 15_000);
  await allGone(idlePids, 15_000, 'after the idle timeout');
  assert.equal((await idle.call('echo', { text: 'late' })).res.status, 404, 'the idle session is gone');
});

test('a child that crashes mid-call: fast -32000, the session ends, a new one works', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', ...CHILD]);
  t.after(() => proxy.stop());

  // Legacy SSE, by hand so the end of the stream is seen (the SDK's EventSource would reconnect).
  const sse = await RawSseSession.open(proxy.url);
  t.after(() => sse.close());
  await sse.initialize();
  await sse.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'crash', arguments: { code: 9 } } });
  const reply = await sse.reply(7, 10_000);
  assert.equal((reply.error as { code: number }).code, -32000);
  assert.match((reply.error as { message: string }).message, /code 9/);
  await sse.ended(10_000);
  assert.equal((await sse.send({ jsonrpc: '2.0', id: 8, method: 'ping' })).status, 404, 'the SSE session is gone');

  // Streamable HTTP with the SDK client: the call rejects, later requests get 404.
  const { client, transport } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  const sessionId = (transport as StreamableHTTPClientTransport).sessionId!;
  const failure = await withDeadline(client.callTool({ name: 'crash', arguments: { code: 5 } }).then(() => undefined, (err: unknown) => err), 10_000, 'crash call');
  assert.ok(failure instanceof McpError, `expected an McpError, got ${String(failure)}`);
  assert.equal(failure.code, -32000);
  const later = await rawRequest(`${proxy.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
  });
  assert.equal(later.status, 404);

  for (const kind of KINDS) {
    const fresh = await connectClient(proxy.url, kind);
    t.after(() => fresh.client.close());
    assert.equal((await fresh.client.callTool({ name: 'echo', arguments: { text: 'again' } })).isError, undefined);
  }
});

test('--max-sessions: the next session gets 503 with Retry-After, the others go on, room comes back', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', '--max-sessions', '2', ...CHILD]);
  t.after(() => proxy.stop());
  const a = await connectClient(proxy.url, 'streamable');
  t.after(() => a.client.close());
  const b = await connectClient(proxy.url, 'sse');
  t.after(() => b.client.close());

  const third = new RawStreamable(proxy.url);
  const refused = await third.initialize();
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After');
  assert.equal(rpcErrorOf(refused.json)?.code, -32000);
  assert.match(rpcErrorOf(refused.json)!.message, /too many sessions/);
  const refusedSse = await rawRequest(`${proxy.url}/sse`);
  assert.equal(refusedSse.status, 503);
  assert.ok(refusedSse.headers['retry-after'] !== undefined);

  for (const { client } of [a, b]) assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'ok' } })).isError, undefined);

  await (a.transport as StreamableHTTPClientTransport).terminateSession();
  assert.equal((await third.initialize()).status, 200, 'room again once one closed');
  t.after(() => third.dispose());
  assert.equal((await third.callJson<{ pid: number }>('pid')).pid > 0, true);
});

test('a command that cannot be spawned fails that session with 502; the proxy keeps serving', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', '--', '/nonexistent/cmd']);
  t.after(() => proxy.stop());
  for (let round = 0; round < 2; round++) {
    const res = await new RawStreamable(proxy.url).initialize();
    assert.equal(res.status, 502, res.text);
    assert.equal(rpcErrorOf(res.json)?.code, -32000);
    assert.match(rpcErrorOf(res.json)!.message, /could not be started: ENOENT/);
    const sse = await rawRequest(`${proxy.url}/sse`);
    assert.equal(sse.status, 502);
    assert.match(rpcErrorOf(sse.json)!.message, /ENOENT/);
  }
  assert.equal((await rawRequest(`${proxy.url}/healthz`)).status, 200);
  const ready = await rawRequest(`${proxy.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.match(String((ready.json as { reason?: string }).reason), /ENOENT/);
});

test('shared mode: per-session env is ignored and warned about once', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--allow-env', 'TOKEN', ...CHILD]);
  t.after(() => proxy.stop());
  for (const kind of KINDS) {
    const { client } = await connectClient(proxy.url, kind, { query: 'TOKEN=shared-ignored-1', headers: { 'X-MCP-Env': 'TOKEN=shared-ignored-2' } });
    t.after(() => client.close());
    assert.equal((await callJson<EnvReport>(client, 'env', { name: 'TOKEN' })).value, null);
  }
  const warnings = proxy.logs().match(/per-session environment is ignored in shared mode/g) ?? [];
  assert.equal(warnings.length, 1);
  assert.ok(!proxy.logs().includes('shared-ignored'), 'values are not logged');
});

test('independent mode: ready before any session; not ready after a child that exited before it answered', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--no-shared', ...CHILD, '--exit-on-start=3']);
  t.after(() => proxy.stop());
  assert.equal((await rawRequest(`${proxy.url}/readyz`)).status, 200, 'no child yet: nothing to ask');
  const res = await new RawStreamable(proxy.url).initialize();
  assert.match(res.text, /exited with code 3/, 'the session cannot start');
  const ready = await rawRequest(`${proxy.url}/readyz`);
  assert.equal(ready.status, 503, ready.text);
  assert.match(String((ready.json as { reason?: string }).reason), /the last child exited with code 3 before it answered/);
});
