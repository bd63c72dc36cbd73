/**
 * Production hardening (issue 7) against the built binary: shared-child crashes and restarts, a child
 * that never starts, request timeouts, graceful and forced shutdown, the proxy SIGKILLed, access key,
 * Origin/Host, CORS, body limit, slow SSE readers, fuzz, metrics and JSON logs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { BINARY, connectClient, eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { allGone, callJson, killAll, rawRequest, RawSseSession, RawStreamable, rpcErrorOf, rssBytes } from './helpers/ops.ts';

const CHILD = ['--', process.execPath, FIXTURE];

/** The error a tools/call rejects with (the call must fail, not hang). */
async function callError(client: Client, name: string, args: Record<string, unknown> = {}, ms = 10_000): Promise<McpError> {
  const outcome = await withDeadline(client.callTool({ name, arguments: args }).then(() => undefined, (err: unknown) => err), ms, `${name} call`);
  assert.ok(outcome instanceof McpError, `${name}: expected an McpError, got ${String(outcome)}`);
  return outcome;
}

/** A sample of `/metrics`: `name{labels}` → value. */
async function scrape(proxy: RunningProxy, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const res = await rawRequest(`${proxy.url}/metrics`, { headers });
  assert.equal(res.status, 200);
  const samples = new Map<string, number>();
  for (const line of res.text.split('\n')) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match !== null) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

function waitForExit(proxy: RunningProxy, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { proc } = proxy;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return withDeadline(new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))), ms, 'proxy exit');
}

test('shared child crash mid-call: fast -32000 naming the exit, restart, list_changed, next call works; metrics', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...CHILD]);
  t.after(() => proxy.stop());
  const mcp = await connectClient(proxy.url, 'streamable');
  t.after(() => mcp.client.close());
  const sse = await connectClient(proxy.url, 'sse');
  t.after(() => sse.client.close());
  const listChanged = [mcp.client, sse.client].map((client) => new Promise<void>((resolve) => {
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve());
  }));

  // A known workload for the metrics.
  const calls = 12;
  for (let i = 0; i < calls; i++) assert.equal(textOf(await (i % 2 === 0 ? mcp : sse).client.callTool({ name: 'echo', arguments: { text: `n${i}` } })), `n${i}`);
  const before = await scrape(proxy);
  assert.ok((before.get('mcpproxy_requests_total{server="default",method="tools/call",outcome="result"}') ?? 0) >= calls, 'requests_total counts the echo calls');
  assert.equal(before.get('mcpproxy_sessions{server="default",transport="sse"}'), 1);
  assert.equal(before.get('mcpproxy_sessions{server="default",transport="streamable"}'), 1);
  assert.equal(before.get('mcpproxy_children{server="default"}'), 1);
  assert.equal(before.get('mcpproxy_child_restarts_total{server="default"}'), 0);
  assert.ok((before.get('mcpproxy_request_duration_seconds_count') ?? 0) >= calls);
  assert.ok((before.get('mcpproxy_received_bytes_total') ?? 0) > 0 && (before.get('mcpproxy_sent_bytes_total') ?? 0) > 0);

  const { pid: firstPid } = await callJson<{ pid: number }>(mcp.client, 'pid');
  const err = await callError(mcp.client, 'crash', { code: 7 });
  assert.equal(err.code, -32000);
  assert.match(err.message, /code 7/);

  await withDeadline(Promise.all(listChanged), 15_000, 'notifications/tools/list_changed on both transports');
  for (const { client } of [mcp, sse]) assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'back' } })), 'back');
  assert.notEqual((await callJson<{ pid: number }>(sse.client, 'pid')).pid, firstPid, 'a new child');
  const after = await scrape(proxy);
  assert.ok((after.get('mcpproxy_child_restarts_total{server="default"}') ?? 0) >= 1, 'child restarts counted');
  assert.ok((after.get('mcpproxy_requests_total{server="default",method="tools/call",outcome="error"}') ?? 0) >= 1, 'the failed call counted');
});

