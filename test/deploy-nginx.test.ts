/**
 * deploy/nginx/mcpproxy.conf for real: two instances of the built binary (--instance-id a|b)
 * behind nginx running that file's upstreams, maps and routing section (ports swapped for the
 * test's, TLS left out). SDK clients over both transports must get every answer, the sessions
 * must land on both instances, and heartbeat comments must come through nginx unbuffered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const ROOT = join(import.meta.dirname, '..');
const BINARY = join(ROOT, 'dist', 'mcpproxy');
const NGINX_CONF = join(ROOT, 'deploy', 'nginx', 'mcpproxy.conf');
const FAULT_SERVER = join(ROOT, 'test', 'fixtures', 'fault-server.mjs');
const EVERYTHING_SERVER = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
/** The upstream addresses written in deploy/nginx/mcpproxy.conf, replaced by the test's. */
const CONF_ADDRESSES = { a: '127.0.0.1:8001', b: '127.0.0.1:8002' } as const;
const CLIENTS_PER_TRANSPORT = 10;

test('nginx routes both transports to the instance that owns the session', { timeout: 300_000 }, async (t) => {
  const nginx = findNginx() ?? installNginxInCi();
  if (nginx === undefined) return void t.skip('nginx is not installed (apt-get install nginx-light); CI installs it');
  assert.ok(existsSync(BINARY), `${BINARY} is missing: run "npm run build" first`);

  // Undone last-in first-out: clients, then nginx, then the instances, then the temp dir.
  const cleanups: (() => unknown)[] = [];
  const defer: Defer = (fn) => void cleanups.push(fn);
  t.after(async () => { for (const fn of cleanups.reverse()) await fn(); });
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-nginx-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const a = await startProxy(defer, 'a');
  const b = await startProxy(defer, 'b');
  const base = await startNginx(defer, nginx, dir, { a: a.port, b: b.port });

  // One transport after the other, so round-robin spreads each transport's new sessions.
  const sse = await Promise.all(Array.from({ length: CLIENTS_PER_TRANSPORT }, () => connectSse(defer, base)));
  const streamable = await Promise.all(Array.from({ length: CLIENTS_PER_TRANSPORT }, () => connectStreamable(defer, base)));
  const all = [...sse, ...streamable];

  // Every session's follow-up requests must reach its own instance: elsewhere they are unknown.
  const replies = await Promise.all(all.map((c, i) => withDeadline(echo(c.client, `hello ${i}`), 20_000, `tools/call on client ${i}`)));
  assert.deepEqual(replies, all.map((_, i) => `hello ${i}`));
  for (const [name, clients] of [['sse', sse], ['streamable', streamable]] as const) {
    const instances = new Set(clients.map((c) => instanceOf(c.sessionId())));
    assert.deepEqual([...instances].sort(), ['a', 'b'], `${name} sessions: ${clients.map((c) => c.sessionId()).join(' ')}`);
  }

  const ping = await firstHeartbeat(`${base}/sse`, 3_000);
  assert.match(ping.endpoint, /[?&]session_?id=[ab]\./i, 'the endpoint event names a prefixed session');
});

/** nginx on PATH or where Debian puts it. */
function findNginx(): string | undefined {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).error === undefined) return candidate;
  }
  return undefined;
}

/** CI installs what it tests (Debian's nginx); a developer's machine is left alone. */
function installNginxInCi(): string | undefined {
  if (process.env.CI !== 'true') return undefined;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 180_000 }).status === 0;
  assert.ok(apt(['update', '-qq']), 'apt-get update failed');
  assert.ok(apt(['install', '-y', '-qq', 'nginx-light']) || apt(['install', '-y', '-qq', 'nginx']), 'apt-get install nginx failed');
  return findNginx();
}

type Defer = (cleanup: () => unknown) => void;
interface Proxy { port: number; }

/** One instance of the built binary on port 0; resolves with the port from its "listening" line. */
async function startProxy(defer: Defer, instanceId: string): Promise<Proxy> {
  const server = existsSync(FAULT_SERVER) ? FAULT_SERVER : EVERYTHING_SERVER;
  // No drain delay: stop() gives 5 s before SIGKILL, and this test is not about draining (test/drain.test.ts is).
  const child = spawn(BINARY, ['--host', '127.0.0.1', '--port', '0', '--instance-id', instanceId, '--no-auth', '--drain-delay', '0',
    '--heartbeat', '1', '--', process.execPath, server], { stdio: ['ignore', 'ignore', 'pipe'] });
  defer(() => stop(child));
  let log = '';
  const port = await withDeadline(new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      const line = log.split('\n').find((l) => /\blistening\b/.test(l) && /\bport=\d+/.test(l));
      if (line !== undefined) resolve(Number(/\bport=(\d+)/.exec(line)![1]));
    });
    child.on('exit', (code, signal) => reject(new Error(`instance ${instanceId} exited (${signal ?? code}):\n${log}`)));
  }), 15_000, `instance ${instanceId} "listening" line`);
  return { port };
}

