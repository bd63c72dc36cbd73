/**
 * Remote members against real peers: a second mcpproxy serving server-everything and the fault fixture
 * (Streamable HTTP with sessions, legacy SSE, and its own 2026-07-28 leg), and the SDK 2.4 server as a
 * stateless remote. SDK 1.32 clients reach them through the front proxy, per server and on the aggregate.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { CreateMessageRequestSchema, ElicitRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { checkEverythingBasics } from './helpers/everything.ts';
import { connectClient, eventually, EVERYTHING, FIXTURE, startProxy, textOf, withDeadline, type RunningProxy, type TransportKind } from './helpers/proxy.ts';

const node = process.execPath;
const TIMEOUT = { timeout: 90_000 };

async function inner(t: TestContext, command: string, extra: string[] = []): Promise<RunningProxy> {
  const proxy = await startProxy([...extra, '--shared', '--', node, command]);
  t.after(() => proxy.stop());
  return proxy;
}

async function front(t: TestContext, servers: Record<string, unknown>): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-remote-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'servers.json');
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  const proxy = await startProxy(['--config', file]);
  t.after(() => proxy.stop());
  return proxy;
}

/** An SDK 1.32 client that answers sampling and elicitation with its own name. */
async function client(t: TestContext, url: string, kind: TransportKind = 'streamable') {
  const { client: c } = await connectClient(url, kind, { capabilities: { sampling: {}, elicitation: {} } });
  c.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    role: 'assistant', model: 'm', content: { type: 'text', text: `sampled(${(req.params.messages[0]!.content as { text: string }).text})` },
  }));
  c.setRequestHandler(ElicitRequestSchema, async (req) => ({ action: 'accept', content: { name: `me:${req.params.message}` } }));
  t.after(() => c.close());
  return c;
}

test('server-everything over Streamable HTTP (session), legacy SSE and the stateless leg: per-server routes and the aggregate', TIMEOUT, async (t) => {
  const upstream = await inner(t, EVERYTHING);
  const proxy = await front(t, {
    session: { url: `${upstream.url}/mcp`, type: 'streamable-http', upstreamProtocol: 'legacy' },
    old: { url: `${upstream.url}/sse` },
    modern: { url: `${upstream.url}/mcp` },
  });
  await proxy.waitForLog(/remote server connected server=session .*kind=streamable/);
  await proxy.waitForLog(/remote server connected server=old .*kind=sse/);
  await proxy.waitForLog(/remote server connected server=modern .*era=modern/);
  for (const [name, kind] of [['session', 'streamable'], ['old', 'sse'], ['modern', 'streamable']] as const) {
    await checkEverythingBasics(await client(t, `${proxy.url}/servers/${name}`, kind), []);
  }
  const all = await client(t, proxy.url);
  // A member whose catalog read failed once (a remote still starting) is read again: it joins soon after.
  let names: string[] = [];
  await eventually(async () => {
    names = await all.listTools().then(({ tools }) => tools.map((tool) => tool.name), () => names);
    return ['session__echo', 'old__echo', 'modern__echo'].every((name) => names.includes(name));
  }, 20_000, 'every remote member on the aggregate').catch((err: Error) => assert.fail(`${err.message}: ${names.join(',')}\n${proxy.logs()}`));
  assert.equal(textOf(await all.callTool({ name: 'old__echo', arguments: { message: 'via sse' } })), 'Echo: via sse');
});

for (const [label, member] of [['Streamable HTTP session', { type: 'http', upstreamProtocol: 'legacy' }], ['legacy SSE', { type: 'sse' }]] as const) {
  test(`${label}: progress, sampling, elicitation, cancellation and list_changed round trips`, TIMEOUT, async (t) => {
    const upstream = await inner(t, FIXTURE);
    const path = member.type === 'sse' ? '/sse' : '/mcp';
    const proxy = await front(t, { fault: { url: `${upstream.url}${path}`, ...member } });
    const c = await client(t, `${proxy.url}/servers/fault`);
    const progress: number[] = [];
    const slow = await c.callTool({ name: 'slow', arguments: { ms: 300, steps: 3, text: 'done' } }, undefined, { onprogress: (p) => progress.push(p.progress), timeout: 30_000 });
    assert.equal(textOf(slow), 'done');
    assert.deepEqual(progress, [1, 2, 3]);
    assert.equal(textOf(await c.callTool({ name: 'ask-sampling', arguments: { prompt: 'q' } })), 'sampled(q)');
    assert.match(textOf(await c.callTool({ name: 'ask-elicit', arguments: { message: 'who?' } })), /me:who\?/);

    const abort = new AbortController();
    const cancelled = c.callTool({ name: 'slow', arguments: { ms: 20_000, text: 'late' } }, undefined, { signal: abort.signal });
    setTimeout(() => abort.abort('changed my mind'), 200);
    await assert.rejects(cancelled);
    await eventually(async () => JSON.parse(textOf(await c.callTool({ name: 'stats', arguments: {} }))).cancelled.length >= 1, 10_000, 'the cancel reached the fixture');

    const changed = new Promise<void>((resolve) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await c.callTool({ name: 'notify-list-changed', arguments: {} });
    await withDeadline(changed, 10_000, 'tools/list_changed');
  });
}

test('TLS is verified: a self-signed remote is refused (calls fail fast, naming it) unless its CA is given with tls.ca', TIMEOUT, async (t) => {
  const upstream = await inner(t, FIXTURE);
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  // TLS in front of the plain inner proxy: the front must verify this hop.
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (secure) => {
    const plain = createConnection({ host: '127.0.0.1', port: upstream.port });
    for (const s of [secure, plain]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    secure.pipe(plain).pipe(secure);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Hooks run in order, so the front proxy is still connected here: its connections are cut, or close() would wait for them.
  t.after(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  }));
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/mcp`;
  const proxy = await front(t, {
    trusted: { url, type: 'http', upstreamProtocol: 'legacy', tls: { ca: cert } },
    untrusted: { url, type: 'http', upstreamProtocol: 'legacy' },
    probed: { url },
  });
  await proxy.waitForLog(/remote server connected server=trusted/);
  const c = await client(t, `${proxy.url}/servers/trusted`);
  assert.equal(textOf(await c.callTool({ name: 'echo', arguments: { text: 'over tls' } })), 'over tls');
  // Refused before its era is known (the probe) and after (the connection): both fail fast, naming it.
  for (const name of ['untrusted', 'probed']) {
    await proxy.waitForLog(new RegExp(`warn .*remote server not reachable, retrying server=${name}`));
    await assert.rejects(withDeadline(client(t, `${proxy.url}/servers/${name}`), 10_000, `connect to ${name}`), new RegExp(`remote ${name} unreachable \\(TLS`));
  }
});