test('while the shared child is down, calls fail fast with "upstream unavailable"', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...CHILD]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  // The restart waits 0.5 s, then 1 s, 2 s…: a call right after the kill lands in that gap. On a very
  // slow machine the child may be back first; then the next round (longer gap) tries again.
  let unavailable: McpError | undefined;
  for (let round = 0; round < 4 && unavailable === undefined; round++) {
    await withDeadline((async () => { while ((await client.callTool({ name: 'echo', arguments: { text: 'up?' } }).catch(() => undefined)) === undefined); })(), 20_000, 'child back up');
    const killed = await callError(client, 'kill-self', { signal: 'SIGKILL' });
    assert.equal(killed.code, -32000);
    assert.match(killed.message, /SIGKILL/);
    const next = await withDeadline(client.callTool({ name: 'echo', arguments: { text: 'x' } }).then(() => undefined, (e: unknown) => e as McpError), 10_000, 'call while down');
    if (next !== undefined) unavailable = next;
  }
  assert.ok(unavailable !== undefined, 'no call landed while the child was down');
  assert.equal(unavailable.code, -32000);
  assert.match(unavailable.message, /upstream unavailable/);
  await withDeadline((async () => { while ((await client.callTool({ name: 'echo', arguments: { text: 'up?' } }).catch(() => undefined)) === undefined); })(), 20_000, 'child back up at the end');
});

test('a shared child that never starts: the proxy lives, /healthz 200, /readyz 503 with the reason', { timeout: 60_000 }, async (t) => {
  for (const [args, reason] of [[[...CHILD, '--exit-on-start'], /exited with code 1/], [['--', '/nonexistent/cmd'], /could not be started: ENOENT/]] as const) {
    const proxy = await startProxy(['--shared', ...args]);
    t.after(() => proxy.stop());
    let last = '';
    await withDeadline((async () => {
      for (;;) {
        const ready = await rawRequest(`${proxy.url}/readyz`);
        last = ready.text;
        if (ready.status === 503 && reason.test(String((ready.json as { reason?: string }).reason))) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(), 15_000, `/readyz 503 ${reason} (last: ${last})`);
    assert.equal((await rawRequest(`${proxy.url}/healthz`)).status, 200);
    // A client is answered with an error at once, not left waiting.
    const raw = new RawStreamable(proxy.url);
    const init = await raw.initialize();
    t.after(() => raw.dispose());
    const error = rpcErrorOf(init.json);
    assert.equal(error?.code, -32000, init.text);
    assert.match(error!.message, /upstream/);
    await proxy.waitForLog(/restarting child/);
    assert.equal(proxy.proc.exitCode, null, 'the proxy is still running');
  }
});

test('--request-timeout: an unanswered call fails and is cancelled at the child', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--request-timeout', '1', ...CHILD]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  const err = await callError(client, 'slow', { ms: 30_000, text: 'late' }, 20_000);
  assert.equal(err.code, -32000);
  assert.match(err.message, /timed out/);
  const stats = await callJson<{ cancelled: unknown[] }>(client, 'stats');
  assert.equal(stats.cancelled.length, 1, 'the child saw notifications/cancelled');
});

for (const mode of ['--shared', '--no-shared']) {
  test(`SIGTERM with busy clients (${mode}): in-flight calls finish, exit 0, no child or grandchild left`, { timeout: 60_000 }, async (t) => {
    const proxy = await startProxy([mode, '--shutdown-timeout', '2', ...CHILD]);
    t.after(() => proxy.stop());
    const pids: number[] = [];
    t.after(() => killAll(pids));
    const mcp = await connectClient(proxy.url, 'streamable');
    t.after(() => mcp.client.close());
    // The call that outlives the shutdown timeout is made by hand, so the end of its stream is seen.
    const sse = await RawSseSession.open(proxy.url);
    t.after(() => sse.close());
    await sse.initialize();
    pids.push((await callJson<{ pid: number }>(mcp.client, 'pid')).pid, (await callJson<{ pid: number }>(mcp.client, 'spawn-grandchild')).pid);
    for (const [id, name] of [[1, 'pid'], [2, 'spawn-grandchild']] as const) {
      await sse.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
      pids.push((JSON.parse(textOf((await sse.reply(id)).result)) as { pid: number }).pid);
    }
    const quick = mcp.client.callTool({ name: 'slow', arguments: { ms: 500, text: 'finished' } });
    await sse.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'slow', arguments: { ms: 60_000 } } });
    await withDeadline((async () => {
      while ((await scrape(proxy)).get('mcpproxy_pending_requests{server="default"}') !== 2) await new Promise((resolve) => setTimeout(resolve, 20));
    })(), 10_000, 'both calls in flight');
    proxy.proc.kill('SIGTERM');
    assert.equal(textOf(await withDeadline(quick, 10_000, 'in-flight call')), 'finished', 'an in-flight call finishes');
    assert.deepEqual(await waitForExit(proxy, 20_000), { code: 0, signal: null });
    await sse.ended(10_000); // the call past the timeout: its stream is ended, never left open
    await allGone(pids, 10_000, 'after shutdown');
    assert.match(proxy.logs(), /shutting down[^]*stopped/);
  });
}