/**
 * nginx with the deployed file's http-level part (upstreams and maps) and its routing section,
 * on a free loopback port, everything it writes kept in `dir`.
 */
async function startNginx(defer: Defer, nginx: string, dir: string, ports: { a: number; b: number }): Promise<string> {
  const deployed = readFileSync(NGINX_CONF, 'utf8');
  const httpPart = deployed.slice(0, deployed.search(/^server\s*\{/m));
  const routing = /# --- mcpproxy routing: begin[^\n]*\n([\s\S]*?)# --- mcpproxy routing: end/.exec(deployed)?.[1];
  assert.ok(routing !== undefined && /^map /m.test(httpPart), `${NGINX_CONF}: maps or routing markers not found`);
  for (const address of Object.values(CONF_ADDRESSES)) assert.ok(httpPart.includes(address), `${NGINX_CONF}: no upstream ${address}`);
  const upstreams = httpPart
    .replaceAll(CONF_ADDRESSES.a, `127.0.0.1:${ports.a}`)
    .replaceAll(CONF_ADDRESSES.b, `127.0.0.1:${ports.b}`);
  const port = await freePort();
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root root;' : ''}
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${upstreams}
  server {
    listen 127.0.0.1:${port};
${routing}
  }
}
`);
  const child = spawn(nginx, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  defer(() => stop(child));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) assert.fail(`nginx exited (${child.exitCode}): ${stderr}${readIfExists(join(dir, 'error.log'))}`);
    const status = await fetch(`${base}/healthz`).then((res) => res.status, () => 0);
    if (status === 200) return base;
    assert.ok(Date.now() < deadline, `nginx not answering /healthz with 200 on ${base} (last: ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Connected { client: Client; sessionId: () => string | undefined; }

async function connectSse(defer: Defer, base: string): Promise<Connected> {
  let sessionId: string | undefined;
  // The session is in the URL the client posts to (/messages?session_id=...).
  const recordingFetch: typeof fetch = (input, init) => {
    if (init?.method === 'POST') {
      const url = new URL(input instanceof Request ? input.url : String(input));
      sessionId = url.searchParams.get('session_id') ?? url.searchParams.get('sessionId') ?? undefined;
    }
    return fetch(input, init);
  };
  const client = new Client({ name: 'deploy-nginx-sse', version: '1.0.0' });
  defer(() => withDeadline(client.close(), 5_000, 'closing an SSE client').catch(() => {}));
  await withDeadline(client.connect(new SSEClientTransport(new URL(`${base}/sse`), { fetch: recordingFetch })), 15_000, 'SSE connect');
  return { client, sessionId: () => sessionId };
}

async function connectStreamable(defer: Defer, base: string): Promise<Connected> {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
  const client = new Client({ name: 'deploy-nginx-streamable', version: '1.0.0' });
  defer(() => withDeadline(client.close(), 5_000, 'closing a Streamable HTTP client').catch(() => {}));
  await withDeadline(client.connect(transport), 15_000, 'Streamable HTTP connect');
  return { client, sessionId: () => transport.sessionId };
}

/** The fixture's echo tool ({text}), or server-everything's ({message}, "Echo: ..."). */
async function echo(client: Client, text: string): Promise<string> {
  const fixture = existsSync(FAULT_SERVER);
  const result = await client.callTool({ name: 'echo', arguments: fixture ? { text } : { message: text } });
  const content = result.content as { type: string; text?: string }[];
  const reply = content[0]?.text ?? '';
  return fixture ? reply : reply.replace(/^Echo: /, '');
}

function instanceOf(sessionId: string | undefined): string {
  assert.ok(sessionId !== undefined, 'a client without a session id');
  return sessionId.slice(0, sessionId.indexOf('.'));
}

/** A raw GET /sse through nginx: its endpoint event, then a heartbeat comment within `deadlineMs`. */
function firstHeartbeat(url: string, deadlineMs: number): Promise<{ endpoint: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return void fail(new Error(`GET /sse: HTTP ${res.statusCode}`));
      let buffered = '';
      let endpoint = '';
      let event = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) !== -1) {
          const line = buffered.slice(0, newline).replace(/\r$/, '');
          buffered = buffered.slice(newline + 1);
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:') && event === 'endpoint') endpoint = line.slice(5).trim();
          else if (line.startsWith(':') && line.slice(1).trim() === 'ping') return void done({ endpoint });
        }
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => fail(new Error(`no ": ping" comment through nginx within ${deadlineMs} ms`)), deadlineMs);
    req.on('error', fail).end();
    function done(value: { endpoint: string }) { clearTimeout(timer); req.destroy(); resolve(value); }
    function fail(err: Error) { clearTimeout(timer); req.destroy(); reject(err); }
  });
}

/** SIGTERM, then SIGKILL if the process is still there after 5 s; resolves once it has exited. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}
