/**
 * End to end with a real authorization server (oidc-provider) and the official SDK clients: each
 * discovers from the proxy's 401 → protected resource metadata → authorization server metadata →
 * dynamic registration → PKCE login → token (audience: the resource it dialled) → calls. Over
 * Streamable HTTP and legacy SSE (SDK v1) and as a 2026-07-28 stateless client (SDK v2); then a
 * client-credentials machine client, and an opaque token checked by introspection.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { eventually, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy } from './helpers/proxy.ts';
import { authorize, INTROSPECTOR, M2M, MemoryOAuthProvider, startAuthServer, type TestAuthServer } from './helpers/oidc.ts';
import { freePort } from './helpers/issuer.ts';

const CHILD = ['--', process.execPath, FIXTURE];
type EnvReport = { value: string | null; pid: number };

async function proxyFor(t: TestContext, as: TestAuthServer, flags: string[] = []): Promise<{ proxy: RunningProxy; base: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proxy = await startProxy(['--port', String(port), '--oauth-issuer', as.issuer, '--public-url', base, '--oauth-scopes', 'mcp', ...flags, ...CHILD]);
  t.after(() => proxy.stop());
  return { proxy, base };
}

const envOf = async (call: Promise<unknown>): Promise<EnvReport> => JSON.parse(textOf(await call)) as EnvReport;

test('SDK v1 over Streamable HTTP and legacy SSE: discovery from the 401, registration, PKCE, token, calls', { timeout: 90_000 }, async (t) => {
  const as = await startAuthServer();
  t.after(() => as.close());
  const { base, proxy } = await proxyFor(t, as, ['--env-from-claim', 'USER_EMAIL=email', '--no-shared']);
  const kinds = {
    streamable: (provider: MemoryOAuthProvider) => new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    sse: (provider: MemoryOAuthProvider) => new SSEClientTransport(new URL(`${base}/sse`), { authProvider: provider }),
  };
  for (const [kind, transportFor] of Object.entries(kinds)) {
    const provider = new MemoryOAuthProvider();
    const first = transportFor(provider);
    await assert.rejects(new Client({ name: 'e2e', version: '1' }).connect(first), UnauthorizedError, `${kind}: sent to log in`);
    const authUrl = provider.authorizationUrl!;
    assert.equal(authUrl.origin, as.issuer, `${kind}: found the authorization server through our metadata`);
    assert.equal(authUrl.searchParams.get('resource'), `${base}/${kind === 'sse' ? 'sse' : 'mcp'}`, `${kind}: resource indicator is the URL dialled`);
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(provider.clientInformation()?.client_id, `${kind}: dynamically registered`);
    await first.finishAuth((await authorize(authUrl, `user-${kind}`)).get('code')!);
    const client = new Client({ name: 'e2e', version: '1' });
    await withDeadline(client.connect(transportFor(provider)), 15_000, `${kind}: connect with the token`);
    t.after(() => client.close());
    const report = await envOf(client.callTool({ name: 'env', arguments: { name: 'USER_EMAIL' } }));
    assert.equal(report.value, `user-${kind}@example.com`, `${kind}: --env-from-claim from the verified token`);
  }
  assert.ok(!/eyJ[\w-]+\.eyJ/.test(proxy.logs()), 'no token in the logs');
});

test('SDK v2 as a 2026-07-28 stateless client, through the same discovery', { timeout: 90_000 }, async (t) => {
  const as = await startAuthServer();
  t.after(() => as.close());
  const audit = join(mkdtempSync(join(tmpdir(), 'mcpproxy-audit-')), 'audit.jsonl');
  const { base } = await proxyFor(t, as, ['--audit-log', audit]);
  const provider = new MemoryOAuthProvider();
  const transportFor = (): V2Transport => new V2Transport(new URL(`${base}/mcp`), { authProvider: provider as never });
  const options = { versionNegotiation: { mode: { pin: '2026-07-28' } } } as never;
  const first = new V2Client({ name: 'e2e-v2', version: '1' }, options);
  const transport = transportFor();
  await assert.rejects(first.connect(transport).then(() => first.listTools()), /nauthorized/);
  await transport.finishAuth(await authorize(provider.authorizationUrl!, 'modern-user'));
  const client = new V2Client({ name: 'e2e-v2', version: '1' }, options);
  await withDeadline(client.connect(transportFor()), 15_000, 'v2 connect');
  t.after(() => client.close());
  const result = await client.callTool({ name: 'echo', arguments: { text: 'stateless with a token' } });
  assert.equal(textOf(result), 'stateless with a token');
  await eventually(() => readFileSync(audit, 'utf8').includes('"tools/call"'), 10_000, 'the call audited');
  const line = readFileSync(audit, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.method === 'tools/call')!;
  assert.equal(line.transport, 'stateless', 'the call went the 2026-07-28 way');
  assert.equal(line.era, '2026-07-28');
  assert.equal(line.principal, `oauth:${as.issuer}#modern-user`);
  assert.deepEqual(line.client, { name: 'e2e-v2', version: '1' });
});

test('machine to machine: client credentials, and an opaque token checked by introspection', { timeout: 90_000 }, async (t) => {
  const as = await startAuthServer();
  t.after(() => as.close());
  const { base } = await proxyFor(t, as);
  const m2m = new Client({ name: 'm2m', version: '1' });
  const provider = new ClientCredentialsProvider({ ...M2M, scope: 'mcp', expectedIssuer: as.issuer });
  await withDeadline(m2m.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })), 15_000, 'client credentials connect');
  t.after(() => m2m.close());
  assert.equal(textOf(await m2m.callTool({ name: 'echo', arguments: { text: 'm2m' } })), 'm2m');
  assert.match(provider.tokens()!.access_token, /^eyJ/, 'a JWT, verified with the issuer\'s JWKS');

  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-introspect-'));
  const credentials = join(dir, 'client');
  writeFileSync(credentials, `${INTROSPECTOR.clientId}:${INTROSPECTOR.clientSecret}\n`);
  const opaque = await proxyFor(t, as, ['--oauth-introspection-url', `${as.issuer}/token/introspection`, '--oauth-client-credentials-file', credentials]);
  as.opaqueBase = opaque.base;
  const client = new Client({ name: 'opaque', version: '1' });
  const opaqueProvider = new ClientCredentialsProvider({ ...M2M, scope: 'mcp', expectedIssuer: as.issuer });
  await withDeadline(client.connect(new StreamableHTTPClientTransport(new URL(`${opaque.base}/mcp`), { authProvider: opaqueProvider })), 15_000, 'opaque connect');
  t.after(() => client.close());
  assert.doesNotMatch(opaqueProvider.tokens()!.access_token, /^eyJ/, 'an opaque token');
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'opaque' } })), 'opaque');
});