test('a second SIGTERM exits at once; the child then sees stdin EOF and exits', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--shutdown-timeout', '300', ...CHILD]);
  t.after(() => proxy.stop());
  const pids: number[] = [];
  t.after(() => killAll(pids));
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  pids.push((await callJson<{ pid: number }>(client, 'pid')).pid);
  void client.callTool({ name: 'slow', arguments: { ms: 60_000 } }).catch(() => {});
  await withDeadline((async () => {
    while ((await scrape(proxy)).get('mcpproxy_pending_requests{server="default"}') !== 1) await new Promise((resolve) => setTimeout(resolve, 20));
  })(), 10_000, 'call in flight');
  proxy.proc.kill('SIGTERM');
  await proxy.waitForLog(/shutting down/);
  proxy.proc.kill('SIGTERM');
  const exit = await waitForExit(proxy, 10_000); // far below the 300 s the first signal would wait
  assert.notEqual(exit.code, 0);
  await allGone(pids, 10_000, 'child after a forced exit');
});

test('proxy SIGKILLed: a well-behaved child exits on stdin EOF', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--shared', ...CHILD]);
  t.after(() => proxy.stop());
  const pids: number[] = [];
  t.after(() => killAll(pids));
  const { client } = await connectClient(proxy.url, 'streamable');
  pids.push((await callJson<{ pid: number }>(client, 'pid')).pid);
  proxy.proc.kill('SIGKILL');
  await waitForExit(proxy, 10_000);
  await client.close().catch(() => {});
  // Children that ignore EOF live on: see docs/OPERATIONS.md (systemd KillMode=control-group).
  await allGone(pids, 10_000, 'child after the proxy was SIGKILLed');
});

