/**
 * mcpproxy as an OAuth 2.1 protected resource (issue 13), the built binary against a JWKS served by
 * the test: RFC 9728 metadata per endpoint, 401/403 challenges, SDK clients with bearer tokens over
 * both transports, sessions bound to their principal, scopes, tool rules, env from claims, a child
 * per principal, the audit log, and the Origin rules.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, eventually, FIXTURE, startProxy, type RunningProxy } from './helpers/proxy.ts';
import { callJson, initParams, rawRequest, rpcErrorOf } from './helpers/ops.ts';
import { freePort, makeKey, startIssuer, type TestIssuer } from './helpers/issuer.ts';

const CHILD = ['--', process.execPath, FIXTURE];
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Setup { proxy: RunningProxy; issuer: TestIssuer; base: string; tokenFor: (sub: string, claims?: Record<string, unknown>) => string }

async function setup(t: TestContext, flags: string[], child = CHILD): Promise<Setup> {
  const issuer = await startIssuer([makeKey('ES256', 'k1')]);
  t.after(() => issuer.close());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proxy = await startProxy(['--port', String(port), '--oauth-issuer', issuer.issuer, '--public-url', base, ...flags, ...child]);
  t.after(() => proxy.stop());
  return { proxy, issuer, base, tokenFor: (sub, claims) => issuer.token(sub, `${base}/mcp`, claims) };
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

test('RFC 9728 metadata for the proxy and each MCP endpoint, readable from any origin', { timeout: 30_000 }, async (t) => {
  const { base, issuer } = await setup(t, ['--oauth-scopes', 'mcp']);
  for (const path of ['', '/mcp', '/sse']) {
    const res = await rawRequest(`${base}/.well-known/oauth-protected-resource${path}`, { headers: { origin: 'https://claude.ai' } });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.deepEqual(res.json, {
      resource: `${base}${path}`, authorization_servers: [issuer.issuer], scopes_supported: ['mcp'],
      bearer_methods_supported: ['header'], resource_name: 'mcpproxy',
    });
  }
  assert.equal((await rawRequest(`${base}/.well-known/oauth-protected-resource/messages`)).status, 404);
  assert.equal((await rawRequest(`${base}/.well-known/oauth-protected-resource/nope`)).status, 404);
});

test('401 challenges point at the metadata; error="invalid_token" only when a token was sent; never in the query', { timeout: 30_000 }, async (t) => {
  const { base, tokenFor, proxy } = await setup(t, ['--oauth-scopes', 'mcp']);
  const post = (headers: Record<string, string>, query = ''): ReturnType<typeof rawRequest> => rawRequest(`${base}/mcp${query}`, {
    method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams() }),
  });
  const none = await post({});
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="mcp"`);
  const sse = await rawRequest(`${base}/sse`, { headers: { accept: 'text/event-stream' } });
  assert.match(String(sse.headers['www-authenticate']), /oauth-protected-resource\/sse"/);
  const bad = await post(bearer(`${tokenFor('alice').slice(0, -4)}AAAA`));
  assert.equal(bad.status, 401);
  assert.match(String(bad.headers['www-authenticate']), /error="invalid_token", error_description="token rejected: bad signature"/);
  const token = tokenFor('alice');
  assert.equal((await post({}, `?access_token=${token}`)).status, 401, 'access_token in the query');
  assert.equal((await post({}, `?auth_key=${token}`)).status, 401, 'a JWT is no access key');
  assert.equal((await post(bearer(token))).status, 200);
  assert.ok(!proxy.logs().includes('eyJ'), 'no token in the logs');
});

test('SDK clients with tokens over both transports; another principal on the session is told it does not exist', { timeout: 60_000 }, async (t) => {
  const { base, tokenFor, proxy } = await setup(t, []);
  const alice = tokenFor('alice');
  const bob = tokenFor('bob');
  for (const kind of ['streamable', 'sse'] as const) {
    const { client, transport } = await connectClient(base, kind, { headers: bearer(alice) });
    t.after(() => client.close());
    assert.equal((await callJson<{ value: string | null }>(client, 'env', { name: 'NOPE' })).value, null, `${kind}: a call goes through`);
    const sessionId = kind === 'streamable' ? (transport as { sessionId?: string }).sessionId! : undefined;
    if (sessionId !== undefined) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' });
      const headers = { ...JSON_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
      const stolen = await rawRequest(`${base}/mcp`, { method: 'POST', headers: { ...headers, ...bearer(bob) }, body });
      assert.equal(stolen.status, 404, 'bob on alice\'s session');
      assert.equal(rpcErrorOf(stolen.json)?.message, 'Session not found');
      assert.equal((await rawRequest(`${base}/mcp`, { method: 'DELETE', headers: { ...headers, ...bearer(bob) } })).status, 404);
      assert.equal((await rawRequest(`${base}/mcp`, { method: 'POST', headers: { ...headers, ...bearer(alice) }, body })).status, 200, 'alice still can');
    }
  }
  assert.ok(!proxy.logs().includes(alice.split('.')[2]!), 'the token never reaches the log');
});

test('SSE /messages: a post with another principal\'s token, or none, is 404 for a session opened with a token', { timeout: 30_000 }, async (t) => {
  const { base, tokenFor } = await setup(t, []);
  const alice = tokenFor('alice');
  const controller = new AbortController();
  t.after(() => controller.abort());
  const res = await fetch(`${base}/sse`, { headers: { accept: 'text/event-stream', ...bearer(alice) }, signal: controller.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  const endpoint = /data: (.*)/.exec(text)![1]!;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams() });
  const post = (headers: Record<string, string>): ReturnType<typeof rawRequest> => rawRequest(`${base}${endpoint}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  assert.equal((await post(bearer(tokenFor('bob')))).status, 404);
  assert.equal((await post({})).status, 404, 'no credential on a session opened with a header');
  assert.equal((await post(bearer(alice))).status, 202);
});

test('--oauth-scopes: a token without them gets 403 insufficient_scope; --allow-tools scope rules step up and filter lists', { timeout: 60_000 }, async (t) => {
  const { base, tokenFor } = await setup(t, ['--oauth-scopes', 'mcp', '--allow-tools', 'scope:admin=crash,env', '--allow-tools', '*=echo,slow,stats']);
  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams() });
  const noScope = await rawRequest(`${base}/mcp`, { method: 'POST', headers: { ...JSON_HEADERS, ...bearer(tokenFor('carol', { scope: 'other' })) }, body: init });
  assert.equal(noScope.status, 403);
  assert.match(String(noScope.headers['www-authenticate']), /error="insufficient_scope"/);
  assert.match(String(noScope.headers['www-authenticate']), /scope="mcp"/);
  const { client } = await connectClient(base, 'streamable', { headers: bearer(tokenFor('carol', { scope: 'mcp' })) });
  t.after(() => client.close());
  const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
  assert.deepEqual(names.filter((name) => ['crash', 'env', 'echo', 'stats'].includes(name)), ['echo', 'stats'], 'only allowed tools are listed');
  await assert.rejects(client.callTool({ name: 'env', arguments: { name: 'X' } }), /403|insufficient/i);
  const { client: admin } = await connectClient(base, 'streamable', { headers: bearer(tokenFor('dave', { scope: 'mcp admin' })) });
  t.after(() => admin.close());
  assert.equal((await callJson<{ value: string | null }>(admin, 'env', { name: 'NOPE' })).value, null, 'the admin scope allows it');
});

test('--child-per principal: one child for two sessions of a user, another for another user; --env-from-claim reaches it', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-audit-'));
  const auditPath = join(dir, 'audit.jsonl');
  const { base, tokenFor } = await setup(t, ['--no-shared', '--child-per', 'principal', '--env-from-claim', 'USER_EMAIL=email', '--audit-log', auditPath]);
  const alice = tokenFor('alice', { email: 'alice@example.com' });
  const bob = tokenFor('bob', { email: 'bob@example.com' });
  type Env = { value: string | null; pid: number };
  const pidOf = async (token: string, kind: 'sse' | 'streamable'): Promise<Env> => {
    const { client } = await connectClient(base, kind, { headers: bearer(token), name: `client-${kind}` });
    t.after(() => client.close());
    return callJson<Env>(client, 'env', { name: 'USER_EMAIL' });
  };
  const a1 = await pidOf(alice, 'streamable');
  const a2 = await pidOf(alice, 'sse');
  const b1 = await pidOf(bob, 'streamable');
  assert.equal(a1.value, 'alice@example.com');
  assert.equal(b1.value, 'bob@example.com');
  assert.equal(a1.pid, a2.pid, 'alice\'s two sessions share her child');
  assert.notEqual(a1.pid, b1.pid, 'bob has his own');
  const stateless = await rawRequest(`${base}/mcp`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...bearer(alice), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'env' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'env', arguments: { name: 'USER_EMAIL' }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }),
  });
  const viaStateless = JSON.parse((stateless.json as { result: { content: Array<{ text: string }> } }).result.content[0]!.text) as Env;
  assert.deepEqual(viaStateless, a1, 'a stateless call of alice\'s meets the same child');
  const { children } = (await rawRequest(`${base}/status`, { headers: bearer(alice) })).json as { children: Array<{ pid: number; principal?: string }> };
  assert.match(children.find((child) => child.pid === a1.pid)?.principal ?? '', /^oauth:.*#alice$/, '/status names the principal a child runs for');
  assert.match(children.find((child) => child.pid === b1.pid)?.principal ?? '', /^oauth:.*#bob$/);
  let lines: Array<Record<string, unknown>> = [];
  await eventually(() => {
    lines = readFileSync(auditPath, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    return lines.filter((line) => line.method === 'tools/call').length === 4;
  }, 10_000, 'four audited calls');
  const calls = lines.filter((line) => line.method === 'tools/call');
  const alices = calls.filter((line) => String(line.principal).endsWith('#alice'));
  assert.equal(alices.length, 3);
  for (const line of calls) {
    assert.equal(line.auth, 'oauth');
    assert.equal(line.name, 'env');
    assert.equal(line.outcome, 'result');
    assert.equal(typeof line.ms, 'number');
    assert.ok((line.bytesIn as number) > 0 && (line.bytesOut as number) > 0);
    if (line.transport !== 'stateless') assert.match(String((line.client as { name: string }).name), /^client-/);
    assert.ok(!JSON.stringify(line).includes('USER_EMAIL'), 'no arguments in the audit line');
  }
  assert.deepEqual(new Set(calls.map((line) => line.transport)), new Set(['streamable', 'sse', 'stateless']));
  assert.ok(lines.some((line) => line.method === 'initialize' && line.era !== undefined));
});

test('aggregate: --env-from-claim reaches a childPer principal member from the token only, never from what the client sends', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-claims-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: {
    mine: { command: process.execPath, args: [FIXTURE], mode: 'independent', childPer: 'principal', allowEnv: ['USER_*'], upstreamProtocol: 'legacy' },
    plain: { command: process.execPath, args: [FIXTURE], mode: 'independent', childPer: 'principal', upstreamProtocol: 'legacy' },
  } }));
  const { base, tokenFor } = await setup(t, ['--env-from-claim', 'USER_EMAIL=email'], ['--config', file]);
  type Env = { value: string | null; pid: number };
  const envOf = async (token: string): Promise<{ mine: Env; plain: Env }> => {
    const { client } = await connectClient(base, 'streamable', { headers: { ...bearer(token), 'x-mcp-env': 'USER_EMAIL=forged@example.com' } });
    t.after(() => client.close());
    await eventually(async () => (await client.listTools()).tools.filter((tool) => ['mine__env', 'plain__env'].includes(tool.name)).length === 2, 30_000, 'both listed');
    return { mine: await callJson<Env>(client, 'mine__env', { name: 'USER_EMAIL' }), plain: await callJson<Env>(client, 'plain__env', { name: 'USER_EMAIL' }) };
  };
  const alice = await envOf(tokenFor('alice', { email: 'alice@example.com' }));
  const bob = await envOf(tokenFor('bob'));
  assert.equal(alice.mine.value, 'alice@example.com', 'the verified claim, not the client\'s value');
  assert.equal(alice.plain.value, 'alice@example.com', 'a claim variable reaches a member whose allowEnv does not list it, as on its own route');
  assert.equal(bob.mine.value, null, 'a token without the claim sets nothing, and the client cannot fill it');
  assert.notEqual(alice.mine.pid, bob.mine.pid);
});

test('Origin: loopback origins on a loopback-bound proxy and same-origin requests pass; foreign ones get 403', { timeout: 30_000 }, async (t) => {
  const { base, tokenFor } = await setup(t, ['--cors', 'https://app.example.com']);
  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams() });
  const post = (origin: string): ReturnType<typeof rawRequest> => rawRequest(`${base}/mcp`, { method: 'POST', headers: { ...JSON_HEADERS, ...bearer(tokenFor('o')), origin }, body: init });
  assert.equal((await post('http://localhost:6274')).status, 200, 'MCP Inspector\'s UI');
  assert.equal((await post(base)).status, 200, 'same origin');
  assert.equal((await post('https://evil.example')).status, 403);
  const cors = await post('https://app.example.com');
  assert.equal(cors.status, 200);
  assert.match(String(cors.headers['access-control-expose-headers']), /www-authenticate/);
  assert.match(String(cors.headers['access-control-expose-headers']), /mcp-session-id/);
});