test('access key: refused without or with a wrong key (MCP routes 403 with the reason, no OAuth challenge; the proxy\'s own 401); probes open; key never logged', { timeout: 30_000 }, async (t) => {
  const key = 'k3y-0f-the-proxy-5e8b1';
  const wrong = 'wrong-key-a91c77';
  const proxy = await startProxy(['--shared', '--auth-key', key, '--log-level', 'debug', ...CHILD]);
  t.after(() => proxy.stop());
  const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
  const endpoints: Array<[string, string, string | undefined]> = [
    ['GET', '/sse', undefined], ['POST', '/mcp', body], ['GET', '/mcp', undefined], ['DELETE', '/mcp', undefined], ['GET', '/metrics', undefined],
  ];
  for (const [method, path, payload] of endpoints) {
    for (const [what, headers, query] of [
      ['no key', {}, ''], ['wrong bearer', { authorization: `Bearer ${wrong}` }, ''], ['wrong auth_key', {}, `?auth_key=${wrong}`],
    ] as const) {
      const res = await rawRequest(`${proxy.url}${path}${query}`, { method, headers: { ...json, ...headers }, body: payload });
      // Without OAuth a 401 would send MCP clients into an OAuth flow; they show a 403's message instead.
      const isMcp = path !== '/metrics';
      assert.equal(res.status, isMcp ? 403 : 401, `${method} ${path} ${what}`);
      if (isMcp) {
        assert.equal(res.headers['www-authenticate'], undefined, `${method} ${path} ${what}`);
        assert.match(String(rpcErrorOf(res.json)?.message), what === 'no key' ? /^access key required/ : /^access key rejected/, `${method} ${path} ${what}`);
      } else {
        assert.match(String(res.headers['www-authenticate']), /^Bearer/, `${method} ${path} ${what}`);
      }
      assert.ok(!res.text.includes(wrong) && !res.text.includes(key), 'no key echoed');
    }
  }
  assert.equal((await rawRequest(`${proxy.url}/healthz`)).status, 200);
  // /readyz may still say 503 "starting" this early: the point is that it needs no key.
  assert.ok([200, 503].includes((await rawRequest(`${proxy.url}/readyz`)).status), '/readyz without a key');
  assert.equal((await rawRequest(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
  const byHeader = await connectClient(proxy.url, 'streamable', { headers: { authorization: `Bearer ${key}` } });
  t.after(() => byHeader.client.close());
  const byQuery = await connectClient(proxy.url, 'sse', { query: `auth_key=${key}` });
  t.after(() => byQuery.client.close());
  for (const { client } of [byHeader, byQuery]) assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'in' } })), 'in');
  await proxy.stop();
  assert.ok(!proxy.logs().includes(key), 'the key appeared in the logs');
  assert.ok(!proxy.logs().includes(wrong), 'a rejected key appeared in the logs');
});

test('Origin and Host checks (DNS rebinding), CORS preflight for browser clients', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--allow-origin', 'http://good.example', '--cors', 'http://localhost:6274', ...CHILD]);
  t.after(() => proxy.stop());
  const post = (headers: Record<string, string>) => rawRequest(`${proxy.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'o', version: '1' } } }),
  });
  const evil = await post({ origin: 'http://evil.example' });
  assert.equal(evil.status, 403);
  assert.match(rpcErrorOf(evil.json)!.message, /origin/);
  assert.equal((await rawRequest(`${proxy.url}/sse`, { headers: { origin: 'http://evil.example' } })).status, 403);
  assert.equal((await post({ origin: 'http://good.example' })).status, 200, '--allow-origin');
  assert.equal((await post({})).status, 200, 'no Origin: a non-browser client');
  assert.equal((await post({ origin: 'http://localhost:6274' })).status, 200, 'a --cors origin is allowed too');
  const rebound = await post({ host: 'evil.example' });
  assert.equal(rebound.status, 403, 'a non-loopback Host on a loopback bind');
  assert.match(rpcErrorOf(rebound.json)!.message, /host/);
  assert.equal((await post({ host: `localhost:${proxy.port}` })).status, 200);

  const preflight = await rawRequest(`${proxy.url}/mcp`, {
    method: 'OPTIONS',
    headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, mcp-session-id, mcp-protocol-version' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:6274');
  assert.match(String(preflight.headers['access-control-allow-headers']), /mcp-session-id/);
  assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  assert.match(String(preflight.headers['access-control-expose-headers']), /mcp-session-id/);
  const actual = await post({ origin: 'http://localhost:6274' });
  assert.equal(actual.headers['access-control-allow-origin'], 'http://localhost:6274');
  assert.match(String(actual.headers['access-control-expose-headers']), /mcp-session-id/);
  const notCors = await rawRequest(`${proxy.url}/mcp`, { method: 'OPTIONS', headers: { origin: 'http://good.example', 'access-control-request-method': 'POST' } });
  assert.equal(notCors.headers['access-control-allow-origin'], undefined, 'CORS only for --cors origins');
});

/**
 * Sends `request` once and resolves with everything read until the server closes the connection.
 * The client stops writing after that: a client still sending when the server closes gets a reset,
 * which can discard the 413 before it is read (see the report on lingering close).
 */
function sendAndReadUntilClose(port: number, request: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk; });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.setTimeout(15_000, () => { socket.destroy(); reject(new Error(`the server did not close the connection; got ${answer.slice(0, 200)}`)); });
  });
}

test('a body over --max-body-bytes gets 413 and the connection closed', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--max-body-bytes', '4096', ...CHILD]);
  t.after(() => proxy.stop());
  const head = (framing: string): string =>
    `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n${framing}\r\n\r\n`;
  const cases: Array<[string, Buffer]> = [
    // Declared too big: answered from the headers alone, none of the 8 MiB is waited for.
    ['content-length', Buffer.from(head(`content-length: ${8 * 1024 * 1024}`))],
    // Not declared: cut off once the bytes read pass the bound.
    ['chunked', Buffer.from(`${head('transfer-encoding: chunked')}2000\r\n${'{'.repeat(0x2000)}\r\n`)],
  ];
  for (const [what, request] of cases) {
    const answer = await sendAndReadUntilClose(proxy.port, request);
    assert.match(answer, /^HTTP\/1\.1 413 /, what);
    assert.match(answer, /connection: close/i, what);
    assert.match(answer, /larger than 4096 bytes/, what);
  }
  const { client } = await connectClient(proxy.url, 'streamable');
  t.after(() => client.close());
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'small' } })), 'small');
});

test('slowloris: a connection trickling headers is dropped after --headers-timeout, others are served', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--headers-timeout', '1', ...CHILD]);
  t.after(() => proxy.stop());
  const socket = connect(proxy.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8'); });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n');
  // One header byte every 200 ms: the request never completes on its own.
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write('x'); }, 200);
  t.after(() => clearInterval(trickle));
  const healthy = await rawRequest(`${proxy.url}/healthz`, { method: 'GET' });
  assert.equal(healthy.status, 200, 'another client is served meanwhile');
  await withDeadline(closed, 20_000, 'the trickling connection is dropped');
  clearInterval(trickle);
  assert.doesNotMatch(received, /200 OK/, 'the trickled request was never served');
});

test('a slow SSE reader is cut off past --max-stream-buffer; another client keeps getting answers', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shared', '--max-stream-buffer', String(1024 * 1024), ...CHILD]);
  t.after(() => proxy.stop());
  const other = await connectClient(proxy.url, 'streamable');
  t.after(() => other.client.close());

  // A raw socket that reads the endpoint event, then never reads again.
  const socket = connect(proxy.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  socket.write(`GET /sse HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`);
  const postPath = await withDeadline(new Promise<string>((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const match = /event: endpoint\r?\ndata: (\S+)/.exec(text);
      if (match === null) return;
      socket.off('data', onData);
      socket.pause();
      resolve(match[1]!);
    };
    socket.on('data', onData);
  }), 10_000, 'endpoint event');
  const postUrl = new URL(postPath, proxy.url).toString();
  const send = (msg: unknown) => rawRequest(postUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(msg) });
  assert.equal((await send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'slow', version: '1' } } })).status, 202);
  await send({ jsonrpc: '2.0', method: 'notifications/initialized' });

  let cutOff = false;
  for (let i = 1; i <= 60 && !cutOff; i++) {
    const res = await send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'big', arguments: { bytes: 1_000_000 } } });
    if (res.status === 404) cutOff = true;
    else assert.equal(res.status, 202);
    assert.equal(textOf(await withDeadline(other.client.callTool({ name: 'echo', arguments: { text: `still ${i}` } }), 10_000, 'the other client')), `still ${i}`);
  }
  assert.ok(cutOff, 'the slow reader was never cut off');
  await proxy.waitForLog(/session closed[^\n]*transport=sse/);
});

// ── fuzz ───────────────────────────────────────────────────────────────────────────────────────────

/** mulberry32: a small seeded PRNG so a failing run can be replayed with FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface FuzzCase { method: string; path: string; headers: Record<string, string>; body: Buffer | undefined }

function fuzzCase(rand: () => number, sessions: { mcp: string; ssePost: string }): FuzzCase {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const junkId = (): unknown => pick([0, -1, '', 'x', 1e308, -1e308, 2 ** 53 + 1, 'i'.repeat(100_000), null, true, [], {}, 1.5]);
  const message = (): unknown => pick([
    () => ({ jsonrpc: '2.0', id: junkId(), method: pick(['tools/call', 'tools/list', 'ping', 'initialize', 'x/'.repeat(50), '', 'notifications/cancelled']), params: pick([undefined, null, 1, 'p', [], { name: 'echo', arguments: { text: 'f' } }, { _meta: { progressToken: junkId() } }]) }),
    () => ({ jsonrpc: pick(['2.0', '1.0', 2, null]), id: junkId(), method: pick([1, null, {}, 'ping']) }),
    () => ({ jsonrpc: '2.0', id: junkId(), result: pick([{}, null, 'r']) }),
    () => ({ jsonrpc: '2.0', id: junkId(), error: pick([{ code: 'x', message: 1 }, { code: -1, message: 'm' }, null]) }),
    () => ({ jsonrpc: '2.0', method: pick(['notifications/initialized', 'notifications/cancelled', 'notifications/progress']), params: { requestId: junkId(), progressToken: junkId() } }),
    () => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: pick(['2025-11-25', '1999-01-01', 5]), capabilities: pick([{}, null, 'c']), clientInfo: {} } }),
  ])();
  const body = (): Buffer | undefined => pick([
    () => undefined,
    () => Buffer.from(''),
    () => Buffer.from(JSON.stringify(message())),
    () => Buffer.from(JSON.stringify(Array.from({ length: 1 + Math.floor(rand() * 5) }, message))),
    () => Buffer.from('['.repeat(100_000)),
    () => Buffer.from('['.repeat(50_000) + ']'.repeat(50_000)),
    () => Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`),
    () => Buffer.from(`{"jsonrpc":"2.0","id":${'9'.repeat(5000)},"method":"ping"}`),
    () => Buffer.from(pick(['{', 'null', '"x"', '1', 'true', '[]', '{"jsonrpc":', '\u0000', '{"a":1}garbage'])),
    () => Buffer.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0xa0, 0xa1, 0x7d]),
    () => Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"'), Buffer.from([0xed, 0xa0, 0x80, 0xf8, 0x88]), Buffer.from('"}')]),
    () => Buffer.from(Array.from({ length: Math.floor(rand() * 2000) }, () => Math.floor(rand() * 256))),
  ])();
  const path = pick([
    '/mcp', '/mcp', '/mcp', '/mcp', '/mcp', '/mcp', '/sse', '/messages', '/message?sessionId=x',
    `/messages?session_id=${encodeURIComponent(sessions.ssePost)}`, `/messages?session_id=${encodeURIComponent(sessions.ssePost)}`,
    '/healthz', '/readyz', '/metrics', '/', '/mcp/', '/MCP', '/%ff%fe', '/../../etc/passwd', `/mcp?${'a=1&'.repeat(500)}`,
    `/sse?1BAD=1`, '/sse?TOKEN=%00', '/x'.repeat(200),
  ]);
  const headers: Record<string, string> = {};
  if (rand() < 0.8) headers['content-type'] = pick(['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x+json', '', 'application/json;;;']);
  if (rand() < 0.8) headers.accept = pick(['application/json, text/event-stream', 'text/event-stream', 'application/json', '*/*', 'nothing']);
  if (rand() < 0.7) headers['mcp-session-id'] = pick([sessions.mcp, sessions.mcp, sessions.mcp, sessions.mcp, 'nope', '', 'x'.repeat(4000), `${sessions.mcp}x`]);
  if (rand() < 0.3) headers['mcp-protocol-version'] = pick(['2025-11-25', '2025-03-26', '2024-11-05', 'garbage', '9999-99-99']);
  if (rand() < 0.1) headers['last-event-id'] = pick(['1-1', '0-0', '999999-1', 'x', '-1--1']);
  if (rand() < 0.1) headers.origin = pick(['http://evil.example', 'null', 'http://localhost:6274']);
  if (rand() < 0.1) headers['x-mcp-env'] = pick(['A=1', '=', 'LD_PRELOAD=x', '1=2']);
  if (rand() < 0.05) headers.authorization = pick(['Bearer', 'Bearer x', 'Basic abc']);
  let method = pick(['POST', 'POST', 'POST', 'POST', 'POST', 'GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD']);
  // DELETE of the live session would end the fuzz's own session: only random ids get deleted.
  if (method === 'DELETE' && headers['mcp-session-id'] === sessions.mcp) headers['mcp-session-id'] = 'nope';
  if ((method === 'GET' || method === 'HEAD') && rand() < 0.5) method = 'POST';
  return { method, path, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body() };
}

/** One fuzz request; streams are dropped as soon as their head arrives. Resolves with the status (0: no HTTP answer). */
function fuzzRequest(port: number, c: FuzzCase): Promise<number> {
  return new Promise((resolve) => {
    const head = [`${c.method} ${c.path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
    for (const [name, value] of Object.entries(c.headers)) head.push(`${name}: ${value}`);
    if (c.body !== undefined) head.push(`content-length: ${c.body.length}`);
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = (status: number): void => {
      socket.destroy();
      resolve(status);
    };
    // write, not end: Node's server treats a client's FIN as the client leaving and drops its answer.
    // `connection: close` has the server close once it has answered.
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), c.body ?? Buffer.alloc(0)])));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      // An event stream never ends by itself: its status is enough.
      if (match !== null && /content-type: text\/event-stream/i.test(text)) done(Number(match[1]));
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0)));
    socket.setTimeout(15_000, () => done(-1));
  });
}

function rawGarbage(port: number, rand: () => number): Promise<void> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const payload = pick([
    () => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 4000) }, () => Math.floor(rand() * 256))),
    () => Buffer.from('GET / HTTP/9.9\r\n\r\n'),
    () => Buffer.from('POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: -5\r\n\r\n'),
    () => Buffer.from('POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'),
    () => Buffer.concat([Buffer.from('GET /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nx-bad: '), Buffer.from([0x00, 0xff, 0x0d]), Buffer.from('\r\n\r\n')]),
    () => Buffer.from(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`),
    () => Buffer.from(`GET /healthz HTTP/1.1\r\n${'x-h: v\r\n'.repeat(3000)}\r\n`),
    () => Buffer.from('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\nGET /readyz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n'),
  ])();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(payload));
    socket.on('error', () => {});
    socket.resume();
    socket.on('close', () => resolve());
    socket.setTimeout(15_000, () => socket.destroy());
  });
}

test('fuzz: thousands of malformed requests, then a normal client works and memory is back near the start', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
  const rand = prng(seed);
  const proxy = await startProxy(['--shared', '--cors', 'http://localhost:6274', '--max-body-bytes', String(256 * 1024), ...CHILD]);
  t.after(() => proxy.stop());
  const pid = proxy.proc.pid!;
  // Live sessions for requests to hit: a Streamable one and a legacy SSE one.
  const mcp = new RawStreamable(proxy.url);
  assert.equal((await mcp.initialize()).status, 200);
  t.after(() => mcp.dispose());
  const sse = await RawSseSession.open(proxy.url);
  t.after(() => sse.close());
  await sse.initialize();
  const sessions = { mcp: mcp.sessionId!, ssePost: new URL(sse.postUrl).searchParams.get('session_id')! };
  const warm = await connectClient(proxy.url, 'streamable');
  assert.equal(textOf(await warm.client.callTool({ name: 'echo', arguments: { text: 'warm' } })), 'warm');
  await warm.client.close();

  const statuses = new Map<number, number>();
  const unanswered: string[] = [];
  let total = 0;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < total) {
      const n = issued++;
      if (n % 10 === 9) {
        await rawGarbage(proxy.port, rand);
        continue;
      }
      const c = fuzzCase(rand, sessions);
      const status = await fuzzRequest(proxy.port, c);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status <= 0 && unanswered.length < 5) unanswered.push(`${c.method} ${c.path.slice(0, 80)} ${JSON.stringify(c.headers).slice(0, 300)} body=${c.body?.subarray(0, 80).toString('latin1')}(${c.body?.length})`);
    }
  };
  const run = async (count: number): Promise<void> => {
    total += count;
    await Promise.all(Array.from({ length: 16 }, worker));
  };
  // A first round grows the heap to its working size (V8 keeps it); growth after that would be a leak.
  await run(1000);
  const rssBefore = rssBytes(pid);
  await run(4000);
  t.diagnostic(`seed ${seed}; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
  for (const line of unanswered) t.diagnostic(`no HTTP answer: ${line}`);

  assert.equal(proxy.proc.exitCode, null, 'the proxy died');
  assert.equal(statuses.get(-1) ?? 0, 0, 'requests left hanging');
  assert.equal(statuses.get(500) ?? 0, 0, `internal errors:\n${proxy.logs().split('\n').filter((l) => l.includes('request failed')).slice(0, 3).join('\n')}`);
  for (const kind of ['streamable', 'sse'] as const) {
    const { client } = await connectClient(proxy.url, kind);
    t.after(() => client.close());
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: `after fuzz ${kind}` } })), `after fuzz ${kind}`);
  }
  assert.equal((await rawRequest(`${proxy.url}/healthz`)).status, 200);
  const grown = rssBytes(pid) - rssBefore;
  t.diagnostic(`rss before ${Math.round(rssBefore / 1e6)} MB, growth ${Math.round(grown / 1e6)} MB`);
  assert.ok(grown < 100 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1e6)} MB`);
});

test('--log-format json: every line is one JSON object with time, level and msg', { timeout: 30_000 }, async (t) => {
  // startProxy waits for the text-format listening line, so this one is started by hand.
  const proc = spawn(BINARY, ['--host', '127.0.0.1', '--port', '0', '--shared', '--log-format', 'json', '--log-level', 'debug', '--', process.execPath, FIXTURE, '--stderr-noise'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  const port = await withDeadline(new Promise<number>((resolve) => {
    proc.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      const match = /"msg":"listening".*"port":(\d+)/.exec(stderr);
      if (match !== null) resolve(Number(match[1]));
    });
  }), 15_000, 'listening line');
  const { client } = await connectClient(`http://127.0.0.1:${port}`, 'sse');
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'line\nbreak "quoted"' } })), 'line\nbreak "quoted"');
  await callError(client, 'crash', {});
  await client.close();
  proc.kill('SIGTERM');
  assert.equal(await withDeadline(exited, 15_000, 'proxy exit'), 0);
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.ok(lines.length > 5);
  for (const line of lines) {
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal(typeof record.time, 'string', line);
    assert.ok(['error', 'warn', 'info', 'debug'].includes(String(record.level)), line);
    assert.equal(typeof record.msg, 'string', line);
  }
  assert.ok(lines.some((line) => line.includes('child stderr')), 'child stderr relayed as JSON');
  assert.ok(lines.some((line) => (JSON.parse(line) as { level: string }).level === 'warn'), 'the crash at warn');
  assert.ok(lines.some((line) => (JSON.parse(line) as { level: string }).level === 'debug'), 'request outcomes at debug');
});

test('calls still running when --shutdown-timeout runs out get a JSON-RPC error, not a silent end', { timeout: 60_000 }, async (t) => {
  const proxy = await startProxy(['--shutdown-timeout', '0.5', ...CHILD]);
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable');
  const call = client.callTool({ name: 'slow', arguments: { ms: 30_000, text: 'never' } }, undefined, { timeout: 60_000 });
  call.catch(() => {});
  await proxy.waitForLog(/tools\/call|session open/, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the call reach the child
  proxy.proc.kill('SIGTERM');
  await assert.rejects(withDeadline(call, 15_000, 'the slow call'), /shutting down/);
  await eventually(() => proxy.proc.exitCode !== null, 15_000, 'the proxy exits');
  assert.equal(proxy.proc.exitCode, 0);
});
